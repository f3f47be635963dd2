// Read an iCalendar file the way Thunderbird does (ical.js) and print its events as JSON.
//
//   node tests/js/parse_ics.mjs [FILE]      (reads stdin without FILE)
//   node tests/js/parse_ics.mjs --languages [FILE]   (records also carry `languages`: below)
//   node tests/js/parse_ics.mjs --alarms [FILE]      (records also carry `alarms`: below)
//   node tests/js/parse_ics.mjs --stream    (many calendars: see below)
//
// Prints a list of {uid, summary, status, sequence, all_day, start, end}, sorted by uid. Timed
// start/end are UTC ('YYYY-MM-DDTHH:MM:SSZ'), converted with the feed's own VTIMEZONEs; all-day
// start/end are dates ('YYYY-MM-DD', end exclusive). Without DTEND, a timed event ends at its
// start and an all-day event the day after. Any TZID that no VTIMEZONE of the feed defines, and
// any floating (zone-less) date-time, is an error: exit status 1 with the reason on stderr.
//
// With --stream it reads one JSON string (a whole calendar) per line of stdin and answers each
// with one JSON line: {"events": [...]} or {"error": "..."}, for the property tests, which parse
// thousands of calendars and cannot start node for each. Stream records also carry description,
// location, categories (a list), url and tzid (of DTSTART; null for UTC or a date).
//
// With --languages each record also has `languages`: the LANGUAGE parameter of its SUMMARY,
// DESCRIPTION and LOCATION ({"SUMMARY": "ru", ...}; null where the property or parameter is
// missing).
//
// With --alarms each record also has `alarms`: its VALARMs as {action, trigger, related,
// description, language}, `trigger` in seconds from the start (or the end, as `related` says),
// earliest first. An absolute (date-time) TRIGGER is an error. The flags may be combined.
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import ICAL from "ical.js";

class ParseError extends Error {}

function fail(message) {
  throw new ParseError(message);
}

function pad(number, width = 2) {
  return String(number).padStart(width, "0");
}

function isoDate(time) {
  return `${pad(time.year, 4)}-${pad(time.month)}-${pad(time.day)}`;
}

function isoUtc(time) {
  const seconds = time.toUnixTime();
  if (!Number.isFinite(seconds)) {
    fail(`cannot convert ${time.toString()} to UTC`);
  }
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

// Check a DTSTART/DTEND property: its TZID must be one of the feed's VTIMEZONEs, and it must
// have resolved to that zone (ical.js silently falls back to floating time otherwise).
function checkZone(uid, property, time, knownZones) {
  if (!property || time.isDate) {
    return;
  }
  const tzid = property.getParameter("tzid");
  const where = `${property.name.toUpperCase()} of ${uid}`;
  if (tzid) {
    if (!knownZones.has(tzid) || !ICAL.TimezoneService.has(tzid)) {
      fail(`${where}: TZID ${JSON.stringify(tzid)} has no VTIMEZONE in the feed`);
    }
    if (time.zone.tzid !== tzid) {
      fail(`${where}: TZID ${JSON.stringify(tzid)} resolved to ${time.zone.tzid}`);
    }
  } else if (time.zone !== ICAL.Timezone.utcTimezone) {
    fail(`${where}: floating date-time ${time.toString()} (neither UTC nor TZID)`);
  }
}

const TEXT_PROPERTIES = ["summary", "description", "location"];

function languagesOf(vevent) {
  const found = {};
  for (const name of TEXT_PROPERTIES) {
    const property = vevent.getFirstProperty(name);
    found[name.toUpperCase()] = property?.getParameter("language") ?? null;
  }
  return found;
}

function alarmsOf(uid, vevent) {
  const alarms = [];
  for (const valarm of vevent.getAllSubcomponents("valarm")) {
    const trigger = valarm.getFirstProperty("trigger");
    if (!trigger) {
      fail(`a VALARM of ${uid} has no TRIGGER`);
    }
    const value = trigger.getFirstValue();
    if (!(value instanceof ICAL.Duration)) {
      fail(`a VALARM of ${uid} has an absolute TRIGGER ${value.toString()}`);
    }
    const description = valarm.getFirstProperty("description");
    alarms.push({
      action: valarm.getFirstPropertyValue("action"),
      trigger: value.toSeconds(),
      related: trigger.getParameter("related") ?? "START",
      description: description ? description.getFirstValue() : null,
      language: description?.getParameter("language") ?? null,
    });
  }
  return alarms.sort((a, b) => a.trigger - b.trigger);
}

function parseCalendar(text, extended, withLanguages = false, withAlarms = false) {
  let calendar;
  try {
    calendar = new ICAL.Component(ICAL.parse(text));
  } catch (error) {
    fail(`not parseable: ${error.message}`);
  }
  if (calendar.name !== "vcalendar") {
    fail(`expected a VCALENDAR, got ${calendar.name.toUpperCase()}`);
  }

  // Only the feed's own zones: no zone registered by anything else may satisfy a TZID.
  ICAL.TimezoneService.reset();
  const knownZones = new Set();
  for (const vtimezone of calendar.getAllSubcomponents("vtimezone")) {
    const tzid = vtimezone.getFirstPropertyValue("tzid");
    if (!tzid) {
      fail("a VTIMEZONE has no TZID");
    }
    if (knownZones.has(tzid)) {
      fail(`two VTIMEZONEs with TZID ${JSON.stringify(tzid)}`);
    }
    ICAL.TimezoneService.register(vtimezone);
    knownZones.add(tzid);
  }

  const events = [];
  for (const vevent of calendar.getAllSubcomponents("vevent")) {
    const event = new ICAL.Event(vevent);
    const uid = event.uid;
    for (const property of vevent.getAllProperties()) {
      const tzid = property.getParameter("tzid");
      if (tzid !== undefined && !knownZones.has(tzid)) {
        const where = `${property.name.toUpperCase()} of ${uid}`;
        fail(`${where}: TZID ${JSON.stringify(tzid)} has no VTIMEZONE in the feed`);
      }
    }
    const start = event.startDate;
    if (!start) {
      fail(`event ${uid} has no DTSTART`);
    }
    const end = event.endDate;
    checkZone(uid, vevent.getFirstProperty("dtstart"), start, knownZones);
    checkZone(uid, vevent.getFirstProperty("dtend"), end, knownZones);
    if (start.isDate !== end.isDate) {
      fail(`event ${uid}: DTSTART and DTEND are not both dates or both date-times`);
    }
    const allDay = start.isDate;
    const record = {
      uid,
      summary: event.summary,
      status: vevent.getFirstPropertyValue("status"),
      sequence: event.sequence,
      all_day: allDay,
      start: allDay ? isoDate(start) : isoUtc(start),
      end: allDay ? isoDate(end) : isoUtc(end),
    };
    if (extended) {
      const categories = vevent.getAllProperties("categories").flatMap((p) => p.getValues());
      Object.assign(record, {
        description: vevent.getFirstPropertyValue("description"),
        location: vevent.getFirstPropertyValue("location"),
        categories,
        url: vevent.getFirstPropertyValue("url"),
        tzid: vevent.getFirstProperty("dtstart").getParameter("tzid") ?? null,
      });
    }
    if (withLanguages) {
      record.languages = languagesOf(vevent);
    }
    if (withAlarms) {
      record.alarms = alarmsOf(uid, vevent);
    }
    events.push(record);
  }
  events.sort((a, b) => (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0));
  return events;
}

function main() {
  const args = process.argv.slice(2);
  const flags = new Set(args.filter((arg) => arg.startsWith("--")));
  const path = args.find((arg) => !arg.startsWith("--"));
  const text = readFileSync(path ?? 0, "utf8");
  try {
    const events = parseCalendar(text, false, flags.has("--languages"), flags.has("--alarms"));
    process.stdout.write(JSON.stringify(events) + "\n");
  } catch (error) {
    if (!(error instanceof ParseError)) {
      throw error;
    }
    process.stderr.write(`parse_ics.mjs: ${error.message}\n`);
    process.exit(1);
  }
}

async function stream() {
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line) {
      continue;
    }
    let answer;
    try {
      answer = { events: parseCalendar(JSON.parse(line), true) };
    } catch (error) {
      answer = { error: `${error.constructor.name}: ${error.message}` };
    }
    process.stdout.write(JSON.stringify(answer) + "\n");
  }
}

if (process.argv[2] === "--stream") {
  await stream();
} else {
  main();
}
