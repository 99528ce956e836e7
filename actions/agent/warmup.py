"""``action_warm_up``: load everything slow before the first resident is waiting for it.

The action server builds its runtime on first use (never at import), and the first address
match imports spaCy and builds each organisation's entity ruler. Unwarmed, the first resident to
give an address waited about 4 seconds, and every conversation in flight waited with them.
``make run`` and the test stack call this action once the server is up (``ooh.cli.warm_up``).
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from ooh.runtime import get_runtime


class ActionWarmUp(Action):
    """Builds the runtime and every organisation's address matcher; says nothing."""

    def name(self) -> str:
        """Called by name from ``ooh.cli.warm_up``, never from a rule."""
        return "action_warm_up"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        """Load the organisation data and prepare each address book."""
        for org in get_runtime().registry.organisations.values():
            org.addresses.prepare()
        return []
