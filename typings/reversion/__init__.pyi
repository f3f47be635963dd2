# django-reversion ships no types: only what timeline/ uses is declared; the rest is Any.
from typing import Any

def __getattr__(name: str) -> Any: ...
