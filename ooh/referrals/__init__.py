"""Referring requests to on-call staff: the rota (who, for what, when) and the referral email.

Use :func:`ooh.referrals.email.refer` to refer a request: it looks up the rota, sends with
retries and escalation, and records every attempt, so there is one way to do it.
"""

from ooh.orgs.rota import OnCall, OnCallContact, Rota, load_rota
from ooh.referrals.email import Attempt, DispatchResult, ReferralMailer, refer

__all__ = [
    "Attempt",
    "OnCallContact",
    "DispatchResult",
    "OnCall",
    "ReferralMailer",
    "Rota",
    "load_rota",
    "refer",
]
