"""Logs without personal data: what an operator or a DPO reading the log would notice.

Each test logs what a resident might tell the agent (a suicide disclosure, an address, a postcode, a
phone number) the way Rasa, Rasa SDK, Sanic, uvicorn or our own code would, through a real
``StreamHandler``, and reads the text that handler wrote: none of the personal parts may be there,
and the line must still say which logger, at which level, and what happened. Handlers are attached
after :func:`ooh.logredact.install`, and logging is reconfigured the way the frameworks do it, so the
tests show the redaction reaches records from loggers and handlers it has never seen.
"""

from __future__ import annotations

import io
import json
import logging
import logging.config
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ooh import logredact

ROOT = Path(__file__).resolve().parents[1]

DISCLOSURE = "I want to kill myself, I'm at 12 Acacia Avenue N1 2AB, call me on 07700 900123"
PERSONAL = ("kill myself", "Acacia", "N1 2AB", "07700", "900123", "jo.bloggs@example.com")
"""Fragments that must never appear in a log: the disclosure, the street, the postcode, the number."""

TRACKER: dict[str, Any] = {
    "sender_id": "c0ffee",
    "slots": {"address": "12 Acacia Avenue N1 2AB", "callback_number": "07700 900123"},
    "latest_message": {"text": DISCLOSURE, "intent": {"name": "suicide_risk", "confidence": 0.97}},
    "events": [
        {"event": "user", "text": DISCLOSURE},
        {"event": "slot", "name": "email", "value": "jo.bloggs@example.com"},
    ],
}
"""A Rasa tracker as the action server receives it."""

FORMAT = "%(levelname)s %(name)s: %(message)s"


@pytest.fixture
def clean_logging() -> Iterator[None]:
    """Whatever a test does to logging (factory, handlers, levels, filters, dictConfig) is undone."""
    factory = logging.getLogRecordFactory()
    manager = logging.Logger.manager
    loggers = [logging.getLogger()] + [item for item in manager.loggerDict.values() if isinstance(item, logging.Logger)]
    saved = {
        logger.name: (
            logger,
            list(logger.handlers),
            list(logger.filters),
            logger.level,
            logger.propagate,
            logger.disabled,
        )
        for logger in loggers
    }
    handler_filters = {id(h): (h, list(h.filters)) for logger in loggers for h in logger.handlers}
    yield
    logredact.uninstall()
    logging.setLogRecordFactory(factory)
    for logger in [item for item in manager.loggerDict.values() if isinstance(item, logging.Logger)]:
        if logger.name not in saved:
            logger.handlers.clear()
            logger.filters.clear()
            logger.propagate = True
    for logger, handlers, filters, level, propagate, disabled in saved.values():
        logger.handlers[:] = handlers
        logger.filters[:] = filters
        logger.setLevel(level)
        logger.propagate = propagate
        logger.disabled = disabled
    for handler, filters in handler_filters.values():
        handler.filters[:] = filters


@pytest.fixture
def redacting(clean_logging: None) -> None:
    """The redaction installed, as each entry point does first thing."""
    logredact.install()


def capture(name: str) -> tuple[logging.Logger, io.StringIO]:
    """The logger ``name`` writing, and only it, into a fresh buffer through a real StreamHandler."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter(FORMAT))
    logger = logging.getLogger(name)
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.disabled = False
    return logger, buffer


def assert_no_personal_data(text: str) -> None:
    """None of the resident's words, address, postcode, number or e-mail is in ``text``."""
    leaked = [fragment for fragment in PERSONAL if fragment in text]
    assert not leaked, f"personal data in the log: {leaked}\n{text}"


def brand_new() -> str:
    """The name of a logger no one has made yet (made after install, with its own handler)."""
    return f"ooh.brand_new.{uuid.uuid4().hex}"


LOGGERS: list[Callable[[], str]] = [
    brand_new,
    lambda: "rasa.core.processor",
    lambda: "sanic.error",
    lambda: "uvicorn.error",
    lambda: "rasa_sdk.executor",
    lambda: "websockets.server",
]
LOGGER_IDS = ["brand-new", "rasa.core.processor", "sanic.error", "uvicorn.error", "rasa_sdk.executor", "websockets"]


def raise_with_personal_data() -> None:
    """Fail the way an action does when a resident's tracker ends up in an exception's text."""
    raise RuntimeError(f"Failed to handle {DISCLOSURE} for tracker {TRACKER!r}")


@pytest.mark.parametrize("name", LOGGERS, ids=LOGGER_IDS)
def test_a_disclosure_in_the_message_is_gone_but_the_line_says_what_happened(
    redacting: None, name: Callable[[], str]
) -> None:
    """The resident's words passed as an argument: the sentence goes; level, logger and context stay."""
    logger, buffer = capture(name())
    logger.warning("Resident said: %s", DISCLOSURE)
    out = buffer.getvalue()
    assert_no_personal_data(out)
    assert f"WARNING {logger.name}: Resident said: [sensitive text redacted]" in out


@pytest.mark.parametrize("name", LOGGERS, ids=LOGGER_IDS)
def test_a_tracker_passed_as_an_argument_is_replaced_whole(redacting: None, name: Callable[[], str]) -> None:
    """A tracker dict as a log argument becomes ``[tracker redacted]``; the conversation id stays."""
    logger, buffer = capture(name())
    logger.debug("Tracker for conversation %s after %d events: %s", "c0ffee", 2, TRACKER)
    out = buffer.getvalue()
    assert_no_personal_data(out)
    assert f"DEBUG {logger.name}: Tracker for conversation c0ffee after 2 events: [tracker redacted]" in out


@pytest.mark.parametrize("name", LOGGERS, ids=LOGGER_IDS)
def test_an_exception_holding_personal_data_keeps_its_traceback_not_the_data(
    redacting: None, name: Callable[[], str]
) -> None:
    """``logger.exception``: the traceback, the error's type and where it happened stay; the text goes."""
    logger, buffer = capture(name())
    try:
        raise_with_personal_data()
    except RuntimeError:
        logger.exception("Exception occurred while handling uri: %s", "'http://127.0.0.1:5055/webhook'")
    out = buffer.getvalue()
    assert_no_personal_data(out)
    assert f"ERROR {logger.name}: Exception occurred while handling uri: 'http://127.0.0.1:5055/webhook'" in out
    assert "Traceback (most recent call last):" in out
    assert "in raise_with_personal_data" in out
    assert "RuntimeError: [sensitive text redacted]" in out


def test_an_exception_passed_as_exc_info_is_redacted_too(redacting: None) -> None:
    """``exc_info=error`` (as Rasa SDK's endpoint logs a failed request) is formatted, then redacted."""
    logger, buffer = capture("rasa_sdk.endpoint")
    error = ValueError(f"bad slot value {TRACKER['slots']}")
    logger.error("Exception occurred during execution of request %s", "<Request: POST /webhook>", exc_info=error)
    out = buffer.getvalue()
    assert_no_personal_data(out)
    assert "ValueError: bad slot value [message redacted]" in out


def fresh(config: dict[str, Any]) -> dict[str, Any]:
    """A copy ``dictConfig`` may consume (it pops keys from the inner dicts), streams left shared."""
    return {
        key: {name: dict(item) if isinstance(item, dict) else item for name, item in value.items()}
        if isinstance(value, dict)
        else value
        for key, value in config.items()
    }


def sanic_config() -> dict[str, Any]:
    """The configuration Sanic applies when its app is built (Rasa's and Rasa SDK's servers)."""
    from sanic.log import LOGGING_CONFIG_DEFAULTS

    return fresh(LOGGING_CONFIG_DEFAULTS)


def uvicorn_config() -> dict[str, Any]:
    """The configuration ``uvicorn.run`` applies (the voice gateway)."""
    from uvicorn.config import LOGGING_CONFIG

    return fresh(LOGGING_CONFIG)


def plain_config() -> dict[str, Any]:
    """A logging config like an operator's: new handlers, existing loggers disabled (the default)."""
    return {
        "version": 1,
        "formatters": {"plain": {"format": FORMAT}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"}},
        "loggers": {"rasa": {"level": "DEBUG"}, "ooh": {"level": "DEBUG"}},
        "root": {"handlers": ["console"], "level": "DEBUG"},
    }


def writers_of(logger: logging.Logger) -> list[logging.Handler]:
    """The handlers a record from ``logger`` reaches first: its own, else its nearest ancestor's."""
    current: logging.Logger | None = logger
    while current is not None:
        if current.handlers:
            return list(current.handlers)
        current = current.parent if current.propagate else None
    return []


@pytest.mark.parametrize(
    ("config", "name"),
    [
        (sanic_config, "sanic.error"),
        (sanic_config, "sanic.root"),
        (uvicorn_config, "uvicorn.error"),
        (plain_config, "rasa.core.processor"),
        (plain_config, "ooh.brand_new_after_config"),
    ],
    ids=["sanic.error", "sanic.root", "uvicorn.error", "dictConfig-rasa", "dictConfig-new-logger"],
)
def test_redaction_survives_the_frameworks_reconfiguring_logging(
    redacting: None, config: Callable[[], dict[str, Any]], name: str
) -> None:
    """Install first, then ``dictConfig`` (as Sanic, uvicorn and Rasa do at start-up): still redacted.

    The handlers that write are the ones the configuration made, after install, with no filter; and
    the second line comes from a child logger made after the configuration, whose records propagate
    past any filter on the named logger. Only the record factory can redact that one.
    """
    logging.config.dictConfig(config())
    logger = logging.getLogger(name)
    logger.setLevel(logging.DEBUG)
    logger.disabled = False
    buffer = io.StringIO()
    writers = writers_of(logger)
    assert writers, "the configuration gave this logger somewhere to write"
    for handler in writers:
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(buffer)
        handler.setFormatter(logging.Formatter(FORMAT))
        assert not any(isinstance(found, logredact.RedactPersonalData) for found in handler.filters)
    logger.error("Failed to run custom action 'action_take_callback' for %s: %s", DISCLOSURE, TRACKER)
    child = logging.getLogger(f"{name}.{uuid.uuid4().hex}")
    child.warning("Slots for %s: %s", "c0ffee", TRACKER["slots"])
    out = buffer.getvalue()
    assert_no_personal_data(out)
    assert f"ERROR {name}: Failed to run custom action 'action_take_callback' [sensitive text redacted]" in out
    assert f"WARNING {child.name}: Slots for c0ffee: [message redacted]" in out


def test_sanics_access_log_loses_the_number_and_token_in_its_request_line(redacting: None) -> None:
    """Sanic's access line loses the caller's number and the API token in its URL.

    Sanic writes the request line as an ``extra`` field, after the factory has run: the filter on
    the ``sanic.access`` logger, which Sanic's ``dictConfig`` keeps, redacts it.
    """
    logging.config.dictConfig(sanic_config())
    buffer = io.StringIO()
    for handler in logging.getLogger("sanic.access").handlers:
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(buffer)
    extra = {"status": 200, "byte": 17, "host": "127.0.0.1:5005"}
    request = "GET http://127.0.0.1:5005/conversations/07700900123/tracker?token=s3cr3t-api-token"
    logging.getLogger("sanic.access").info("", extra={**extra, "request": request})
    out = buffer.getvalue()
    assert_no_personal_data(out)
    assert "s3cr3t" not in out
    assert "(sanic.access)[INFO][127.0.0.1:5005]: GET http://127.0.0.1:5005/conversations/[phone]/tracker" in out
    assert "/tracker?token=[redacted]" in out
    assert out.rstrip().endswith("200 17")


def test_basic_config_with_force_does_not_bring_the_data_back(redacting: None) -> None:
    """``basicConfig(force=True)`` throws away every root handler (and their filters): still redacted."""
    buffer = io.StringIO()
    logging.basicConfig(stream=buffer, format=FORMAT, level=logging.DEBUG, force=True)
    logger = logging.getLogger(brand_new())
    logger.info("Callback requested on %s by Mrs Patel, jo.bloggs@example.com", "07700 900123")
    out = buffer.getvalue()
    assert_no_personal_data(out)
    assert "Patel" not in out
    assert f"INFO {logger.name}: Callback requested on [phone] by [name], [email]" in out


RASA_SHAPES = [
    pytest.param(
        json.dumps(
            {
                "parse_data_text": DISCLOSURE,
                "parse_data_intent": {"name": "suicide_risk", "confidence": 0.97},
                "parse_data_entities": [{"entity": "address", "value": "12 Acacia Avenue"}],
                "event": "processor.message.parse",
                "level": "debug",
            }
        ),
        ['"event": "processor.message.parse"', '"parse_data_intent": {"name": "suicide_risk"'],
        id="structlog-json",
    ),
    pytest.param(
        "2026-11-30 02:14:07 [debug    ] processor.slots.log            "
        f"slot_values=address: 12 Acacia Avenue\ncallback_number: 07700 900123 parse_data_text={DISCLOSURE}",
        ["processor.slots.log", "slot_values=[redacted]", "parse_data_text=[redacted]"],
        id="structlog-console",
    ),
    pytest.param(
        f"The execution of 'action_extract_slots' resulted in these events: UserUttered(text: {DISCLOSURE}, "
        "intent: suicide_risk, entities: 12 Acacia Avenue (Type: address, Role: None, Group: None), "
        "use_text_for_featurization: None)\nSlotSet(key: address, value: 12 Acacia Avenue N1 2AB)",
        ["UserUttered(text: [redacted], intent: suicide_risk", "SlotSet(key: address, value: [redacted])"],
        id="rasa-event-reprs",
    ),
    pytest.param(
        "BotUttered('I have your number as 07700 900123 and your address as 12 Acacia Avenue.', "
        '{"elements": null}, {"utter_action": "utter_confirm"}, 1796586723.9)',
        ["BotUttered('[redacted]'", "utter_confirm"],
        id="bot-uttered",
    ),
    pytest.param(
        f"Received user message '{DISCLOSURE}' with intent 'suicide_risk' and entities '[]'",
        ["Received user message '[redacted]' with intent 'suicide_risk'"],
        id="received-user-message",
    ),
    pytest.param(
        "Contents of ignored event: '{'event': 'slot', 'name': 'address', 'value': '12 Acacia Avenue N1 2AB'}'",
        ["Contents of ignored event: '[message redacted]'"],
        id="rasa-sdk-ignored-event",
    ),
    pytest.param(
        "Encountered an exception while running action 'action_take_callback'. Failed to execute custom action: "
        f"500, Internal Server Error, body='b'{json.dumps({'error': 'KeyError', 'request_body': TRACKER})}''",
        ["Encountered an exception while running action 'action_take_callback'", "500, Internal Server Error"],
        id="action-server-error-body",
    ),
    pytest.param(
        f"Requesting NLG for utter_confirm from http://nlg/. The request body is {json.dumps({'tracker': TRACKER})}.",
        ["The request body is [tracker redacted]."],
        id="nlg-request-body",
    ),
    pytest.param(
        "Failed validating 'type' in schema['properties']['events']: "
        f"On instance['events'][0]: {TRACKER['events'][0]!r}",
        ["Failed validating 'type' in schema", "[message redacted]"],
        id="jsonschema-instance",
    ),
]


@pytest.mark.parametrize(("line", "kept"), RASA_SHAPES)
def test_the_shapes_rasa_and_rasa_sdk_log_lose_the_words_and_keep_the_event(
    redacting: None, line: str, kept: list[str]
) -> None:
    """Log lines shaped like Rasa's and Rasa SDK's (from their source) keep what happened, not who said what."""
    logger, buffer = capture("rasa.core.processor")
    logger.debug(line)
    out = buffer.getvalue()
    assert_no_personal_data(out)
    for part in kept:
        assert part in out


def test_an_ordinary_line_is_left_as_it_was(redacting: None) -> None:
    """Lines with no personal data keep every word: references, actions, confidences, times, ids."""
    logger, buffer = capture("rasa.core.processor")
    plain = [
        "Predicted next action 'utter_ask_address' with confidence 0.98.",
        "Created service request ENF-20261130-0001 (enfield, repairs_emergency)",
        "Acquiring lock for conversation '5d0e3f7a-0e12-4f56-9abc-0123456789ab'.",
        "Failed to run custom action 'action_take_callback'. Couldn't connect to the server at "
        "'http://127.0.0.1:5055/webhook'. Is the server running? Error: Cannot connect to host",
    ]
    for line in plain:
        logger.info(line)
    logger.info("Callback number %s", "+44 7700 900123")
    lines = buffer.getvalue().splitlines()
    assert lines[:4] == [f"INFO rasa.core.processor: {line}" for line in plain]
    assert lines[4] == "INFO rasa.core.processor: Callback number [phone]"


def test_arguments_that_do_not_fit_the_message_are_not_printed_by_the_error_handler(
    redacting: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad format would make ``Handler.handleError`` print the raw arguments to stderr: not any more."""
    logger, buffer = capture(brand_new())
    logger.info("Caller %d asked for a callback", "07700 900123")
    out = buffer.getvalue() + capsys.readouterr().err
    assert_no_personal_data(out)
    assert "Caller %d asked for a callback [arguments withheld: they did not fit the message]" in out


def test_a_huge_message_is_capped_after_redaction(redacting: None) -> None:
    """A message is cut to ``MAX_MESSAGE_CHARS`` (saying so), with no number surviving at the cut."""
    logger, buffer = capture(brand_new())
    logger.info("Transcript: %s", " ".join(["call me on 07700 900123"] * 2000))
    message = buffer.getvalue().split(": ", 1)[1].rstrip("\n")
    assert_no_personal_data(message)
    assert len(message) <= logredact.MAX_MESSAGE_CHARS + 40
    assert message.endswith("characters cut]")


def test_install_twice_redacts_once_and_marks_every_existing_handler(clean_logging: None) -> None:
    """Calling install again (two entry points in one process) neither nests the factory nor adds filters."""
    existing = logging.StreamHandler(io.StringIO())
    logging.getLogger("sanic.access").addHandler(existing)
    logredact.install()
    factory = logging.getLogRecordFactory()
    logredact.install()
    assert logging.getLogRecordFactory() is factory
    for filterer in (existing, logging.getLogger("sanic.access"), logging.getLogger("uvicorn.error")):
        assert sum(isinstance(found, logredact.RedactPersonalData) for found in filterer.filters) == 1
    record = logging.getLogger("sanic.access").makeRecord(
        "sanic.access", logging.INFO, "x.py", 1, "%s", ("07700 900123",), None
    )
    assert record.getMessage() == "[phone]"


def test_a_record_rebuilt_from_a_dict_is_redacted_by_the_handler_filter(redacting: None) -> None:
    """A record rebuilt by ``logging.makeLogRecord`` (a queue's consumer) is caught by the handler filter.

    The factory only sees the empty record ``makeLogRecord`` starts from; the filter ``install`` put
    on the root logger's handlers redacts what was filled in afterwards.
    """
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter(FORMAT))
    logging.getLogger().addHandler(handler)
    logredact.install()
    record = logging.makeLogRecord(
        {
            "name": "uvicorn.access",
            "levelname": "INFO",
            "levelno": logging.INFO,
            "msg": "call from %s",
            "args": ("07700 900123",),
        }
    )
    handler.handle(record)
    out = buffer.getvalue()
    assert_no_personal_data(out)
    assert "INFO uvicorn.access: call from [phone]" in out


E2E_SCRIPT = textwrap.dedent(
    """
    import logging, os, sys
    from ooh import logredact
    if os.environ["REDACT"] == "1":
        logredact.install()
    import rasa.utils.io
    import structlog
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog
    from sanic import Sanic

    disclosure = os.environ["DISCLOSURE"]
    # What `rasa run` does before serving (rasa/__main__.py), then Sanic building its app (dictConfig).
    configure_logging_and_warnings(logging.DEBUG, warn_only_once=True, filter_repeated_logs=True)
    rasa.utils.io.configure_colored_logging(logging.DEBUG)
    configure_structlog(logging.DEBUG)
    Sanic("redaction_e2e")
    logging.getLogger("sanic.error").setLevel(logging.DEBUG)

    logging.getLogger("rasa.core.processor").debug("Received user message '%s' from %s", disclosure, "+44 7700 900123")
    structlog.get_logger().debug("processor.message.parse", parse_data_text=disclosure, parse_data_entities=[])
    try:
        raise ValueError(disclosure)
    except ValueError:
        logging.getLogger("sanic.error").exception("Exception occurred while handling uri: 'http://x/webhook'")
    logging.getLogger("rasa.core.processor").warning("Circuit breaker tripped for 07700 900123")
    """
)


def run_rasa_logging(redact: bool) -> str:
    """Run the script in a fresh interpreter; its stdout and stderr together (stderr first)."""
    env = {**os.environ, "REDACT": "1" if redact else "0", "DISCLOSURE": DISCLOSURE, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", E2E_SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=240, check=True
    )
    return done.stderr + done.stdout


@pytest.mark.timeout(300)
def test_end_to_end_rasa_and_sanic_logging_setup_does_not_undo_the_redaction() -> None:
    """A fresh process: install, then Rasa's and Sanic's own logging set-up, then log the way they do.

    What reaches stderr (coloredlogs' handler, which Rasa installs after us) has no phone number, no
    address and no disclosure, and still has each line's logger and event.
    """
    out = run_rasa_logging(redact=True)
    assert_no_personal_data(out)
    assert "7700" not in out
    assert "rasa.core.processor" in out
    assert "Received user message '[redacted]' from [phone]" in out
    assert "processor.message.parse" in out
    assert "Exception occurred while handling uri" in out
    assert "ValueError: [sensitive text redacted]" in out
    assert "Circuit breaker tripped for [phone]" in out
