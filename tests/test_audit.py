"""`make audit`: a known vulnerability fails the build; an unreachable database only warns."""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("audit", ROOT / "bin" / "audit_dependencies.py")
audit = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(audit)

CLEAN = {"dependencies": [{"name": "django", "version": "5.2.19", "vulns": []}], "fixes": []}
VULNERABLE = {
    "dependencies": [
        {"name": "django", "version": "5.2.19", "vulns": []},
        {
            "name": "jinja2",
            "version": "3.1.2",
            "vulns": [{"id": "GHSA-h5c8-rqwp-cp95", "fix_versions": ["3.1.3"], "aliases": []}],
        },
    ],
    "fixes": [],
}
# What the PyPI service reports when its JSON API answers 404 for everything (as here).
ALL_SKIPPED = {
    "dependencies": [
        {"name": "django", "skip_reason": "Dependency not found on PyPI and could not be audited"}
    ],
    "fixes": [],
}
NETWORK_ERROR = "Traceback ...\nrequests.exceptions.ConnectionError: Failed to resolve host"


def outcome(report: dict | None, service: str = "pypi", stderr: str = ""):
    return audit.read_report(service, json.dumps(report) if report else "", stderr)


def test_a_known_vulnerability_fails_the_build():
    status, message = audit.verdict([outcome(VULNERABLE)], require_database=False)
    assert status == 1
    assert "jinja2 3.1.2: GHSA-h5c8-rqwp-cp95 (fixed in: 3.1.3)" in message


def test_a_clean_report_passes():
    status, message = audit.verdict([outcome(CLEAN)], require_database=False)
    assert status == 0
    assert message == "pip-audit (pypi): no known vulnerabilities in 1 packages."


@pytest.mark.parametrize("require", [False, True])
def test_an_unreachable_database_warns_loudly_and_fails_only_if_required(require):
    tried = [outcome(ALL_SKIPPED), outcome(None, "osv", NETWORK_ERROR)]
    status, message = audit.verdict(tried, require_database=require)
    assert status == (1 if require else 0)
    assert "pip-audit could not reach its vulnerability database" in message
    assert "dependencies NOT audited" in message
    assert "pypi: no package could be looked up" in message
    assert "osv: requests.exceptions.ConnectionError" in message


def test_the_second_service_counts_when_the_first_is_unreachable():
    tried = [outcome(ALL_SKIPPED), outcome(VULNERABLE, "osv")]
    status, message = audit.verdict(tried, require_database=False)
    assert status == 1 and message.startswith("pip-audit (osv): known vulnerabilities")


def test_an_ignored_vulnerability_needs_a_reason(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[tool.timeline-audit]\nignore-vulns = [{ id = "PYSEC-1", reason = "not reachable" }]\n'
    )
    assert audit.ignored_vulnerabilities(pyproject) == ["PYSEC-1"]
    pyproject.write_text('[tool.timeline-audit]\nignore-vulns = [{ id = "PYSEC-1" }]\n')
    with pytest.raises(SystemExit, match="ignores 'PYSEC-1' without a reason"):
        audit.ignored_vulnerabilities(pyproject)
    assert audit.ignored_vulnerabilities() == []  # the project's own list (each with a reason)
