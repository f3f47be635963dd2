"""Run pip-audit on the installed packages: fail on a known vulnerability, warn if unaudited.

pip-audit asks a vulnerability database over the network (the PyPI JSON API, else OSV). If
neither answers, a build fails only with AUDIT_REQUIRE_DATABASE=1; otherwise it prints a loud
notice that the dependencies were NOT audited and goes on. Ignored vulnerability ids, each with
its reason, live in pyproject.toml under [tool.timeline-audit].
"""

import json
import os
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("pypi", "osv")


@dataclass
class Outcome:
    service: str
    audited: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    problem: str = ""

    @property
    def vulnerable(self) -> list[dict]:
        return [dependency for dependency in self.audited if dependency.get("vulns")]


def ignored_vulnerabilities(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """Return the ids pyproject.toml ignores; each must say why."""
    config = tomllib.loads(pyproject.read_text())
    entries = config.get("tool", {}).get("timeline-audit", {}).get("ignore-vulns", [])
    for entry in entries:
        if not str(entry.get("reason", "")).strip():
            sys.exit(f"pyproject.toml ignores {entry.get('id')!r} without a reason: add one.")
    return [entry["id"] for entry in entries]


def audit(service: str, ignored: list[str]) -> Outcome:
    """Run pip-audit against one vulnerability service."""
    command = [
        sys.executable,
        "-m",
        "pip_audit",
        "--skip-editable",  # this project itself, not on PyPI
        "--format=json",
        "--progress-spinner=off",
        "--timeout=15",
        f"--vulnerability-service={service}",
        *(f"--ignore-vuln={vuln}" for vuln in ignored),
    ]
    try:
        result = subprocess.run(  # noqa: S603 (our own interpreter, fixed arguments)
            command, capture_output=True, text=True, timeout=300, cwd=ROOT
        )
    except subprocess.TimeoutExpired:
        return Outcome(service, problem="pip-audit timed out")
    return read_report(service, result.stdout, result.stderr)


def read_report(service: str, stdout: str, stderr: str) -> Outcome:
    """Read pip-audit's JSON report; no report, or nothing audited, means no database."""
    try:
        report = json.loads(stdout)
    except json.JSONDecodeError:
        last = (stderr.strip().splitlines() or ["no output"])[-1]
        return Outcome(service, problem=last[:300])
    dependencies = report.get("dependencies", [])
    audited = [d for d in dependencies if "skip_reason" not in d]
    skipped = [d for d in dependencies if "skip_reason" in d]
    problem = "" if audited else "no package could be looked up (every one was skipped)"
    return Outcome(service, audited=audited, skipped=skipped, problem=problem)


def not_audited_notice(outcomes: list[Outcome]) -> str:
    bar = "!" * 78
    lines = [
        bar,
        "!! pip-audit could not reach its vulnerability database;",
        "!! dependencies NOT audited.",
        "!!",
        *(f"!!   {outcome.service}: {outcome.problem}" for outcome in outcomes),
        "!!",
        "!! The build goes on (a network problem must not keep CI red). Run `make audit`",
        "!! where PyPI's JSON API or the OSV database is reachable, or set",
        "!! AUDIT_REQUIRE_DATABASE=1 to fail here instead.",
        bar,
    ]
    return "\n".join(lines)


def verdict(outcomes: list[Outcome], require_database: bool) -> tuple[int, str]:
    """Return the exit status and what to print, from the services tried in order."""
    answered = next((outcome for outcome in outcomes if not outcome.problem), None)
    if answered is None:
        return (1 if require_database else 0), not_audited_notice(outcomes)
    if answered.vulnerable:
        lines = [f"pip-audit ({answered.service}): known vulnerabilities found:"]
        for dependency in answered.vulnerable:
            for vuln in dependency["vulns"]:
                fixed = ", ".join(vuln.get("fix_versions", [])) or "no fix yet"
                lines.append(
                    f"  {dependency['name']} {dependency['version']}: {vuln['id']} "
                    f"(fixed in: {fixed})"
                )
        lines.append(
            "Upgrade them, or ignore an id in pyproject.toml [tool.timeline-audit] with a reason."
        )
        return 1, "\n".join(lines)
    message = (
        f"pip-audit ({answered.service}): no known vulnerabilities in "
        f"{len(answered.audited)} packages"
    )
    if answered.skipped:
        message += f"; {len(answered.skipped)} could not be looked up"
    return 0, message + "."


def main() -> int:
    ignored = ignored_vulnerabilities()
    outcomes = []
    for service in SERVICES:
        outcomes.append(audit(service, ignored))
        if not outcomes[-1].problem:
            break
    status, message = verdict(outcomes, os.environ.get("AUDIT_REQUIRE_DATABASE") == "1")
    print(message, file=sys.stderr if status or outcomes[-1].problem else sys.stdout)
    return status


if __name__ == "__main__":
    sys.exit(main())
