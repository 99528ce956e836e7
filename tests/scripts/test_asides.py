"""Asides at any question: a person, stop, say it again; phrases win, the classifier needs to be sure."""

from __future__ import annotations

from ooh.scripts.asides import asks_for_person, asks_to_repeat, wants_to_stop


def test_asking_for_a_person_in_the_residents_words() -> None:
    assert asks_for_person("can you put me through to somebody", None, 0.0)
    assert asks_for_person("I want to talk to a real person", "inform", 0.9)
    assert asks_for_person("hmm", "ask_human", 0.85)
    assert not asks_for_person("hmm", "ask_human", 0.5), "an unsure classifier does not hand over"
    assert not asks_for_person("the person upstairs is flooding us", None, 0.0)


def test_stop_only_when_the_whole_message_says_so() -> None:
    assert wants_to_stop("Stop!", None, 0.0)
    assert wants_to_stop("never mind", None, 0.0)
    assert not wants_to_stop("please stop the noise next door", None, 0.0)
    assert not wants_to_stop("cancel that", "stop", 0.85), "a wrong stop loses the report: the bar is higher"


def test_asking_to_hear_the_question_again() -> None:
    assert asks_to_repeat("sorry, what was the question?", None, 0.0)
    assert asks_to_repeat("eh", "repeat", 0.7)
    assert not asks_to_repeat("the leak is back", "repeat", 0.4)
