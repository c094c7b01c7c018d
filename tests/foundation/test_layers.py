"""The import contract of docs/architecture.md: one direction of dependencies.

`lint-imports` (import-linter, configured in pyproject.toml) fails on any module
that imports from a layer above its own, even inside a function, and on import
cycles between the packages of bot/. CI runs it with the suite.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    result = _lint(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 4 kept, 0 broken." in result.stdout


def test_an_upward_import_inside_a_function_breaks_the_contract(tmp_path: Path) -> None:
    # A copy of the package where the delivery core reaches up into a feature.
    shutil.copytree(REPO / "bot", tmp_path / "bot", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    claims = tmp_path / "bot" / "delivery" / "claims.py"
    claims.write_text(
        claims.read_text()
        + "\n\ndef _peek() -> None:\n    from bot.proof import models  # noqa: F401\n"
    )
    result = _lint(tmp_path)
    assert result.returncode != 0
    assert "bot.delivery is not allowed to import bot.proof" in result.stdout
    assert "bot.delivery.claims -> bot.proof.models" in result.stdout
