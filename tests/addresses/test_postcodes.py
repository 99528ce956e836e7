"""Postcodes as residents type them, and the shipped London directory."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from ooh.addresses.postcodes import PostcodeDirectory, find_postcode, normalise_postcode
from ooh.orgs.errors import ConfigError

COMMON = Path(__file__).resolve().parents[2] / "service_scripts" / "_common"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("n17 6ab", "N17 6AB"),
        ("N176AB", "N17 6AB"),
        ("sw1a 2aa", "SW1A 2AA"),
        ("EN3 6HS ", "EN3 6HS"),
        ("E1 6O4", None),
    ],
)
def test_postcodes_are_normalised_however_typed(typed: str, expected: str | None) -> None:
    assert normalise_postcode(typed) == expected


def test_a_postcode_is_found_inside_free_text_and_removed_from_it() -> None:
    assert find_postcode("it's 17 cedar rd, en3 6hs thanks") == ("EN3 6HS", "it's 17 cedar rd, thanks")
    assert find_postcode("no postcode here, sorry") is None


def test_shipped_directory_knows_every_london_borough() -> None:
    directory = PostcodeDirectory.from_files(COMMON / "postcodes.csv.gz", COMMON / "boroughs.csv")
    assert len(directory) > 150_000
    assert len(directory.boroughs) == 33
    downing = directory.lookup("sw1a2aa")
    assert downing is not None and downing.borough == "City of Westminster"
    assert directory.lookup("ZZ1 1ZZ") is None


def test_a_broken_directory_row_is_named(tmp_path: Path) -> None:
    (tmp_path / "boroughs.csv").write_text("borough_code,borough\nE09000010,Enfield\n", encoding="utf-8")
    with gzip.open(tmp_path / "postcodes.csv.gz", "wt", encoding="utf-8") as handle:
        handle.write("postcode,borough_code,ward\nEN1 1AA,E09000010,Town\nnot a postcode,E09000010,Town\n")
    with pytest.raises(ConfigError) as caught:
        PostcodeDirectory.from_files(tmp_path / "postcodes.csv.gz", tmp_path / "boroughs.csv")
    assert "postcodes.csv.gz: line 3" in str(caught.value)
