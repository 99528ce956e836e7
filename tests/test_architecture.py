"""Imports point into the core, never out of it, and doors do not reach into each other.

The core (``ooh/``) holds the service: organisation data, scripts, addresses, safeguarding, records
and referrals. The doors use it: ``actions/`` (Rasa's action server), ``voice_gateway/`` (calls),
``bot/`` (Rasa's NLU pipeline components), ``staff/`` (the staff web app). ``harness/`` runs the
whole stack locally for tests and measurement tools. A new door (console, worker, web chat) gets a
line in ``ALLOWED``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FRAMEWORKS = {"rasa", "rasa_sdk", "sanic", "fastapi", "starlette", "uvicorn", "websockets", "tensorflow"}
"""Rasa and web frameworks: doors use them, the core never does."""

OURS = {"ooh", "actions", "voice_gateway", "staff", "worker", "bot", "harness", "tools", "tests"}

ALLOWED: dict[str, set[str]] = {
    "ooh": {"ooh"},
    "actions": {"ooh", "actions"},
    "voice_gateway": {"ooh", "voice_gateway"},
    "staff": {"ooh", "staff"},
    "worker": {"ooh", "worker"},
    "bot": {"ooh", "bot"},
    "harness": {"ooh", "harness", "bot", "voice_gateway", "worker"},
    "tools": {"ooh", "harness", "bot", "voice_gateway", "tools"},
}
"""Which of our packages each package may import (the harness and tools measure the doors; nothing
imports the tests)."""


def imports(path: Path) -> list[tuple[int, str]]:
    """Every module a file imports (absolute names; relative imports stay in their package)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def wrong_way(package: str) -> list[str]:
    """``file:line imports module`` for each import the package may not make."""
    allowed = ALLOWED[package]
    problems = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, module in imports(path):
            top = module.split(".")[0]
            forbidden_ours = top in OURS and top not in allowed
            framework_in_core = package == "ooh" and top in FRAMEWORKS
            if forbidden_ours or framework_in_core:
                problems.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    return problems


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_point_into_the_core(package: str) -> None:
    """No package imports one it may not: the core nothing of ours but itself, and no framework."""
    assert wrong_way(package) == []


def test_the_check_catches_a_wrong_way_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A core module importing Rasa's SDK or a door is reported with its file and line."""
    core = tmp_path / "ooh"
    core.mkdir()
    (core / "leaky.py").write_text("import os\nfrom rasa_sdk import Tracker\nfrom actions.agent import calls\n")
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    assert wrong_way("ooh") == [
        "ooh/leaky.py:2 imports rasa_sdk",
        "ooh/leaky.py:3 imports actions.agent",
    ]
