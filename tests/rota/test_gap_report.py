"""The daily rota-gap report: run by the worker, sent to a real SMTP server, once a day, only with gaps."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from harness.mailbox import Mailbox
from harness.outbox import work_until
from ooh.jobs import Jobs
from ooh.orgs.gap_report import JOB_KIND, job_key, next_report_time, report_recipient
from ooh.records.models import Job
from ooh.runtime import Runtime, build_runtime
from ooh.settings import Settings
from tests.rota.conftest import make_rota, shift
from tests.rota.test_rota_site import without_star_shift

LONDON = ZoneInfo("Europe/London")


def runtime_for(tmp_path: Path, scripts: Path, smtp_port: int) -> Runtime:
    settings = Settings(  # type: ignore[call-arg]
        database_url=f"sqlite:///{tmp_path / 'records.db'}",
        secrets_dir=tmp_path / "secrets",
        service_scripts_dir=scripts,
        smtp_port=smtp_port,
        worker_poll_seconds=0.1,
        public_staff_url="https://staff.ooh.example",
    )
    return build_runtime(settings)


def jobs_of(runtime: Runtime) -> dict[str, tuple[datetime, bool]]:
    """Rota-gap jobs: key -> (due, done)."""
    rows = runtime.store.read(lambda s: s.scalars(select(Job).where(Job.kind == JOB_KIND)).all())
    return {row.key: (row.due_at, row.done_at is not None) for row in rows}


def test_an_organisation_with_gaps_is_emailed_the_list_once_a_day(tmp_path: Path, mailbox: tuple[Mailbox, int]) -> None:
    box, port = mailbox
    runtime = runtime_for(tmp_path, without_star_shift(tmp_path), port)
    # The report day now under way: the day of the last 07:00 before now (before 07:00, yesterday), so
    # its key never collides with the next report's, whatever the time of day the test runs.
    today = (next_report_time(datetime.now(timezone.utc), "Europe/London") - timedelta(days=1)).date()
    jobs = Jobs(runtime.store)
    for po in ("enfield", "barnet"):  # today's reports, due now (the worker's clock is the real one)
        jobs.schedule(JOB_KIND, job_key(po, today), datetime.now(timezone.utc))
    todays = [job_key("enfield", today), job_key("barnet", today)]
    work_until(runtime, lambda: all(jobs_of(runtime).get(key, (None, False))[1] for key in todays), 20)
    work_until(runtime, lambda: False, 1)  # anything else due would have gone by now

    assert len(box.messages) == 1, [m["Subject"] for m in box.messages]
    message = box.messages[0]
    assert message["To"] == "duty.manager@enfield.example", "no escalation contact: the most used stage 2"
    assert str(message["Subject"]).startswith("[OOH] Rota gaps: London Borough of Enfield, next 14 days (")
    body = str(message.get_payload(decode=True), "utf-8").replace("\r\n", "\n")
    assert "Rota gaps for London Borough of Enfield in the next 14 days" in body
    assert "\nanti_social_behaviour\n  " in body and "\nhousing_repairs\n" not in body
    assert "https://staff.ooh.example/staff/rota/enfield" in body

    scheduled = jobs_of(runtime)
    assert scheduled[job_key("enfield", today)][1] and scheduled[job_key("barnet", today)][1], "both done"
    following = next_report_time(datetime.now(timezone.utc), "Europe/London")
    for po in ("enfield", "barnet", "peabody"):  # tomorrow's (and, from the worker's start, everyone's next)
        due, done = scheduled[job_key(po, following.date())]
        assert (due, done) == (following, False)

    jobs.schedule(JOB_KIND, job_key("enfield", today), datetime.now(timezone.utc))  # asked again: already done
    work_until(runtime, lambda: False, 1)
    assert len(box.messages) == 1, "once a day"


def test_the_escalation_contact_receives_the_report_when_the_rota_names_one() -> None:
    rota = make_rota(shift("noise", "officer_a"), shift("parking", "officer_b", stage2="duty"), escalation="plumber")
    assert report_recipient(rota) == ("plumber", rota.contacts["plumber"])
    without = make_rota(shift("noise", "officer_a", stage2="duty"), shift("parking", "officer_b"), shift("x", "duty"))
    assert report_recipient(without) == ("manager", without.contacts["manager"]), "the most used stage 2"


def test_the_report_is_due_at_seven_local_time_the_next_time_it_comes() -> None:
    winter = datetime(2026, 11, 21, 6, 59, tzinfo=LONDON)
    assert next_report_time(winter, "Europe/London") == datetime(2026, 11, 21, 7, 0, tzinfo=LONDON)
    assert next_report_time(winter + timedelta(minutes=1), "Europe/London") == datetime(2026, 11, 22, 7, tzinfo=LONDON)
    summer = datetime(2026, 6, 1, 6, 30, tzinfo=timezone.utc)  # 07:30 in London
    assert next_report_time(summer, "Europe/London") == datetime(2026, 6, 2, 7, 0, tzinfo=LONDON)
