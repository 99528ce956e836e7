"""How ``python -m bot.server`` hands Rasa the operator token."""

from __future__ import annotations

from rasa.__main__ import create_argument_parser

from bot.server import with_auth_token


def test_a_token_that_begins_with_a_dash_still_starts_rasa() -> None:
    """A generated token once began with "-": Rasa refused to start ("expected one argument")."""
    argv = with_auth_token(["rasa", "run", "--enable-api", "--port", "5005"], "-NrK7W83YQDfYowch016lS")
    parsed = create_argument_parser().parse_args(argv[1:])
    assert parsed.auth_token == "-NrK7W83YQDfYowch016lS"


def test_a_token_given_on_the_command_line_is_kept() -> None:
    for argv in (["rasa", "run", "--auth-token", "mine"], ["rasa", "run", "--auth-token=mine"]):
        assert with_auth_token(argv, "generated") == argv
    assert with_auth_token(["rasa", "train"], "generated") == ["rasa", "train"]
