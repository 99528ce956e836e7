"""What GOV.UK Notify tells us later: whether a text arrived, and what an officer texted back.

Notify posts two kinds of callback to URLs set on the service's "API integration" page, each with
the bearer token set there (checked by the door that receives them, ``staff/notify.py``):

* a **delivery receipt** per text (``status``: ``delivered``, ``permanent-failure``,
  ``temporary-failure`` or ``technical-failure``, with the ``reference`` we gave). An undelivered
  referral text is written on the request, and the referral job is made due again, so the referral
  goes by its option's next channel at once rather than waiting for the acknowledgement timer;
* a **received text message** (``source_number``, ``message``). "ACK" (or "OK", "YES"), with or
  without the reference, from the mobile number of a contact a referral was sent to, acknowledges
  it, which stops the escalation just as the link in the email or text does.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ooh import lone_worker
from ooh.jobs import Jobs
from ooh.records.references import find_reference
from ooh.records.store import RecordStore, ServiceRequestView
from ooh.referrals.acknowledge import acknowledged
from ooh.referrals.dispatch import RESIDENT, read_notify_reference
from ooh.referrals.sms import uk_mobile

if TYPE_CHECKING:
    from ooh.orgs.loader import Registry

FAILED = frozenset({"permanent-failure", "temporary-failure", "technical-failure"})
DELIVERY_STATUSES = FAILED | {"delivered", "sending", "created", "pending", "sent"}
ACK_WORDS = re.compile(r"^\W*(ack|acked|acknowledged?|ok|okay|yes|y|got it)\b", re.I)
ACK_LOOKBACK = timedelta(hours=24)
"""How far back a bare "ACK" looks for the referral it answers."""


class BadCallback(ValueError):
    """The callback's body is not what Notify sends (the door answers 400 with this text)."""


def _field(payload: Any, name: str) -> str:
    if not isinstance(payload, dict) or not isinstance(payload.get(name), str) or not payload[name]:
        raise BadCallback(f"'{name}' must be a non-empty string")
    return str(payload[name])


def delivery_receipt(store: RecordStore, payload: Any, now: datetime) -> str:
    """Record one delivery receipt; returns what was done (for the door's answer and the tests).

    Raises:
        BadCallback: the body lacks ``id``, ``status`` or has a status Notify never sends.
    """
    notification_id, status = _field(payload, "id"), _field(payload, "status")
    if status not in DELIVERY_STATUSES:
        raise BadCallback(f"'status' {status!r} is not a Notify status")
    found = read_notify_reference(str(payload.get("reference") or ""))
    if found is None:
        return "not a referral text"
    reference, key, stage = found
    request = store.get(reference)
    if request is None:
        return "no such request"
    data = {"channel": "sms", "contact": key, "stage": stage, "status": status, "notification_id": notification_id}
    if key == RESIDENT:  # the resident's confirmation: recorded, no referral changes
        store.add_update(reference, "delivery", f"Confirmation text to the resident: {status}", data, now=now)
        return status
    if status in FAILED:
        store.add_update(
            reference,
            "delivery",
            f"Text to {key} not delivered ({status}): the referral goes by the next channel",
            {**data, "failed": True},
            now=now,
        )
        if request.status == "open" and not acknowledged(request):
            Jobs(store).reopen("referral", reference, now)
        return "undelivered"
    if status == "delivered":
        store.add_update(reference, "delivery", f"Text to {key} delivered", data, now=now)
        return "delivered"
    return "in progress"


def _sent_to(request: ServiceRequestView, keys: set[str]) -> str | None:
    """Which of ``keys`` this request's referral (or an escalation step) was sent to, if any."""
    for update in reversed(request.updates):
        data = update.data or {}
        if update.kind in ("referral_attempt", "escalation") and data.get("contact") in keys and not data.get("error"):
            return str(data["contact"])
    return None


def received_text(store: RecordStore, registry: Registry, payload: Any, now: datetime) -> str | None:
    """Acknowledge the referral an officer's "ACK" text answers; returns its reference, else None.

    The sender must be the mobile number of a rota contact the referral was sent to: anyone else's
    text, or a text that is not an acknowledgement, changes nothing.

    Raises:
        BadCallback: the body lacks ``source_number`` or ``message``.
    """
    source, message = uk_mobile(_field(payload, "source_number")), _field(payload, "message")
    if source is not None and not ACK_WORDS.match(message):  # "IN 12 Percy Grove 45", "OUT": lone workers
        lone_worker.text_command(store, registry, source, message, now)
        return None
    if source is None or not ACK_WORDS.match(message):
        return None
    senders = {
        (org.id, key)
        for org in registry.organisations.values()
        for key, contact in org.rota.contacts.items()
        if uk_mobile(contact.phone) == source
    }
    if not senders:
        return None
    reference = find_reference(message)
    if reference:
        found = store.get(reference)
        candidates = [found] if found is not None else []
    else:
        candidates = store.recent_referred({po for po, _ in senders}, since=now - ACK_LOOKBACK)
    for request in candidates:
        keys = {key for po, key in senders if po == request.po}
        key = _sent_to(request, keys)
        if key is None or request.status != "open":
            continue
        if not acknowledged(request):
            text = f"Acknowledged by {key} (text reply)"
            store.add_update(request.reference, "acknowledged", text, {"contact": key, "channel": "sms"}, now=now)
        return request.reference
    return None
