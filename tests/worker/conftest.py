"""Fixtures of the worker's tests: organisation data with an escalation contact."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture
def scripts(tmp_path: Path) -> Path:
    """The organisations' data, with an escalation contact in Enfield's rota."""
    root = tmp_path / "service_scripts"
    shutil.copytree(Path(__file__).resolve().parents[2] / "service_scripts", root)
    rota = root / "enfield" / "rota.yaml"
    text = rota.read_text(encoding="utf-8").replace(
        "contacts:\n", 'contacts:\n  director: {name: "Director on call", email: director@enfield.example}\n', 1
    )
    rota.write_text(text + "\nescalation: director\n", encoding="utf-8")
    return root
