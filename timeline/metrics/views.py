"""GET /metrics: the service's numbers in Prometheus' text format, for the operator's scraper."""

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.utils.cache import add_never_cache_headers
from prometheus_client import CONTENT_TYPE_LATEST

from ..reader_language import same_in_every_language
from .access import may_read_metrics
from .collector import exposition


@same_in_every_language
def metrics(request: HttpRequest) -> HttpResponse:
    """Answer the metrics to a GET with the token; 404 to anyone else, whatever the method."""
    if not may_read_metrics(request):
        raise Http404
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    response = HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
    add_never_cache_headers(response)
    return response
