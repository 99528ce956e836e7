"""A typical service request (an emergency leak referred to the plumber), for store and email tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ooh.records.store import RecordStore, ServiceRequestView


def typical_request(store: RecordStore, when: datetime, **overrides: Any) -> ServiceRequestView:
    """Create a referred emergency plumbing request at ``when``; ``overrides`` replace any field."""
    fields: dict[str, Any] = {
        "po": "enfield",
        "prefix": "ENF",
        "service_option": "housing_repairs",
        "sub_category": "plumber",
        "priority": "emergency",
        "call_outcome": "referred",
        "caller_name": "Jane Resident",
        "contact_number": "07700900123",
        "address": "Flat 2, 10 High Road, EN1 1AA",
        "uprn": "100021234567",
        "address_verified": True,
        "details": "Water pouring through the ceiling",
        "answers": {"q_water_leak": True},
        "transcript": [{"at": "21:14:00", "speaker": "resident", "text": "My ceiling is leaking"}],
        "channel": "rest",
        "sender_id": "conv-1",
        "now": when,
    }
    fields.update(overrides)
    return store.create_request(**fields)
