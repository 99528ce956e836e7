"""Build the shipped postcode directory and every organisation's sample address file.

Real postcodes, boroughs and wards come from OS Code-Point Open (London extract in
``../shared/data``); street names and UPRNs are synthetic. The output is committed, so this only
needs running again when the source extract or the organisations' areas change:

    .venv/bin/python tools/build_sample_data.py [--source PATH]

Deterministic: the same inputs give byte-identical files.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import random
import shutil
from collections import defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "service_scripts"
DEFAULT_SOURCE = ROOT.parent / "shared" / "data" / "london_postcodes_codepoint_2025-10.csv"

STREET_STEMS = (
    "Acacia Alder Ashdown Aspen Balfour Beacon Beech Belmont Birch Blenheim Bramble Brook Burdett Calder "
    "Cambridge Carlton Cedar Chalcot Chester Clarence Clifton Colville Coniston Cranbrook Cromwell Dacre "
    "Darwin Denmark Devonshire Dorset Dunmore Eastfield Elgin Elmore Ennis Fairfax Falcon Fernhead Forest "
    "Fountain Garfield Gladstone Glebe Gordon Grafton Granville Hamilton Harcourt Hartley Hawthorn Hazel "
    "Heath Hereford Holly Hornsey Howard Ivy Juniper Kelvin Kenmure Kingsley Lancaster Larch Laurel Lavender "
    "Lindley Linden Lorne Malvern Manor Maple Marlowe Melrose Milton Montague Morley Mulberry Napier Nelson "
    "Newlands Norfolk Oakfield Orchard Osborne Oxford Palmer Pelham Percy Pinner Poplar Portland Priory "
    "Quarry Queensbury Raleigh Ravenscroft Redcliffe Regent Ribblesdale Rowan Rutland Salisbury Sandringham "
    "Selby Seymour Sherwood Somerset Spencer Stanhope Stratford Sutherland Sycamore Talbot Tennyson Thornbury "
    "Tiverton Tudor Upton Vernon Victoria Walnut Warwick Waverley Wellington Westbury Willow Windsor Winton "
    "Woodland Wrexham Yardley"
).split()
STREET_TYPES = ["Road", "Street", "Avenue", "Close", "Gardens", "Lane", "Crescent", "Grove", "Terrace", "Place"]
ESTATE_STEMS = (
    "Northwold Kingsmead Pembury Woodberry Brandon Aylesbury Clapham Winstanley Ocean Lisson Wenlock Silwood".split()
)
LICENCE_LINES = (
    "Contains OS data © Crown copyright and database right 2025\n"
    "Contains Royal Mail data © Royal Mail copyright and database right 2025\n"
    "Contains National Statistics data © Crown copyright and database right 2025\n"
)
POSTCODES_PER_ORG = 48
HOUSE_TENURES = {
    "borough": [("tenant", 35), ("leaseholder", 15), ("owner_occupier", 30), ("private_tenant", 20)],
    "housing_association": [("tenant", 75), ("leaseholder", 25)],
}
FLAT_TENURES = [("tenant", 70), ("leaseholder", 30)]


def _pick(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    return rng.choices([w for w, _ in weighted], weights=[n for _, n in weighted])[0]


def read_source(path: Path) -> list[dict[str, str]]:
    """Rows of the Code-Point extract."""
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def write_directory(rows: list[dict[str, str]], common: Path, source: Path) -> None:
    """``postcodes.csv.gz`` (postcode,borough_code,ward), ``boroughs.csv`` and the licence."""
    boroughs = sorted({(r["borough_code"], r["borough"]) for r in rows})
    with (common / "boroughs.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["borough_code", "borough"])
        writer.writerows(boroughs)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["postcode", "borough_code", "ward"])
    for row in sorted(rows, key=lambda r: r["postcode"]):
        writer.writerow([row["postcode"], row["borough_code"], row["ward"]])
    with gzip.GzipFile(common / "postcodes.csv.gz", "wb", mtime=0) as handle:
        handle.write(buffer.getvalue().encode("utf-8"))
    licence = source.with_name(source.stem + ".LICENCE.txt")
    if licence.exists():
        shutil.copyfile(licence, common / "POSTCODES-LICENCE.txt")
    else:
        (common / "POSTCODES-LICENCE.txt").write_text(
            "Derived from OS Code-Point Open, Open Government Licence v3.0.\n" + LICENCE_LINES, encoding="utf-8"
        )


def build_addresses(
    po: str, kind: str, area: list[str], by_borough: dict[str, list[dict[str, str]]], index: int
) -> list[list[str]]:
    """Synthetic addresses on real postcodes of the organisation's boroughs."""
    rng = random.Random(f"ooh-agent:{po}")
    stems = STREET_STEMS[:]
    rng.shuffle(stems)
    estates = ESTATE_STEMS[:]
    rng.shuffle(estates)
    per_borough = max(POSTCODES_PER_ORG // len(area), 6)
    out: list[list[str]] = []
    serial = 0
    for borough in area:
        pool = [r for r in by_borough[borough] if r["positional_quality"] == "10"]
        chosen = sorted(rng.sample(pool, per_borough), key=lambda r: r["postcode"])
        estate = f"{estates.pop()} Estate"
        for n, row in enumerate(chosen):
            if n % 4 == 3:  # every fourth postcode is a block of flats on the borough's estate
                block = f"{stems.pop()} House"
                for flat in range(1, 13):
                    serial += 1
                    uprn = f"9{index:02d}{serial:07d}"
                    out.append(
                        [
                            uprn,
                            f"Flat {flat}, {block}, {estate}",
                            row["postcode"],
                            row["ward"],
                            borough,
                            estate,
                            _pick(rng, FLAT_TENURES),
                        ]
                    )
                continue
            street = f"{stems.pop()} {rng.choice(STREET_TYPES)}"
            start = rng.choice([1, 2])
            for number in range(start, start + 2 * rng.randint(6, 10), 2):
                serial += 1
                uprn = f"9{index:02d}{serial:07d}"
                tenure = _pick(rng, HOUSE_TENURES[kind])
                out.append([uprn, f"{number} {street}", row["postcode"], row["ward"], borough, "", tenure])
    return out


def main() -> None:
    """Write the postcode directory and every organisation's sample address file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="Code-Point London CSV")
    args = parser.parse_args()
    rows = read_source(args.source)
    write_directory(rows, SCRIPTS / "_common", args.source)
    by_borough: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        by_borough[row["borough"]].append(row)
    canonical = yaml.safe_load((SCRIPTS / "_common" / "service_options.yaml").read_text(encoding="utf-8"))
    for index, po in enumerate(sorted(canonical["organisations"]), start=1):
        profile_path = SCRIPTS / po / "profile.yaml"
        if not profile_path.exists():
            print(f"skip {po}: no profile.yaml yet")
            continue
        profile = yaml.safe_load(profile_path.read_text(encoding="utf-8"))
        unknown = [b for b in profile["area_boroughs"] if b not in by_borough]
        if unknown:
            raise SystemExit(f"{profile_path}: area_boroughs {unknown} are not boroughs in {args.source.name}")
        addresses = build_addresses(po, profile["kind"], profile["area_boroughs"], by_borough, index)
        with (SCRIPTS / po / "addresses.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(["uprn", "address", "postcode", "ward", "borough", "estate", "tenure"])
            writer.writerows(addresses)
        print(f"{po}: {len(addresses)} addresses in {', '.join(profile['area_boroughs'])}")


if __name__ == "__main__":
    main()
