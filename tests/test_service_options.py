"""Organisations and Service Options are data: the places that must agree are checked here.

``service_scripts/_common/service_options.yaml`` is the source of the Service Option ids; which
organisation takes which is said once, in that organisation's ``options.yaml``. The NLU side must
follow the ids: each option (``housing_repairs/plumber`` is ``housing_repairs`` with a trade) is
an intent in ``bot/domain/intents.yml`` with training examples in ``nlu_data/`` and a rule that
starts ``action_select_service_option``. The recipes in ``docs/contributing.md`` are exercised
here from fixtures.
"""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from ooh.orgs.errors import ConfigError
from ooh.orgs.loader import load_registry

ROOT = Path(__file__).resolve().parents[1]
MIN_EXAMPLES = 10
"""Fewer training examples than this and the intent is effectively never predicted."""


def nlu_examples(nlu: Path) -> Counter[str]:
    """Training examples per intent under ``nlu_data/``."""
    counts: Counter[str] = Counter()
    for path in nlu.rglob("*.yml"):
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []):
            if "intent" in block:
                counts[block["intent"]] += sum(1 for line in block["examples"].splitlines() if line.strip())
    return counts


def out_of_step(scripts: Path, bot: Path, nlu: Path) -> list[str]:
    """What a Service Option in ``service_options.yaml`` lacks on the NLU side, one line each."""
    options = yaml.safe_load((scripts / "_common" / "service_options.yaml").read_text(encoding="utf-8"))
    intents = set(yaml.safe_load((bot / "domain" / "intents.yml").read_text(encoding="utf-8"))["intents"])
    rules = yaml.safe_load((bot / "data" / "rules" / "service_options.yml").read_text(encoding="utf-8"))["rules"]
    starts = {rule["steps"][0]["intent"]: rule["steps"][1]["action"] for rule in rules}
    examples = nlu_examples(nlu)
    problems = []
    for option in sorted({str(option).split("/")[0] for option in options["service_options"]}):
        if option not in intents:
            problems.append(f"{option}: no intent in bot/domain/intents.yml")
        if starts.get(option) != "action_select_service_option":
            problems.append(f"{option}: no rule starting action_select_service_option")
        if examples[option] < MIN_EXAMPLES:
            problems.append(f"{option}: {examples[option]} training examples (at least {MIN_EXAMPLES})")
    ids = {str(option).split("/")[0] for option in options["service_options"]} | {"out_of_scope"}
    problems += [f"{intent}: a rule for an intent that is not a Service Option" for intent in sorted(set(starts) - ids)]
    return problems


def test_every_service_option_can_be_recognised_and_started() -> None:
    """Today's data: every option has its intent, rule and training examples, and nothing extra."""
    assert out_of_step(ROOT / "service_scripts", ROOT / "bot", ROOT / "nlu_data") == []


def test_an_organisations_offer_is_declared_once_in_its_own_options(tmp_path: Path) -> None:
    """Taking an option on or off is one line in the organisation's ``options.yaml``; an unknown id is refused."""
    scripts = tmp_path / "service_scripts"
    shutil.copytree(ROOT / "service_scripts", scripts)
    options = scripts / "enfield" / "options.yaml"
    data = yaml.safe_load(options.read_text(encoding="utf-8"))
    assert "abandoned_vehicle" not in data
    data["abandoned_vehicle"] = {"script": "report"}
    del data["anti_social_behaviour"]
    options.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    enfield = load_registry(scripts).get("enfield")
    assert enfield is not None and "abandoned_vehicle" in enfield.options
    assert "anti_social_behaviour" not in enfield.options
    data["abandoned_vehicles"] = {"script": "report"}
    options.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_registry(scripts)
    assert any("abandoned_vehicles" in p and "is not a Service Option id" in p for p in refused.value.problems)


def test_a_new_service_option_is_caught_until_the_nlu_side_has_it(tmp_path: Path) -> None:
    """Adding an option to the canonical table alone is reported, with what to add."""
    scripts = tmp_path / "service_scripts"
    shutil.copytree(ROOT / "service_scripts", scripts)
    table = scripts / "_common" / "service_options.yaml"
    data = yaml.safe_load(table.read_text(encoding="utf-8"))
    data["service_options"]["pest_control"] = {"appendix_row": "Pest control"}
    table.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    options = scripts / "enfield" / "options.yaml"
    options.write_text(options.read_text(encoding="utf-8") + "pest_control: {script: report}\n", encoding="utf-8")
    # The organisation data side is complete: the registry loads and Enfield offers it.
    org = load_registry(scripts).get("enfield")
    assert org is not None and "pest_control" in org.options
    assert out_of_step(scripts, ROOT / "bot", ROOT / "nlu_data") == [
        "pest_control: no intent in bot/domain/intents.yml",
        "pest_control: no rule starting action_select_service_option",
        f"pest_control: 0 training examples (at least {MIN_EXAMPLES})",
    ]


def test_a_twelfth_organisation_is_data_only(tmp_path: Path) -> None:
    """A new folder and its name in the canonical table: no code changes, every option loaded."""
    scripts = tmp_path / "service_scripts"
    shutil.copytree(ROOT / "service_scripts", scripts)
    shutil.copytree(scripts / "enfield", scripts / "newham")
    profile = scripts / "newham" / "profile.yaml"
    data = yaml.safe_load(profile.read_text(encoding="utf-8"))
    data.update(id="newham", name="London Borough of Newham", short_name="Newham Council", reference_prefix="NEW")
    profile.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    table = scripts / "_common" / "service_options.yaml"
    canonical = yaml.safe_load(table.read_text(encoding="utf-8"))
    canonical["organisations"]["newham"] = "London Borough of Newham"
    table.write_text(yaml.safe_dump(canonical, sort_keys=False), encoding="utf-8")
    registry = load_registry(scripts)
    newham, enfield = registry.get("newham"), registry.get("enfield")
    assert newham is not None and enfield is not None
    assert len(registry.organisations) == 12
    assert newham.profile.reference_prefix == "NEW" and set(newham.options) == set(enfield.options)
    saturday_night = datetime(2026, 11, 21, 23, 30)
    assert newham.rota.on_call("housing_repairs", None, saturday_night) is not None
