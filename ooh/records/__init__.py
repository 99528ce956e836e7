"""Service requests: what each call produced, its reference, later updates and referral state.

Persistence lives here, apart from the Rasa actions, so the same store serves the action server,
the referral retry loop, staff tools and the tests. Nothing connects to a database at import time.
"""

from ooh.records.references import find_reference, make_reference, normalise_reference
from ooh.records.store import RecordStore, RequestUpdateView, ServiceRequestView

__all__ = [
    "RecordStore",
    "RequestUpdateView",
    "ServiceRequestView",
    "find_reference",
    "make_reference",
    "normalise_reference",
]
