"""Referring requests to on-call staff: the rota (who, for what, when) and the referral email.

Use :func:`ooh.referrals.email.refer` to refer a request: it looks up the rota, sends with
retries and escalation, and records every attempt, so there is one way to do it.
"""

from ooh.referrals.email import Attempt, DispatchResult, ReferralMailer, refer
from ooh.referrals.rota import Contact, OnCall, Rota, load_rota

__all__ = [
    "Attempt",
    "Contact",
    "DispatchResult",
    "OnCall",
    "ReferralMailer",
    "Rota",
    "load_rota",
    "refer",
]
