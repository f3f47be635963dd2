"""Editors write kk, ru and en side by side, see what each language lacks, and undo it all."""

import pytest
from django.urls import reverse
from reversion.models import Version

from timeline.models import Event, Topic

from .admin_forms import change_form_data
from .factories import EventFactory, PlaceFactory, TopicFactory
from .test_admin import ADD_URL, edit, new_event_data
from .two_factor import log_in_verified

pytestmark = pytest.mark.django_db


def test_the_three_languages_of_each_text_are_one_row_of_the_form(client, editor):
    log_in_verified(client, editor)
    html = client.get(ADD_URL).content.decode()
    for field in ("title", "summary", "description"):
        row = html[html.index(f"form-row field-{field}_kk") :]
        row = row[: row.index('<div class="form-row')]
        for code in ("kk", "ru", "en"):
            assert f'id="id_{field}_{code}"' in row, (field, code)
    states = html[html.index("form-row field-translation_kk") :]
    assert 'name="translation_ru"' in states and 'name="translation_en"' in states


def test_an_event_may_be_written_in_kazakh_alone_but_not_in_no_language(client, superuser):
    log_in_verified(client, superuser)
    place = PlaceFactory()
    kazakh_only = new_event_data(
        place,
        title_en="",
        summary_en="",
        description_en="",
        description_ru="",
        title_kk="Одақтастық туралы декларацияға қол қою",
        slug="declaration",
    )
    assert client.post(ADD_URL, kazakh_only).status_code == 302
    event = Event.objects.get(slug="declaration")
    assert event.title_kk == "Одақтастық туралы декларацияға қол қою"
    assert event.translation_state("kk") == "draft"
    assert event.translation_state("en") == "missing"

    nothing = new_event_data(place, title_en="", slug="nothing")
    answer = client.post(ADD_URL, nothing)
    assert answer.status_code == 200
    errors = answer.context["adminform"].form.errors
    assert "Write this in at least one language." in errors["title_en"][0]
    assert not Event.objects.filter(slug="nothing").exists()


def test_changelist_shows_and_filters_what_needs_translation(client, editor):
    log_in_verified(client, editor)
    done = EventFactory(
        title="Done",
        title_kk="Дайын",
        title_ru="Готово",
        translation_kk="reviewed",
        translation_ru="reviewed",
        translation_en="reviewed",
    )
    draft_kk = EventFactory(
        title="Draft",
        title_kk="Жоба",
        title_ru="Черновик",
        translation_ru="reviewed",
        translation_en="reviewed",
    )
    no_russian = EventFactory(
        title="No Russian",
        title_kk="Орысшасыз",
        translation_kk="reviewed",
        translation_en="reviewed",
    )
    no_russian.translation_ru = "reviewed"  # marked, but there is nothing to review
    no_russian.save()

    changelist = reverse("admin:timeline_event_changelist")

    def listed(language: str) -> set[str]:
        answer = client.get(changelist, {"needs_translation": language})
        return {event.slug for event in answer.context["cl"].result_list}

    assert listed("kk") == {draft_kk.slug}
    assert listed("ru") == {no_russian.slug}
    assert listed("en") == set()
    assert done.slug not in listed("kk") | listed("ru")

    html = client.get(changelist).content.decode()
    assert 'class="translation-state missing" title="missing">ru ✗' in html
    assert 'class="translation-state reviewed" title="reviewed">kk ✓' in html


def test_revert_restores_every_language(client, superuser):
    log_in_verified(client, superuser)
    event = EventFactory(title="Visit", title_kk="Сапар", title_ru="Визит")
    # The first version in history is the admin's own save.
    assert edit(client, event).status_code == 302
    assert edit(client, event, title_kk="Мемлекеттік сапар", title_ru="").status_code == 302
    event.refresh_from_db()
    assert (event.title_kk, event.title_ru or "") == ("Мемлекеттік сапар", "")

    first = list(Version.objects.get_for_object(event))[-1]
    revert_url = reverse("admin:timeline_event_revision", args=[event.pk, first.pk])
    assert client.post(revert_url, change_form_data(client.get(revert_url))).status_code == 302
    event.refresh_from_db()
    assert (event.title_kk, event.title_ru, event.title_en) == ("Сапар", "Визит", "Visit")


def test_topics_without_a_kazakh_name_do_not_collide(client, superuser):
    TopicFactory(name="Energy")
    TopicFactory(name="Trade")
    assert Topic.objects.filter(name_kk__isnull=True).count() == 2
