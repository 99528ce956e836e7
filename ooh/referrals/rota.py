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
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import Field, ValidationError, root_validator, validator

from ooh.orgs.errors import ConfigError, format_problem
from ooh.orgs.models import DAYS, StrictModel, parse_hhmm

logger = logging.getLogger(__name__)

ANY_OPTION = "*"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_KEY = re.compile(r"^[A-Za-z0-9_]+$")


class Contact(StrictModel):
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


class Shift(StrictModel):
    """Who is on call for one option (or sub-category) during one weekly window."""

    service_option: str = Field(..., min_length=1)
    sub_category: str | None = None
    days: list[str] = Field(default_factory=lambda: list(DAYS))
    start: str = Field(alias="from")
    end: str = Field(alias="to")
    dates: DateRange | None = None
    stage1: str
    stage2: str

    @validator("days", pre=True)
    def _days_list(cls, value: Any) -> Any:  # noqa: N805
        if value is None:
            return list(DAYS)
        return [value] if isinstance(value, str) else value

    @validator("days", each_item=True)
    def _known_day(cls, value: str) -> str:  # noqa: N805
        day = str(value).strip().lower()[:3]
        if day not in DAYS:
            raise ValueError(f"'{value}' is not a day (use {', '.join(DAYS)})")
        return day

    @validator("start", "end", pre=True)
    def _time(cls, value: Any, field: Any) -> str:  # noqa: N805
        if isinstance(value, int):  # YAML 1.1 reads an unquoted 17:00 as 1020 (minutes)
            raise ValueError(f'write the time in quotes, e.g. "{value // 60:02d}:{value % 60:02d}"')
        text = str(value).strip()
        parsed = parse_hhmm(text)
        if parsed is None and field.alias == "from":
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

    def start_day(self, moment: datetime) -> date | None:
        """The day the occurrence of this window containing ``moment`` started, or ``None``.

        Args:
            moment: Local (naive or rota-zone) time.
        """
        start = parse_hhmm(self.start) or time(0, 0)
        end = parse_hhmm(self.end)
        clock = moment.time().replace(tzinfo=None)
        today = moment.date()
        yesterday = today - timedelta(days=1)
        if end is not None and end <= start:  # crosses midnight
            if clock >= start and self._on(today):
                return today
            if clock < end and self._on(yesterday):
                return yesterday
            return None
        if start <= clock and (end is None or clock < end) and self._on(today):
            return today
        return None

    def _on(self, day: date) -> bool:
        if DAYS[day.weekday()] not in self.days:
            return False
        return self.dates is None or self.dates.start <= day <= self.dates.end


class RotaFile(StrictModel):
    """The whole ``rota.yaml``."""

    timezone: str = "Europe/London"
    contacts: dict[str, Contact]
    shifts: list[Shift]

    @validator("timezone")
    def _zone(cls, value: str) -> str:  # noqa: N805
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"'{value}' is not a time zone (e.g. Europe/London)") from exc
        return value

    @validator("contacts")
    def _keys(cls, value: dict[str, Contact]) -> dict[str, Contact]:  # noqa: N805
        for key in value:
            if not _KEY.match(key):
                raise ValueError(f"contact key '{key}' may only use letters, digits and _")
        return value


@dataclass(frozen=True)
class OnCall:
    """Who receives a referral: stage 1 first, stage 2 if stage 1 cannot be reached."""

    stage1_key: str
    stage1: Contact
    stage2_key: str
    stage2: Contact
    shift_index: int

    def stages(self) -> list[tuple[int, str, Contact]]:
        """``(stage number, contact key, contact)`` in the order to try; a repeated contact once."""
        stages = [(1, self.stage1_key, self.stage1)]
        if self.stage2_key != self.stage1_key:
            stages.append((2, self.stage2_key, self.stage2))
        return stages


@dataclass(frozen=True)
class Rota:
    """A validated rota. Build it with :func:`load_rota` or :meth:`from_data`."""

    contacts: dict[str, Contact]
    shifts: tuple[Shift, ...]
    timezone: str = "Europe/London"
    path: Path | None = None

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
            for error in exc.errors():
                problems.append(format_problem(path, _location(error["loc"]), error["msg"]))
            raise ConfigError(problems) from None
        for index, shift in enumerate(parsed.shifts):
            for stage in ("stage1", "stage2"):
                key = getattr(shift, stage)
                if key not in parsed.contacts:
                    problems.append(format_problem(path, f"shifts[{index}].{stage}", f"no contact '{key}' in contacts"))
        if not parsed.shifts:
            problems.append(format_problem(path, "shifts", "no shifts: no one would ever receive a referral"))
        if problems:
            raise ConfigError(problems)
        if not any(shift.service_option == ANY_OPTION for shift in parsed.shifts):
            logger.warning("%s: no '*' shift, so options without their own shift have no one on call", path)
        return cls(parsed.contacts, tuple(parsed.shifts), parsed.timezone, Path(path))

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


def _location(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        if part == "__root__":
            continue
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


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
