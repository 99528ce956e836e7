"""Live rotas: changes staff make to an organisation's rota, and the rota as it stands at a moment.

``rota.yaml`` is the standing rota. Staff add **changes** on top of it (the staff site's rota page
or its JSON API), kept in the records database (``rota_changes``), so the next referral uses them
with no restart. A change is an extra shift, with the same fields as a shift of the file (option,
optional sub-category, days, from/to, stage 1 and stage 2 as contact keys *of the file*), and an
effective period: from ``starts_at`` (now for a last-minute change, later for a pre-dated one)
until ``ends_at`` (none: until withdrawn). A change is never deleted: withdrawing it records who,
when and why, and it stops applying from that moment.

How a change combines with the file (:func:`effective_rota`):

* A change is **in force** at a moment when ``starts_at <= moment < ends_at`` and it was not
  withdrawn by then. Its weekly window (days, from/to, crossing midnight) then works exactly like
  a file shift's (:class:`ooh.orgs.rota.Shift`, :class:`ooh.orgs.models.Window`).
* A change in force whose window contains the moment **replaces every file shift at its level**
  for its option and sub-category: a change for ``housing_repairs`` replaces the file's
  ``housing_repairs`` shifts, a change for ``housing_repairs``/``plumber`` the file's plumber
  shifts, a change for ``"*"`` the file's ``"*"`` shifts. More specific file shifts still win as
  always: a change for ``housing_repairs`` does not replace the file's plumber shift (add a
  plumber change for that).
* Between two such changes for the same option and sub-category, the one made last wins.
* Everything else is the file's: its contacts, its escalation contact, its time zone, and
  :meth:`Rota.on_call`'s ranking.

:func:`rota_gaps` lists the periods in the next days when nobody is on call for an option, for the
rota page and the daily gap report (``ooh.orgs.gap_report``).

Times handed in must be aware (a naive one is taken as local time in the rota's zone); the store
keeps UTC.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ooh.accounts.models import StaffUser
from ooh.orgs.errors import field_path
from ooh.orgs.loader import Organisation
from ooh.orgs.models import OptionConfig, parse_hhmm
from ooh.orgs.rota import ANY_OPTION, OnCall, Rota, Shift
from ooh.records.models import RotaChange
from ooh.records.store import RecordStore

MAX_REASON = 500
"""Longest reason kept for a change or a withdrawal (characters)."""
START_GRACE = timedelta(minutes=5)
"""A change may say it starts this long before now (a clock a little behind); earlier is refused."""
GAP_DAYS = 14
"""How far ahead the rota page and the daily report look for gaps."""
NO_ON_CALL_SCRIPTS = frozenset({"information", "daytime", "signpost"})
"""Scripts that never hand a resident to the on-call officer (answer, pass to daytime, signpost)."""
HANDING_OVER = frozenset({"referred", "transferred", "placed"})
"""Outcomes that need someone on call."""

_SUB_CATEGORY = re.compile(r"^[a-z0-9_]{1,100}$")

ChangeState = Literal["upcoming", "in_force", "ended", "withdrawn"]


class RotaChangeError(ValueError):
    """A change cannot be made as asked: each problem is ``field: what is wrong``."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True)
class RotaChangeView:
    """One change, detached from the database. Datetimes are aware, in UTC."""

    id: int
    po: str
    shift: Shift
    starts_at: datetime
    ends_at: datetime | None
    reason: str
    made_by: int
    made_by_name: str | None
    made_at: datetime
    withdrawn_at: datetime | None = None
    withdrawn_by: int | None = None
    withdrawn_by_name: str | None = None
    withdrawn_reason: str | None = None

    @property
    def until(self) -> datetime | None:
        """When it stops applying: its end, or its withdrawal if that came first."""
        ends = [t for t in (self.ends_at, self.withdrawn_at) if t is not None]
        return min(ends) if ends else None

    def in_force(self, at: datetime) -> bool:
        """Whether the change applies at ``at`` (its weekly window aside)."""
        until = self.until
        return self.starts_at <= at and (until is None or at < until)

    def state(self, at: datetime) -> ChangeState:
        """``upcoming`` (pre-dated), ``in_force``, ``ended`` or ``withdrawn``, as of ``at``."""
        if self.withdrawn_at is not None and self.withdrawn_at <= at:
            return "withdrawn"
        if at < self.starts_at:
            return "upcoming"
        return "in_force" if self.in_force(at) else "ended"

    def as_dict(self, at: datetime | None = None) -> dict[str, Any]:
        """The change as JSON (the API's shape)."""
        shift = self.shift
        data: dict[str, Any] = {
            "id": self.id,
            "service_option": shift.service_option,
            "sub_category": shift.sub_category,
            "days": list(shift.days),
            "from": shift.start,
            "to": shift.end,
            "stage1": shift.stage1,
            "stage2": shift.stage2,
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat() if self.ends_at else None,
            "reason": self.reason,
            "made_by": {"id": self.made_by, "name": self.made_by_name},
            "made_at": self.made_at.isoformat(),
            "withdrawn": None,
        }
        if self.withdrawn_at is not None:
            data["withdrawn"] = {
                "at": self.withdrawn_at.isoformat(),
                "by": {"id": self.withdrawn_by, "name": self.withdrawn_by_name},
                "reason": self.withdrawn_reason,
            }
        if at is not None:
            data["state"] = self.state(at)
        return data


# -- validating a change --------------------------------------------------------------------------


def _aware(value: datetime, zone: tzinfo) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)


def _moment(value: Any, field: str, zone: ZoneInfo, problems: list[str]) -> datetime | None:
    """A datetime from a datetime or ISO 8601 text (naive: local time in the rota's zone)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        return _aware(value, zone)
    if isinstance(value, str):
        try:
            return _aware(datetime.fromisoformat(value.strip()), zone)
        except ValueError:
            pass
    problems.append(f"{field}: '{value}' is not a date and time (e.g. 2026-12-24T17:00)")
    return None


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def parse_change(
    rota: Rota, options: Iterable[str], data: Mapping[str, Any], *, now: datetime
) -> tuple[Shift, datetime, datetime | None, str]:
    """Check what staff asked for: ``(shift, starts_at, ends_at, reason)``, or every problem at once.

    ``data`` has ``service_option`` (an option of the organisation, ``housing_repairs/plumber``, or
    ``"*"``), ``sub_category`` (optional), ``days`` (optional, default every day), ``from``,
    ``to``, ``stage1``, ``stage2`` (contact keys of the rota file), ``starts_at`` (optional: now),
    ``ends_at`` (optional: until withdrawn) and ``reason``.

    Raises:
        RotaChangeError: naming each bad field (``stage1: no contact 'x' in the rota ...``).
    """
    zone = ZoneInfo(rota.timezone)
    problems: list[str] = []
    known = set(options)
    option = _text(data.get("service_option"))
    sub_category: str | None = _text(data.get("sub_category")) or None
    if "/" in option:  # a canonical id such as housing_repairs/plumber is option + sub-category
        whole = option
        option, _, specific = option.partition("/")
        if sub_category not in (None, specific):
            problems.append(f"sub_category: '{sub_category}' contradicts service_option '{whole}'")
        sub_category = specific
        if whole not in known and option not in known:
            problems.append(f"service_option: '{whole}' is not one of this organisation's options")
    elif not option:
        problems.append('service_option: say which option (or "*" for any option)')
    elif option != ANY_OPTION and option not in known:
        problems.append(f"service_option: '{option}' is not one of this organisation's options")
    if sub_category is not None and not _SUB_CATEGORY.match(sub_category):
        problems.append(f"sub_category: '{sub_category}' may only use lower-case letters, digits and _")
    days = data.get("days")
    if isinstance(days, str):
        days = [d for d in re.split(r"[\s,]+", days) if d]
    raw = {
        "service_option": option or "-",
        "sub_category": sub_category,
        "days": days or None,
        "from": data.get("from"),
        "to": data.get("to"),
        "stage1": _text(data.get("stage1")),
        "stage2": _text(data.get("stage2")),
    }
    for stage in ("stage1", "stage2"):
        key = raw[stage]
        if not key:
            problems.append(f"{stage}: say which contact of the rota")
        elif key not in rota.contacts:
            problems.append(f"{stage}: no contact '{key}' in this organisation's rota")
    for bound in ("from", "to"):
        given = raw[bound]
        if given is None or (isinstance(given, str) and not given.strip()):
            problems.append(f'{bound}: give a time as HH:MM (e.g. "17:00")')
    shift: Shift | None = None
    if not problems:
        try:
            shift = Shift.parse_obj(raw)
        except ValidationError as exc:
            problems += [f"{field_path(tuple(e['loc']))}: {e['msg']}" for e in exc.errors()]
    now = _aware(now, zone)
    starts_at = _moment(data.get("starts_at"), "starts_at", zone, problems) or now
    ends_at = _moment(data.get("ends_at"), "ends_at", zone, problems)
    if starts_at < now - START_GRACE:
        problems.append("starts_at: is in the past; a change can start now or later")
    if ends_at is not None and ends_at <= starts_at:
        problems.append("ends_at: must be after starts_at")
    reason = _text(data.get("reason"))
    if not reason:
        problems.append("reason: say why (it is kept with the change), e.g. 'Asha off sick, Ben covers'")
    elif len(reason) > MAX_REASON:
        problems.append(f"reason: at most {MAX_REASON} characters")
    if problems or shift is None:
        raise RotaChangeError(problems)
    return shift, starts_at, ends_at, reason


# -- the database -----------------------------------------------------------------------------------


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(timezone.utc)


def _views(session: Session, rows: Sequence[RotaChange]) -> list[RotaChangeView]:
    ids = {r.made_by for r in rows} | {r.withdrawn_by for r in rows if r.withdrawn_by is not None}
    names = dict(session.execute(select(StaffUser.id, StaffUser.name).where(StaffUser.id.in_(ids))).all())
    views = []
    for row in rows:
        shift = Shift.parse_obj(
            {
                "service_option": row.service_option,
                "sub_category": row.sub_category,
                "days": list(row.days),
                "from": row.start_time,
                "to": row.end_time,
                "stage1": row.stage1,
                "stage2": row.stage2,
            }
        )
        views.append(
            RotaChangeView(
                id=row.id,
                po=row.po,
                shift=shift,
                starts_at=row.starts_at,
                ends_at=row.ends_at,
                reason=row.reason,
                made_by=row.made_by,
                made_by_name=names.get(row.made_by),
                made_at=row.made_at,
                withdrawn_at=row.withdrawn_at,
                withdrawn_by=row.withdrawn_by,
                withdrawn_by_name=names.get(row.withdrawn_by),
                withdrawn_reason=row.withdrawn_reason,
            )
        )
    return views


def add_change(
    store: RecordStore,
    po: str,
    rota: Rota,
    options: Iterable[str],
    data: Mapping[str, Any],
    *,
    made_by: int,
    now: datetime,
) -> RotaChangeView:
    """Check a change (:func:`parse_change`) and keep it; it applies from its ``starts_at``.

    Raises:
        RotaChangeError: naming each bad field; nothing is stored then.
    """
    shift, starts_at, ends_at, reason = parse_change(rota, options, data, now=now)

    def work(session: Session) -> RotaChangeView:
        row = RotaChange(
            po=po,
            service_option=shift.service_option,
            sub_category=shift.sub_category,
            days=list(shift.days),
            start_time=shift.start,
            end_time=shift.end,
            stage1=shift.stage1,
            stage2=shift.stage2,
            starts_at=starts_at,
            ends_at=ends_at,
            reason=reason,
            made_by=made_by,
            made_at=_aware(now, ZoneInfo(rota.timezone)),
        )
        session.add(row)
        session.flush()
        return _views(session, [row])[0]

    return store.write(work)


def withdraw_change(
    store: RecordStore, po: str, change_id: int, *, by: int, reason: str, now: datetime
) -> RotaChangeView | None:
    """Withdraw a change of organisation ``po`` from ``now`` (kept, marked withdrawn).

    Returns:
        The withdrawn change, or ``None`` when ``po`` has no change with this id.

    Raises:
        RotaChangeError: when it was already withdrawn or is already over, or the reason is too long.
    """
    reason = reason.strip()
    if len(reason) > MAX_REASON:
        raise RotaChangeError([f"reason: at most {MAX_REASON} characters"])
    now = _aware(now, timezone.utc)

    def work(session: Session) -> RotaChangeView | None:
        row = session.get(RotaChange, change_id)
        if row is None or row.po != po:
            return None
        if row.withdrawn_at is not None:
            raise RotaChangeError([f"change: {change_id} was already withdrawn"])
        if row.ends_at is not None and row.ends_at <= now:
            raise RotaChangeError([f"change: {change_id} is already over"])
        row.withdrawn_at, row.withdrawn_by, row.withdrawn_reason = now, by, reason or None
        session.flush()
        return _views(session, [row])[0]

    return store.write(work)


def get_change(store: RecordStore, po: str, change_id: int) -> RotaChangeView | None:
    """One change of ``po`` (``None`` for another organisation's, as for one that does not exist)."""

    def work(session: Session) -> RotaChangeView | None:
        row = session.get(RotaChange, change_id)
        return None if row is None or row.po != po else _views(session, [row])[0]

    return store.read(work)


def list_changes(
    store: RecordStore, po: str, *, since: datetime | None = None, limit: int = 200
) -> list[RotaChangeView]:
    """Changes of ``po``, newest made first; with ``since``, only those still applying at or after it."""

    def work(session: Session) -> list[RotaChangeView]:
        query = select(RotaChange).where(RotaChange.po == po)
        if since is not None:
            moment = _utc(since)
            query = query.where(
                or_(RotaChange.ends_at.is_(None), RotaChange.ends_at > moment),
                or_(RotaChange.withdrawn_at.is_(None), RotaChange.withdrawn_at > moment),
            )
        rows = session.scalars(query.order_by(RotaChange.made_at.desc(), RotaChange.id.desc()).limit(limit)).all()
        return _views(session, rows)

    return store.read(work)


def changes_between(store: RecordStore, po: str, start: datetime, end: datetime) -> list[RotaChangeView]:
    """Changes of ``po`` in force at some moment of ``[start, end)`` (withdrawn ones until withdrawn)."""
    first, last = _utc(start), _utc(end)

    def work(session: Session) -> list[RotaChangeView]:
        rows = session.scalars(
            select(RotaChange)
            .where(
                RotaChange.po == po,
                RotaChange.starts_at < last,
                or_(RotaChange.ends_at.is_(None), RotaChange.ends_at > first),
                or_(RotaChange.withdrawn_at.is_(None), RotaChange.withdrawn_at > first),
            )
            .order_by(RotaChange.made_at, RotaChange.id)
        ).all()
        return [view for view in _views(session, rows) if view.until is None or view.until > view.starts_at]

    return store.read(work)


# -- the rota at a moment ---------------------------------------------------------------------------


def _key(shift: Shift) -> tuple[str, str | None]:
    return shift.service_option, shift.sub_category


@dataclass(frozen=True)
class EffectiveRota:
    """The rota at one moment, and where each of its shifts came from."""

    rota: Rota
    #: For each shift of ``rota``, the id of the change it is (``None``: a shift of the file).
    sources: tuple[int | None, ...]

    def change_of(self, on_call: OnCall | None) -> int | None:
        """The id of the change that put this person on call (``None``: the file did)."""
        return None if on_call is None else self.sources[on_call.shift_index]


def compose(rota: Rota, changes: Iterable[RotaChangeView], at: datetime) -> EffectiveRota:
    """The file rota with the changes in force at ``at``, by the rules in this module's docstring.

    Pure (no database): :func:`effective_rota` and :class:`LiveRota` load the changes.
    """
    moment = _aware(at, ZoneInfo(rota.timezone))
    local = moment.astimezone(ZoneInfo(rota.timezone)).replace(tzinfo=None)
    in_force = [c for c in changes if c.in_force(moment)]
    winners: dict[tuple[str, str | None], RotaChangeView] = {}
    for change in in_force:
        if change.shift.contains(local):
            best = winners.get(_key(change.shift))
            if best is None or (change.made_at, change.id) > (best.made_at, best.id):
                winners[_key(change.shift)] = change
    if not in_force:
        return EffectiveRota(rota, (None,) * len(rota.shifts))
    newest_first = sorted(winners.values(), key=lambda c: (c.made_at, c.id), reverse=True)
    waiting = [c for c in in_force if not c.shift.contains(local)]
    shifts: list[Shift] = [c.shift for c in newest_first] + [c.shift for c in waiting]
    sources: list[int | None] = []
    sources.extend(c.id for c in [*newest_first, *waiting])
    for shift in rota.shifts:
        if _key(shift) not in winners:
            shifts.append(shift)
            sources.append(None)
    return EffectiveRota(replace(rota, shifts=tuple(shifts)), tuple(sources))


def effective_rota(store: RecordStore, po: str, rota: Rota, at: datetime) -> Rota:
    """The rota of organisation ``po`` as it stands at ``at``: the file's plus the changes in force.

    Ask the result about ``at`` itself (``rota.on_call(option, sub_category, at)``): a change in
    force at ``at`` replaces file shifts only while its window contains ``at``. Contacts and the
    escalation contact are the file's. Reads the database once (run it in a thread from async code).

    Args:
        store: The records database.
        po: The organisation id.
        rota: The organisation's rota file (``Organisation.rota``).
        at: The moment (aware; naive is taken as local time in the rota's zone).
    """
    moment = _aware(at, ZoneInfo(rota.timezone))
    changes = changes_between(store, po, moment, moment + timedelta(microseconds=1))
    return compose(rota, changes, moment).rota


class LiveRota:
    """The rota of one organisation over a period, with its changes loaded once (gaps, the rota page).

    Call it with a moment in the period for the :class:`Rota` as it stands then.
    """

    def __init__(self, rota: Rota, changes: Sequence[RotaChangeView]) -> None:
        self.rota = rota
        self.changes = tuple(changes)

    @classmethod
    def load(cls, store: RecordStore, po: str, rota: Rota, start: datetime, end: datetime) -> LiveRota:
        """The file rota and every change of ``po`` in force at some moment of ``[start, end)``."""
        return cls(rota, changes_between(store, po, start, end))

    def at(self, moment: datetime) -> EffectiveRota:
        """The rota at ``moment`` and where each shift came from."""
        return compose(self.rota, self.changes, moment)

    def __call__(self, moment: datetime) -> Rota:
        """The rota as it stands at ``moment``."""
        return self.at(moment).rota

    def boundaries(self) -> list[datetime]:
        """Moments when a change starts or stops applying."""
        found = [c.starts_at for c in self.changes]
        found += [c.until for c in self.changes if c.until is not None]
        return found


# -- who is on call, and the gaps -------------------------------------------------------------------


@dataclass(frozen=True)
class OnCallRow:
    """Who is on call for one option (and sub-category) at a moment."""

    service_option: str
    sub_category: str | None
    on_call: OnCall | None
    #: The change that put them there (``None``: the rota file, or nobody).
    change_id: int | None

    @property
    def label(self) -> str:
        """``housing_repairs/plumber``, ``noise``."""
        return f"{self.service_option}/{self.sub_category}" if self.sub_category else self.service_option

    def as_dict(self) -> dict[str, Any]:
        """As JSON: the option, and each stage's contact key and name (no email or phone)."""
        person = self.on_call
        return {
            "service_option": self.service_option,
            "sub_category": self.sub_category,
            "stage1": None if person is None else {"key": person.stage1_key, "name": person.stage1.name},
            "stage2": None if person is None else {"key": person.stage2_key, "name": person.stage2.name},
            "change_id": self.change_id,
        }


def who_is_on_call(live: LiveRota, options: Iterable[str], at: datetime) -> list[OnCallRow]:
    """For each option (and each sub-category the rota names for it), who is on call at ``at``."""
    effective = live.at(at)
    wanted: list[tuple[str, str | None]] = []
    for option in sorted(set(options)):
        base, _, sub = option.partition("/")
        wanted.append((base, sub or None))
    named = {(s.service_option, s.sub_category) for s in effective.rota.shifts if s.sub_category}
    bases = {base for base, _ in wanted}
    wanted += [key for key in sorted(named, key=lambda k: (k[0], k[1] or "")) if key[0] in bases]
    rows = []
    for option, sub_category in dict.fromkeys(wanted):
        person = effective.rota.on_call(option, sub_category, at)
        rows.append(OnCallRow(option, sub_category, person, effective.change_of(person)))
    return rows


@dataclass(frozen=True)
class Gap:
    """A period when nobody is on call for an option (in the rota's local time)."""

    service_option: str
    start: datetime
    end: datetime

    @property
    def hours(self) -> float:
        """How long, in hours."""
        return (self.end - self.start).total_seconds() / 3600

    def describe(self) -> str:
        """``noise: Sat 28 Nov 2026 03:00 to Sat 28 Nov 2026 20:00 (17 hours)``."""
        hours = f"{self.hours:g} hour{'' if self.hours == 1 else 's'}"
        return f"{self.service_option}: {self.start:%a %d %b %Y %H:%M} to {self.end:%a %d %b %Y %H:%M} ({hours})"

    def as_dict(self) -> dict[str, Any]:
        """As JSON."""
        return {
            "service_option": self.service_option,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "hours": round(self.hours, 2),
        }


def needs_on_call(config: OptionConfig) -> bool:
    """Whether an option can hand a resident to the on-call officer (so a gap in its cover matters)."""
    if config.script not in NO_ON_CALL_SCRIPTS:
        return True
    rules = list(config.rules) + ([config.outside_hours] if config.outside_hours else [])
    return any(rule.outcome in HANDING_OVER for rule in rules)


def rota_gaps(
    rota_source: Rota | Callable[[datetime], Rota],
    options: Iterable[str],
    start: datetime,
    days: int = GAP_DAYS,
    *,
    is_open: Callable[[str, datetime], bool] | None = None,
) -> list[Gap]:
    """Every period in ``days`` days from ``start`` when nobody is on call for one of ``options``.

    The period is cut into hour-long slots (and, inside an hour, at the minutes where a shift,
    the organisation's hours or a change begin or end, so a shift ending at 17:30 leaves a gap
    from 17:30, not from 17:00); each piece with nobody on call for an option is a gap, and
    consecutive pieces merge into one readable period per option.

    Args:
        rota_source: The rota (a file rota), or a function giving the rota at a moment
            (a :class:`LiveRota`, whose changes' start and end times are then slot edges too).
        options: Option ids (``Organisation.options`` keys; ``housing_repairs/plumber`` allowed).
        start: From when (aware; naive is local time in the rota's zone).
        days: How many days ahead.
        is_open: ``is_open(option, local moment)``: when given, only moments the option is
            operating count (an option closed at night needs no one on call then).

    Returns:
        Gaps ordered by start, then option; times in the rota's zone.
    """
    source: Callable[[datetime], Rota] = rota_source if callable(rota_source) else (lambda _at: rota_source)
    file_rota = rota_source.rota if isinstance(rota_source, LiveRota) else source(start)
    zone = ZoneInfo(file_rota.timezone)
    first = _aware(start, zone).astimezone(timezone.utc)
    end = first + timedelta(days=days)
    shifts = list(file_rota.shifts)
    extra: list[datetime] = []
    if isinstance(rota_source, LiveRota):
        shifts += [c.shift for c in rota_source.changes]
        extra = [t.astimezone(timezone.utc) for t in rota_source.boundaries()]
    minutes = {0}
    for shift in shifts:
        for text in (shift.start, shift.end):
            clock = parse_hhmm(text)
            minutes.add(clock.minute if clock else 0)
    minutes |= _hours_minutes(is_open)
    points = {first, *(t for t in extra if first < t < end)}
    hour = first.replace(minute=0, second=0, microsecond=0)
    while hour < end:
        points |= {hour + timedelta(minutes=m) for m in minutes}
        hour += timedelta(hours=1)
    ordered = sorted(p for p in points if first <= p < end)
    wanted = sorted(set(options))
    began: dict[str, datetime] = {}
    gaps: list[Gap] = []
    for point in ordered:
        local = point.astimezone(zone)
        rota = source(local)
        for option in wanted:
            uncovered = (is_open is None or is_open(option, local)) and rota.on_call(option, None, local) is None
            if uncovered:
                began.setdefault(option, local)
            elif option in began:
                gaps.append(Gap(option, began.pop(option), local))
    gaps += [Gap(option, since, end.astimezone(zone)) for option, since in began.items()]
    return sorted(gaps, key=lambda g: (g.start, g.service_option))


def _hours_minutes(is_open: Callable[[str, datetime], bool] | None) -> set[int]:
    """Minutes past the hour where an option's opening hours begin or end (``OpeningHours`` only)."""
    found: set[int] = set()
    if isinstance(is_open, OpeningHours):
        for schedule in is_open.schedules.values():
            for window in schedule.windows if schedule else ():
                for text in (window.start, window.end):
                    clock = parse_hhmm(text)
                    found.add(clock.minute if clock else 0)
    return found


class OpeningHours:
    """``is_open(option, local moment)`` from an organisation's options and profile, schedules built once."""

    def __init__(self, organisation: Organisation) -> None:
        profile = organisation.profile
        self.schedules = {option: profile.schedule(config.hours) for option, config in organisation.options.items()}

    def __call__(self, option: str, moment: datetime) -> bool:
        """Whether ``option`` operates at the local time ``moment``."""
        schedule = self.schedules.get(option)
        return schedule is None or schedule.is_open(moment.replace(tzinfo=None) if moment.tzinfo else moment)


def organisation_gaps(
    store: RecordStore, organisation: Organisation, start: datetime, days: int = GAP_DAYS
) -> list[Gap]:
    """The gaps in an organisation's live rota in the next ``days`` days, while each option operates.

    Only options that can hand a resident to the on-call officer count (:func:`needs_on_call`).

    Args:
        store: The records database (its rota changes).
        organisation: The organisation (its rota, options and hours).
        start: From when.
        days: How many days ahead.
    """
    rota = organisation.rota
    moment = _aware(start, ZoneInfo(rota.timezone))
    live = LiveRota.load(store, organisation.id, rota, moment, moment + timedelta(days=days))
    options = [option for option, config in organisation.options.items() if needs_on_call(config)]
    return rota_gaps(live, options, moment, days, is_open=OpeningHours(organisation))
