"""Load and cross-check all organisation data under ``service_scripts/``.

Layout::

    service_scripts/
      _common/service_options.yaml   canonical Service Option ids and organisation ids
      _common/postcodes.csv.gz       every London postcode -> borough, ward (OS Code-Point Open)
      _scripts/<script>.yaml         script templates (questions, decision tables)
      <po>/profile.yaml              name, greeting, hours, signposting contacts, neighbours
      <po>/options.yaml              the options it takes (declared here only) and their settings
      <po>/faq.yaml                  answers for information-only options
      <po>/rota.yaml                 who is on call for what, when
      <po>/addresses.csv             its address file (uprn,address,postcode,...)

Every problem found is collected, so staff see all of them at once, each naming file and field.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from ooh.addresses.matcher import AddressBook
from ooh.addresses.postcodes import PostcodeDirectory
from ooh.orgs.errors import ConfigError, format_problem, validation_problems
from ooh.orgs.models import Contact, FaqEntry, OptionConfig, Profile, Question, ScriptDef
from ooh.orgs.rota import Rota, load_rota
from ooh.safeguarding import Safeguarding
from ooh.scripts.conditions import check_condition

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

#: Scripts that answer from the FAQ: the only ones allowed for information-only options.
@dataclass
class Organisation:
    """Everything the agent knows about one organisation."""

    profile: Profile
    options: dict[str, OptionConfig]
    faq: list[FaqEntry]
    rota: Rota
    addresses: AddressBook
    path: Path

    @property
    def id(self) -> str:
        """The canonical organisation id."""
        return self.profile.id

    def is_open(self, option_id: str, moment: datetime) -> bool:
        """Whether an option is operating at a local time, per the organisation's hours."""
        schedule = self.profile.schedule(self.options[option_id].hours)
        return schedule is None or schedule.is_open(moment)

    def referral_channels(self, option_id: str) -> list[str]:
        """How a referral of this option goes, in order: the option's own list, else the profile's."""
        config = self.options.get(option_id) or self.options.get(option_id.split("/")[0])
        if config is not None and config.referral_channels:
            return list(config.referral_channels)
        return list(self.profile.referral_channels)

    def current_announcement(self) -> str | None:
        """The announcement staff have set now, re-read from ``profile.yaml`` for every conversation.

        Both channels greet with this, so chat and phone say the same thing from the moment staff
        save the file, without a restart.
        """
        path = self.path / "profile.yaml"
        try:
            profile = Profile.parse_obj(yaml.safe_load(path.read_text(encoding="utf-8")))
        except (OSError, yaml.YAMLError, ValidationError) as exc:
            # Staff are mid-edit or made a mistake: keep the last good announcement, say why in the log.
            logger.warning("Announcement for %s not re-read (%s); using the loaded one", self.id, type(exc).__name__)
            return self.profile.announcement
        return profile.announcement


@dataclass
class Registry:
    """All organisations and script templates, validated together."""

    organisations: dict[str, Organisation]
    scripts: dict[str, ScriptDef]
    canonical: set[str]
    postcodes: PostcodeDirectory
    root: Path
    common_contacts: dict[str, Contact] = field(default_factory=dict)
    not_offered: dict[str, list[str]] = field(default_factory=dict)
    canonical_rows: dict[str, str] = field(default_factory=dict)
    safeguarding: Safeguarding = field(default_factory=lambda: Safeguarding([]))
    _by_borough: dict[str, list[str]] = field(default_factory=dict)

    def get(self, po: str | None) -> Organisation | None:
        """The organisation with this id, or ``None`` when unknown."""
        return self.organisations.get(po or "")

    def organisations_for_borough(self, borough: str) -> list[Organisation]:
        """Organisations covering a borough (boroughs first, then housing bodies)."""
        if not self._by_borough:
            for org in self.organisations.values():
                for name in org.profile.area_boroughs:
                    self._by_borough.setdefault(name.lower(), []).append(org.id)
        ids = self._by_borough.get(borough.lower(), [])
        orgs = [self.organisations[i] for i in ids]
        return sorted(orgs, key=lambda o: o.profile.kind != "borough")


def _read_yaml(path: Path, problems: list[str]) -> Any:
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    except FileNotFoundError:
        problems.append(format_problem(path, "", "file is missing"))
    except yaml.YAMLError as exc:
        problems.append(format_problem(path, "", f"is not valid YAML: {exc}"))
    return None


def parse_model(model: type[M], data: Any, path: Path, prefix: str, problems: list[str]) -> M | None:
    """Validate data against a model, adding one problem per invalid field."""
    try:
        return model.parse_obj(data)
    except ValidationError as exc:
        problems += validation_problems(exc, path, prefix)
    return None


def _load_scripts(root: Path, problems: list[str]) -> dict[str, ScriptDef]:
    scripts: dict[str, ScriptDef] = {}
    for path in sorted((root / "_scripts").glob("*.yaml")):
        data = _read_yaml(path, problems)
        script = parse_model(ScriptDef, data, path, "", problems)
        if script is None:
            continue
        if script.id != path.stem:
            problems.append(format_problem(path, "id", f"'{script.id}' must match the file name"))
        _check_conditions(path, "", script.questions, script.rules, problems)
        scripts[script.id] = script
    if not scripts:
        problems.append(format_problem(root / "_scripts", "", "no script templates found"))
    return scripts


def _check_conditions(
    path: Path, prefix: str, questions: list[Question], rules: list[Any], problems: list[str]
) -> None:
    """Report unknown operators in question and rule conditions, naming where they are."""
    dot = f"{prefix}." if prefix else ""
    for index, question in enumerate(questions):
        for problem in check_condition(question.when or {}, f"{dot}questions[{index}].when"):
            problems.append(f"{path}: {problem}")
    for index, rule in enumerate(rules):
        for problem in check_condition(rule.when, f"{dot}rules[{index}].when"):
            problems.append(f"{path}: {problem}")


def _check_question_slots(questions: list[Question], path: Path, where: str, problems: list[str]) -> None:
    seen: set[str] = set()
    for index, question in enumerate(questions):
        if question.slot in seen:
            problems.append(format_problem(path, f"{where}[{index}].slot", f"'{question.slot}' is asked twice"))
        seen.add(question.slot)


def _load_options(
    org_dir: Path,
    profile: Profile,
    scripts: dict[str, ScriptDef],
    canonical: set[str],
    problems: list[str],
) -> dict[str, OptionConfig]:
    path = org_dir / "options.yaml"
    data = _read_yaml(path, problems)
    if not isinstance(data, dict):
        if data is not None:
            problems.append(format_problem(path, "", "must map Service Option ids to their settings"))
        return {}
    options: dict[str, OptionConfig] = {}
    for option_id, raw in data.items():
        config = parse_model(OptionConfig, raw, path, str(option_id), problems)
        if config is None:
            continue
        options[str(option_id)] = config
        _check_option(path, str(option_id), config, profile, scripts, canonical, problems)
    return options


def _check_option(
    path: Path,
    option_id: str,
    config: OptionConfig,
    profile: Profile,
    scripts: dict[str, ScriptDef],
    canonical: set[str],
    problems: list[str],
) -> None:
    _check_conditions(path, option_id, config.extra_questions, config.rules, problems)
    if option_id not in canonical:
        problems.append(format_problem(path, option_id, "is not a Service Option id (_common/service_options.yaml)"))
    script = scripts.get(config.script)
    if script is None:
        problems.append(format_problem(path, f"{option_id}.script", f"no template '{config.script}' in _scripts"))
    if config.hours != "always" and config.hours not in profile.hours:
        problems.append(format_problem(path, f"{option_id}.hours", f"no schedule '{config.hours}' in profile.yaml"))
    keys = [("signpost", config.signpost), ("transfer_to", config.transfer_to)]
    keys += [(f"rules[{i}].signpost", rule.signpost) for i, rule in enumerate(config.rules)]
    if config.outside_hours:
        keys.append(("outside_hours.signpost", config.outside_hours.signpost))
    for where, key in keys:
        if key and key not in profile.contacts and key != "daytime_service":
            problems.append(format_problem(path, f"{option_id}.{where}", f"no contact '{key}' in profile.yaml"))
    if script is not None:
        slots = {q.slot for q in script.questions}
        for slot in config.ask:
            if slot not in slots and slot not in {q.slot for q in config.extra_questions}:
                problems.append(format_problem(path, f"{option_id}.ask.{slot}", "no such question in the script"))
        _check_question_slots(script.questions + config.extra_questions, path, f"{option_id}.extra_questions", problems)


def _load_faq(org_dir: Path, options: dict[str, OptionConfig], problems: list[str]) -> list[FaqEntry]:
    path = org_dir / "faq.yaml"
    if not path.exists():
        return []
    data = _read_yaml(path, problems) or []
    if not isinstance(data, list):
        problems.append(format_problem(path, "", "must be a list of entries"))
        return []
    entries = []
    for index, raw in enumerate(data):
        entry = parse_model(FaqEntry, raw, path, f"[{index}]", problems)
        if entry is None:
            continue
        if entry.service_option not in options:
            problems.append(
                format_problem(path, f"[{index}].service_option", f"'{entry.service_option}' is not taken here")
            )
        entries.append(entry)
    return entries


def _load_organisation(
    org_dir: Path,
    scripts: dict[str, ScriptDef],
    canonical: set[str],
    postcodes: PostcodeDirectory,
    common_contacts: dict[str, Contact],
    problems: list[str],
) -> Organisation | None:
    before = len(problems)
    profile_path = org_dir / "profile.yaml"
    profile = parse_model(Profile, _read_yaml(profile_path, problems), profile_path, "", problems)
    if profile is None:
        return None
    profile.contacts = {**common_contacts, **profile.contacts}
    if profile.id != org_dir.name:
        problems.append(format_problem(profile_path, "id", f"'{profile.id}' must match the folder name"))
    options = _load_options(org_dir, profile, scripts, canonical, problems)
    faq = _load_faq(org_dir, options, problems)
    rota = addresses = None
    try:
        rota = load_rota(org_dir / "rota.yaml")
    except ConfigError as exc:
        problems.extend(exc.problems)
    try:
        addresses = AddressBook.from_csv(org_dir / "addresses.csv", postcodes)
    except ConfigError as exc:
        problems.extend(exc.problems)
    if len(problems) > before or rota is None or addresses is None:
        return None
    return Organisation(profile, options, faq, rota, addresses, org_dir)


def iter_org_dirs(root: Path) -> Iterator[Path]:
    """Organisation folders: every folder not starting with ``_`` or ``.``."""
    for path in sorted(root.iterdir()):
        if path.is_dir() and not path.name.startswith(("_", ".")):
            yield path


def load_registry(root: Path) -> Registry:
    """Load and validate every organisation under ``root``.

    Raises:
        ConfigError: listing every problem found, each naming file, field and what is wrong.
    """
    problems: list[str] = []
    canonical_path = root / "_common" / "service_options.yaml"
    canonical_raw = _read_yaml(canonical_path, problems) or {}
    canonical = {str(opt) for opt in canonical_raw.get("service_options") or {}}
    names = dict(canonical_raw.get("organisations") or {})
    rows = {
        str(opt): str((spec or {}).get("appendix_row") or opt)
        for opt, spec in (canonical_raw.get("service_options") or {}).items()
    }
    scripts = _load_scripts(root, problems)
    signposts_path = root / "_common" / "signposts.yaml"
    signposts = _read_yaml(signposts_path, problems) or {}
    common_contacts: dict[str, Contact] = {}
    for key, raw in (signposts.get("contacts") or {}).items():
        contact = parse_model(Contact, raw, signposts_path, f"contacts.{key}", problems)
        if contact is not None:
            common_contacts[str(key)] = contact
    not_offered = {str(k): list(v) for k, v in (signposts.get("not_offered") or {}).items()}
    for option_id, keys in not_offered.items():
        if option_id not in canonical and option_id != "out_of_scope":
            problems.append(format_problem(signposts_path, f"not_offered.{option_id}", "is not a Service Option id"))
        for key in keys:
            if key not in common_contacts:
                problems.append(format_problem(signposts_path, f"not_offered.{option_id}", f"no contact '{key}'"))
    try:
        postcodes = PostcodeDirectory.from_files(
            root / "_common" / "postcodes.csv.gz", root / "_common" / "boroughs.csv"
        )
    except ConfigError as exc:
        raise ConfigError(problems + exc.problems) from exc
    safeguarding = Safeguarding([])
    try:
        safeguarding = Safeguarding.from_file(root / "_common" / "safeguarding.yaml", set(canonical))
    except ConfigError as exc:
        problems.extend(exc.problems)
    organisations: dict[str, Organisation] = {}
    for org_dir in iter_org_dirs(root):
        if org_dir.name not in names:
            problems.append(format_problem(org_dir, "", "is not an organisation in _common/service_options.yaml"))
            continue
        org = _load_organisation(org_dir, scripts, canonical, postcodes, common_contacts, problems)
        if org is not None:
            organisations[org.id] = org
    for missing in sorted(set(names) - {d.name for d in iter_org_dirs(root)}):
        problems.append(format_problem(root / missing, "", "organisation folder is missing"))
    known_boroughs = set(postcodes.boroughs)
    for org in organisations.values():
        for index, borough in enumerate(org.profile.area_boroughs):
            if borough not in known_boroughs:
                problems.append(
                    format_problem(org.path / "profile.yaml", f"area_boroughs[{index}]", f"unknown borough '{borough}'")
                )
        for index, neighbour in enumerate(org.profile.neighbours):
            if neighbour not in names:
                problems.append(
                    format_problem(
                        org.path / "profile.yaml", f"neighbours[{index}]", f"unknown organisation '{neighbour}'"
                    )
                )
    if problems:
        raise ConfigError(problems)
    logger.info("Loaded %d organisations and %d script templates", len(organisations), len(scripts))
    return Registry(
        organisations, scripts, canonical, postcodes, root, common_contacts, not_offered, rows, safeguarding
    )
