"""End-to-end: bad input gets a clear answer, never a crash or a silent loss."""

from __future__ import annotations

import pytest

from harness.stack import Stack
from tests.e2e.test_scripts import SAT_NIGHT, joined, sender

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    "text",
    ["", "a" * 10_000, "😡😡😡🔥", "моя квартира затоплена flat is flooded", "¿¿¿ ??? !!!"],
)
def test_odd_messages_get_an_answer(stack: Stack, text: str) -> None:
    """Empty, huge, emoji-only and mixed-script messages each get a reply."""
    replies = stack.send(sender(), text, po="haringey", now=SAT_NIGHT)
    assert replies and all(reply.strip() for reply in replies)


def test_empty_messages_are_asked_about_not_filed_away(stack: Stack) -> None:
    """A blank message (a slip of the Enter key) is never taken as "out of scope" and closed."""
    who = sender()
    for text in ("", "   "):
        replies = stack.send(who, text, po="haringey", now=SAT_NIGHT)
        assert "what has happened" in joined(replies).lower()
    slots = stack.slots(who)
    assert slots["reference"] is None and slots["call_outcome"] is None
    replies = stack.send(who, "there's a stray dog running around the estate", po="haringey", now=SAT_NIGHT)
    assert stack.slots(who)["service_option"] == "stray_dogs"
    assert "didn't catch" not in joined(replies), "the first question is asked as a first question"


def test_nonsense_address_is_reasked_then_kept_as_free_text_and_flagged(stack: Stack) -> None:
    """An address we can't find is asked again, then taken as said and flagged for the officer."""
    who = sender()
    stack.send(who, "there's a big pothole in the road that's burst a tyre", po="havering", now=SAT_NIGHT)
    stack.send(who, "deep pothole, cars swerving round it", po="havering", now=SAT_NIGHT)
    stack.send(who, "yes", po="havering", now=SAT_NIGHT)
    first = stack.send(who, "behind the big tree near the shops", po="havering", now=SAT_NIGHT)
    assert "couldn't find that address" in joined(first)
    second = stack.send(who, "by the green bit", po="havering", now=SAT_NIGHT)
    assert "noted it as you said it" in joined(second)
    stack.say(who, "Kim", "07700 900666", po="havering", now=SAT_NIGHT)
    slots = stack.slots(who)
    assert slots["call_outcome"] == "referred"
    _, body = stack.smtp.wait_for_message(lambda r, m: slots["reference"] in (m["Subject"] or ""))
    text = body.get_payload(decode=True).decode()
    assert "by the green bit" in text and "address_unverified" in text


def test_invalid_phone_number_is_explained_and_asked_again(stack: Stack, any_address) -> None:  # type: ignore[no-untyped-def]
    """An invalid number gets an example of a valid one, and the right number is then accepted."""
    home = any_address("ealing")
    who = sender()
    stack.send(who, "there's a stray dog running around the estate", po="ealing", now=SAT_NIGHT)
    stack.say(
        who, "a brown dog with no collar", "roaming", "no", home["query"], "yes", "Chris", po="ealing", now=SAT_NIGHT
    )
    replies = stack.send(who, "12345", po="ealing", now=SAT_NIGHT)
    assert "doesn't look like a UK phone number" in joined(replies)
    replies = stack.send(who, "07700 900777", po="ealing", now=SAT_NIGHT)
    assert stack.slots(who)["call_outcome"] == "referred", replies


def test_resident_who_cannot_answer_still_gets_action(stack: Stack, any_address) -> None:  # type: ignore[no-untyped-def]
    """Spec 5.3.3: take what is essential and still act, flagging what is missing."""
    home = any_address("kensington_chelsea")
    who = sender()
    stack.send(who, "a tree branch has fallen and is hanging over the pavement", po="kensington_chelsea", now=SAT_NIGHT)
    stack.say(
        who,
        "huge branch hanging off",
        "i don't know",
        home["query"],
        "yes",
        "not sure",
        "07700 900888",
        po="kensington_chelsea",
        now=SAT_NIGHT,
    )
    slots = stack.slots(who)
    assert slots["call_outcome"] == "referred"


def post_raw(stack: Stack, body: bytes) -> tuple[int, str]:
    """POST raw bytes to the chat webhook: (status, body text), refusals included."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        f"{stack.base}/webhooks/rest/webhook", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"sender": "x1", "message": 12345, "metadata": {"po": "enfield"}}, "'message' must be text"),
        ({"sender": "x2", "message": "I want to kill myself", "metadata": "enfield"}, "'metadata' must be"),
        ({"sender": "x3", "message": "I want to kill myself", "metadata": ["enfield"]}, "'metadata' must be"),
        ({"sender": "/etc/passwd", "message": "hello", "metadata": {"po": "enfield"}}, "'sender' must be"),
        (["not", "an", "object"], "must be a JSON object"),
    ],
    ids=["message a number", "metadata a string", "metadata a list", "sender a path", "body a list"],
)
def test_wrong_types_get_400_with_the_reason_never_a_silent_200(stack: Stack, payload: object, reason: str) -> None:
    """Rasa's stock channel answered these ``200 []`` and dropped the message, a disclosure included."""
    import json

    code, text = post_raw(stack, json.dumps(payload).encode())
    assert code == 400 and reason in text, (code, text[:300])


def test_a_long_message_is_shortened_said_so_and_a_late_disclosure_still_heard(stack: Stack) -> None:
    """20,000 characters about a leak, ending in a suicide disclosure: shortened, and the risk answered."""
    who = sender()
    rambling = "The ceiling has been leaking onto the carpet again and the bucket is full. " * 270
    text = rambling + "I can't take any more of this, I want to kill myself tonight."
    assert len(text) > 20_000
    replies = joined(stack.send(who, text, po="enfield", now=SAT_NIGHT))
    assert "very long" in replies
    assert "116 123" in replies, "the Samaritans number, for the disclosure past the cut"


def test_an_oversized_body_is_refused_before_it_is_read(stack: Stack) -> None:
    """A flood (1 MB) is refused at once instead of stalling every conversation."""
    import json

    body = json.dumps({"sender": "flood", "message": "a" * 1_000_000}).encode()
    code, _ = post_raw(stack, body)
    assert code == 413
    assert stack.send(sender(), "hello", po="enfield", now=SAT_NIGHT), "other conversations carry on"
