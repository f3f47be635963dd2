"""Read RELATED-TO back with ical.js (Thunderbird's parser), as tests/parsers.py reads the rest."""

import json
import subprocess

from .parsers import ROOT, parse_with_icaljs

RELATED_TO = ROOT / "tests" / "js" / "related_to.mjs"


def related_with_icaljs(body: bytes) -> dict[str, tuple[str, str] | None]:
    """Return each VEVENT's (RELATED-TO value, RELTYPE) by UID, or None, as ical.js reads it."""
    parse_with_icaljs(body)  # the same checks, and the same messages when node is missing
    result = subprocess.run(
        ["node", str(RELATED_TO)], input=body, cwd=ROOT, capture_output=True, timeout=60, check=True
    )
    return {
        uid: tuple(value) if value else None for uid, value in json.loads(result.stdout).items()
    }
