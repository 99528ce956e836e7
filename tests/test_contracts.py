"""The typed hints the agent sends channels: what a channel reads is what the agent meant."""

from __future__ import annotations

from ooh.contracts import ChannelHints, Choice, Expect, Finished, Transfer


def test_hints_survive_the_wire_and_later_replies_win() -> None:
    """A turn's hint-only replies merge into one; text replies and malformed hints are ignored."""
    question = Expect(type="choice", slot="q_problem", choices=[Choice(value="leak", label="A leak", says=["water"])])
    replies = [
        {"text": "Your reference is ENF-20261130-0001."},
        {"custom": ChannelHints(expect=question).payload()},
        {"custom": {"expect": "not a question"}},
        {"custom": ChannelHints(transfer=Transfer(number="020 8379 1000", reference="ENF-20261130-0001")).payload()},
        {"custom": ChannelHints(finished=Finished(reference="ENF-20261130-0001", outcome="transferred")).payload()},
    ]
    hints = ChannelHints.read(replies)
    assert hints.expect == question
    assert hints.transfer == Transfer(number="020 8379 1000", reference="ENF-20261130-0001")
    assert hints.finished == Finished(reference="ENF-20261130-0001", outcome="transferred")


def test_a_reference_in_words_is_not_a_finished_conversation() -> None:
    """The status of an old reference, read out, does not end anything: only the hint does."""
    hints = ChannelHints.read([{"text": "I can't find reference ENF-20261122-0042. Please check it."}])
    assert hints == ChannelHints()
    assert ChannelHints().payload() == {}
