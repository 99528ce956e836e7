"""The daily rota-gap report: each organisation is told in advance when nobody is on call.

Every morning at :data:`REPORT_HOUR` (local time) the worker runs one ``rota_gaps`` job per
organisation (key ``<po>:<YYYY-MM-DD>``, so each organisation gets at most one report a day). It
works out the gaps of the organisation's live rota (the file plus staff's changes) in the next
:data:`~ooh.orgs.live_rota.GAP_DAYS` days, for the options that can hand a resident over, while
each operates (:func:`ooh.orgs.live_rota.organisation_gaps`), and when there is at least one gap
emails the list to the organisation, through the same mailer as referrals.

**Who receives it** (:func:`report_recipient`): the rota's ``escalation`` contact; a rota without
one sends it to its **most used stage-2 contact** (the person shifts escalate to, usually the duty
manager; on a tie, the first named in the file).

Each job schedules the next day's before it sends, so a failed send (retried with the outbox's
back-off) never stops the daily chain; the worker schedules the first report of every organisation
when it starts (:func:`schedule_gap_reports`, idempotent).
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
from collections import Counter
from datetime import date, datetime, time, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from zoneinfo import ZoneInfo

from ooh.jobs import ClaimedJob, Jobs
from ooh.orgs.live_rota import GAP_DAYS, Gap, organisation_gaps
from ooh.orgs.loader import Organisation, Registry
from ooh.orgs.rota import OnCallContact, Rota
from ooh.referrals.outbox import JobOutcome
from ooh.runtime import Runtime
from ooh.settings import Settings

logger = logging.getLogger(__name__)

JOB_KIND = "rota_gaps"
"""The outbox's kind for the report (``ooh.records.models.JOB_KINDS``)."""
REPORT_HOUR = 7
"""Local hour the report is due each day: before the working day, so gaps can be filled in it."""


def job_key(po: str, day: date) -> str:
    """``enfield:2026-11-21``: one report per organisation per day."""
    return f"{po}:{day.isoformat()}"


def _split_key(key: str) -> tuple[str, date | None]:
    po, _, day = key.rpartition(":")
    try:
        return po, date.fromisoformat(day)
    except ValueError:
        return po, None


def next_report_time(now: datetime, zone: str) -> datetime:
    """The first report time (``REPORT_HOUR`` local) strictly after ``now``."""
    local = now.astimezone(ZoneInfo(zone))
    due = datetime.combine(local.date(), time(REPORT_HOUR), tzinfo=ZoneInfo(zone))
    return due if due > local else datetime.combine(local.date() + timedelta(days=1), time(REPORT_HOUR), due.tzinfo)


def schedule_gap_reports(jobs: Jobs, registry: Registry, settings: Settings, now: datetime) -> None:
    """Make sure every organisation has its next report scheduled (idempotent; the worker's start)."""
    due = next_report_time(now, settings.timezone)
    for po in sorted(registry.organisations):
        jobs.schedule(JOB_KIND, job_key(po, due.date()), due)


def report_recipient(rota: Rota) -> tuple[str, OnCallContact] | None:
    """Who is told about gaps: the escalation contact, else the most used stage-2 contact."""
    if rota.escalation is not None:
        return rota.escalation, rota.contacts[rota.escalation]
    counts = Counter(shift.stage2 for shift in rota.shifts)
    if not counts:
        return None
    key = max(counts, key=lambda k: (counts[k], -list(counts).index(k)))
    return key, rota.contacts[key]


def gap_report_body(
    organisation: Organisation, gaps: list[Gap], *, as_of: datetime, staff_url: str, recipient_key: str
) -> str:
    """The email's text: the gaps grouped by option, and where to change the rota."""
    name = organisation.profile.name
    lines = [
        f"Rota gaps for {name} in the next {GAP_DAYS} days",
        "",
        f"As of {as_of:%A %d %B %Y, %H:%M}, nobody is on call for these options at these times. A resident",
        "handed to the on-call officer then would reach no one until the rota is changed.",
        "",
    ]
    by_option: dict[str, list[Gap]] = {}
    for gap in gaps:
        by_option.setdefault(gap.service_option, []).append(gap)
    for option in sorted(by_option):
        lines.append(option)
        lines += [f"  {gap.describe().partition(': ')[2]}" for gap in by_option[option]]
        lines.append("")
    lines += [
        f"Add a change to the rota (now or from a later date): {staff_url.rstrip('/')}/staff/rota/{organisation.id}",
        "",
        f"You receive this daily report, only when there are gaps, as the rota's contact '{recipient_key}'.",
    ]
    return "\n".join(lines) + "\n"


def gap_report_message(
    settings: Settings,
    organisation: Organisation,
    gaps: list[Gap],
    contact: OnCallContact,
    *,
    recipient_key: str,
    day: date,
    as_of: datetime,
) -> EmailMessage:
    """The report as an email (the same ``Message-ID`` on every try of one day's report)."""
    message = EmailMessage()
    plural = "" if len(gaps) == 1 else "s"
    message["Subject"] = f"[OOH] Rota gaps: {organisation.profile.name}, next {GAP_DAYS} days ({len(gaps)} gap{plural})"
    message["From"] = settings.smtp_from
    message["To"] = contact.email
    message["Date"] = format_datetime(as_of)
    message["Message-ID"] = f"<rota-gaps.{organisation.id}.{day.isoformat()}@ooh-agent.local>"
    message["X-OOH-Rota-Gaps"] = organisation.id
    message.set_content(
        gap_report_body(
            organisation, gaps, as_of=as_of, staff_url=settings.public_staff_url, recipient_key=recipient_key
        )
    )
    return message


async def report_rota_gaps(runtime: Runtime, job: ClaimedJob, now: datetime) -> JobOutcome:
    """The worker's handler for a ``rota_gaps`` job: schedule tomorrow's, then email today's gaps if any."""
    po, day = _split_key(job.key)
    organisation = runtime.registry.get(po)
    if organisation is None or day is None:
        return JobOutcome(True, "no such organisation")
    following = next_report_time(now, runtime.settings.timezone)
    await asyncio.to_thread(Jobs(runtime.store).schedule, JOB_KIND, job_key(po, following.date()), following)
    as_of = now.astimezone(ZoneInfo(organisation.rota.timezone))
    gaps = await asyncio.to_thread(organisation_gaps, runtime.store, organisation, as_of)
    recipient = report_recipient(organisation.rota)
    if not gaps or recipient is None:
        return JobOutcome(True, "no gaps")
    key, contact = recipient
    message = gap_report_message(runtime.settings, organisation, gaps, contact, recipient_key=key, day=day, as_of=as_of)
    try:
        await asyncio.to_thread(runtime.mailer.send, message, contact.email)
    except (smtplib.SMTPException, OSError) as exc:
        logger.warning("Rota gap report for %s could not be sent: %s", po, type(exc).__name__)
        return JobOutcome(False, f"gap report not sent: {type(exc).__name__}: {exc}"[:300])
    logger.info("Rota gap report for %s sent to %s (%d gaps)", po, key, len(gaps))
    return JobOutcome(True, f"{len(gaps)} gaps reported")
