"""The import rules of docs/architecture.md, checked by import-linter on the real tree.

``geo`` imports nothing of ours (and no web framework); ``ingestion`` imports only
``geo``; ``moderation`` imports ``geo`` and ``ingestion``; ``tiles`` and ``opendata``
import only ``geo`` (and no web framework); ``webmap`` may import all. The contracts are in
``.importlinter``; ``make lint`` runs the same check. A second test proves the check
bites: a copy of the packages with one module of ``tiles`` importing ``ingestion``
must fail, naming the contract and the offending import.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / ".importlinter"
PACKAGES = ("geo", "ingestion", "mail", "moderation", "opendata", "tiles", "webmap")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    # PYTHONPATH first, so the packages analysed are the ones under cwd, not the
    # editable install of the checkout.
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run([str(LINT_IMPORTS), "--config", str(cwd / ".importlinter"),
                           "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def _only_python(directory: str, names: list[str]) -> list[str]:
    """What copytree skips: everything but Python files and folders, and caches."""
    return [n for n in names if n == "__pycache__"
            or not (n.endswith(".py") or (Path(directory) / n).is_dir())]


def _copy_tree(dest: Path) -> None:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, dest / package, ignore=_only_python)
    shutil.copy(CONFIG, dest / ".importlinter")


def test_the_tree_keeps_every_import_rule() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("geo imports nothing of ours", "ingestion imports only geo",
                 "moderation imports only geo and ingestion", "tiles imports only geo"):
        assert f"{name}" in result.stdout
    assert "0 broken" in result.stdout


def test_tiles_importing_ingestion_breaks_the_check(tmp_path: Path) -> None:
    _copy_tree(tmp_path)
    assert _lint(tmp_path).returncode == 0  # the copy alone is clean
    (tmp_path / "tiles" / "_violation.py").write_text(
        '"""A deliberate breach of the import rules."""\n\nimport ingestion.validation\n',
        encoding="utf-8")
    result = _lint(tmp_path)
    assert result.returncode == 1, result.stdout
    assert "tiles imports only geo, and no web framework BROKEN" in result.stdout
    assert "tiles._violation -> ingestion.validation" in result.stdout
    assert "1 broken" in result.stdout


def test_geo_importing_flask_breaks_the_check(tmp_path: Path) -> None:
    _copy_tree(tmp_path)
    (tmp_path / "geo" / "_violation.py").write_text(
        '"""A deliberate breach: the core must run without the web app."""\n\n'
        "def app():\n    from flask import Flask\n    return Flask(__name__)\n",
        encoding="utf-8")
    result = _lint(tmp_path)
    assert result.returncode == 1, result.stdout
    assert "geo imports nothing of ours, and no web framework BROKEN" in result.stdout
    assert "geo._violation -> flask" in result.stdout
