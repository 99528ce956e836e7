"""The address matcher against a small address file: the ways residents give an address."""

from __future__ import annotations

from pathlib import Path

import pytest

from ooh.addresses.matcher import AddressBook
from ooh.addresses.postcodes import PostcodeDirectory
from ooh.orgs.errors import ConfigError

COMMON = Path(__file__).resolve().parents[2] / "service_scripts" / "_common"
ROWS = """uprn,address,postcode,ward,borough,estate,tenure
100001,17 Cedar Road,EN3 6HS,Enfield Lock,Enfield,,tenant
100002,19 Cedar Road,EN3 6HS,Enfield Lock,Enfield,,leaseholder
100003,2 St Mary's Close,EN1 1GU,Southbury,Enfield,,owner_occupier
100004,"Flat 3, Tiverton House, Northwold Estate",EN1 2JB,Bush Hill Park,Enfield,Northwold Estate,tenant
100005,"Flat 4, Tiverton House, Northwold Estate",EN1 2JB,Bush Hill Park,Enfield,Northwold Estate,tenant
100006,"Flat 3, Marlowe House, Northwold Estate",EN1 4LQ,Bush Hill Park,Enfield,Northwold Estate,leaseholder
"""


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> AddressBook:
    path = tmp_path_factory.mktemp("book") / "addresses.csv"
    path.write_text(ROWS, encoding="utf-8")
    directory = PostcodeDirectory.from_files(COMMON / "postcodes.csv.gz", COMMON / "boroughs.csv")
    return AddressBook.from_csv(path, directory)


@pytest.mark.parametrize(
    ("said", "uprn"),
    [
        ("17 Cedar Road EN3 6HS", "100001"),
        ("17 cedar rd", "100001"),
        ("number 19 cedar road en36hs", "100002"),
        ("17 Ceder Raod", "100001"),
        ("2 saint marys close", "100003"),
        ("flat 4 tiverton house", "100005"),
        ("flat 3 tiverton ho northwold est", "100004"),
        ("flat 3 marlowe house on the northwold estate", "100006"),
        ("Flat 3, EN1 4LQ", "100006"),
    ],
)
def test_the_address_a_resident_means_is_found(book: AddressBook, said: str, uprn: str) -> None:
    match = book.match(said)
    assert match.status == "matched", match
    assert match.candidates[0].uprn == uprn


@pytest.mark.parametrize("said", ["Cedar Road", "EN3 6HS", "flat 3 northwold estate"])
def test_several_candidates_ask_for_the_number(book: AddressBook, said: str) -> None:
    match = book.match(said)
    assert match.status == "ambiguous"
    assert len(match.candidates) >= 2


def test_an_address_in_another_borough_names_that_borough(book: AddressBook) -> None:
    match = book.match("12 High Road N17 6AB")
    assert match.status == "out_of_area"
    assert match.outside is not None and match.outside.borough == "Haringey"


@pytest.mark.parametrize(
    "said", ["behind the big tree near the shops", "by the green bit", "asdfgh", "99 Nowhere Lane"]
)
def test_nonsense_is_not_forced_onto_a_record(book: AddressBook, said: str) -> None:
    assert book.match(said).status == "not_found"


def test_gazetteer_lists_streets_buildings_and_estates(book: AddressBook) -> None:
    names = book.gazetteer()
    assert {"Cedar Road", "Tiverton House", "Northwold Estate", "Bush Hill Park"} <= set(names)


def test_a_bad_address_file_names_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "addresses.csv"
    path.write_text(
        "uprn,address,postcode,tenure\n1,1 A Road,EN1 1GU,tenant\nabc,2 A Road,EN1 1GU,tenant\n3,,nonsense,renter\n"
    )
    with pytest.raises(ConfigError) as caught:
        AddressBook.from_csv(path)
    text = str(caught.value)
    assert "line 3.uprn" in text and "line 4.address" in text and "line 4.postcode" in text and "line 4.tenure" in text


def test_a_file_without_required_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "addresses.csv"
    path.write_text("id,street\n1,A Road\n")
    with pytest.raises(ConfigError, match="missing column"):
        AddressBook.from_csv(path)


def test_every_shipped_address_file_loads_and_finds_its_own_houses() -> None:
    directory = PostcodeDirectory.from_files(COMMON / "postcodes.csv.gz", COMMON / "boroughs.csv")
    files = sorted(COMMON.parent.glob("*/addresses.csv"))
    assert files
    for path in files:
        book = AddressBook.from_csv(path, directory)
        for address in book.addresses[::25]:
            first = address.address.split(",")[0]
            said = (
                f"{address.address} {address.postcode}" if first.startswith("Flat") else f"{first} {address.postcode}"
            )
            match = book.match(said)
            assert match.status == "matched" and match.candidates[0] == address, (path, said, match.status)
