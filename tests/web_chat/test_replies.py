"""The chat window is sent only messages meant for a resident: every script's replies, through the relay.

The agent's replies come in Rasa's REST shapes: ``{"text"}``, ``{"text", "buttons"}`` and hint-only
``{"custom": ChannelHints}`` payloads. :func:`voice_gateway.chat_replies.for_resident` is what the
gateway's chat socket sends; these tests feed it the shapes every question, re-prompt and outcome
of every organisation's scripts produce.
"""

from __future__ import annotations

from typing import Any

import pytest

from ooh.contracts import ChannelHints, Choice, Expect, Finished, Transfer
from ooh.orgs.loader import Registry
from ooh.scripts.engine import ScriptRun
from voice_gateway.chat_replies import for_resident, helplines, phone_parts, tel_href


def turn(*messages: dict[str, Any]) -> list[dict[str, Any]]:
    """One turn of replies as Rasa's REST channel returns them."""
    return [{"recipient_id": "web-x", **m} for m in messages]


def expect_for(run: ScriptRun, index: int) -> Expect:
    question = run.questions[index]
    choices = [Choice(value=k, label=c.label, says=list(c.says)) for k, c in question.choices.items()]
    return Expect(type=question.type, slot=question.slot, choices=choices if question.type == "choice" else [])


def every_turn(registry: Registry) -> list[tuple[str, list[dict[str, Any]]]]:
    """(where, replies) for each question, re-prompt, opening and outcome message of every script."""
    turns: list[tuple[str, list[dict[str, Any]]]] = []
    for org in registry.organisations.values():
        for option_id in org.options:
            config = org.options[option_id]
            if config.script not in registry.scripts:
                continue
            run = ScriptRun.for_option(registry, org, option_id)
            where = f"{org.id}/{option_id}"
            if run.opening():
                turns.append((f"{where} opening", turn({"text": run.opening()})))
            for index, question in enumerate(run.questions):
                hint = ChannelHints(expect=expect_for(run, index)).payload()
                turns.append((f"{where} {question.slot}", turn({"text": question.ask}, {"custom": hint})))
                if question.reprompt:
                    turns.append(
                        (f"{where} {question.slot} again", turn({"text": question.reprompt}, {"custom": hint}))
                    )
            for rule in [r for r in run._rules() if r.outcome]:  # noqa: SLF001 - every outcome of the table
                message = (
                    getattr(rule, "message", None) or f"Your reference is {org.profile.reference_prefix}-20261121-0001."
                )
                finished = Finished(
                    reference=f"{org.profile.reference_prefix}-20261121-0001", outcome=str(rule.outcome)
                )
                hint = ChannelHints(finished=finished, transfer=Transfer(number=None)).payload()
                turns.append((f"{where} outcome", turn({"text": message}, {"custom": hint})))
            confirm = ChannelHints(expect=Expect(type="yes_no", slot="address_confirm")).payload()
            turns.append(
                (
                    f"{where} confirm",
                    turn({"text": "I have the address as 1 High St. Is that right?"}, {"custom": confirm}),
                )
            )
    return turns


def test_every_script_reply_has_text_and_hints_are_never_shown(registry: Registry) -> None:
    """No message without text; no bubble from a hint; yes/no and choice questions come with buttons."""
    turns = every_turn(registry)
    assert len(turns) > 300, "every organisation's scripts were read"
    for where, replies in turns:
        sent = for_resident(replies)
        assert sent["messages"], where
        for message in sent["messages"]:
            assert message["text"].strip(), where
            assert "custom" not in message and "expect" not in message["text"], where
            for button in message["buttons"]:
                assert button["title"].strip() and button["payload"].strip(), where
        expect = ChannelHints.read(replies).expect
        if expect is not None and expect.type in ("yes_no", "choice"):
            titles = [b["title"].lower() for m in sent["messages"] for b in m["buttons"]]
            wanted = ["yes", "no"] if expect.type == "yes_no" else [c.label.lower() for c in expect.choices]
            assert titles == wanted, where
        finished = ChannelHints.read(replies).finished
        if finished is not None:
            assert sent["finished"]["reference"] == finished.reference
            assert sent["finished"]["next"], where


def test_hint_only_and_empty_replies_are_not_messages() -> None:
    """A turn of nothing but hints gives no message; buttons without words get words."""
    hint = ChannelHints(expect=Expect(type="free_text", slot="details")).payload()
    assert for_resident(turn({"custom": hint}))["messages"] == []
    assert for_resident(turn({"text": ""}, {"text": "   "}, {"image": "https://x/y.png"}))["messages"] == []
    lone = for_resident(turn({"buttons": [{"title": "Repairs", "payload": "/housing_repairs"}]}))["messages"]
    assert lone[0]["text"] and lone[0]["buttons"] == [{"title": "Repairs", "payload": "/housing_repairs"}]
    yes_no = ChannelHints(expect=Expect(type="yes_no")).payload()
    only_hint = for_resident(turn({"custom": yes_no}))["messages"]
    assert only_hint[0]["text"] and [b["title"] for b in only_hint[0]["buttons"]] == ["Yes", "No"]


def test_the_agents_own_buttons_win_over_hinted_ones() -> None:
    """The "did you mean..." buttons (options.py) keep their payloads; no second set is added."""
    buttons = [
        {"title": "A repair", "payload": "/housing_repairs"},
        {"title": "Something else", "payload": "/out_of_scope"},
    ]
    sent = for_resident(turn({"text": "Is this about...?", "buttons": buttons}))
    assert [m["buttons"] for m in sent["messages"]] == [buttons]


def test_a_hand_over_number_is_said_and_linked() -> None:
    """A transfer hint with a number the words did not give becomes a message with the number linked."""
    hint = ChannelHints(transfer=Transfer(number="020 7946 0101"), finished=Finished(outcome="transferred")).payload()
    sent = for_resident(turn({"text": "I'm passing you to a person."}, {"custom": hint}))
    assert [p.get("tel") for p in sent["messages"][-1]["parts"] if p.get("tel")] == ["tel:+442079460101"]
    assert sent["finished"]["reference"] is None


@pytest.mark.parametrize(
    ("written", "href"),
    [
        ("999", "tel:999"),
        ("116 123", "tel:116123"),
        ("0808 800 5000", "tel:+448088005000"),
        ("0808 2000 247", "tel:+448082000247"),
        ("0800 1111", "tel:+448001111"),
        ("0800 111 999", "tel:+44800111999"),
        ("020 7946 0100", "tel:+442079460100"),
        ("07700 900123", "tel:+447700900123"),
        ("+44 20 7946 0100", "tel:+442079460100"),
        ("+44 (0)20 7946 0100", "tel:+442079460100"),
        ("111", "tel:111"),
    ],
)
def test_uk_numbers_become_tel_links(written: str, href: str) -> None:
    """Each way a UK number is written in the scripts is linked to the number it is."""
    parts = phone_parts(f"Call {written} now.")
    assert parts == [{"text": "Call "}, {"text": written, "tel": href}, {"text": " now."}]
    assert tel_href(written) == href


@pytest.mark.parametrize(
    "text",
    [
        "Your reference is ENF-20261121-0042.",
        "Flat 101, 23 High Street, EN1 1AA",
        "press 55 after dialling",
        "on 21/11/2026 at 23:30",
        "order 12345678901234",
    ],
)
def test_things_that_are_not_phone_numbers_stay_text(text: str) -> None:
    """References, house numbers, dates and long digit strings are not linked."""
    assert phone_parts(text) == [{"text": text}]


def test_safeguarding_words_list_their_helplines_first() -> None:
    """Every safeguarding message's numbers are links, and its helplines are listed to tap."""
    from ooh.safeguarding import Safeguarding
    from ooh.settings import PROJECT_ROOT

    rules = Safeguarding.from_file(PROJECT_ROOT / "service_scripts" / "_common" / "safeguarding.yaml")
    kinds = [k for k in rules.kinds if k.message]
    assert kinds
    samaritans = for_resident(turn({"text": "please call 999 now. You can talk to Samaritans, free, on 116 123."}))
    assert [h["tel"] for h in samaritans["messages"][0]["helplines"]] == ["tel:999", "tel:116123"]
    for kind in kinds:
        message = for_resident(turn({"text": kind.message}))["messages"][0]
        assert message["helplines"] == helplines(message["parts"])
        if any(ch.isdigit() for ch in kind.message):
            assert message["helplines"], kind.message
