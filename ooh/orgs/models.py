"""Schemas of the organisation data under ``service_scripts/``.

Everything an organisation ("PO") can vary lives in data: its profile, hours, signposting contacts,
which Service Options it takes and the settings of each option's script. These pydantic models
validate that data on load so a typo in a YAML file stops the stack with a message naming the file
and field, instead of surfacing as a confused resident at 2 a.m.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Extra, Field, root_validator, validator

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Outcome = Literal["referred", "daytime", "signposted", "transferred", "resolved", "placed", "out_of_scope"]
QUESTION_TYPES = ("address", "phone", "yes_no", "choice", "free_text", "name")

_HHMM = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")


class StrictModel(BaseModel):
    """Base for data models: unknown keys are errors, so misspelt fields are caught."""

    class Config:
        """Pydantic options."""

        extra = Extra.forbid
        allow_population_by_field_name = True


def parse_hhmm(value: str) -> time | None:
    """Parse ``HH:MM`` (``24:00`` allowed, meaning end of day, returned as ``None``)."""
    match = _HHMM.match(value)
    if not match:
        raise ValueError(f"'{value}' is not a time of day as HH:MM")
    hours, minutes = int(match.group(1)), int(match.group(2))
    if hours == 24:
        if minutes:
            raise ValueError(f"'{value}' is past the end of the day")
        return None
    return time(hours, minutes)


class Window(StrictModel):
    """A weekly time window, e.g. Friday 20:00 to Saturday 03:00.

    A window whose end is earlier than its start crosses midnight and belongs to the day it starts,
    as rotas and published hours are written.
    """

    days: list[str] = Field(default_factory=lambda: list(DAYS))
    start: str = Field(alias="from")
    end: str = Field(alias="to")

    @validator("days", each_item=True)
    def _known_day(cls, value: str) -> str:  # noqa: N805
        day = value.lower()[:3]
        if day not in DAYS:
            raise ValueError(f"'{value}' is not a day (use {', '.join(DAYS)})")
        return day

    @validator("start", "end")
    def _time(cls, value: str) -> str:  # noqa: N805
        parse_hhmm(value)
        return value

    def runs_on(self, day: date) -> bool:
        """Whether an occurrence of the window starts on ``day``."""
        return DAYS[day.weekday()] in self.days

    def start_day(self, moment: datetime) -> date | None:
        """The day the occurrence containing the local time ``moment`` started, or ``None``.

        A window whose end is not after its start crosses midnight: Friday 20:00 to 03:00 contains
        Saturday 02:00, which started on Friday.
        """
        start = parse_hhmm(self.start) or time(0, 0)
        end = parse_hhmm(self.end)
        clock = moment.time().replace(tzinfo=None)
        today = moment.date()
        yesterday = today - timedelta(days=1)
        if end is not None and end <= start:
            if clock >= start and self.runs_on(today):
                return today
            if clock < end and self.runs_on(yesterday):
                return yesterday
            return None
        if start <= clock and (end is None or clock < end) and self.runs_on(today):
            return today
        return None

    def contains(self, moment: datetime) -> bool:
        """Whether a local time falls inside this window."""
        return self.start_day(moment) is not None


class Schedule(StrictModel):
    """Named hours of operation: weekly windows plus days (bank holidays) open all day."""

    windows: list[Window]
    all_day_dates: list[date] = Field(default_factory=list)

    def is_open(self, moment: datetime) -> bool:
        """Whether the schedule is open at a local time."""
        if moment.date() in self.all_day_dates:
            return True
        return any(window.contains(moment) for window in self.windows)


class Contact(StrictModel):
    """A service residents can be signposted or transferred to."""

    name: str
    phone: str | None = None
    hours: str = "24 hours a day"
    website: str | None = None
    note: str | None = None

    def describe(self) -> str:
        """One sentence a resident can act on: who, number, when."""
        parts = [self.name]
        if self.phone:
            parts.append(f"on {self.phone}")
        text = " ".join(parts) + f" ({self.hours})"
        if self.website:
            text += f", or online at {self.website}"
        return text


class Choice(StrictModel):
    """One allowed answer to a choice question, with the words residents use for it."""

    label: str
    says: list[str] = Field(default_factory=list)


class Question(StrictModel):
    """One step of a script.

    Attributes:
        slot: Key the answer is stored under (``caller_name``, ``contact_number``, ``address``,
            ``details`` or ``q_<something>``).
        ask: What the agent says (chat and voice).
        type: Which validator checks the answer.
        choices: For ``choice`` questions, keyed by the value stored.
        when: Ask only when this condition holds.
        essential: If the resident cannot answer, ask once more and then act anyway, flagged.
        reprompt: Said when an answer was not understood.
    """

    slot: str
    ask: str
    type: str
    choices: dict[str, Choice] = Field(default_factory=dict)
    when: dict[str, Any] | None = None
    essential: bool = False
    reprompt: str | None = None

    @validator("slot")
    def _slot_name(cls, value: str) -> str:  # noqa: N805
        fixed = {"caller_name", "contact_number", "address", "details"}
        if value not in fixed and not re.match(r"^q_[a-z0-9_]+$", value):
            raise ValueError(f"'{value}' must be one of {sorted(fixed)} or q_<lowercase_name>")
        return value

    @validator("type")
    def _type(cls, value: str) -> str:  # noqa: N805
        if value not in QUESTION_TYPES:
            raise ValueError(f"'{value}' is not a question type ({', '.join(QUESTION_TYPES)})")
        return value

    @root_validator(skip_on_failure=True)
    def _choices_for_choice(cls, values: dict[str, Any]) -> dict[str, Any]:  # noqa: N805
        if values.get("type") == "choice" and not values.get("choices"):
            raise ValueError("a choice question needs 'choices'")
        return values


class Rule(StrictModel):
    """One row of a decision table: when the condition holds, set these fields.

    Classification rows (no ``outcome``) set ``priority``/``sub_category`` and evaluation goes on;
    the first row with an ``outcome`` decides. ``early: true`` rows are checked after every answer
    so that, e.g., a leaseholder is signposted before being asked ten repair questions.
    ``before_organisation: true`` template rows are checked before the organisation's own rows:
    safety and list checks ("do not place", a gas smell) that no local row may override.
    """

    when: dict[str, Any] = Field(default_factory=dict)
    outcome: Outcome | None = None
    priority: Literal["emergency", "routine"] | None = None
    sub_category: str | None = None
    signpost: str | None = None
    message: str | None = None
    early: bool = False
    before_organisation: bool = False


class Provider(StrictModel):
    """An emergency-accommodation provider a homeless family can be placed with."""

    name: str
    phone: str
    address: str
    rooms_available: int = Field(1, ge=0)
    accepts: list[str] = Field(default_factory=list)


class ScriptDef(StrictModel):
    """A script template shared by organisations (``service_scripts/_scripts/<id>.yaml``).

    Attributes:
        id: Template name referenced by organisations' options.
        description: What the template is for (shown to staff).
        opening: Said before the first question (``suicide_risk`` puts safety numbers here).
        questions: The steps, in order.
        rules: Default decision table, after the organisation's own rows.
        default_outcome: When no rule decides.
        answer_from_faq: Information-only: answer from the organisation's FAQ, no questions.
    """

    id: str
    description: str
    opening: str | None = None
    questions: list[Question] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)
    default_outcome: Outcome = "referred"
    answer_from_faq: bool = False


ReferralChannel = Literal["email", "sms", "call"]
"""A way a referral reaches an on-call officer: an email, a text through GOV.UK Notify, or a phone
call through Twilio that reads it and takes a keypress (a pager is an email address or a mobile
number in the rota)."""


class OptionConfig(StrictModel):
    """How one organisation runs one Service Option.

    Attributes:
        script: Template id under ``_scripts``.
        hours: Name of a schedule in the profile; ``always`` for round the clock.
        outside_hours: What to do when the option is closed (an outcome and message).
        rules: The organisation's decision-table rows, checked before the template's.
        lists: Named lists for ``in_list`` conditions (e.g. ``do_place``/``do_not_place``).
        providers: Emergency-accommodation providers for placements.
        extra_questions: Asked after the template's questions, before name and number.
        ask: Replacement wording per question slot.
        opening: Replacement opening.
        signpost: Contact key used by ``signposted`` outcomes without their own.
        sub_category: Fixed sub-category (e.g. ``plumber`` for ``housing_repairs/plumber``).
        transfer_to: Contact key for transfers.
        acknowledge_within: Minutes the on-call officer has to acknowledge a referral of this
            option before it is escalated (default: ``OOH_ACK_MINUTES``).
    """

    script: str
    hours: str = "out_of_hours"
    outside_hours: Rule | None = None
    rules: list[Rule] = Field(default_factory=list)
    lists: dict[str, list[str]] = Field(default_factory=dict)
    providers: list[Provider] = Field(default_factory=list)
    extra_questions: list[Question] = Field(default_factory=list)
    ask: dict[str, str] = Field(default_factory=dict)
    opening: str | None = None
    signpost: str | None = None
    sub_category: str | None = None
    transfer_to: str | None = None
    acknowledge_within: float | None = Field(None, gt=0)
    referral_channels: list[ReferralChannel] | None = Field(None, min_items=1)
    confirm_by_sms: bool = False
    confirmation: str | None = Field(None, min_length=1, max_length=600)


class FaqEntry(StrictModel):
    """One answer to a common question, for information-only options."""

    service_option: str
    keywords: list[str] = Field(default_factory=list)
    answer: str


class Profile(StrictModel):
    """An organisation's profile (``service_scripts/<po>/profile.yaml``)."""

    id: str
    name: str
    short_name: str
    kind: Literal["borough", "housing_association"]
    reference_prefix: str
    greeting: str
    recording_notice: str = "Calls and chats may be recorded to help us check and improve the service."
    area_boroughs: list[str]
    hours: dict[str, list[Window]]
    bank_holidays: list[date] = Field(default_factory=list)
    daytime_service: Contact
    contacts: dict[str, Contact] = Field(default_factory=dict)
    neighbours: list[str] = Field(default_factory=list)
    phone_numbers: dict[str, str | None] = Field(default_factory=dict)
    announcement: str | None = None
    #: How referrals reach on-call officers unless an option says otherwise (see ``OptionConfig``).
    referral_channels: list[ReferralChannel] = Field(default_factory=lambda: ["email"], min_items=1)

    @validator("reference_prefix")
    def _prefix(cls, value: str) -> str:  # noqa: N805
        if not re.match(r"^[A-Z]{2,4}$", value):
            raise ValueError(f"'{value}' must be 2-4 capital letters")
        return value

    @validator("hours")
    def _has_out_of_hours(cls, value: dict[str, list[Window]]) -> dict[str, list[Window]]:  # noqa: N805
        if "out_of_hours" not in value:
            raise ValueError("needs an 'out_of_hours' schedule (the default for every option)")
        return value

    @property
    def public_phone(self) -> str | None:
        """The number residents are given to call: the out-of-hours line, else the daytime service's."""
        return self.phone_numbers.get("out_of_hours") or self.daytime_service.phone

    def schedule(self, name: str) -> Schedule | None:
        """The named schedule; ``None`` for ``always``.

        Bank holidays are open all day for the ``out_of_hours`` schedule only: a noise patrol
        that runs on Friday nights does not run all day on Christmas Day.
        """
        if name == "always":
            return None
        all_day = self.bank_holidays if name == "out_of_hours" else []
        return Schedule(windows=self.hours[name], all_day_dates=all_day)
