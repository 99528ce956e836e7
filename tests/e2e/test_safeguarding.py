"""Safeguarding through the running agent: at any point, in any organisation, even mid-script."""

from __future__ import annotations

import pytest

from harness.stack import Stack
from ooh.records.store import RecordStore, ServiceRequestView
from tests.e2e.test_scripts import SAT_NIGHT, joined, sender

pytestmark = pytest.mark.e2e


def requests_of(stack: Stack, who: str) -> list[ServiceRequestView]:
    """The service requests one conversation created, oldest first."""
    return RecordStore(stack.env["OOH_DATABASE_URL"]).for_conversation(who)


@pytest.mark.parametrize("po", ["peabody", "tower_hamlets", "kensington_chelsea"])
def test_suicide_risk_typed_in_the_middle_of_a_repair_switches_at_once(
    stack: Stack, tenant_address: dict[str, dict[str, str]], po: str
) -> None:
    """Mid-repair, a resident says they want to end it: help numbers now, the repair kept."""
    who = sender()
    stack.send(who, "my boiler has packed up and there's no heating", po=po, now=SAT_NIGHT)
    stack.send(who, "no heating at all", po=po, now=SAT_NIGHT)
    replies = stack.send(who, "honestly i can't cope anymore i just want to end it all", po=po, now=SAT_NIGHT)
    text = joined(replies)
    assert "116 123" in text and "999" in text, replies
    slots = stack.slots(who)
    assert slots["service_option"] == "suicide_risk"
    records = requests_of(stack, who)
    kept = [r for r in records if "interrupted_by_safeguarding" in r.flags]
    assert kept and "heating" in f"{kept[0].details} {kept[0].answers}".lower(), "the repair so far is kept"
    assert any("safeguarding:suicide" in r.flags for r in records), "the switch itself is recorded"


@pytest.mark.parametrize("po", ["enfield", "haringey", "waltham_forest"])
def test_child_at_risk_mid_homelessness_script_goes_to_social_services(stack: Stack, po: str) -> None:
    """A child left alone, typed in the middle of a homelessness call, interrupts it."""
    who = sender()
    stack.send(who, "we've lost our flat and have nowhere to go tonight", po=po, now=SAT_NIGHT)
    replies = stack.send(
        who, "the neighbours kids have been left home alone all night and the baby is screaming", po=po, now=SAT_NIGHT
    )
    assert "999" in joined(replies)
    assert stack.slots(who)["service_option"] == "social_services_emergency"


def test_domestic_abuse_in_a_homelessness_call_gives_numbers_and_carries_on(stack: Stack) -> None:
    """Fleeing violence is part of the homelessness script: numbers at once, the script goes on."""
    who = sender()
    replies = stack.send(
        who,
        "my husband hit me again and i've left with the kids, we have nowhere to stay tonight",
        po="barnet",
        now=SAT_NIGHT,
    )
    assert "0808 2000 247" in joined(replies)
    slots = stack.slots(who)
    assert slots["service_option"] == "homeless_families"


def test_a_safeguarding_phrase_the_classifier_misses_is_still_caught(stack: Stack) -> None:
    """An explicit phrase is caught by rule even when the first message is mostly about something else."""
    who = sender()
    replies = stack.send(who, "the lift is broken again and i've been self harming since", po="peabody", now=SAT_NIGHT)
    assert "116 123" in joined(replies)
    assert stack.slots(who)["service_option"] == "suicide_risk"
