"""Logs without personal data: every log record of the process is stripped of residents' words.

Residents tell this agent their names, phone numbers and addresses, and sometimes that they mean to
end their lives. Logs are kept longer, copied further and read by more people than the records
made for a referral, so none of that may reach a log line, an exception's text or a traceback,
whichever library writes it: Rasa (its ``logging`` loggers and its ``structlog`` events, which
Rasa 3.6 renders to a string and hands to a ``logging`` logger), Rasa SDK, Sanic, uvicorn,
websockets, or our own code.

How it is attached (:func:`install`), and why that way:

- **The record factory** (:func:`logging.setLogRecordFactory`) is the guarantee. Every record any
  ``logging.Logger`` makes goes through it, whenever the logger was created and however logging is
  configured afterwards. That matters because Rasa (``configure_logging_and_warnings``,
  ``coloredlogs``, ``basicConfig`` in ``configure_structlog``), Sanic (``dictConfig`` when its app is
  built) and uvicorn (``dictConfig`` in ``Config.configure_logging``) all replace handlers during
  start-up, *after* our entry points run: a filter on a handler would be thrown away with it, and a
  filter on a logger sees only records made on that very logger, never those that propagate to it
  from a child (``rasa.core.processor`` → ``rasa``). The factory redacts a record as it is made,
  so no handler, formatter or error path (``Handler.handleError`` prints the message and its
  arguments to stderr) ever sees the raw text.
- **A filter** (:class:`RedactPersonalData`) on the root logger's handlers and on every logger and
  handler existing at install time, plus Rasa's, Rasa SDK's, Sanic's, uvicorn's and websockets'
  named loggers, is the second line: it catches records not made by ``Logger.makeRecord`` (those
  rebuilt by :func:`logging.makeLogRecord`, e.g. from a queue) and strings passed with ``extra=``,
  which the logger adds after the factory has run (Sanic's access log puts the request line there).
  ``dictConfig`` keeps a logger's filters while it replaces its handlers, so the named loggers'
  filters outlive the frameworks' start-up.

What is redacted, as the record is made: the message (formatted first, then redacted, with
``args`` emptied so nothing can re-format it) and the exception's text (formatted, redacted, kept
in ``exc_text``; ``exc_info`` is dropped so that no formatter, Sentry hook or rich traceback renders
the raw exception or its local variables again). The redaction (:func:`redact_text`) replaces:

- Rasa trackers and messages, as JSON or as Python reprs (a ``{...}`` holding keys such as
  ``tracker``, ``events``, ``slots``, ``latest_message``, ``sender_id``, or ``text``, ``value``,
  ``entities``, ``metadata``): the whole object becomes ``[tracker redacted]`` or
  ``[message redacted]``;
- a structlog event rendered as JSON (``{"event": "processor.message.parse", "parse_data_text":
  ...}``) keeps its event name, level and harmless fields; the fields Rasa itself lists as
  anonymizable (``parse_data_text``, ``slot_values``, ``rasa_events``...) become ``[redacted]``. The
  same keys in structlog's console form (``parse_data_text=...``) too;
- Rasa's event reprs (``UserUttered(text: ...``, ``SlotSet(key: k, value: ...)``,
  ``BotUttered(...)``): the words and values, not the event, key or intent;
- quoted text after words such as ``message``, ``text``, ``said``, ``transcript``, ``body``
  (``Received user message '...'``);
- any sentence with a risk phrase (suicide, self-harm, abuse, violence): a disclosure is the most
  sensitive thing a resident says, and a log line from code we do not know may quote it unlabelled;
- UK phone numbers (mobile and landline, ``+44``, spaces, hyphens), e-mail addresses, UK postcodes,
  house-number-and-street addresses, and names after a title or ``my name is``;
- and, not personal but as bad in a log, ``token=``/``secret=`` values in URLs (Rasa's API token is
  passed that way).

Knowingly not covered: text written to stdout or stderr without ``logging`` (``print``, Rasa's CLI
helpers, ``sys.excepthook`` and ``threading.excepthook`` tracebacks, warnings not captured by
logging); values passed with ``extra=`` that are not strings, or that are logged on a logger other
than those named above and reach only handlers made after :func:`install`; names said without a
cue, partial postcodes and numbers spoken as words; the agent's own labels (intent and action names
such as ``suicide_risk``, conversation ids), which operators need and which are not the resident's
words; processes started with ``multiprocessing``'s ``spawn`` method (they must call
:func:`install` themselves; Sanic's workers are forked and inherit it). A message is capped at
:data:`MAX_MESSAGE_CHARS` characters after redaction, a traceback at :data:`MAX_TRACEBACK_CHARS`
(its last part, where the error is).

This module is part of the core and imports no framework: the doors call :func:`install` first
thing in their entry points (``bot/server.py``, ``actions/server.py``, ``voice_gateway/__main__.py``).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import traceback
from collections.abc import Callable, Iterator
from typing import Any

MAX_MESSAGE_CHARS = 4000
"""Longest message kept, after redaction: a log line is for what happened, not for a transcript."""
MAX_TRACEBACK_CHARS = 8000
"""Longest exception text kept, after redaction (its end: the error and the innermost frames)."""
MAX_INPUT_CHARS = 100_000
"""Text longer than this is cut before redaction, so one huge tracker cannot stall a request."""

TRACKER_REDACTED = "[tracker redacted]"
MESSAGE_REDACTED = "[message redacted]"
REDACTED = "[redacted]"
SENSITIVE_REDACTED = "[sensitive text redacted]"
PHONE = "[phone]"
EMAIL = "[email]"
POSTCODE = "[postcode]"
ADDRESS = "[address]"
NAME = "[name]"

WATCHED_LOGGERS = (
    "rasa",
    "rasa.core.processor",
    "rasa.core.actions.action",
    "rasa.server",
    "rasa_sdk",
    "rasa_sdk.endpoint",
    "rasa_sdk.executor",
    "sanic.root",
    "sanic.error",
    "sanic.access",
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "websockets",
    "websockets.server",
    "websockets.client",
    "websockets.protocol",
    "asyncio",
)
"""Loggers of the frameworks that see residents' words; they get the filter even before they exist."""

TRACKER_KEYS = frozenset(
    {
        "tracker",
        "events",
        "slots",
        "latest_message",
        "sender_id",
        "latest_input_channel",
        "active_loop",
        "followup_action",
        "latest_action",
        "latest_action_name",
        "latest_event_time",
        "conversation_id",
    }
)
"""Keys that make a ``{...}`` a tracker (or an action call holding one): replaced whole."""

MESSAGE_KEYS = frozenset(
    {
        "text",
        "message",
        "value",
        "entities",
        "metadata",
        "parse_data",
        "user_text",
        "user_message",
        "response_text",
        "json_message",
        "body",
        "request_body",
        "slot_values",
        "prefilled_slots",
        "slot_candidates",
        "transcript",
        "utterance",
        "phone",
        "phone_number",
        "email",
        "address",
        "postcode",
        "caller",
        "from",
        "caller_id",
    }
)
"""Keys that make a ``{...}`` a message or an event with what someone said: replaced whole."""

RASA_ANONYMIZABLE_KEYS = frozenset(
    {
        "text",
        "response_text",
        "user_text",
        "slot_values",
        "parse_data_text",
        "parse_data_entities",
        "prediction_events",
        "tracker_latest_message",
        "prefilled_slots",
        "message",
        "response",
        "slot_candidates",
        "rasa_event",
        "rasa_events",
        "tracker_states",
        "current_states",
        "old_states",
        "successes",
        "current_entity",
        "next_entity",
        "states",
        "entity",
        "token_text",
        "user_message",
        "json_message",
    }
)
"""The structlog fields Rasa 3.6 itself lists as anonymizable (``rasa/utils/log_utils.py``)."""

STRUCTURED_KEYS = RASA_ANONYMIZABLE_KEYS | MESSAGE_KEYS | TRACKER_KEYS
"""Fields of a structlog event whose value is replaced (the event's name and level stay)."""

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_BLOB_KEY = re.compile(
    r"""(?:^|[{\s,(])["']?(?P<key>[A-Za-z_]+)["']?\s*:""",
)
_EVENT_USER_TEXT = re.compile(r"(UserUttered\(text: )[\s\S]*?(?=, intent: )")
_EVENT_ENTITIES = re.compile(r"(, entities: )[\s\S]*?(?=, use_text_for_featurization: )")
_EVENT_SLOT = re.compile(r"(SlotSet\(key: [^,()]*, value: )[\s\S]*?\)(?=$|[\s,\]'\"])", re.M)
_EVENT_BOT_TEXT = re.compile(r"((?:Bot|Agent)Uttered\((?:text: |'))[\s\S]*?(?=, data: |', [{\[n])")
_STRUCT_CONSOLE = re.compile(
    r"(?<![\w.])(?P<key>" + "|".join(sorted(STRUCTURED_KEYS, key=len, reverse=True)) + r")="
    r"(?:[\s\S]*?)(?=[ \t]+[A-Za-z_]\w*=|\n|$)"
)
_QUOTED_AFTER_CUE = re.compile(
    r"(?i)\b(?P<cue>user message|user text|user said|message|text|utterance|transcript(?:ion)?|said|says"
    r"|heard|typed|wrote|input|answer|reply|query|body)\b(?P<gap>\s*(?:was|is|of|=|:)?\s*b?)"
    r"(?P<quote>['\"])(?:[\s\S]{0,4000}?)(?P=quote)(?=[\s,.;:!?)\]}]|$)",
    re.M,
)
_RISK = re.compile(
    r"(?i)\b(?:"
    r"kill(?:ing|ed)? (?:my ?self|meself|him ?self|her ?self|them ?selves|themself)"
    r"|suicid[a-z]*"
    r"|end (?:it all|my (?:own )?life|things)"
    r"|(?:take|taking|took) (?:my|his|her|their) (?:own )?life"
    r"|(?:don'?t|do not|dont|doesn'?t|does not) want to (?:be alive|live|be here|wake up|go on|carry on|exist)"
    r"|self[- ]?harm[a-z]*"
    r"|(?:hurt|hurting|cut|cutting|harm|harming|burn|burning) (?:my|him|her|them) ?sel(?:f|ves)"
    r"|overdos[a-z]*"
    r"|better off (?:dead|without me)"
    r"|wants? to die|wanna die|ready to die"
    r"|hang(?:ing)? (?:my|him|her)self|noose"
    r"|(?:can'?t|cannot|cant) (?:go on|cope|carry on) any ?more"
    r"|domestic (?:abuse|violence)"
    r"|(?:hitting|beating|punching|kicking|strangling|choking|slapping|hurting|threatening) me"
    r"|(?:he|she|they) (?:hit|hits|beat|beats|punched|kicked|strangled|choked|slapped|attacked|hurt) me"
    r"|(?:stabbed|raped|abused|assaulted)"
    r"|(?:threaten[a-z]*|going|gonna) to (?:kill|stab|shoot|murder)"
    r")\b"
)
_SENTENCE_START = re.compile(r"[.!?:;](?=\s)|\n|\"|(?<=[\s(=\[])'|'(?=[\s,.;:!?)\]}])")
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)|\n|\"")
_TITLE_NAME = re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr)\.? +[A-Z][A-Za-z'-]+(?: +[A-Z][A-Za-z'-]+)?")
_SAID_NAME = re.compile(
    r"(?i)\b(?P<cue>my name is|my name's|i am called|i'm called|call me)\s+"
    r"(?!(?:on|back|at|in|when|if|now|later|please|as|asap|urgently|after|before)\b)"
    r"[A-Za-z][A-Za-z'-]*(?: +[A-Z][A-Za-z'-]*)?"
)
_EMAIL = re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\w+\-.])(?:(?:\+|00)\s?44[\s-]?(?:\(0\)[\s-]?)?|\(?0)\d(?:[\s\-)]{0,2}\d){8,9}(?!\w)")
_POSTCODE = re.compile(
    r"\b(?:[A-Za-z]{1,2}\d[A-Za-z\d]?|GIR) {1,2}\d[ABD-HJLNP-UW-Zabd-hjlnp-uw-z]{2}\b"
    r"|\b[A-Z]{1,2}\d[A-Z\d]?\d[ABD-HJLNP-UW-Z]{2}\b"
)
_STREET = re.compile(
    r"(?i)(?<!line )\b(?:(?:flat|apartment|apt|unit) \d+[a-z]?,? +)?\d{1,4}[a-z]?,?[ \t]+(?:[a-z'-]+[ \t]+){0,3}"
    r"(?:road|rd|street|st|avenue|ave|lane|ln|close|drive|way|court|crescent|place|gardens|gdns|grove"
    r"|terrace|square|mews|parade|boulevard|wharf|villas|estate)\b"
)
_URL_SECRET = re.compile(r"(?i)([?&](?:token|access_token|api_key|apikey|secret|password)=)[^&\s'\"]+")
_STANDARD_ATTRIBUTES = frozenset(
    logging.LogRecord("", logging.INFO, "", 0, "", (), None).__dict__.keys()
    | {"message", "asctime", "taskName", "_ooh_redacted"}
)
_MARK = "_ooh_redacted"
_FACTORY_MARK = "_ooh_redacting_factory"
_lock = threading.Lock()


def redact_text(text: str) -> str:
    """``text`` without personal data, capped at :data:`MAX_MESSAGE_CHARS` characters.

    Args:
        text: A formatted log message (or any string bound for a log).

    Returns:
        The text with trackers, messages, quoted words, risk sentences, phone numbers, e-mail
        addresses, postcodes, addresses and names replaced by bracketed placeholders.
    """
    return _cap(_redact(text), MAX_MESSAGE_CHARS)


def _redact(text: str) -> str:
    """:func:`redact_text` without the cap (exception texts are capped differently)."""
    if len(text) > MAX_INPUT_CHARS:
        text = text[:MAX_INPUT_CHARS] + " [cut]"
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    stripped = text.strip()
    if stripped.startswith("{") and stripped.endswith("}"):
        structured = _redact_structured_event(stripped)
        if structured is not None:
            return structured
    return _redact_free_text(text)


def _redact_free_text(text: str) -> str:
    """Every layer but the structlog-JSON one, in order: the widest (a whole tracker) first."""
    if "{" in text:
        text = _redact_blobs(text)
    if "Uttered(" in text or "SlotSet(" in text:
        text = _EVENT_USER_TEXT.sub(r"\1" + REDACTED, text)
        text = _EVENT_ENTITIES.sub(r"\1" + REDACTED, text)
        text = _EVENT_SLOT.sub(r"\1" + REDACTED + ")", text)
        text = _EVENT_BOT_TEXT.sub(r"\1" + REDACTED, text)
    if "=" in text:
        text = _STRUCT_CONSOLE.sub(lambda m: f"{m['key']}={REDACTED}", text)
    if "'" in text or '"' in text:
        text = _QUOTED_AFTER_CUE.sub(lambda m: f"{m['cue']}{m['gap']}{m['quote']}{REDACTED}{m['quote']}", text)
    text = _redact_risk_sentences(text)
    text = _TITLE_NAME.sub(NAME, text)
    text = _SAID_NAME.sub(lambda m: f"{m['cue']} {NAME}", text)
    if "@" in text:
        text = _EMAIL.sub(EMAIL, text)
    text = _PHONE.sub(PHONE, text)
    text = _POSTCODE.sub(POSTCODE, text)
    if "=" in text:
        text = _URL_SECRET.sub(r"\1" + REDACTED, text)
    return _STREET.sub(ADDRESS, text)


def _redact_structured_event(text: str) -> str | None:
    """A structlog event rendered as JSON, with its sensitive fields replaced; None if it is not one.

    Rasa 3.6 renders ``structlogger.debug("processor.message.parse", parse_data_text=...)`` to a JSON
    object when not on a terminal. Replacing it whole would lose what happened, so its ``event`` and
    other harmless fields stay and only the fields that hold residents' words go.
    """
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("event"), str):
        return None
    return json.dumps(_redact_value(data), ensure_ascii=False)


def _redact_value(value: Any) -> Any:
    """A JSON value with sensitive fields replaced and every string redacted."""
    if isinstance(value, dict):
        return {
            key: REDACTED if str(key).lower() in STRUCTURED_KEYS else _redact_value(item) for key, item in value.items()
        }
    if isinstance(value, list):
        return [_redact_value(item) for item in value]
    if isinstance(value, str):
        return _redact_free_text(value)
    return value


def _redact_blobs(text: str) -> str:
    """Each ``{...}`` (JSON or Python repr, nested, possibly cut off) holding a tracker or message key.

    Braces inside quoted strings do not count, so a resident typing ``}`` cannot end the object early;
    an object that never closes runs to the end of the text (a cut-off tracker is still a tracker).
    """
    out: list[str] = []
    position = 0
    start = text.find("{")
    while start != -1:
        end = _blob_end(text, start)
        blob = text[start:end]
        keys = {match["key"].lower() for match in _BLOB_KEY.finditer(blob)}
        if keys & TRACKER_KEYS:
            out += [text[position:start], TRACKER_REDACTED]
            position = end
        elif keys & MESSAGE_KEYS:
            out += [text[position:start], MESSAGE_REDACTED]
            position = end
        start = text.find("{", end)
    out.append(text[position:])
    return "".join(out)


def _blob_end(text: str, start: int) -> int:
    """The index just past the ``}`` closing the ``{`` at ``start`` (or the text's end)."""
    depth = 0
    quote = ""
    index = start
    length = len(text)
    while index < length:
        char = text[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    return length


def _redact_risk_sentences(text: str) -> str:
    """Each sentence holding a risk phrase, replaced whole (up to its full stop, newline or quote)."""
    match = _RISK.search(text)
    while match:
        starts = [found.end() for found in _SENTENCE_START.finditer(text, 0, match.start())]
        begin = starts[-1] if starts else 0
        while begin < match.start() and text[begin] == " ":
            begin += 1
        found_end = _SENTENCE_END.search(text, match.end())
        finish = found_end.start() if found_end else len(text)
        text = text[:begin] + SENSITIVE_REDACTED + text[finish:]
        match = _RISK.search(text, begin + len(SENSITIVE_REDACTED))
    return text


def _cap(text: str, limit: int, keep_end: bool = False) -> str:
    """``text`` cut to ``limit`` characters, saying how much went."""
    if len(text) <= limit:
        return text
    cut = len(text) - limit
    if keep_end:
        return f"[{cut} characters cut] " + text[-limit:]
    return text[:limit] + f" [{cut} characters cut]"


def _message_of(record: logging.LogRecord) -> str:
    """The record's formatted message, or its bare text if the arguments do not fit."""
    try:
        return record.getMessage()
    except Exception:  # noqa: BLE001 - a bad format must not print its arguments (handleError would)
        try:
            bare = str(record.msg)
        except Exception:  # noqa: BLE001
            bare = "[unprintable message]"
        return f"{bare} [arguments withheld: they did not fit the message]"


def _is_redacted(record: logging.LogRecord) -> bool:
    """Whether this record's message and exception are already ours (not refilled since)."""
    return record.__dict__.get(_MARK) is record.msg and not record.args and not record.exc_info


def redact_record(record: logging.LogRecord) -> None:
    """Redact a record in place: its message, arguments, exception text and string ``extra`` fields.

    Never raises: if redaction itself fails, the message is withheld (fail closed) rather than the
    log line being lost or the raw text getting through.

    Args:
        record: The record, before any handler formats it.
    """
    try:
        if not _is_redacted(record):
            record.msg = redact_text(_message_of(record))
            record.args = ()
            if record.exc_info and record.exc_info[0] is not None:
                formatted = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
                record.exc_text = _cap(_redact(formatted), MAX_TRACEBACK_CHARS, keep_end=True)
            elif record.exc_text:
                record.exc_text = _cap(_redact(record.exc_text), MAX_TRACEBACK_CHARS, keep_end=True)
            record.exc_info = None
            record.__dict__[_MARK] = record.msg
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD_ATTRIBUTES and isinstance(value, str):
                record.__dict__[key] = redact_text(value)
    except Exception as error:  # noqa: BLE001 - logging must go on, without the raw text
        record.msg = f"[log message withheld: redaction failed ({type(error).__name__})]"
        record.args = ()
        record.exc_info = None
        record.exc_text = None
        record.__dict__[_MARK] = record.msg


class RedactPersonalData(logging.Filter):
    """A ``logging`` filter that takes personal data out of each record it sees, and keeps the record.

    It never drops a record: an operator still sees that something happened, on which logger, at
    which level. On a handler it sees every record that handler emits, from any logger; on a logger,
    only records made on that logger. :func:`install` puts it on both and, above all, redacts every
    record as it is made (see the module's docstring for why).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact ``record`` in place and let it through."""
        redact_record(record)
        return True


_FILTER = RedactPersonalData()


def _redacting_factory(previous: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    """A record factory that makes records with ``previous`` and redacts them before anyone sees them."""

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        redact_record(record)
        return record

    setattr(factory, _FACTORY_MARK, previous)
    return factory


def _loggers() -> Iterator[logging.Logger]:
    """The root logger, every logger made so far, and the frameworks' loggers (made now if need be)."""
    yield logging.getLogger()
    for name in WATCHED_LOGGERS:
        yield logging.getLogger(name)
    for logger in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger):
            yield logger


def _has_filter(filterer: logging.Filterer) -> bool:
    return any(isinstance(found, RedactPersonalData) for found in filterer.filters)


def install() -> None:
    """Redact personal data from every log record of this process, from now on.

    Idempotent, and safe to call before or after any logging configuration: the record factory it
    sets survives ``dictConfig``/``basicConfig`` and covers loggers made later; the filters it adds
    to existing loggers and handlers are a second line (see the module's docstring).
    """
    with _lock:
        current = logging.getLogRecordFactory()
        if not hasattr(current, _FACTORY_MARK):
            logging.setLogRecordFactory(_redacting_factory(current))
        handlers: list[logging.Handler] = []
        if logging.lastResort is not None:
            handlers.append(logging.lastResort)
        for logger in _loggers():
            if not _has_filter(logger):
                logger.addFilter(_FILTER)
            handlers += logger.handlers
        for handler in handlers:
            if not _has_filter(handler):
                handler.addFilter(_FILTER)


def uninstall() -> None:
    """Undo :func:`install` (for tests): the previous record factory back, and the filters off."""
    with _lock:
        current = logging.getLogRecordFactory()
        previous = getattr(current, _FACTORY_MARK, None)
        if previous is not None:
            logging.setLogRecordFactory(previous)
        handlers: list[logging.Handler] = [logging.lastResort] if logging.lastResort is not None else []
        for logger in _loggers():
            logger.filters = [found for found in logger.filters if not isinstance(found, RedactPersonalData)]
            handlers += logger.handlers
        for handler in handlers:
            handler.filters = [found for found in handler.filters if not isinstance(found, RedactPersonalData)]
