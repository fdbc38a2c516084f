"""README's configuration table lists every setting of :class:`webmap.settings.Settings`,
and only those; and no code reads a ``CARTE_*`` variable the settings object does not
know.

A newcomer configures the product from that table: a setting not listed is one nobody
can find, one listed but not in the object silently does nothing, and a variable read
elsewhere escapes the start-up check (its bad value would fail at the first request).
"""

from __future__ import annotations

import re
from pathlib import Path

from webmap.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
# Every package of the product (a new one is checked without being named here).
SOURCES = tuple(sorted(p.parent.name for p in ROOT.glob("*/__init__.py")
                       if p.parent.name not in ("tests", "bench")))
NAME = re.compile(r"\bCARTE_[A-Z][A-Z0-9_]*[A-Z0-9]\b")
PREFIXES = {"CARTE_INGEST", "CARTE_SMTP", "CARTE_MAIL", "CARTE_TILES"}  # as docstrings write them


def _make_only() -> set[str]:
    """Variables of ``make`` and its scripts (installing tools), not of the product."""
    names = set(NAME.findall((ROOT / "Makefile").read_text(encoding="utf-8")))
    for path in (ROOT / "scripts").rglob("*.sh"):
        names |= set(NAME.findall(path.read_text(encoding="utf-8")))
    return names - set(Settings.variables())


def _read_by_code() -> set[str]:
    names: set[str] = set()
    for folder in SOURCES:
        for path in (ROOT / folder).rglob("*.py"):
            if "vendor" not in path.parts:
                names |= set(NAME.findall(path.read_text(encoding="utf-8")))
    return names - PREFIXES


def _in_readme_table() -> set[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Configuration"):]
    section = section[:section.index("\n## ", 1)]
    rows = [line for line in section.splitlines() if line.startswith("| `CARTE_")]
    return {name for row in rows for name in NAME.findall(row.split("|")[1])}


def test_every_setting_is_in_the_readme_table_and_the_reverse() -> None:
    settings, listed = set(Settings.variables()), _in_readme_table() - _make_only()
    assert settings - listed == set(), "settings missing from README's table"
    assert listed - settings == set(), "in README's table, not a setting"


def test_no_code_reads_a_variable_the_settings_object_does_not_know() -> None:
    unknown = _read_by_code() - set(Settings.variables()) - _make_only()
    assert unknown == set(), "read by the code, not in webmap.settings.Settings"
