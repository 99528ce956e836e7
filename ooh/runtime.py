"""Process-wide services of the action server, built on first use (never at import time).

The Rasa SDK imports every module under ``actions/`` when it starts; building clients or opening
databases there would make imports slow and tests order-dependent. Instead the actions ask for
the runtime when they run, and tests can swap it with :func:`set_runtime`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from ooh.orgs.loader import Registry, load_registry
from ooh.records.store import RecordStore
from ooh.referrals.dispatch import Senders
from ooh.referrals.email import ReferralMailer
from ooh.referrals.sms import NotifySms
from ooh.settings import Settings, get_settings

logger = logging.getLogger(__name__)


@dataclass
class Runtime:
    """Everything the doors need: settings, organisation data, records and the referral channels."""

    settings: Settings
    registry: Registry
    store: RecordStore
    mailer: ReferralMailer
    sms: NotifySms | None = None

    @property
    def senders(self) -> Senders:
        """Every channel a referral can go by (email, and texts through Notify)."""
        return Senders(self.settings, self.mailer, self.sms or NotifySms(self.settings))

    def now(self, override: str | None = None) -> datetime:
        """Local time, or the ``now`` a test put in the message metadata when that is allowed."""
        zone = ZoneInfo(self.settings.timezone)
        if override and self.settings.allow_clock_override:
            try:
                moment = datetime.fromisoformat(str(override))
            except ValueError:  # a test's malformed clock is ignored, never a failed turn
                return datetime.now(zone)
            return moment if moment.tzinfo else moment.replace(tzinfo=zone)
        return datetime.now(zone)


_runtime: Runtime | None = None


def build_runtime(settings: Settings | None = None) -> Runtime:
    """Load and validate everything; raises ``ConfigError`` on bad organisation data."""
    settings = settings or get_settings()
    registry = load_registry(settings.service_scripts_dir)
    store = RecordStore(settings.database_url, timezone=settings.timezone)
    store.migrate()
    return Runtime(settings, registry, store, ReferralMailer(settings), NotifySms(settings))


def get_runtime() -> Runtime:
    """The runtime, built on first use."""
    global _runtime
    if _runtime is None:
        _runtime = build_runtime()
    return _runtime


def set_runtime(runtime: Runtime | None) -> None:
    """Replace the runtime (tests) or forget it so the next use rebuilds it."""
    global _runtime
    _runtime = runtime
