"""Referring requests to on-call staff: the rota (who, for what, when), the channels and the outbox.

Use :func:`ooh.referrals.dispatch.refer` to refer a request: it looks up the rota, tries each
stage's contact on the option's channels, and records every attempt, so there is one way to do it.
"""

from ooh.orgs.rota import OnCall, OnCallContact, Rota, load_rota
from ooh.referrals.dispatch import Attempt, DispatchResult, Senders, refer
from ooh.referrals.email import ReferralMailer

__all__ = [
    "Attempt",
    "OnCallContact",
    "DispatchResult",
    "OnCall",
    "ReferralMailer",
    "Rota",
    "Senders",
    "load_rota",
    "refer",
]
