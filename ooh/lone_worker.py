"""Lone-worker support (spec 5.2.3.6): an on-call officer checks in at a site and out when safe.

An officer (a contact of the organisation's ``rota.yaml``) checks in, by the signed link to their own
page on the staff site or by a text to the service ("IN 12 Percy Grove 45"): where they are going,
for how long, and optionally the reference of the request they are attending. They check out when
they are safe (the page's button, or a text "OUT"). A visit is a row of ``lone_worker_visits``; each
step (checked in, due, alarm 1, 2 ..., acknowledged, checked out) is a row of ``lone_worker_events``
with its time.

The timer is a row in the outbox (``jobs``, kind ``lone_worker``, due at the check-out time), written
in the same transaction as the check-in, so a restart of any process loses nothing. When it comes
due and the officer has not checked out, the worker raises the alarm to their managers, by email and,
when Notify is configured and the manager has a mobile number, by text, every
``lone_worker_repeat_minutes`` until a manager presses the button behind the signed link in the
alarm, or the officer checks out late (then the managers are told to stand down).

Who the managers are (chosen at check-in, written on the visit and told to the officer): the stage 2
contact of each shift the officer is on call for as stage 1 at that moment (live rota changes
included), and the rota's ``escalation`` contact. Both at once: an officer who does not come out
is a risk to a person, so the alarm does not wait for a second step. An officer on no shift at
that moment gets the stage 2 of any shift they are stage 1 of; one with no manager at all is told
so when they check in, and the alarm is still logged.

A text check-in or check-out is answered by a text to the officer's number in the rota (never the
number the text came from), through the outbox as well (kind ``lone_worker_notice``).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ooh.jobs import ClaimedJob
from ooh.orgs.rota import OnCallContact, Rota
from ooh.records.models import Job, LoneWorkerEvent, LoneWorkerVisit
from ooh.records.references import normalise_reference
from ooh.records.store import RecordStore
from ooh.referrals.outbox import JobOutcome
from ooh.referrals.sms import SmsUnavailable, uk_mobile
from ooh.secrets import ack_secret
from ooh.settings import Settings

if TYPE_CHECKING:
    from ooh.orgs.loader import Organisation, Registry
    from ooh.runtime import Runtime

logger = logging.getLogger(__name__)

OFFICER_SALT = "ooh-lone-worker-officer"
ALARM_SALT = "ooh-lone-worker-alarm"
TIMER = "lone_worker"
"""The outbox kind of a visit's timer (key: the visit id)."""
NOTICE = "lone_worker_notice"
"""The outbox kind of a text to the officer or a stand-down to the managers (key: ``<visit>:<event>``)."""
DEFAULT_MINUTES = 60
"""A check-in that gives no time expects the officer out within an hour."""
MAX_MINUTES = 12 * 60
MAX_PLACE = 300
NOT_GIVEN = "place not given"


class LoneWorkerError(ValueError):
    """A check-in or check-out that cannot be recorded; the text is for the officer."""


@dataclass(frozen=True)
class VisitEvent:
    """One step of a visit."""

    id: int
    at: datetime
    kind: str
    text: str
    data: dict[str, Any] | None


@dataclass(frozen=True)
class Visit:
    """A snapshot of one visit and its steps (oldest first). Times are aware UTC."""

    id: int
    po: str
    contact_key: str
    place: str
    reference: str | None
    channel: str
    minutes: int
    checked_in_at: datetime
    due_at: datetime
    checked_out_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    alarms: int
    managers: tuple[str, ...]
    events: tuple[VisitEvent, ...] = ()

    @property
    def open(self) -> bool:
        """The officer has not checked out."""
        return self.checked_out_at is None


# -- signed links ------------------------------------------------------------------------------------


def _serializer(settings: Settings, salt: str) -> URLSafeSerializer:
    return URLSafeSerializer(ack_secret(settings), salt=salt)


def _base(settings: Settings) -> str:
    return settings.public_staff_url.rstrip("/")


def officer_token(settings: Settings, po: str, contact_key: str) -> str:
    """A token that opens the lone-worker page of one rota contact (and nothing else)."""
    return _serializer(settings, OFFICER_SALT).dumps({"p": po, "c": contact_key})


def read_officer_token(settings: Settings, token: str) -> tuple[str, str] | None:
    """``(organisation, contact key)`` of a genuine officer token, else None."""
    data = _load(settings, OFFICER_SALT, token)
    if data is None or not isinstance(data.get("p"), str) or not isinstance(data.get("c"), str):
        return None
    return data["p"], data["c"]


def officer_link(settings: Settings, po: str, contact_key: str) -> str:
    """The officer's own check-in/check-out page: keep it on the phone's home screen."""
    return f"{_base(settings)}/lone-worker/{officer_token(settings, po, contact_key)}"


def alarm_token(settings: Settings, visit_id: int, contact_key: str) -> str:
    """A token that acknowledges the alarm of one visit on behalf of one manager."""
    return _serializer(settings, ALARM_SALT).dumps({"v": visit_id, "c": contact_key})


def read_alarm_token(settings: Settings, token: str) -> tuple[int, str] | None:
    """``(visit id, contact key)`` of a genuine alarm token, else None."""
    data = _load(settings, ALARM_SALT, token)
    if data is None or not isinstance(data.get("v"), int) or not isinstance(data.get("c"), str):
        return None
    return data["v"], data["c"]


def alarm_link(settings: Settings, visit_id: int, contact_key: str) -> str:
    """The link in an alarm: a page with one button, "I am dealing with this"."""
    return f"{_base(settings)}/alarm/{alarm_token(settings, visit_id, contact_key)}"


def _load(settings: Settings, salt: str, token: str) -> dict[str, Any] | None:
    if len(token) > 300:
        return None
    try:
        data = _serializer(settings, salt).loads(token)
    except BadSignature:
        return None
    return data if isinstance(data, dict) else None


# -- who is alarmed ----------------------------------------------------------------------------------


def managers_for(rota: Rota, contact_key: str, at: datetime) -> list[str]:
    """The contacts an officer's alarm goes to (see the module's docstring), in order, each once."""
    local = at.astimezone(ZoneInfo(rota.timezone)).replace(tzinfo=None)
    mine = [shift for shift in rota.shifts if shift.stage1 == contact_key]
    now_on = [shift for shift in mine if shift.contains(local)] or mine
    found: list[str] = []
    for shift in now_on:
        if shift.stage2 != contact_key and shift.stage2 not in found:
            found.append(shift.stage2)
    if rota.escalation and rota.escalation != contact_key and rota.escalation not in found:
        found.append(rota.escalation)
    return found


def _rota_at(store: RecordStore, org: Organisation, at: datetime) -> Rota:
    """The organisation's rota as it stands at ``at`` (live changes included when they can be read)."""
    try:
        from ooh.orgs.live_rota import effective_rota

        return effective_rota(store, org.id, org.rota, at)
    except Exception:  # the live changes cannot be read: the file's rota still names the managers
        logger.exception("Live rota changes of %s could not be read for a lone-worker check-in", org.id)
        return org.rota


def _contact(org: Organisation, key: str) -> OnCallContact:
    found = org.rota.contacts.get(key)
    if found is None:
        raise LoneWorkerError("You are not in this organisation's rota.")
    return found


def local_time(org: Organisation | None, moment: datetime) -> str:
    """``HH:MM`` in the organisation's rota time zone."""
    zone = ZoneInfo(org.rota.timezone if org else "Europe/London")
    return f"{moment.astimezone(zone):%H:%M}"


# -- the store ---------------------------------------------------------------------------------------


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime given to lone-worker support; attach a time zone first")
    return moment.astimezone(timezone.utc)


def _view(session: Session, row: LoneWorkerVisit) -> Visit:
    events = session.scalars(
        select(LoneWorkerEvent).where(LoneWorkerEvent.visit_id == row.id).order_by(LoneWorkerEvent.id)
    ).all()
    return Visit(
        row.id,
        row.po,
        row.contact_key,
        row.place,
        row.reference,
        row.channel,
        row.minutes,
        row.checked_in_at,
        row.due_at,
        row.checked_out_at,
        row.acknowledged_at,
        row.acknowledged_by,
        row.alarms or 0,
        tuple(row.managers or ()),
        tuple(VisitEvent(e.id, e.at, e.kind, e.text, e.data) for e in events),
    )


def _event(session: Session, visit: LoneWorkerVisit, at: datetime, kind: str, text: str, **data: Any) -> int:
    event = LoneWorkerEvent(visit_id=visit.id, at=at, kind=kind, text=text, data=data or None)
    session.add(event)
    session.flush()
    return int(event.id)


def _notice(session: Session, visit: LoneWorkerVisit, event_id: int, at: datetime) -> None:
    session.add(Job(kind=NOTICE, key=f"{visit.id}:{event_id}", due_at=at, created_at=at))


def _stop_timer(session: Session, visit: LoneWorkerVisit, at: datetime) -> None:
    """The visit's timer has nothing left to do (checked out, or acknowledged): mark it done now."""
    session.execute(
        update(Job)
        .where(Job.kind == TIMER, Job.key == str(visit.id), Job.done_at.is_(None))
        .values(done_at=at, lease_owner=None, lease_until=None)
    )


def get_visit(store: RecordStore, visit_id: int) -> Visit | None:
    """One visit, or None."""

    def work(session: Session) -> Visit | None:
        row = session.get(LoneWorkerVisit, visit_id)
        return None if row is None else _view(session, row)

    return store.read(work)


def _open_rows(session: Session, po: str, contact_key: str) -> Sequence[LoneWorkerVisit]:
    statement = (
        select(LoneWorkerVisit)
        .where(
            LoneWorkerVisit.po == po,
            LoneWorkerVisit.contact_key == contact_key,
            LoneWorkerVisit.checked_out_at.is_(None),
        )
        .order_by(LoneWorkerVisit.id)
    )
    return session.scalars(statement).all()


def open_visit(store: RecordStore, po: str, contact_key: str) -> Visit | None:
    """The officer's visit they have not checked out of (the latest), or None."""

    def work(session: Session) -> Visit | None:
        rows = _open_rows(session, po, contact_key)
        return _view(session, rows[-1]) if rows else None

    return store.read(work)


def check_in(
    store: RecordStore,
    registry: Registry,
    po: str,
    contact_key: str,
    place: str,
    minutes: int | None,
    now: datetime,
    *,
    reference: str | None = None,
    channel: str = "web",
) -> Visit:
    """Record a check-in and set its timer (one transaction); returns the visit.

    A check-in while an earlier visit is open checks out of that one ("checked out by a new
    check-in"): the officer is able to use their phone, and the new visit's time is what counts.
    With no place but a reference, the request's address is used.

    Raises:
        LoneWorkerError: unknown organisation or contact, a time that is not 1 to 720 minutes.
    """
    org = registry.get(po)
    if org is None:
        raise LoneWorkerError("This organisation is not known.")
    _contact(org, contact_key)
    minutes = DEFAULT_MINUTES if minutes is None else minutes
    if not 1 <= minutes <= MAX_MINUTES:
        raise LoneWorkerError(f"Give the time you expect to be there in minutes, from 1 to {MAX_MINUTES}.")
    ref = normalise_reference(reference) if reference else None
    request = store.get(ref) if ref else None
    if request is not None and request.po != po:
        request, ref = None, None
    place = " ".join((place or "").split())[:MAX_PLACE]
    if not place and request is not None and request.address:
        place = " ".join(request.address.split())[:MAX_PLACE]
    place = place or NOT_GIVEN
    moment = _utc(now)
    due = moment + timedelta(minutes=minutes)
    managers = managers_for(_rota_at(store, org, moment), contact_key, moment)
    names = ", ".join(org.rota.contacts[key].name for key in managers) or "nobody (no manager in the rota)"

    def work(session: Session) -> Visit:
        for earlier in _open_rows(session, po, contact_key):
            earlier.checked_out_at = moment
            text = f"Checked out by a new check-in ({channel})"
            event_id = _event(session, earlier, moment, "checked_out", text, by="new check-in")
            _stop_timer(session, earlier, moment)
            if earlier.alarms:
                _notice(session, earlier, event_id, moment)
        row = LoneWorkerVisit(
            po=po,
            contact_key=contact_key,
            place=place,
            reference=ref,
            channel=channel,
            minutes=minutes,
            checked_in_at=moment,
            due_at=due,
            alarms=0,
            managers=managers,
        )
        session.add(row)
        session.flush()
        text = (
            f"Checked in by {channel} at {local_time(org, moment)}: {place}, expected out by {local_time(org, due)} "
            f"({minutes} minutes); the alarm would go to {names}"
        )
        event_id = _event(session, row, moment, "checked_in", text, by=channel, managers=managers)
        session.add(Job(kind=TIMER, key=str(row.id), due_at=due, created_at=moment))
        if channel == "sms":
            _notice(session, row, event_id, moment)
        return _view(session, row)

    visit = store.write(work)
    logger.info("Lone worker %s/%s checked in (visit %d)", po, contact_key, visit.id)
    if request is not None:
        note = f"On-call officer {contact_key} checked in at the site at {local_time(org, moment)}"
        note += f" (lone-worker visit {visit.id})"
        store.add_update(request.reference, "note", note, {"lone_worker_visit": visit.id}, now=now)
    return visit


def check_out(store: RecordStore, po: str, contact_key: str, now: datetime, *, channel: str = "web") -> Visit | None:
    """Record that the officer is safe; returns the visit, or None when they were not checked in.

    A check-out after the alarm was raised tells the managers to stand down (through the outbox).
    """
    moment = _utc(now)

    def work(session: Session) -> Visit | None:
        rows = _open_rows(session, po, contact_key)
        if not rows:
            return None
        for row in rows:
            row.checked_out_at = moment
            late = moment > row.due_at
            text = f"Checked out safe by {channel}"
            if late:
                text += f", {round((moment - row.due_at).total_seconds() / 60)} minutes after the time given"
                if row.alarms:
                    plural = "s" if row.alarms != 1 else ""
                    text += f" ({row.alarms} alarm{plural} raised: the managers are told to stand down)"
            event_id = _event(session, row, moment, "checked_out", text, by=channel, late=late)
            _stop_timer(session, row, moment)
            if channel == "sms" or row.alarms:
                _notice(session, row, event_id, moment)
        return _view(session, rows[-1])

    visit = store.write(work)
    if visit is not None:
        logger.info("Lone worker %s/%s checked out (visit %d)", po, contact_key, visit.id)
    return visit


def acknowledge_alarm(store: RecordStore, settings: Settings, token: str, now: datetime) -> Visit | None:
    """Record that a manager is dealing with the alarm (once): it stops repeating. None: not genuine."""
    found = read_alarm_token(settings, token)
    if found is None:
        return None
    visit_id, key = found
    moment = _utc(now)

    def work(session: Session) -> Visit | None:
        row = session.get(LoneWorkerVisit, visit_id)
        if row is None:
            return None
        if row.acknowledged_at is None:
            row.acknowledged_at, row.acknowledged_by = moment, key
            _event(session, row, moment, "acknowledged", f"Alarm acknowledged by {key}", contact=key)
            _stop_timer(session, row, moment)
        return _view(session, row)

    return store.write(work)


# -- texts from officers -----------------------------------------------------------------------------

_IN = re.compile(r"^\W*(?:check(?:ing)?[\s-]*in|going\s+in(?:to|side)?|in)\b[\s:,.-]*(.*)$", re.I | re.S)
_OUT = re.compile(
    r"^\W*(?:check(?:ing|ed)?[\s-]*out|out|out\s+safe|safe|left|left\s+site|all\s+clear|i'?m\s+out|i\s+am\s+out)"
    r"(?:\s+now)?\W*$",
    re.I,
)
_TIME = re.compile(
    r"[\s,;.-]*(?:(?:expect(?:ed|ing)?|for|about|approx\.?|around|~)\s*)?"
    r"(\d{1,4})\s*(m|mins?|minutes?|h|hrs?|hours?)?\W*$",
    re.I,
)
_REFERENCE = re.compile(r"\b([A-Za-z]{2,4})[\s.-]*(\d{8})[\s.-]*(\d{4,6})\b")
_FILLER = re.compile(r"[\s,;.:-]+(?:expect(?:ed|ing)?|for|about|around)?[\s,;.:-]*$", re.I)


@dataclass(frozen=True)
class TextCheckIn:
    """What an "IN ..." text says."""

    place: str
    minutes: int | None
    reference: str | None


def parse_check_in(rest: str) -> TextCheckIn:
    """The place, minutes and reference of the words after "IN".

    ``12 Percy Grove 45``, ``12 Percy Grove, expect 45 minutes``, ``ENF-20261121-0042 1h``.
    """
    reference = None
    match = _REFERENCE.search(rest)
    if match:
        reference = normalise_reference("".join(match.groups()))
        rest = (rest[: match.start()] + " " + rest[match.end() :]).strip()
    minutes = None
    timed = _TIME.search(rest)
    if timed:
        number, unit = int(timed.group(1)), (timed.group(2) or "m").lower()
        minutes = number * 60 if unit.startswith("h") else number
        rest = rest[: timed.start()]
    place = _FILLER.sub("", rest).strip(" ,;.:-")
    return TextCheckIn(place, minutes, reference)


def _senders(registry: Registry, source_number: str) -> list[tuple[str, str]]:
    number = uk_mobile(source_number)
    if number is None:
        return []
    return sorted(
        (org.id, key)
        for org in registry.organisations.values()
        for key, contact in org.rota.contacts.items()
        if uk_mobile(contact.phone) == number
    )


def text_command(store: RecordStore, registry: Registry, source_number: str, message: str, now: datetime) -> str | None:
    """Act on an officer's text: "IN <where> <minutes>" checks in, "OUT" checks out.

    Only texts from the mobile number of a rota contact count; anything else changes nothing.
    Returns what was done (``checked in``, ``checked out``, ``not checked in``), or None when the
    text was not a lone-worker command from a rota contact.
    """
    who = _senders(registry, source_number)
    if not who:
        return None
    text = (message or "")[:1000]
    if _OUT.match(_REFERENCE.sub(" ", text)):
        for po, key in who:
            if check_out(store, po, key, now, channel="sms") is not None:
                return "checked out"
        return "not checked in"
    checked_in = _IN.match(text)
    if checked_in is None:
        return None
    said = parse_check_in(checked_in.group(1))
    po, key = who[0]
    if said.reference:  # the reference says which organisation, when the number is in several rotas
        request = store.get(said.reference)
        po, key = next(((p, k) for p, k in who if request is not None and p == request.po), who[0])
    place = said.place
    if not place:
        earlier = open_visit(store, po, key)  # "IN 30" while in: more time at the same place
        place = earlier.place if earlier is not None else ""
    try:
        check_in(store, registry, po, key, place, said.minutes, now, reference=said.reference, channel="sms")
    except LoneWorkerError:
        logger.warning("A lone-worker text check-in from %s/%s could not be recorded", po, key)
        return "not understood"
    return "checked in"


# -- the worker's jobs -------------------------------------------------------------------------------


def _record(store: RecordStore, visit_id: int, now: datetime, kind: str, text: str, **changes: Any) -> None:
    data = changes.pop("data", None)

    def work(session: Session) -> None:
        row = session.get(LoneWorkerVisit, visit_id)
        if row is None:
            return
        for name, value in changes.items():
            setattr(row, name, value)
        session.add(LoneWorkerEvent(visit_id=visit_id, at=_utc(now), kind=kind, text=text, data=data))

    store.write(work)


def alarm_email(
    settings: Settings, org: Organisation, visit: Visit, manager_key: str, number: int, *, stand_down: bool = False
) -> EmailMessage:
    """The email to one manager: the alarm (with its acknowledgement link), or the stand-down."""
    officer = org.rota.contacts.get(visit.contact_key)
    name = officer.name if officer else visit.contact_key
    manager = org.rota.contacts[manager_key]
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = manager.email
    message["Date"] = format_datetime(datetime.now(timezone.utc))
    message["X-OOH-Lone-Worker-Visit"] = str(visit.id)
    if visit.reference:
        message["X-OOH-Reference"] = visit.reference
    details = [
        f"Officer: {name} ({visit.contact_key})",
        f"Officer's phone: {officer.phone if officer and officer.phone else 'not in the rota'}",
        f"Where: {visit.place}",
        f"Checked in: {local_time(org, visit.checked_in_at)}, expected out by {local_time(org, visit.due_at)}",
        f"Request: {visit.reference or 'none given'}",
        f"Organisation: {org.profile.name}",
    ]
    if stand_down:
        out = local_time(org, visit.checked_out_at) if visit.checked_out_at else "now"
        message["Subject"] = f"[OOH] Lone worker safe: {name} checked out at {out}"
        message["Message-ID"] = f"<lone-worker.{visit.id}.safe.{manager_key}@ooh-agent.local>"
        lines = [f"Stand down: {name} has checked out safe at {out}.", "", *details]
    else:
        message["Subject"] = f"[OOH] LONE WORKER ALARM {number}: {name} has not checked out"
        message["Message-ID"] = f"<lone-worker.{visit.id}.alarm{number}.{manager_key}@ooh-agent.local>"
        every = f"{settings.lone_worker_repeat_minutes:g}"
        lines = [
            f"LONE WORKER ALARM (alarm {number}): {name} has not checked out.",
            "",
            *details,
            "",
            "Call them now. If you cannot reach them, follow your lone-working procedure;",
            "if they may be in danger, call 999.",
            "",
            f"This alarm is sent again every {every} minutes until someone acknowledges it or they check out.",
            f"Acknowledge that you are dealing with it: {alarm_link(settings, visit.id, manager_key)}",
        ]
    message.set_content("\n".join(lines) + "\n")
    return message


def alarm_text(settings: Settings, org: Organisation, visit: Visit, manager_key: str, number: int) -> str:
    """The alarm as a text to one manager."""
    officer = org.rota.contacts.get(visit.contact_key)
    name = officer.name if officer else visit.contact_key
    phone = f" Call {officer.phone}." if officer and officer.phone else ""
    return (
        f"{org.profile.short_name} LONE WORKER ALARM {number}: {name} has not checked out of {visit.place} "
        f"(due {local_time(org, visit.due_at)}).{phone} Acknowledge: {alarm_link(settings, visit.id, manager_key)}"
    )


async def _tell(
    runtime: Runtime, org: Organisation, visit: Visit, number: int, stand_down: bool
) -> list[dict[str, Any]]:
    """Email (and text, where possible) every manager; one outcome per try, errors as short text."""
    settings = runtime.settings
    sms = runtime.senders.sms
    outcomes: list[dict[str, Any]] = []
    for key in visit.managers:
        contact = org.rota.contacts.get(key)
        if contact is None:
            outcomes.append({"contact": key, "channel": "email", "error": "no longer in the rota"})
            continue
        try:
            message = alarm_email(settings, org, visit, key, number, stand_down=stand_down)
            await asyncio.to_thread(runtime.mailer.send, message, contact.email)
            outcomes.append({"contact": key, "channel": "email", "error": None})
        except Exception as exc:  # SMTP, network: recorded, tried again next round
            outcomes.append({"contact": key, "channel": "email", "error": type(exc).__name__})
        if contact.phone and sms.configured:
            if stand_down:
                name = org.rota.contacts[visit.contact_key].name if visit.contact_key in org.rota.contacts else ""
                body = f"{org.profile.short_name}: stand down, {name} has checked out safe from {visit.place}."
            else:
                body = alarm_text(settings, org, visit, key, number)
            try:
                await asyncio.to_thread(sms.send, contact.phone, body, f"lone-worker-{visit.id}")
                outcomes.append({"contact": key, "channel": "sms", "error": None})
            except SmsUnavailable:
                pass
            except Exception as exc:  # Notify refused or unreachable: recorded
                outcomes.append({"contact": key, "channel": "sms", "error": type(exc).__name__})
    return outcomes


def _summary(outcomes: list[dict[str, Any]]) -> str:
    sent = [f"{o['contact']} by {o['channel']}" for o in outcomes if o["error"] is None]
    failed = [f"{o['contact']} by {o['channel']} ({o['error']})" for o in outcomes if o["error"] is not None]
    text = "sent to " + ", ".join(sent) if sent else "could not be sent to anyone"
    return text + ("; failed: " + ", ".join(failed) if failed else "")


async def visit_timer(runtime: Runtime, job: ClaimedJob, now: datetime) -> JobOutcome:
    """The visit's timer: no check-out by the time given raises the alarm, again and again until answered."""
    store = runtime.store
    visit = await asyncio.to_thread(get_visit, store, int(job.key))
    if visit is None or not visit.open or visit.acknowledged_at is not None:
        return JobOutcome(True)
    if now < visit.due_at:
        return JobOutcome(False, "not due yet", again_at=visit.due_at)
    org = runtime.registry.get(visit.po)
    if org is None:
        return JobOutcome(False, f"organisation {visit.po} is not loaded")
    if visit.alarms == 0:
        text = f"Not checked out by {local_time(org, visit.due_at)}: the alarm is raised"
        await asyncio.to_thread(_record, store, visit.id, now, "due", text)
    number = visit.alarms + 1
    if not visit.managers:
        outcomes: list[dict[str, Any]] = []
        told = "has no one to go to: the rota names no manager for this officer"
        told += " (add a stage 2 or an escalation contact)"
        logger.error("Lone-worker alarm of visit %d has no manager to go to", visit.id)
    else:
        outcomes = await _tell(runtime, org, visit, number, stand_down=False)
        told = _summary(outcomes)
    data = {"alarm": number, "outcomes": outcomes}
    await asyncio.to_thread(_record, store, visit.id, now, "alarm", f"Alarm {number} {told}", alarms=number, data=data)
    repeat = timedelta(minutes=runtime.settings.lone_worker_repeat_minutes)
    if outcomes and not any(o["error"] is None for o in outcomes):
        repeat = min(repeat, timedelta(seconds=runtime.settings.referral_retry_interval_seconds))
    return JobOutcome(False, "alarm raised: waiting for an acknowledgement or a check-out", again_at=now + repeat)


async def visit_notice(runtime: Runtime, job: ClaimedJob, now: datetime) -> JobOutcome:
    """After a text check-in or check-out, text the officer; after a late check-out, stand the managers down."""
    store = runtime.store
    visit_part, _, event_part = job.key.partition(":")
    visit = await asyncio.to_thread(get_visit, store, int(visit_part))
    event = next((e for e in visit.events if str(e.id) == event_part), None) if visit else None
    org = runtime.registry.get(visit.po) if visit else None
    if visit is None or event is None or org is None:
        return JobOutcome(True, "nothing to tell")
    done = {str((e.data or {}).get("for")) for e in visit.events if e.kind == "texted"}
    if event_part in done:
        return JobOutcome(True)
    notes = []
    if event.kind == "checked_out" and visit.alarms:
        outcomes = await _tell(runtime, org, visit, visit.alarms, stand_down=True)
        notes.append("Managers told to stand down: " + _summary(outcomes))
    if (event.data or {}).get("by") == "sms":
        officer = org.rota.contacts.get(visit.contact_key)
        body = officer_text(runtime.settings, org, visit, event)
        try:
            if officer is None or not officer.phone:
                raise SmsUnavailable("no mobile number for this officer in the rota")
            await asyncio.to_thread(runtime.senders.sms.send, officer.phone, body, f"lone-worker-{visit.id}")
            notes.append("Officer texted: " + body.split(".")[0])
        except SmsUnavailable as exc:
            notes.append(f"Officer not texted: {exc}")
        except Exception as exc:  # Notify away: try again
            return JobOutcome(False, f"text to the officer failed ({type(exc).__name__})")
    await asyncio.to_thread(
        _record, store, visit.id, now, "texted", "; ".join(notes) or "Nothing to send", data={"for": event_part}
    )
    return JobOutcome(True)


def officer_text(settings: Settings, org: Organisation, visit: Visit, event: VisitEvent) -> str:
    """The text answering an officer's check-in or check-out."""
    if event.kind == "checked_in":
        names = ", ".join(org.rota.contacts[k].name for k in visit.managers if k in org.rota.contacts)
        who = f"{names} will be alerted" if names else "NOBODY is set up to be alerted: call your manager"
        link = officer_link(settings, visit.po, visit.contact_key)
        return (
            f"Checked in: {visit.place}, out by {local_time(org, visit.due_at)}. Text OUT when safe, or open {link} . "
            f"If you have not checked out by then, {who}."
        )
    text = f"Checked out at {local_time(org, event.at)}. Thank you, stay safe."
    if visit.alarms:
        text += " Your manager was alerted and is being told you are safe."
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ooh.lone_worker link <organisation> <contact key>``: print an officer's own link."""
    import sys

    from ooh.orgs.loader import load_registry
    from ooh.settings import get_settings

    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 3 or args[0] != "link":
        print("usage: python -m ooh.lone_worker link <organisation> <contact key>", file=sys.stderr)
        return 2
    settings = get_settings()
    org = load_registry(settings.service_scripts_dir).get(args[1])
    if org is None or args[2] not in org.rota.contacts:
        print(f"no contact '{args[2]}' in the rota of '{args[1]}'", file=sys.stderr)
        return 1
    print(officer_link(settings, org.id, args[2]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
