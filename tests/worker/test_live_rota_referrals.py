"""The worker refers by the live rota, with no restart.

A rota change made in the staff site's database, pre-dated or last-minute, decides who gets the
referral from its start time.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from harness.mailbox import Mailbox
from harness.outbox import work_until
from ooh.accounts.service import Accounts, Membership, Role
from ooh.orgs.live_rota import add_change
from tests.worker.test_escalation import recipients, runtime_for
from tests.worker.test_worker import SAT_NIGHT, waiting_referral


def test_a_pre_dated_change_applies_from_its_start_and_not_before(
    tmp_path: Path, scripts: Path, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    runtime = runtime_for(tmp_path, scripts, port)
    runtime.settings.ack_minutes = 60  # no escalation within the test
    org = runtime.registry.get("enfield")
    assert org is not None
    admin = Accounts(runtime.store).add(
        "rota.admin@enfield.example", "Rhea Rota", "a long enough password",
        [Membership("enfield", Role.ORG_ADMIN)], now=SAT_NIGHT - timedelta(days=2),
    )  # fmt: skip
    starts = SAT_NIGHT + timedelta(minutes=10)  # made two days ahead, in force ten minutes after the first report
    add_change(
        runtime.store, "enfield", org.rota, org.options,
        {
            "service_option": "housing_repairs", "from": "00:00", "to": "24:00",
            "stage1": "duty_manager", "stage2": "duty_manager",
            "starts_at": starts.isoformat(), "reason": "Supervisor off sick",
        },
        made_by=admin.member.id, now=SAT_NIGHT - timedelta(days=2),
    )  # fmt: skip
    before = waiting_referral(runtime.store).reference
    work_until(runtime, lambda: len(box.messages) >= 1, 20)
    after = runtime.store.create_request(
        po="enfield", prefix="ENF", service_option="housing_repairs", call_outcome="referred",
        now=starts, details="no heating", referral_status="pending",
    )  # fmt: skip
    work_until(runtime, lambda: len(box.messages) >= 2, 20)
    assert recipients(box)[:2] == ["repairs.supervisor@enfield.example", "duty.manager@enfield.example"]
    assert before != after.reference
