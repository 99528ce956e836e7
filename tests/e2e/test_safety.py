"""Safety first in every state, through the running agent (issue 10).

Risks typed as answers, third-person risks, the adult message for adults, hazards inside other
reports, organisations that don't take the risk's option, and a person at any question.
"""

from __future__ import annotations

import pytest

from harness.stack import Stack
from ooh.records.store import RecordStore, ServiceRequestView
from tests.e2e.test_scripts import SAT_NIGHT, joined, sender

pytestmark = pytest.mark.e2e

LIGHT_OUT = "the street light outside my house has gone out, it's pitch black"


def requests_of(stack: Stack, who: str) -> list[ServiceRequestView]:
    """The service requests one conversation created, oldest first."""
    return RecordStore(stack.env["OOH_DATABASE_URL"]).for_conversation(who)


def flags_of(stack: Stack, who: str) -> set[str]:
    """Every flag on every request of a conversation."""
    return {flag for request in requests_of(stack, who) for flag in request.flags}


@pytest.mark.parametrize("po", ["ealing", "haringey", "waltham_forest"])
def test_a_threat_typed_as_the_answer_to_a_yes_no_question_gets_999(stack: Stack, po: str) -> None:
    """A threat as the answer to "is anyone in danger?" gets 999 first, not "answer yes or no"."""
    who = sender()
    first = joined(stack.send(who, LIGHT_OUT, po=po, now=SAT_NIGHT))
    assert "danger" in first.lower(), first
    reply = joined(stack.send(who, "he's coming round to kill me, he's getting his knife", po=po, now=SAT_NIGHT))
    assert "999" in reply and "yes or no" not in reply.lower(), reply
    assert stack.slots(who)["service_option"] == "major_emergency"
    assert "safeguarding:threat_to_life" in flags_of(stack, who)


@pytest.mark.parametrize("po", ["ealing", "haringey", "waltham_forest"])
def test_a_stabbing_typed_as_the_answer_to_the_address_question_gets_999(stack: Stack, po: str) -> None:
    """An emergency in place of an address is not "I couldn't find that address"."""
    who = sender()
    stack.send(who, LIGHT_OUT, po=po, now=SAT_NIGHT)
    asked = joined(stack.send(who, "no", po=po, now=SAT_NIGHT))
    assert "address" in asked.lower(), asked
    reply = joined(stack.send(who, "someone's just been stabbed outside my window", po=po, now=SAT_NIGHT))
    assert "999" in reply and "couldn't find" not in reply.lower(), reply
    assert stack.slots(who)["service_option"] == "major_emergency"


@pytest.mark.parametrize("po", ["enfield", "haringey", "peabody"])
def test_a_suicide_risk_about_someone_else_goes_to_the_suicide_script(stack: Stack, po: str) -> None:
    """A friend at risk is a suicide risk too: Samaritans and 999 first, then the escalation."""
    who = sender()
    said = "my flatmate keeps saying nobody would miss him if he was gone"
    reply = joined(stack.send(who, said, po=po, now=SAT_NIGHT))
    assert "116 123" in reply and "999" in reply, reply
    assert stack.slots(who)["service_option"] == "suicide_risk"


@pytest.mark.parametrize("po", ["barnet", "ealing", "wandle"])
def test_an_organisation_without_the_suicide_option_hands_the_risk_to_a_person(stack: Stack, po: str) -> None:
    """Not a signpost list: the numbers first, the risk recorded, and a person takes over."""
    who = sender()
    said = "my son says he wants to kill himself and he's locked in the bathroom"
    replies = stack.send(who, said, po=po, now=SAT_NIGHT)
    reply = joined(replies)
    assert replies and "116 123" in replies[0], replies
    assert "call handler" in reply and "doesn't run" not in reply, reply
    slots = stack.slots(who)
    assert slots["call_outcome"] == "transferred" and slots["reference"]
    assert "safeguarding:suicide" in flags_of(stack, who)


@pytest.mark.parametrize("po", ["enfield", "havering", "kensington_chelsea"])
def test_a_vulnerable_adult_gets_the_adult_message_not_childline(stack: Stack, po: str) -> None:
    """An elderly man on the floor is not a child: no Childline, the adult's help numbers."""
    who = sender()
    said = "my dad is 84 and he's fallen in the hallway and can't get up"
    reply = joined(stack.send(who, said, po=po, now=SAT_NIGHT))
    assert "999" in reply and "111" in reply and "Childline" not in reply, reply
    assert stack.slots(who)["service_option"] == "social_services_emergency"


@pytest.mark.parametrize("po", ["enfield", "haringey", "havering"])
def test_a_gas_smell_in_a_noise_report_gets_gas_advice_and_the_report_goes_on(stack: Stack, po: str) -> None:
    """A hazard overrides the script at once (0800 111 999, leave), then the report carries on."""
    who = sender()
    stack.send(who, "the music from the flat upstairs has been blasting since midnight", po=po, now=SAT_NIGHT)
    said = "yes and there's a really strong smell of gas on the landing too"
    reply = joined(stack.send(who, said, po=po, now=SAT_NIGHT))
    assert "0800 111 999" in reply and "leave" in reply.lower(), reply
    assert stack.slots(who)["service_option"] == "noise"
    assert stack.slots(who)["requested_slot"] == "script_answer", "the noise report goes on"


@pytest.mark.parametrize(
    ("po", "text"),
    [
        ("enfield", "our toilet is blocked and overflowing all over the bathroom floor"),
        ("peabody", "our toilet is blocked and overflowing all over the bathroom floor"),
        ("kensington_chelsea", "there's no heating or hot water and the boiler shows a fault light"),
    ],
)
def test_a_repair_described_in_the_first_message_is_not_asked_again(stack: Stack, po: str, text: str) -> None:
    """The opening message said what is wrong: the next question is where, not "what is the problem"."""
    who = sender()
    reply = joined(stack.send(who, text, po=po, now=SAT_NIGHT))
    assert "What is the repair problem" not in reply and "address" in reply.lower(), reply


@pytest.mark.parametrize("po", ["ealing", "haringey", "waltham_forest"])
def test_a_report_described_in_the_first_message_is_not_asked_again(stack: Stack, po: str) -> None:
    """The resident is not asked "what is happening" after they have just said it."""
    who = sender()
    reply = joined(stack.send(who, LIGHT_OUT, po=po, now=SAT_NIGHT))
    assert "what is happening" not in reply.lower(), reply


@pytest.mark.parametrize("po", ["enfield", "havering", "tower_hamlets"])
def test_a_natural_answer_to_the_vulnerability_question_is_accepted(
    stack: Stack, tenant_address: dict[str, dict[str, str]], po: str
) -> None:
    """The answer "my mum lives with us, she's 81" means yes: not "answer yes or no"."""
    who = sender()
    home = tenant_address[po]
    stack.send(who, "the front door lock has snapped and we can't lock the door", po=po, now=SAT_NIGHT)
    stack.send(who, home["query"], po=po, now=SAT_NIGHT)
    asked = joined(stack.send(who, "yes", po=po, now=SAT_NIGHT))
    assert "elderly" in asked, asked
    reply = joined(stack.send(who, "my mum lives with us, she's 81", po=po, now=SAT_NIGHT))
    assert "yes or no" not in reply.lower(), reply


@pytest.mark.parametrize(
    ("po", "answers_before"),
    [
        ("ealing", []),  # at "is anyone in danger" (yes/no)
        ("haringey", ["no"]),  # at the address question
        ("waltham_forest", ["no", "unknown"]),  # wherever the script is after an unclear address
    ],
)
def test_put_me_through_to_somebody_reaches_a_person_at_any_question(
    stack: Stack, po: str, answers_before: list[str]
) -> None:
    """Asking to be put through to somebody is never taken as an answer to the question."""
    who = sender()
    stack.send(who, LIGHT_OUT, po=po, now=SAT_NIGHT)
    for answer in answers_before:
        stack.send(who, answer, po=po, now=SAT_NIGHT)
    reply = joined(stack.send(who, "can you put me through to somebody at the council please", po=po, now=SAT_NIGHT))
    assert "call handler" in reply, reply
    assert stack.slots(who)["call_outcome"] == "transferred"
