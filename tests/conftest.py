"""Shared fixtures: one running stack (Rasa + actions + SMTP) for all end-to-end tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.mailbox import mailbox  # noqa: F401 - a fixture for every test folder
from harness.outbox import scripts_with_escalation
from harness.samples import SCRIPTS, houses
from harness.stack import Stack, VoiceGateway, running_gateway, running_stack
from ooh.orgs.loader import Registry, load_registry

#: Calls happen on a Saturday night, out of hours for every organisation.
SAT_NIGHT = "2026-11-21T23:30:00"


@pytest.fixture
def scripts(tmp_path: Path) -> Path:
    """The organisations' data, copied, with an escalation contact (a director) in Enfield's rota."""
    return scripts_with_escalation(tmp_path)


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """The real agent on free localhost ports, with a trained (cached) model."""
    yield from running_stack()


@pytest.fixture(scope="session")
def gateway(stack: Stack) -> Iterator[VoiceGateway]:
    """``python -m voice_gateway`` against the running agent, with a fake Twilio API."""
    yield from running_gateway(stack, SAT_NIGHT)


@pytest.fixture(scope="session")
def any_address() -> Callable[..., dict[str, str]]:
    """A house from an organisation's address file: ``any_address(po, index=0)``."""

    def pick(po: str, index: int = 0) -> dict[str, str]:
        found = [h for h in houses(po) if h["tenure"] != "non_residential"]
        return found[index % len(found)]

    return pick


@pytest.fixture(scope="session")
def address_with_tenure() -> Callable[[str, str], dict[str, str]]:
    """A house of a given tenure: ``address_with_tenure(po, "leaseholder")``."""

    def pick(po: str, tenure: str) -> dict[str, str]:
        found = houses(po, tenure)
        assert found, f"no {tenure} house in {po}'s sample addresses"
        return found[0]

    return pick


@pytest.fixture(scope="session")
def tenant_address() -> dict[str, dict[str, str]]:
    """For each organisation, a house let to its own tenant (where it has any)."""
    found = {}
    for po_dir in sorted(SCRIPTS.iterdir()):
        if po_dir.name.startswith("_") or not (po_dir / "addresses.csv").exists():
            continue
        tenants = houses(po_dir.name, "tenant")
        if tenants:
            found[po_dir.name] = tenants[len(tenants) // 2]
    return found


@pytest.fixture(scope="session")
def registry() -> Registry:
    """Every organisation's data, loaded and validated once."""
    return load_registry(SCRIPTS)
