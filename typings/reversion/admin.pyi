# VersionAdmin is a ModelAdmin (reversion/admin.py); declared so its subclasses are checked as such.
from typing import Any, TypeVar

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest, HttpResponse

_ModelT = TypeVar("_ModelT", bound=Model)

class VersionAdmin(admin.ModelAdmin[_ModelT]):
    def recover_view(
        self, request: HttpRequest, version_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse: ...
    def revision_view(
        self,
        request: HttpRequest,
        object_id: str,
        version_id: str,
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse: ...
    def __getattr__(self, name: str) -> Any: ...
