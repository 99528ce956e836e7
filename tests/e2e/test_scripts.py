"""End-to-end conversations over HTTP: each must-have script in at least three organisations.

Each test talks to the running agent exactly as a council's web chat would (REST webhook with the
organisation in metadata) and checks what a resident sees, what the tracker says, and what the
on-call officer receives by email.
"""

from __future__ import annotations

import re
import uuid

import pytest

from harness.stack import Stack

pytestmark = pytest.mark.e2e

SAT_NIGHT = "2026-11-21T23:30:00"
REFERENCE = re.compile(r"\b([A-Z]{2,4}-\d{8}-\d{4})\b")


def sender() -> str:
    """A new conversation id."""
    return f"test-{uuid.uuid4().hex[:12]}"


def joined(replies: list[str]) -> str:
    """All replies as one string, for searching."""
    return " ".join(replies)


def reference_in(replies: list[str]) -> str:
    """The reference number the agent told the resident."""
    match = REFERENCE.search(joined(replies))
    assert match, f"no reference in {replies}"
    return match.group(1)


def email_for(stack: Stack, reference: str) -> tuple[list[str], str]:
    """The referral email for a reference: its recipients and body."""
    recipients, message = stack.smtp.wait_for_message(lambda r, m: reference in (m["Subject"] or ""))
    payload = message.get_payload(decode=True)
    body = payload.decode() if isinstance(payload, bytes) else str(message.get_payload())
    return recipients, body


# --------------------------------------------------------------------------- housing repairs
@pytest.mark.parametrize(
    ("po", "address", "prefix", "expected_option"),
    [
        ("enfield", None, "ENF", "housing_repairs"),
        ("peabody", None, "PEA", "housing_repairs/plumber"),
        ("kensington_chelsea", None, "RBKC", "housing_repairs"),
    ],
)
def test_emergency_leak_is_referred_to_the_plumber(
    stack: Stack,
    tenant_address: dict[str, dict[str, str]],
    po: str,
    address: str | None,
    prefix: str,
    expected_option: str,
) -> None:
    """A tenant's leak through the ceiling is an emergency for the on-call plumber, emailed now."""
    home = tenant_address[po]
    who = sender()
    first = stack.send(who, "water is pouring through my kitchen ceiling", po=po, now=SAT_NIGHT)
    assert any("repair problem" in r.lower() or "address" in r.lower() for r in first), first
    if any("repair problem" in r.lower() for r in first):
        stack.send(who, "a leak", po=po, now=SAT_NIGHT)
    replies = stack.send(who, home["query"], po=po, now=SAT_NIGHT)
    assert home["postcode"] in joined(replies), replies
    # The opening message already described the leak, so it is not asked for again.
    stack.say(who, "yes", "yes", "no", "Amina Yusuf", "07700 900123", po=po, now=SAT_NIGHT)
    slots = stack.slots(who)
    assert slots["service_option"] == expected_option
    assert slots["call_outcome"] == "referred"
    assert slots["repair_priority"] == "emergency"
    assert slots["reference"].startswith(prefix + "-")
    recipients, body = email_for(stack, slots["reference"])
    assert any("plumb" in r for r in recipients), recipients
    order = [body.index(label) for label in ("Name:", "Address:", "Contact number:", "Brief details:", "Reference:")]
    assert order == sorted(order), body
    assert "Amina Yusuf" in body and "07700900123" in body.replace(" ", "")
    assert home["uprn"] in body
    assert "kitchen ceiling" in body, "the opening message is the officer's description"


def test_routine_repair_goes_to_the_daytime_service(stack: Stack, tenant_address: dict[str, dict[str, str]]) -> None:
    """A dripping tap that can be turned off is routine: logged for the daytime repairs team, no email."""
    home = tenant_address["havering"]
    who = sender()
    stack.send(who, "my bathroom tap keeps dripping", po="havering", now=SAT_NIGHT)
    stack.say(
        who,
        "leak",
        home["query"],
        "yes",
        "no",
        "no",
        "bathroom sink tap",
        "Tom",
        "020 7946 0999",
        po="havering",
        now=SAT_NIGHT,
    )
    slots = stack.slots(who)
    assert slots["call_outcome"] == "daytime"
    assert slots["repair_priority"] == "routine"
    assert slots["reference"].startswith("HAV-")


def test_leaseholder_is_signposted_before_triage(stack: Stack, address_with_tenure) -> None:  # type: ignore[no-untyped-def]
    """Tenure comes from the address file: a leaseholder is signposted, not asked ten questions."""
    home = address_with_tenure("tower_hamlets", "leaseholder")
    who = sender()
    stack.send(who, "my boiler has broken down", po="tower_hamlets", now=SAT_NIGHT)
    stack.say(who, "no heating", home["query"], po="tower_hamlets", now=SAT_NIGHT)
    replies = stack.send(who, "yes", po="tower_hamlets", now=SAT_NIGHT)
    assert "leasehold" in joined(replies).lower()
    slots = stack.slots(who)
    assert slots["call_outcome"] == "signposted"
    assert slots["reference"]


# ------------------------------------------------------------------------- homeless families
def test_homeless_family_is_placed_with_a_provider_in_enfield(stack: Stack) -> None:
    """Enfield lets the agent book emergency accommodation, recorded for officer confirmation."""
    who = sender()
    stack.send(
        who, "we've been evicted and have nowhere to sleep tonight with my two kids", po="enfield", now=SAT_NIGHT
    )
    replies = stack.say(
        who,
        "myself",
        "Jo Bloggs",
        "no",
        "yes",
        "yes",
        "no",
        "no",
        "no",
        "me and two children",
        "outside the civic centre",
        "07700 900456",
        po="enfield",
        now=SAT_NIGHT,
    )
    slots = stack.slots(who)
    assert slots["call_outcome"] == "placed", replies
    assert "Brimsdown Lodge" in joined(replies)
    recipients, body = email_for(stack, slots["reference"])
    assert "housing.oncall@enfield.example" in recipients
    assert "Provisional booking with Brimsdown Lodge" in body


@pytest.mark.parametrize("po", ["barnet", "waltham_forest", "haringey"])
def test_homeless_family_is_referred_to_the_housing_officer(stack: Stack, po: str) -> None:
    """A pregnant woman with nowhere to go tonight is referred to the on-call housing officer."""
    who = sender()
    stack.send(
        who, "i'm pregnant and my partner has kicked me out, i've got nowhere to stay tonight", po=po, now=SAT_NIGHT
    )
    stack.say(
        who,
        "myself",
        "Sara",
        "no",
        "yes",
        "no",
        "yes",
        "no",
        "no",
        "just me",
        "at a friend's doorstep",
        "07700 900789",
        po=po,
        now=SAT_NIGHT,
    )
    slots = stack.slots(who)
    assert slots["service_option"] == "homeless_families"
    assert slots["call_outcome"] in {"referred", "placed"}
    recipients, body = email_for(stack, slots["reference"])
    assert recipients
    assert "Sara" in body


def test_do_not_place_agency_is_referred_not_placed(stack: Stack) -> None:
    """An agency on the organisation's "do not place" list never gets a placement from the agent."""
    who = sender()
    stack.send(
        who,
        "I'm calling from a lettings agency about a family who need emergency accommodation",
        po="enfield",
        now=SAT_NIGHT,
    )
    replies = stack.say(
        who,
        "agency",
        "Example Lettings Agency",
        "Pat Smith",
        "no",
        "yes",
        "yes",
        "no",
        "no",
        "no",
        "2 adults 1 child",
        "our office",
        "020 7946 0998",
        po="enfield",
        now=SAT_NIGHT,
    )
    slots = stack.slots(who)
    assert slots["call_outcome"] == "referred", replies
    assert "can't arrange a placement" in joined(replies)


# ------------------------------------------------------------------------ generic report
@pytest.mark.parametrize("po", ["ealing", "haringey", "kensington_chelsea"])
def test_offensive_graffiti_is_reported_with_the_extra_question(stack: Stack, any_address, po: str) -> None:  # type: ignore[no-untyped-def]
    """Graffiti asks whether it is offensive (spec 2.2.2) and refers it with that sub-category."""
    home = any_address(po)
    who = sender()
    first = stack.send(who, "someone has sprayed racist graffiti on the wall", po=po, now=SAT_NIGHT)
    # The opening described it: the next question is the graffiti's own, not "what is happening".
    assert "offensive" in joined(first).lower() and "happening" not in joined(first).lower()
    stack.say(who, "yes", home["query"], "yes", "Lee", "07700 900222", po=po, now=SAT_NIGHT)
    slots = stack.slots(who)
    assert slots["service_option"] == "graffiti"
    assert slots["call_outcome"] == "referred"
    _, body = email_for(stack, slots["reference"])
    assert "offensive" in body.lower()


@pytest.mark.parametrize("po", ["enfield", "ealing", "haringey"])
def test_noise_outside_patrol_hours_is_answered_from_data(stack: Stack, po: str) -> None:
    """Noise patrols stop at 3 or 4 a.m.: at 4:30 the resident gets the organisation's own message."""
    who = sender()
    replies = stack.send(who, "my neighbours are playing really loud music", po=po, now="2026-11-22T04:30:00")
    assert "noise patrol isn't operating" in joined(replies)
    assert stack.slots(who)["call_outcome"] == "signposted"


@pytest.mark.parametrize("po", ["kensington_chelsea", "peabody", "tower_hamlets"])
def test_someone_trapped_in_a_lift_goes_to_the_lift_engineer_now(
    stack: Stack, tenant_address: dict[str, dict[str, str]], po: str
) -> None:
    """A person trapped in a lift is an emergency for the on-call lift engineer, emailed at once."""
    home = tenant_address[po]
    who = sender()
    first = stack.send(who, "my neighbour is stuck in the lift between floors", po=po, now=SAT_NIGHT)
    assert "trapped" in joined(first).lower(), first
    stack.say(who, "yes", home["query"], "yes", "it stopped between the 3rd and 4th floor", "Sam", po=po, now=SAT_NIGHT)
    replies = stack.send(who, "07700 900456", po=po, now=SAT_NIGHT)
    slots = stack.slots(who)
    assert slots["service_option"] == "lift_repairs"
    assert slots["call_outcome"] == "referred" and slots["repair_priority"] == "emergency"
    assert slots["reference"] in joined(replies)
    recipients, body = email_for(stack, slots["reference"])
    assert any(r.startswith("lifts.oncall@") for r in recipients), recipients
    assert home["uprn"] in body and "3rd and 4th floor" in body


# ------------------------------------------------------------------------ information only
@pytest.mark.parametrize(
    ("po", "text", "expected"),
    [
        ("ealing", "how do i make a freedom of information request", "freedom of information"),
        ("tower_hamlets", "I want a copy of the personal data you hold on me", "subject access"),
        ("barnet", "what time does the council office open", "9"),
    ],
)
def test_information_options_answer_from_the_faq(stack: Stack, po: str, text: str, expected: str) -> None:
    """Information-only options are answered from the organisation's own FAQ and resolved."""
    who = sender()
    replies = stack.send(who, text, po=po, now=SAT_NIGHT)
    assert expected.lower() in joined(replies).lower(), replies
    slots = stack.slots(who)
    assert slots["call_outcome"] == "resolved"
    assert slots["reference"]


# ----------------------------------------------------------------------------- suicide risk
@pytest.mark.parametrize("po", ["peabody", "havering", "kensington_chelsea"])
def test_suicide_first_reply_gives_help_numbers_before_any_question(stack: Stack, po: str) -> None:
    """Samaritans and 999 come first; no address is required to escalate."""
    who = sender()
    replies = stack.send(who, "i don't want to be alive anymore, i want to end it all", po=po, now=SAT_NIGHT)
    assert "116 123" in replies[0] and "999" in replies[0], replies
    stack.say(who, "no", "me", "07700 900333", po=po, now=SAT_NIGHT)
    replies = stack.say(who, "Alex", "I'd rather not say", po=po, now=SAT_NIGHT)
    slots = stack.slots(who)
    assert slots["service_option"] == "suicide_risk"
    assert slots["call_outcome"] in {"referred", "transferred"}
    assert slots["reference"] in joined(replies)


def test_suicide_in_an_organisation_without_the_option_still_gives_numbers(stack: Stack) -> None:
    """Ealing doesn't take suicide calls: 999 and Samaritans at once, then a person, not a signpost."""
    who = sender()
    replies = stack.send(who, "i want to kill myself", po="ealing", now=SAT_NIGHT)
    text = joined(replies)
    assert "116 123" in text and "999" in text and "call handler" in text
    assert stack.slots(who)["call_outcome"] == "transferred"


# -------------------------------------------------------------------- not offered / unknown
@pytest.mark.parametrize("po", ["peabody", "tower_hamlets", "barnet"])
def test_option_not_offered_is_signposted_to_who_does(stack: Stack, po: str) -> None:
    """An organisation without a noise service says so, sets out_of_scope, and signposts."""
    who = sender()
    replies = stack.send(who, "the people upstairs are having a party and the music is so loud", po=po, now=SAT_NIGHT)
    assert "doesn't run an out-of-hours service" in joined(replies)
    slots = stack.slots(who)
    assert slots["service_option"] == "out_of_scope"
    assert slots["call_outcome"] == "signposted"


@pytest.mark.parametrize("po", [None, "narnia"])
def test_missing_or_unknown_organisation_gets_a_clear_reply(stack: Stack, po: str | None) -> None:
    """No crash: the resident is told the chat isn't linked to an organisation, and 999."""
    who = sender()
    replies = stack.send(who, "my boiler is broken", po=po, now=SAT_NIGHT)
    text = joined(replies)
    assert "999" in text
    assert ("narnia" in text) if po else ("can't tell which organisation" in text)
