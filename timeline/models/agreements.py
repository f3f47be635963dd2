"""Agreements: declarations, treaties and memoranda, with their dated and sourced status history."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField
from modeltranslation.manager import MultilingualManager

from .. import timing
from ..text import LongTextField, OneLineField
from .figures import PERIOD_PRECISIONS
from .record import Actor, Event, Precision, Publishable, Source, validate_event_date
from .translations import Translated


class AgreementQuerySet(models.QuerySet["Agreement"]):
    def published(self) -> "AgreementQuerySet":
        """Return the agreements readers may see."""
        return self.filter(published=True)


class Agreement(Translated, Publishable):
    """A document two or more parties signed, and what became of it."""

    translated_fields = ("title", "summary")

    class Kind(models.TextChoices):
        DECLARATION = "declaration", _("Declaration")
        TREATY = "treaty", _("Treaty")
        AGREEMENT = "agreement", _("Agreement")
        MEMORANDUM = "memorandum", _("Memorandum")
        PROGRAMME = "programme", _("Programme")
        CONTRACT = "contract", _("Contract")

    title = OneLineField(_("title"), max_length=400)
    slug = models.SlugField(_("slug"), max_length=200, unique=True)
    summary = LongTextField(_("summary"), blank=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    countries = CountryField(
        multiple=True, verbose_name=_("state parties"), help_text=_("The states that are parties.")
    )
    organisations = models.ManyToManyField(
        Actor,
        blank=True,
        related_name="agreements",
        verbose_name=_("other parties"),
        help_text=_("Companies or bodies that are parties in their own name."),
    )
    signers = models.ManyToManyField(
        Actor, blank=True, related_name="agreements_signed", verbose_name=_("signed by")
    )
    signed_at = models.ForeignKey(
        Event,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="agreements",
        verbose_name=_("signed at (event)"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = MultilingualManager.from_queryset(AgreementQuerySet)()

    class Meta:
        verbose_name = _("agreement")
        verbose_name_plural = _("agreements")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("timeline:agreement", kwargs={"slug": self.slug})

    def current_step(self) -> "AgreementStep | None":
        """Return the latest step of its history (prefetched steps are used as they are)."""
        steps = list(self.steps.all())
        return steps[-1] if steps else None


class AgreementStep(models.Model):
    """One dated, sourced change of an agreement's status (signed, ratified by a party, …)."""

    class Status(models.TextChoices):
        SIGNED = "signed", _("Signed")
        RATIFIED = "ratified", _("Ratified")
        IN_FORCE = "in_force", _("In force")
        SUSPENDED = "suspended", _("Suspended")
        EXPIRED = "expired", _("Expired")
        TERMINATED = "terminated", _("Terminated")

    # Ratification is by one party; the other steps may concern all parties or one.
    NEEDS_PARTY = frozenset({Status.RATIFIED})

    agreement = models.ForeignKey(
        Agreement, on_delete=models.CASCADE, related_name="steps", verbose_name=_("agreement")
    )
    status = models.CharField(_("status"), max_length=12, choices=Status.choices)
    party = CountryField(
        blank=True,
        verbose_name=_("party"),
        help_text=_("The state this step concerns; blank when it concerns every party."),
    )
    date = models.DateField(_("date"), validators=[validate_event_date])
    precision = models.CharField(
        _("date precision"), max_length=10, choices=PERIOD_PRECISIONS, default=Precision.DAY
    )
    source = models.ForeignKey(
        Source, on_delete=models.PROTECT, related_name="agreement_steps", verbose_name=_("source")
    )
    note = OneLineField(_("note"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("status step")
        verbose_name_plural = _("status history")
        ordering = ["date", "pk"]

    def __str__(self) -> str:
        return f"{self.get_status_display()} {self.date.isoformat()}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save with the date at the start of its period."""
        self.date = timing.period_start(self.date, self.precision)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        """Require the party a ratification is by, and one of the agreement's own parties."""
        super().clean()
        if self.status in self.NEEDS_PARTY and not self.party:
            raise ValidationError({"party": _("Say which party ratified it.")})
        if self.party and self.agreement_id:
            parties = {country.code for country in self.agreement.countries}
            if self.party.code not in parties:
                raise ValidationError({"party": _("This state is not a party to the agreement.")})
        if self.date and self.date > timing.latest_today():
            raise ValidationError({"date": _("A step of the history cannot be in the future.")})

    @property
    def when(self) -> str:
        """Return the date at its precision in the active language."""
        return timing.describe(self.precision, self.date, still_to_come=False)
