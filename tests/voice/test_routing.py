"""The dialled number picks the organisation and option; announcements apply to the next call."""

from __future__ import annotations

import dataclasses
import shutil
import struct
from pathlib import Path

from ooh.orgs.loader import Registry
from voice_gateway.audiosocket import frame
from voice_gateway.routing import Router, normalise_number


def test_numbers_in_any_format_find_the_organisation_and_dedicated_option(registry: Registry) -> None:
    router = Router(registry)
    general = router.route("+44 20 7946 0101")
    assert general is not None and general.org.id == "enfield" and general.option is None
    homeless = router.route("02079460552")
    assert homeless is not None and homeless.org.id == "barnet" and homeless.option == "homeless_families"
    repairs = router.route("020 7946 0252")
    assert repairs is not None and repairs.org.id == "peabody" and repairs.option == "housing_repairs"
    assert router.route("020 7946 9999") is None
    assert normalise_number("+44 20 7946 0101") == "02079460101" == normalise_number("020 7946 0101")


def test_a_caller_can_name_the_organisation(registry: Registry) -> None:
    router = Router(registry)
    for said, po in [("enfield", "enfield"), ("it's peabody", "peabody"), ("tower hamlets please", "tower_hamlets")]:
        org = router.by_name(said)
        assert org is not None and org.id == po
    assert router.by_name("the moon") is None


def test_staff_announcement_applies_to_the_next_call_without_a_restart(registry: Registry, tmp_path: Path) -> None:
    org = registry.get("enfield")
    assert org is not None
    scripts = tmp_path / "service_scripts"
    shutil.copytree(Path(__file__).resolve().parents[2] / "service_scripts" / "enfield", scripts / "enfield")
    profile = scripts / "enfield" / "profile.yaml"
    # Chat and phone both greet with ``current_announcement``, so this holds for both channels.
    org = dataclasses.replace(org, path=scripts / "enfield")
    assert org.current_announcement() is None
    profile.write_text(profile.read_text() + 'announcement: "We know about the power cut in Edmonton."\n')
    assert org.current_announcement() == "We know about the power cut in Edmonton."
    profile.write_text("greeting: [this is not valid\n")
    assert org.current_announcement() == org.profile.announcement, "a broken edit keeps the last good one"


def test_audiosocket_frames() -> None:
    assert frame(0x10, b"\x01\x02") == struct.pack(">BH", 0x10, 2) + b"\x01\x02"
