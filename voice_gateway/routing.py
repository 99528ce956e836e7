"""Which organisation (and Service Option) a call is for, from the number the caller dialled.

Councils divert their out-of-hours numbers to the service (spec 7.1.1-7.1.3); each organisation's
``profile.yaml`` lists them under ``phone_numbers``: ``out_of_hours`` for the general line, and a
Service Option id for a number dedicated to that option (``homeless_families: "020 7946 0102"``).
Staff's live announcements are read from the same file at the start of every call, so a change
takes effect for the next call without a restart.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from ooh.contracts import Choice
from ooh.orgs.loader import Organisation, Registry

logger = logging.getLogger(__name__)


def normalise_number(number: str | None) -> str:
    """Digits only, UK numbers in national form (``+44 20 7946 0101`` -> ``02079460101``)."""
    digits = re.sub(r"\D", "", number or "")
    if digits.startswith("44") and len(digits) >= 11:
        digits = "0" + digits[2:]
    return digits


@dataclass(frozen=True)
class Route:
    """Where a dialled number leads: an organisation, and an option when the number is dedicated."""

    org: Organisation
    option: str | None = None


class Router:
    """Dialled number -> organisation and option, built from every organisation's data."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._routes: dict[str, Route] = {}
        for org in registry.organisations.values():
            for key, number in org.profile.phone_numbers.items():
                if not number:
                    continue
                option = key if key in org.options else None
                self._routes[normalise_number(number)] = Route(org, option)

    def route(self, dialled: str | None) -> Route | None:
        """The route for a dialled number, or ``None`` when no organisation has it."""
        return self._routes.get(normalise_number(dialled)) if dialled else None

    def by_name(self, text: str) -> Organisation | None:
        """The organisation a caller named ("enfield", "peabody"), for calls to an unknown number."""
        words = set(re.findall(r"[a-z]+", text.lower()))
        best: tuple[int, Organisation] | None = None
        for org in self.registry.organisations.values():
            names = {org.id.replace("_", " "), org.profile.short_name.lower(), org.profile.name.lower()}
            name_words = {w for n in names for w in re.findall(r"[a-z]+", n)} - {
                "london", "borough", "of", "council", "royal", "and", "the", "housing", "association", "group",
            }  # fmt: skip
            score = len(words & name_words)
            if score and (best is None or score > best[0]):
                best = (score, org)
        return best[1] if best else None

    def choices(self) -> list[Choice]:
        """Each organisation as a choice a caller can name ("Enfield Council", "enfield")."""
        return [
            Choice(value=org.id, label=org.profile.short_name, says=[org.id.replace("_", " "), org.profile.name])
            for org in sorted(self.registry.organisations.values(), key=lambda o: o.id)
        ]
