"""The dry run and its confirmation from what a reader gives: matching, diffs, refusals, writes."""

import datetime as dt

import pytest
from django.contrib.auth.models import Permission, User
from reversion.models import Version

from timeline.imports.apply import AlreadyApplied, PlanChanged, apply_import, write_plan
from timeline.imports.plan import Change, dry_run, plan_import
from timeline.imports.rows import Incoming, Reading, Refused
from timeline.models import Event, ImportBatch

from .factories import ActorFactory, EventFactory, PlaceFactory, TopicFactory, TrackFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def chief():
    return User.objects.create_superuser("chief", "chief@example.com", "pw")


@pytest.fixture
def editor():
    user = User.objects.create_user("editor", "editor@example.com", "pw", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(codename__in=["add_event", "change_event", "view_event"])
    )
    return User.objects.get(pk=user.pk)


def reading(*rows, format="csv"):
    return Reading(format=format, rows=list(rows))


def row(line, uid="", **values):
    return Incoming(line=line, uid=uid, values=values)


def test_a_new_event_keeps_the_files_uid_and_shows_every_value(chief):
    place = PlaceFactory(slug="astana")
    plan = plan_import(
        reading(
            row(
                5,
                uid="040000008200E00074C5B7101A82E008@outlook",
                title_ru="Переговоры",
                start_date=dt.date(2026, 5, 4),
                place="astana",
            ),
            format="ics",
        ),
        chief,
    )
    [planned] = plan.rows
    assert planned.change == Change.NEW and planned.line == 5
    shown = {
        difference.field: (difference.old, difference.new) for difference in planned.differences
    }
    assert shown["title_ru"] == ("", "Переговоры")
    assert shown["start_date"] == ("", "2026-05-04")
    assert shown["place"] == ("", "astana")
    assert not Event.objects.exists()  # a dry run writes nothing

    _apply(plan)
    event = Event.objects.get()
    assert event.calendar_uid == "040000008200E00074C5B7101A82E008@outlook"
    assert event.place == place and event.published is False


def _apply(plan):
    """Write a plan the way apply_import does, without an uploaded file."""
    write_plan(plan)


def test_an_unchanged_row_and_a_changed_field_are_told_apart(chief):
    event = EventFactory(slug="talks", title="Talks", start_date=dt.date(2025, 11, 11))
    plan = plan_import(
        reading(
            row(2, slug="talks", title_en="Talks", start_date=dt.date(2025, 11, 11)),
            row(3, uid=event.calendar_uid, title_en="Talks in Moscow"),
        ),
        chief,
    )
    # The same event twice: the second mention is refused, not applied twice.
    assert [planned.change for planned in plan.rows] == [Change.UNCHANGED, Change.REFUSED]
    assert "line 2" in plan.rows[1].reason

    plan = plan_import(reading(row(3, uid=event.calendar_uid, title_en="Talks in Moscow")), chief)
    [planned] = plan.rows
    assert planned.change == Change.CHANGED
    assert [(d.field, d.old, d.new) for d in planned.differences] == [
        ("title_en", "Talks", "Talks in Moscow")
    ]


def test_refusals_name_the_reason_and_the_value(chief):
    EventFactory(slug="taken")
    plan = plan_import(
        reading(
            Refused(2, "bad date", "32.13.2025"),
            row(3, slug="new-one", title_en="X", start_date=dt.date(2026, 1, 1), place="nowhere"),
            row(4, slug="taken-too", title_en="", start_date=dt.date(2026, 1, 1)),
            row(5, slug="x2", title_en="Y", precision="minute", start_date=dt.date(2026, 1, 1)),
            row(6, title_en="No key", start_date=dt.date(2026, 1, 1)),
        ),
        chief,
    )
    assert all(planned.change == Change.REFUSED for planned in plan.rows)
    assert plan.rows[0].value == "32.13.2025"
    assert "nowhere" in plan.rows[1].reason and plan.rows[1].value == "nowhere"
    assert "at least one language" in plan.rows[2].reason
    assert "start time" in plan.rows[3].reason
    assert "neither a UID nor a slug" in plan.rows[4].reason
    assert not plan.writes


def test_a_slug_another_event_has_is_refused(chief):
    EventFactory(slug="taken")
    plan = plan_import(
        reading(
            row(
                2, uid="abc@example.com", slug="taken", title_en="X", start_date=dt.date(2026, 1, 1)
            )
        ),
        chief,
    )
    assert plan.rows[0].change == Change.REFUSED and plan.rows[0].value == "taken"


def test_links_and_parts_within_the_file(chief):
    TopicFactory(slug="energy")
    ActorFactory(slug="someone")
    TrackFactory(slug="npp")
    plan = plan_import(
        reading(
            row(
                3,
                slug="part",
                title_en="Part",
                start_date=dt.date(2026, 3, 2),
                part_of="whole",
                topics=("energy",),
                participants=("someone",),
                countries=("KZ", "RU"),
            ),
            row(
                2,
                slug="whole",
                title_en="Whole",
                start_date=dt.date(2026, 3, 1),
                end_date=dt.date(2026, 3, 3),
            ),
        ),
        chief,
    )
    assert [planned.change for planned in plan.rows] == [Change.NEW, Change.NEW]
    _apply(plan)
    part = Event.objects.get(slug="part")
    assert part.part_of.slug == "whole"
    assert [t.slug for t in part.topics.all()] == ["energy"]
    assert sorted(c.code for c in part.countries) == ["KZ", "RU"]


def test_an_editor_cannot_publish_through_an_import(editor):
    EventFactory(slug="draft", published=False)
    plan = plan_import(reading(row(2, slug="draft", published=True, title_en="Now public")), editor)
    [planned] = plan.rows
    assert planned.event.published is False
    assert any("stays a draft" in note for note in planned.notes)
    assert [d.field for d in planned.differences] == ["title_en"]


def test_a_zone_the_place_gives_and_a_status_ics_cannot_tell_are_not_changes(chief):
    place = PlaceFactory(timezone="Asia/Almaty")
    event = EventFactory(
        place=place,
        precision="minute",
        start_date=dt.date(2026, 5, 4),
        start_time=dt.time(10, 0),
        status=Event.Status.POSTPONED,
    )
    plan = plan_import(
        reading(
            row(
                2,
                uid=event.calendar_uid,
                timezone="Asia/Almaty",
                status="tentative",
                precision="minute",
                start_date=dt.date(2026, 5, 4),
                start_time=dt.time(10, 0),
            ),
            format="ics",
        ),
        chief,
    )
    assert plan.rows[0].change == Change.UNCHANGED, plan.rows[0].differences


class TestConfirm:
    """apply_import: one transaction, one revision, and only the dry run the editor saw."""

    @pytest.fixture
    def batch(self, chief, monkeypatch):
        csv_text = "slug,title_en,start_date\r\ntalks,Talks in Moscow,2025-11-11\r\n"
        return ImportBatch.objects.create(
            user=chief,
            filename="programme.csv",
            format="csv",
            content=csv_text.encode(),
            language="en",
            timezone="Asia/Almaty",
        )

    def test_confirming_writes_one_revision_named_after_the_file(self, batch, chief):
        EventFactory(slug="talks", title="Talks", start_date=dt.date(2025, 11, 11))
        plan = dry_run(batch, chief)
        apply_import(batch, chief, plan.digest)
        event = Event.objects.get(slug="talks")
        assert event.title_en == "Talks in Moscow"
        version = Version.objects.get_for_object(event).first()
        assert version.revision.get_comment() == "Imported from programme.csv by chief"
        assert version.revision.user == chief
        # The same file again changes nothing, and the batch cannot be applied twice.
        assert dry_run(batch, chief).rows[0].change == Change.UNCHANGED
        with pytest.raises(AlreadyApplied):
            apply_import(batch, chief, plan.digest)

    def test_an_edit_since_the_dry_run_stops_the_import(self, batch, chief):
        event = EventFactory(slug="talks", title="Talks", start_date=dt.date(2025, 11, 11))
        plan = dry_run(batch, chief)
        event.summary_en = "Edited meanwhile"
        event.save()
        with pytest.raises(PlanChanged):
            apply_import(batch, chief, plan.digest)
        assert Event.objects.get(slug="talks").title_en == "Talks"


@pytest.mark.slow
def test_a_confirmed_import_reaches_the_feeds_like_any_edit(
    client, superuser, celery_worker_process
):
    """The import saves through the model: the worker re-publishes the feeds it touches."""
    from timeline import tasks
    from timeline.models import Heartbeat

    from .processes import wait_for

    EventFactory(slug="talks", title="Talks", start_date=dt.date(2025, 11, 11))
    before = client.get("/feeds/all.ics")["ETag"]
    tasks.record_heartbeat.delay("ready")
    wait_for(lambda: Heartbeat.objects.filter(name="ready").exists(), timeout=60)

    batch = ImportBatch.objects.create(
        user=superuser,
        filename="programme.csv",
        format="csv",
        content="slug;title_en\r\ntalks;Talks in Moscow\r\n".encode("cp1251"),
        language="en",
        timezone="Asia/Almaty",
    )
    apply_import(batch, superuser, dry_run(batch, superuser).digest)

    def republished():
        response = client.get("/feeds/all.ics")
        return response if response["ETag"] != before else None

    response = wait_for(republished, timeout=60, interval=0.05)
    assert "SUMMARY;LANGUAGE=en:Talks in Moscow" in response.content.decode()
