"""Acknowledgement of a referral, and what happens when none comes.

An email accepted by a mail server at 3 a.m. says nothing about whether anyone read it. Each
referral carries a link, signed for that request and contact (``itsdangerous``, keyed by a kept
secret), which opens a page on the staff site with one button. Until it is pressed the worker
escalates on a timer: the referral is sent again to stage 1, then to stage 2, then to the rota's
escalation contact, each step written on the request with its time. Risks to a person get the
shortest time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from itsdangerous import BadSignature, URLSafeSerializer

from ooh.orgs.rota import OnCallContact, Rota
from ooh.records.store import RecordStore, ServiceRequestView
from ooh.secrets import ack_secret
from ooh.settings import Settings

if TYPE_CHECKING:
    from ooh.orgs.loader import Registry

SALT = "ooh-referral-acknowledgement"


def _serializer(settings: Settings) -> URLSafeSerializer:
    return URLSafeSerializer(ack_secret(settings), salt=SALT)


def ack_token(settings: Settings, reference: str, contact_key: str) -> str:
    """A token that acknowledges ``reference`` on behalf of ``contact_key`` (and nothing else)."""
    return _serializer(settings).dumps({"r": reference, "c": contact_key})


def read_ack_token(settings: Settings, token: str) -> tuple[str, str] | None:
    """``(reference, contact key)`` of a genuine token, else None."""
    if len(token) > 300:
        return None
    try:
        data = _serializer(settings).loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("r"), str) or not isinstance(data.get("c"), str):
        return None
    return data["r"], data["c"]


def ack_link(settings: Settings, reference: str, contact_key: str) -> str:
    """The link in a referral email."""
    return f"{settings.public_staff_url.rstrip('/')}/ack/{ack_token(settings, reference, contact_key)}"


def acknowledged(request: ServiceRequestView) -> bool:
    """Whether someone acknowledged the referral."""
    return any(update.kind == "acknowledged" for update in request.updates)


def ack_window(settings: Settings, registry: Registry, request: ServiceRequestView) -> timedelta:
    """How long the on-call officer has before the referral is escalated."""
    org = registry.get(request.po)
    config = org.options.get(request.service_option) if org else None
    if config is not None and config.acknowledge_within:
        return timedelta(minutes=config.acknowledge_within)
    risky = {kind.option for kind in registry.safeguarding.risks if kind.option}
    minutes = settings.ack_minutes_safeguarding if request.service_option in risky else settings.ack_minutes
    return timedelta(minutes=minutes)


def escalation_chain(rota: Rota, request: ServiceRequestView, at: datetime) -> list[tuple[int, str, OnCallContact]]:
    """Who is told, in turn, while nobody acknowledges: stage 1 again, stage 2, the escalation contact."""
    on_call = rota.on_call(request.service_option, request.sub_category, at)
    if on_call is None:
        return []
    chain = [(1, on_call.stage1_key, on_call.stage1)]
    if on_call.stage2_key != on_call.stage1_key:
        chain.append((2, on_call.stage2_key, on_call.stage2))
    keys = {key for _, key, _ in chain}
    if rota.escalation and rota.escalation not in keys:
        chain.append((3, rota.escalation, rota.contacts[rota.escalation]))
    return chain


def acknowledge(
    store: RecordStore, settings: Settings, token: str, now: datetime, how: str | None = None
) -> ServiceRequestView | None:
    """Record the acknowledgement a token stands for (once); None for a token that is not genuine.

    ``how`` says which way it came when not by the link itself (``keypress`` on a referral call).
    """
    found = read_ack_token(settings, token)
    if found is None:
        return None
    reference, key = found
    request = store.get(reference)
    if request is None:
        return None
    if not acknowledged(request):
        text = f"Acknowledged by {key}" + (f" ({how})" if how else "")
        data = {"contact": key, **({"channel": how} if how else {})}
        store.add_update(reference, "acknowledged", text, data, now=now)
        request = store.get(reference)
    return request
