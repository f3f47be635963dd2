// Read an iCalendar file the way Thunderbird does (ical.js) and print its events as JSON.
//
//   node tests/js/parse_ics.mjs [FILE]      (reads stdin without FILE)
//
// Prints a list of {uid, summary, status, sequence, all_day, start, end}, sorted by uid. Timed
// start/end are UTC ('YYYY-MM-DDTHH:MM:SSZ'), converted with the feed's own VTIMEZONEs; all-day
// start/end are dates ('YYYY-MM-DD', end exclusive). Without DTEND, a timed event ends at its
// start and an all-day event the day after. Any TZID that no VTIMEZONE of the feed defines, and
// any floating (zone-less) date-time, is an error: exit status 1 with the reason on stderr.
import { readFileSync } from "node:fs";
import ICAL from "ical.js";

function fail(message) {
  process.stderr.write(`parse_ics.mjs: ${message}\n`);
  process.exit(1);
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

function main() {
  const path = process.argv[2];
  const text = readFileSync(path ?? 0, "utf8");

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
    events.push({
      uid,
      summary: event.summary,
      status: vevent.getFirstPropertyValue("status"),
      sequence: event.sequence,
      all_day: allDay,
      start: allDay ? isoDate(start) : isoUtc(start),
      end: allDay ? isoDate(end) : isoUtc(end),
    });
  }
  events.sort((a, b) => (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0));
  process.stdout.write(JSON.stringify(events) + "\n");
}

main();
