"""README's configuration table names every CARTE_ variable the code reads, and only those.

A newcomer configures the product from that table: a variable read but not listed is a
setting nobody can find, one listed but not read is a setting that silently does nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("geo", "ingestion", "mail", "moderation", "tiles", "webmap", "scripts")
NAME = re.compile(r"\bCARTE_[A-Z][A-Z0-9_]*[A-Z0-9]\b")


def _read_by_code() -> set[str]:
    from ingestion.api import DEFAULTS

    names: set[str] = set()
    for folder in SOURCES:
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".py", ".sh") and "vendor" not in path.parts:
                names |= set(NAME.findall(path.read_text(encoding="utf-8")))
    # ingestion reads its settings as f"CARTE_{key}" (the spam rules are config only).
    names |= {f"CARTE_{key}" for key in DEFAULTS if key != "INGEST_SPAM_RULES"}
    return names - {"CARTE_INGEST"}  # the prefix, as docstrings write it


def _in_readme_table() -> set[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Configuration"):]
    section = section[:section.index("\n## ", 1)]
    rows = [line for line in section.splitlines() if line.startswith("| `CARTE_")]
    return {name for row in rows for name in NAME.findall(row.split("|")[1])}


def test_every_variable_the_code_reads_is_in_the_readme_table_and_the_reverse() -> None:
    read, listed = _read_by_code(), _in_readme_table()
    assert read - listed == set(), "read by the code, missing from README's table"
    assert listed - read == set(), "in README's table, read by no code"
