// Print each VEVENT's RELATED-TO as ical.js (Thunderbird) reads it, as JSON:
// {"<uid>": ["<related uid>", "<RELTYPE>"] or null}. Reads the calendar from stdin.
import { readFileSync } from "node:fs";
import ICAL from "ical.js";

const calendar = new ICAL.Component(ICAL.parse(readFileSync(0, "utf8")));
const found = {};
for (const vevent of calendar.getAllSubcomponents("vevent")) {
  const related = vevent.getFirstProperty("related-to");
  found[vevent.getFirstPropertyValue("uid")] = related
    ? [related.getFirstValue(), related.getParameter("reltype") ?? null]
    : null;
}
process.stdout.write(JSON.stringify(found) + "\n");
