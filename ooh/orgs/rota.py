"""On-call rotas: who receives a referral, for which Service Option, at what time.

Each organisation keeps its rota in ``service_scripts/<po>/rota.yaml``. Staff can edit it without
touching code; the agent reads it with :func:`load_rota`, which reports every mistake with the
file, the field and what is wrong.

Format::

    timezone: Europe/London              # optional; the rota's times are local times in this zone

    contacts:                            # people and teams, by key (letters, digits, _)
      housing_officer_a:
        name: "Housing on-call officer (A)"      # required: who this is, as staff know them
        email: housing.oncall.a@enfield.example  # required: where referrals are emailed
        phone: "+447700900101"                   # optional: for SMS or a call-back later
      housing_manager: {name: "Housing on-call manager", email: housing.manager@enfield.example}

    shifts:                              # who is on call, for what, when
      - service_option: homeless_families   # canonical option id, or "*" for any option that no
                                            # more specific shift covers at that time
        sub_category: null                  # optional, e.g. plumber for housing_repairs
        days: [mon, tue, wed, thu, fri]     # optional, default every day
        from: "17:00"                       # HH:MM, local time
        to: "08:00"                         # HH:MM; "24:00" is the end of the day
        dates: {from: 2026-11-01, to: 2026-12-31}   # optional, both dates included
        stage1: housing_officer_a           # contact key: receives the referral first
        stage2: housing_manager             # contact key: escalation when stage1 cannot be reached

    escalation: duty_director            # optional contact key: told last when no one acknowledges

Rules:

* A window whose ``to`` is earlier than (or equal to) its ``from`` crosses midnight and belongs to
  the day it starts: ``days: [fri]``, ``from: "20:00"``, ``to: "03:00"`` covers Friday 20:00 to
  Saturday 03:00. ``days`` and ``dates`` are checked against that starting day.
* The most specific matching shift wins: option and sub-category, then option, then ``"*"``.
  Among matching shifts at the same level, one with ``dates`` (cover for a holiday, say) beats one
  without, one limited to some ``days`` beats an every-day one, and otherwise the first in the file
  wins.
* ``stage2`` may be the same contact as ``stage1`` when there is no one to escalate to.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import Field, ValidationError, root_validator, validator

from ooh.orgs.errors import ConfigError, format_problem, validation_problems
from ooh.orgs.models import DAYS, StrictModel, Window

logger = logging.getLogger(__name__)

ANY_OPTION = "*"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_KEY = re.compile(r"^[A-Za-z0-9_]+$")
_HHMM_24 = re.compile(r"^24:00$")


class OnCallContact(StrictModel):
    """A person or team who can receive referrals."""

    name: str = Field(..., min_length=1)
    email: str
    phone: str | None = None

    @validator("email")
    def _email(cls, value: str) -> str:  # noqa: N805
        value = value.strip()
        if not _EMAIL.match(value):
            raise ValueError(f"'{value}' is not an email address")
        return value


class DateRange(StrictModel):
    """Dates a shift applies on, both included."""

    start: date = Field(alias="from")
    end: date = Field(alias="to")

    @root_validator(skip_on_failure=True)
    def _ordered(cls, values: dict[str, Any]) -> dict[str, Any]:  # noqa: N805
        if values["end"] < values["start"]:
            raise ValueError(f"'to' ({values['end']}) is before 'from' ({values['start']})")
        return values


class Shift(Window):
    """Who is on call for one option (or sub-category) during one weekly window.

    The window's rules (days, times, crossing midnight) are :class:`Window`'s, the same as an
    organisation's published hours; a shift adds the option, optional dates and the two stages.
    """

    service_option: str = Field(..., min_length=1)
    sub_category: str | None = None
    dates: DateRange | None = None
    stage1: str
    stage2: str

    @validator("days", pre=True)
    def _days_list(cls, value: Any) -> Any:  # noqa: N805
        if value is None:
            return list(DAYS)
        return [value] if isinstance(value, str) else value

    @validator("start", "end", pre=True)
    def _quoted_time(cls, value: Any, field: Any) -> str:  # noqa: N805
        if isinstance(value, int):  # YAML 1.1 reads an unquoted 17:00 as 1020 (minutes)
            raise ValueError(f'write the time in quotes, e.g. "{value // 60:02d}:{value % 60:02d}"')
        text = str(value).strip()
        if _HHMM_24.match(text) and field.alias == "from":
            raise ValueError('a shift cannot start at 24:00 (use "00:00")')
        return text

    @validator("sub_category")
    def _sub_needs_option(cls, value: str | None, values: dict[str, Any]) -> str | None:  # noqa: N805
        if value is not None and values.get("service_option") == ANY_OPTION:
            raise ValueError('a sub-category needs a specific service_option, not "*"')
        return value

    @property
    def level(self) -> int:
        """How specific the shift is: 2 option+sub-category, 1 option, 0 any option."""
        if self.service_option == ANY_OPTION:
            return 0
        return 2 if self.sub_category else 1

    def covers(self, service_option: str, sub_category: str | None) -> bool:
        """Whether the shift is for this option and sub-category (ignoring time)."""
        if self.service_option == ANY_OPTION:
            return True
        if self.service_option != service_option:
            return False
        return self.sub_category is None or self.sub_category == sub_category

    def runs_on(self, day: date) -> bool:
        """A shift runs on its days, and only within its dates when it has them."""
        return super().runs_on(day) and (self.dates is None or self.dates.start <= day <= self.dates.end)


class RotaFile(StrictModel):
    """The whole ``rota.yaml``."""

    timezone: str = "Europe/London"
    contacts: dict[str, OnCallContact]
    shifts: list[Shift]
    escalation: str | None = None

    @validator("timezone")
    def _zone(cls, value: str) -> str:  # noqa: N805
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"'{value}' is not a time zone (e.g. Europe/London)") from exc
        return value

    @validator("contacts")
    def _keys(cls, value: dict[str, OnCallContact]) -> dict[str, OnCallContact]:  # noqa: N805
        for key in value:
            if not _KEY.match(key):
                raise ValueError(f"contact key '{key}' may only use letters, digits and _")
        return value


@dataclass(frozen=True)
class OnCall:
    """Who receives a referral: stage 1 first, stage 2 if stage 1 cannot be reached."""

    stage1_key: str
    stage1: OnCallContact
    stage2_key: str
    stage2: OnCallContact
    shift_index: int

    def stages(self) -> list[tuple[int, str, OnCallContact]]:
        """``(stage number, contact key, contact)`` in the order to try; a repeated contact once."""
        stages = [(1, self.stage1_key, self.stage1)]
        if self.stage2_key != self.stage1_key:
            stages.append((2, self.stage2_key, self.stage2))
        return stages


@dataclass(frozen=True)
class Rota:
    """A validated rota. Build it with :func:`load_rota` or :meth:`from_data`."""

    contacts: dict[str, OnCallContact]
    shifts: tuple[Shift, ...]
    timezone: str = "Europe/London"
    path: Path | None = None
    #: Contact told last when a referral is not acknowledged by stage 1 or stage 2.
    escalation: str | None = None

    @classmethod
    def from_data(cls, data: Any, path: Path | str = "rota.yaml") -> Rota:
        """Validate already-parsed YAML data.

        Raises:
            ConfigError: naming the file and every bad field (``shifts[3].stage2``).
        """
        problems: list[str] = []
        if not isinstance(data, dict):
            raise ConfigError.single(path, "", "must be a mapping with 'contacts' and 'shifts'")
        try:
            parsed = RotaFile.parse_obj(data)
        except ValidationError as exc:
            raise ConfigError(validation_problems(exc, path)) from None
        for index, shift in enumerate(parsed.shifts):
            for stage in ("stage1", "stage2"):
                key = getattr(shift, stage)
                if key not in parsed.contacts:
                    problems.append(format_problem(path, f"shifts[{index}].{stage}", f"no contact '{key}' in contacts"))
        if not parsed.shifts:
            problems.append(format_problem(path, "shifts", "no shifts: no one would ever receive a referral"))
        if parsed.escalation is not None and parsed.escalation not in parsed.contacts:
            problems.append(format_problem(path, "escalation", f"no contact '{parsed.escalation}' in contacts"))
        if problems:
            raise ConfigError(problems)
        if not any(shift.service_option == ANY_OPTION for shift in parsed.shifts):
            logger.warning("%s: no '*' shift, so options without their own shift have no one on call", path)
        return cls(parsed.contacts, tuple(parsed.shifts), parsed.timezone, Path(path), parsed.escalation)

    def on_call(self, service_option: str, sub_category: str | None, at: datetime) -> OnCall | None:
        """Who is on call for an option (and sub-category) at a time, or ``None`` if no one is.

        Args:
            service_option: Canonical option id (``housing_repairs/plumber`` implies its sub-category).
            sub_category: E.g. ``plumber``; ``None`` when the option has none.
            at: The moment; an aware datetime is converted to the rota's zone, a naive one is
                taken as already local.
        """
        if "/" in service_option:
            # A specific canonical id such as ``housing_repairs/plumber`` is option + sub-category.
            service_option, _, specific = service_option.partition("/")
            sub_category = sub_category or specific
        local = at.astimezone(ZoneInfo(self.timezone)).replace(tzinfo=None) if at.tzinfo else at
        best: tuple[tuple[int, int, int], int, Shift] | None = None
        for index, shift in enumerate(self.shifts):
            if not shift.covers(service_option, sub_category) or shift.start_day(local) is None:
                continue
            rank = (shift.level, shift.dates is not None, len(shift.days) < len(DAYS))
            if best is None or rank > best[0]:
                best = (rank, index, shift)
        if best is None:
            return None
        _, index, shift = best
        return OnCall(
            shift.stage1,
            self.contacts[shift.stage1],
            shift.stage2,
            self.contacts[shift.stage2],
            index,
        )


def load_rota(path: Path) -> Rota:
    """Read and validate ``rota.yaml``.

    Raises:
        ConfigError: when the file is missing, is not YAML, or any field is wrong; each problem
            names the file and the field (e.g. ``shifts[3].stage2``).
    """
    try:
        with path.open(encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except FileNotFoundError:
        raise ConfigError.single(path, "", "file is missing") from None
    except yaml.YAMLError as exc:
        raise ConfigError.single(path, "", f"is not valid YAML: {exc}") from None
    return Rota.from_data(data, path)
