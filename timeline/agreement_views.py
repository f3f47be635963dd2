"""Public pages of agreements: the list, and one agreement with its status history."""

from django.conf import settings
from django.db.models import F, Min, Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from .models import Agreement, AgreementStep, Source


def _steps() -> "Prefetch[str, QuerySet[AgreementStep], str]":
    """Return the prefetch of an agreement's history, oldest first, with each step's source."""
    return Prefetch(
        "steps", queryset=AgreementStep.objects.select_related("source").order_by("date", "pk")
    )


def agreement_list(request: HttpRequest) -> HttpResponse:
    """List published agreements, most recently signed first, each with its current status."""
    agreements = (
        Agreement.objects.published()
        .annotate(first_step=Min("steps__date"))
        .order_by(F("first_step").desc(nulls_last=True), "pk")
        .prefetch_related("organisations", _steps())
    )
    return render(request, "timeline/agreement_list.html", {"agreements": agreements})


def agreement_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """Show one published agreement: parties, signing, and its dated, sourced history."""
    agreement = get_object_or_404(
        Agreement.objects.published()
        .select_related("signed_at__place")
        .prefetch_related("organisations", "signers", _steps()),
        slug=slug,
    )
    signing = agreement.signed_at
    steps = agreement.steps.all()
    sources = Source.objects.filter(pk__in=[step.source_id for step in steps]).official_first()
    context = {
        "agreement": agreement,
        "page_url": settings.SITE_URL + agreement.get_absolute_url(),
        "signing": signing if signing is not None and signing.published else None,
        "steps": steps,
        "current": agreement.current_step(),
        "sources": sources,
    }
    return render(request, "timeline/agreement_detail.html", context)
