"""Read rendered iCalendar feeds back with three independent parsers, for the tests.

Every parser returns the same shape: a list of dicts sorted by uid, each
{uid, summary, status, sequence, all_day, start, end}, where a timed event's start and end are
UTC strings ('YYYY-MM-DDTHH:MM:SSZ') and an all-day event's are dates ('YYYY-MM-DD', end
exclusive). Without DTEND a timed event ends at its start, an all-day event the next day.
With `languages=True` each record also has `languages`: the LANGUAGE parameter of its SUMMARY,
DESCRIPTION and LOCATION ({"SUMMARY": "ru", ...}, None where the property or parameter is missing).
With `alarms=True` each record also has `alarms`: its VALARMs as
{action, trigger, related, description, language}, `trigger` in seconds from the start (or the
end, as `related` says: START unless the TRIGGER says END), earliest first.

Each library converts local times to UTC its own way, which is the point of using three:

- icalendar resolves a TZID that names an IANA zone with its own zone database (zoneinfo and
  the tzdata package) and ignores the feed's VTIMEZONE for it;
- vobject builds a tzinfo from the feed's VTIMEZONE (dateutil's tzical);
- ical.js (Thunderbird) uses only the feed's VTIMEZONEs (tests/js/parse_ics.mjs).

So a wrong VTIMEZONE is caught by ical.js (and vobject), a wrong TZID or wall time by all three.
"""

import datetime as dt
import io
import json
import shutil
import subprocess
from pathlib import Path

import icalendar
import vobject

ROOT = Path(__file__).resolve().parent.parent
PARSE_ICS = ROOT / "tests" / "js" / "parse_ics.mjs"
ICALJS_PACKAGE = ROOT / "node_modules" / "ical.js" / "package.json"
ONE_DAY = dt.timedelta(days=1)
TEXT_PROPERTIES = ("SUMMARY", "DESCRIPTION", "LOCATION")


class ParserUnavailable(RuntimeError):
    """A parser the tests need is not installed (never a reason to skip a test)."""


def _utc_text(moment: dt.datetime, where: str) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{where}: floating date-time {moment.isoformat()} (no TZID, no Z)")
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _times(uid: str, start, end) -> tuple[bool, str, str]:
    """Return (all_day, start, end) in the common shape for parsed DTSTART/DTEND values."""
    all_day = not isinstance(start, dt.datetime)
    if end is not None and isinstance(end, dt.datetime) == all_day:
        raise ValueError(f"{uid}: DTSTART and DTEND are not both dates or both date-times")
    if all_day:
        end = end if end is not None else start + ONE_DAY
        return True, start.isoformat(), end.isoformat()
    end = end if end is not None else start
    return False, _utc_text(start, f"DTSTART of {uid}"), _utc_text(end, f"DTEND of {uid}")


def _record(uid, summary, status, sequence, start, end) -> dict:
    all_day, start_text, end_text = _times(uid, start, end)
    return {
        "uid": uid,
        "summary": summary,
        "status": status,
        "sequence": sequence,
        "all_day": all_day,
        "start": start_text,
        "end": end_text,
    }


def _sorted(events: list[dict]) -> list[dict]:
    return sorted(events, key=lambda event: event["uid"])


def _alarm(action, trigger, related, description, language) -> dict:
    if not isinstance(trigger, dt.timedelta):
        raise ValueError(f"an absolute TRIGGER ({trigger!r}) where a duration was expected")
    return {
        "action": action,
        "trigger": int(trigger.total_seconds()),
        "related": related or "START",
        "description": description,
        "language": language,
    }


def _by_trigger(alarms: list[dict]) -> list[dict]:
    return sorted(alarms, key=lambda alarm: alarm["trigger"])


def parse_with_icalendar(
    data: bytes, *, languages: bool = False, alarms: bool = False
) -> list[dict]:
    """Parse with the icalendar library (the one that renders the feeds)."""
    calendar = icalendar.Calendar.from_ical(data)
    problems = [
        (component.name, error) for component in calendar.walk() for error in component.errors
    ]
    if problems:
        raise ValueError(f"icalendar could not read every property: {problems}")
    events = []
    for vevent in calendar.walk("VEVENT"):
        uid = str(vevent["UID"])
        record = _record(
            uid,
            str(vevent["SUMMARY"]) if "SUMMARY" in vevent else None,
            str(vevent["STATUS"]) if "STATUS" in vevent else None,
            int(vevent.decoded("SEQUENCE")) if "SEQUENCE" in vevent else 0,
            vevent.decoded("DTSTART"),
            vevent.decoded("DTEND") if "DTEND" in vevent else None,
        )
        if languages:
            record["languages"] = {
                name: vevent[name].params.get("LANGUAGE") if name in vevent else None
                for name in TEXT_PROPERTIES
            }
        if alarms:
            record["alarms"] = _by_trigger(
                [
                    _alarm(
                        str(valarm["ACTION"]),
                        valarm.decoded("TRIGGER"),
                        valarm["TRIGGER"].params.get("RELATED"),
                        str(valarm["DESCRIPTION"]) if "DESCRIPTION" in valarm else None,
                        valarm["DESCRIPTION"].params.get("LANGUAGE")
                        if "DESCRIPTION" in valarm
                        else None,
                    )
                    for valarm in vevent.walk("VALARM")
                ]
            )
        events.append(record)
    return _sorted(events)


def _vobject_value(component, name: str):
    lines = component.contents.get(name)
    return lines[0].value if lines else None


def _vobject_language(component, name: str) -> str | None:
    lines = component.contents.get(name.lower())
    return lines[0].params.get("LANGUAGE", [None])[0] if lines else None


def parse_with_vobject(data: bytes, *, languages: bool = False, alarms: bool = False) -> list[dict]:
    """Parse with vobject, converting local times with the feed's own VTIMEZONEs."""
    text = data.decode("utf-8")
    calendar = vobject.readOne(io.StringIO(text))
    zones = calendar.contents.get("vtimezone", [])
    if zones:
        # vobject keeps one process-wide TZID -> tzinfo map and registers a VTIMEZONE only if
        # its TZID is not known yet, so a feed read earlier (with other zone data) would decide
        # this feed's times. Register this feed's zones and read again, as a fresh process would.
        for vtimezone in zones:
            vobject.icalendar.registerTzid(vtimezone.tzid.value, vtimezone.gettzinfo())
        calendar = vobject.readOne(io.StringIO(text))
    events = []
    for vevent in calendar.contents.get("vevent", []):
        uid = _vobject_value(vevent, "uid")
        sequence = _vobject_value(vevent, "sequence")
        record = _record(
            uid,
            _vobject_value(vevent, "summary"),
            _vobject_value(vevent, "status"),
            int(sequence) if sequence is not None else 0,
            _vobject_value(vevent, "dtstart"),
            _vobject_value(vevent, "dtend"),
        )
        if languages:
            record["languages"] = {
                name: _vobject_language(vevent, name) for name in TEXT_PROPERTIES
            }
        if alarms:
            record["alarms"] = _by_trigger(
                [
                    _alarm(
                        _vobject_value(valarm, "action"),
                        _vobject_value(valarm, "trigger"),
                        valarm.trigger.params.get("RELATED", [None])[0],
                        _vobject_value(valarm, "description"),
                        _vobject_language(valarm, "description"),
                    )
                    for valarm in vevent.contents.get("valarm", [])
                ]
            )
        events.append(record)
    return _sorted(events)


def parse_with_icaljs(data: bytes, *, languages: bool = False, alarms: bool = False) -> list[dict]:
    """Parse with ical.js, Thunderbird's parser, through `node tests/js/parse_ics.mjs`."""
    node = shutil.which("node")
    if node is None:
        raise ParserUnavailable(
            "node is not on PATH: install Node.js 20+, then run `npm ci` in the repository root"
        )
    if not ICALJS_PACKAGE.is_file():
        raise ParserUnavailable(
            f"ical.js is not installed ({ICALJS_PACKAGE} is missing): run `npm ci` in {ROOT}"
        )
    result = subprocess.run(
        [
            node,
            str(PARSE_ICS),
            *(["--languages"] if languages else []),
            *(["--alarms"] if alarms else []),
        ],
        input=data,
        cwd=ROOT,
        capture_output=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"ical.js rejected the calendar (exit {result.returncode}): "
            f"{result.stderr.decode(errors='replace').strip()}"
        )
    return _sorted(json.loads(result.stdout))


PARSERS = {
    "icalendar": parse_with_icalendar,
    "vobject": parse_with_vobject,
    "ical.js": parse_with_icaljs,
}


def assert_lines_well_formed(data: bytes) -> None:
    """Assert RFC 5545 3.1 line structure: CRLF ends only, at most 75 octets a line, each line
    valid UTF-8 on its own (folding must not split a multi-octet character)."""
    assert data, "empty calendar"
    assert data.endswith(b"\r\n"), f"the last line does not end with CRLF: {data[-80:]!r}"
    lines = data[:-2].split(b"\r\n")
    for number, line in enumerate(lines, start=1):
        assert b"\n" not in line, f"line {number} has a bare LF: {line!r}"
        assert b"\r" not in line, f"line {number} has a bare CR: {line!r}"
        assert len(line) <= 75, f"line {number} is {len(line)} octets (> 75): {line!r}"
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as error:
            raise AssertionError(f"line {number} is not valid UTF-8 ({error}): {line!r}") from None


class IcalJsStream:
    """One `node tests/js/parse_ics.mjs --stream` process that parses many calendars in turn.

    Starting node costs ~100 ms; the property tests parse thousands of calendars, so they keep
    one process for the session. Each answer is {"events": [...]} with the extended records
    (description, location, categories, url, tzid), or {"error": "..."}.
    """

    def __init__(self) -> None:
        node = shutil.which("node")
        if node is None or not ICALJS_PACKAGE.is_file():
            raise ParserUnavailable("ical.js needs node and `npm ci` in the repository root")
        self.process = subprocess.Popen(
            [node, str(PARSE_ICS), "--stream"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )

    def parse(self, data: bytes) -> dict:
        """Return ical.js's reading of one calendar."""
        self.process.stdin.write(json.dumps(data.decode("utf-8")) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise AssertionError(f"ical.js stream ended (exit {self.process.poll()})")
        return json.loads(line)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)
