"""End-to-end: duplicates, reference look-up, referral fallback and hand-over to a person."""

from __future__ import annotations

import pytest

from harness.stack import Stack
from ooh.records.store import RecordStore
from tests.e2e.test_scripts import SAT_NIGHT, email_for, joined, reference_in, sender

pytestmark = pytest.mark.e2e


def report_street_light(stack: Stack, who: str, query: str, name: str) -> list[str]:
    """A complete street-lighting report in Waltham Forest."""
    stack.send(who, "the street light outside my house is out", po="waltham_forest", now=SAT_NIGHT)
    return stack.say(
        who,
        "lamp post is completely dark",
        "no",
        query,
        "yes",
        name,
        "07700 900555",
        po="waltham_forest",
        now=SAT_NIGHT,
    )


def test_second_report_at_the_same_address_is_an_update_not_a_second_referral(stack: Stack, any_address) -> None:  # type: ignore[no-untyped-def]
    """Spec 5.2.7: search open requests first; a match is reported and recorded as an update."""
    home = any_address("waltham_forest", index=3)
    first = report_street_light(stack, sender(), home["query"], "First Caller")
    reference = reference_in(first)
    email_for(stack, reference)
    before = len(stack.smtp.messages)
    who = sender()
    second = report_street_light(stack, who, home["query"], "Second Caller")
    assert "already been reported" in joined(second)
    # Finding 7: the second caller is not told the first caller's reference, and gets their own.
    assert reference not in joined(second)
    own = stack.slots(who)["reference"]
    assert own and own != reference and own in joined(second)
    assert len(stack.smtp.messages) == before, "a duplicate must not send a second referral"
    earlier = RecordStore(stack.env["OOH_DATABASE_URL"]).get(reference)
    assert earlier is not None
    added = [u for u in earlier.updates if u.kind == "duplicate_report"]
    assert added and (added[-1].data or {}).get("reference") == own, "what they said is on the earlier report"
    asked = stack.send(sender(), f"what's happening with {own}", po="waltham_forest", now=SAT_NIGHT)
    assert reference not in joined(asked) and "First Caller" not in joined(asked)


def test_resident_quoting_a_reference_gets_its_status(stack: Stack, any_address) -> None:  # type: ignore[no-untyped-def]
    """A resident who quotes a reference is told what happened to it."""
    home = any_address("waltham_forest", index=7)
    reference = reference_in(report_street_light(stack, sender(), home["query"], "Ref Caller"))
    email_for(stack, reference)
    replies = stack.send(sender(), f"what's happening with {reference.lower()}", po="waltham_forest", now=SAT_NIGHT)
    assert reference in joined(replies)
    assert "sent to the on-call officer" in joined(replies)


def test_unknown_reference_is_explained(stack: Stack) -> None:
    """A reference that doesn't exist gets a clear answer, not an error."""
    replies = stack.send(sender(), "any update on WF-20200101-9999", po="waltham_forest", now=SAT_NIGHT)
    assert "can't find reference WF-20200101-9999" in joined(replies)


def test_asking_for_a_person_mid_script_hands_over_with_the_transcript(stack: Stack) -> None:
    """'I want to speak to a person' works at any point and keeps what was said."""
    who = sender()
    stack.send(who, "there's a dead fox in my front garden", po="barnet", now=SAT_NIGHT)
    stack.send(who, "it's been there two days and smells", po="barnet", now=SAT_NIGHT)
    replies = stack.send(who, "can I speak to a real person please", po="barnet", now=SAT_NIGHT)
    assert "call handler" in joined(replies)
    slots = stack.slots(who)
    assert slots["call_outcome"] == "transferred"
    _, body = email_for(stack, slots["reference"])
    assert "smells" in body, "the transcript goes with the hand-over"
