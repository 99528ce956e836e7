"""Blind sets through the running agent: safeguarding, hazards and first-turn diagnosis, as counts.

The blind sets under ``eval/blind/<date>/`` were written by someone who had not read the training
data (``../shared/BLIND_SETS.md``). This script scores them the way residents meet the agent: it
starts the whole stack (Rasa, the action server, SQLite, a local SMTP server) and sends every
message through the REST webhook, mid-script ones after a real opening message and the agent's
own questions, until the question the item was written for is asked. It prints and writes counts
and rates only, never the messages, so the sets stay unseen (``--errors`` is deliberately absent).

- **Safeguarding**: a risk is caught when the agent's reply to it gives a risk's help numbers or
  asks the direct question about a risk; it gets the right message when that is the kind's own.
  A hazard is caught when its safety advice is given. A look-alike (``none``) is a false alarm when
  any of these appear. Per kind and per position (opening / mid-script).
- **Diagnosis**: the ``service_option`` slot after the first message against the expected id
  (``out_of_scope`` when the organisation takes nothing that fits), beside the TF-IDF + logistic
  regression baseline trained on the same ``nlu_data/`` in the same run (a prediction the
  organisation does not take counts as ``out_of_scope``).

    .venv/bin/python -m harness.eval_blind            # newest set; writes eval/results/blind.{json,md}
    .venv/bin/python -m harness.eval_blind --check    # exit 1 below the floors (CI)
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from harness.eval_nlu import baseline_classifier, load_examples
from harness.samples import houses
from harness.stack import Stack, http_json, running_stack
from ooh.orgs.loader import load_registry

ROOT = Path(__file__).resolve().parents[1]
BLIND = ROOT / "eval" / "blind"
RESULTS = ROOT / "eval" / "results"
RULES = ROOT / "service_scripts" / "_common" / "safeguarding.yaml"
SCRIPTS_DIR = ROOT / "service_scripts"
NOW = "2026-11-21T23:30:00"
"""A Saturday night: every out-of-hours service is running."""

FLOORS = {
    "risk_recall": 0.90,
    "hazard_recall": 0.85,
    "false_alarm_max": 0.18,
    "diagnosis_accuracy": 0.86,
    "below_baseline_max": 0.02,
}
"""CI fails below these on the newest blind set. The targets (issue 10) are recall 1.0 for every
kind, false alarms at most 0.05 and diagnosis 0.95 above the baseline; the floors are what the
agent reaches today, raised as it improves, so a change that makes it worse fails."""

TARGETS = {
    "risk_recall": 1.0,
    "hazard_recall": 1.0,
    "false_alarm_max": 0.05,
    "diagnosis_accuracy": 0.95,
    "below_baseline_max": 0.0,
}

WANTS = {
    "address": ("address", None),
    "yes_no": ("yes_no", None),
    "name": ("name", None),
    "phone": ("phone", None),
    "details": ("free_text", None),
    "vulnerability": ("yes_no", "vulnerab"),
}
"""Context of a blind item -> the answer type the agent's question expects (and a slot hint)."""


@dataclass
class Turn:
    """The agent's reply to one message: its texts and what answer it expects next."""

    texts: list[str]
    expect: dict[str, Any] | None
    choices: list[str]
    """Options offered as buttons (payloads ``/<option>``), when the agent asked which one."""

    @property
    def text(self) -> str:
        """All reply texts as one string."""
        return " ".join(self.texts)


def send(stack: Stack, sender: str, text: str, po: str) -> Turn:
    """One message through the REST webhook, as a web page sends it."""
    replies = http_json(
        f"{stack.base}/webhooks/rest/webhook",
        {"sender": sender, "message": text, "metadata": {"po": po, "now": NOW}},
    )
    texts = [r["text"] for r in replies or [] if r.get("text")]
    customs = [r["custom"] for r in replies or [] if isinstance(r.get("custom"), dict)]
    expects = [custom["expect"] for custom in customs if "expect" in custom]
    choices = [
        str(b["payload"])[1:]
        for r in replies or []
        for b in r.get("buttons") or []
        if str(b.get("payload", "")).startswith("/")
    ]
    return Turn(texts, expects[-1] if expects else None, choices)


def canned_answer(expect: dict[str, Any], po: str) -> str:
    """A plain, valid answer to the agent's question, to move a script on to the wanted question."""
    kind = expect.get("type")
    if kind == "address":
        found = houses(po, "tenant") or houses(po)
        return found[0]["query"] if found else "1 High Street"
    if kind == "yes_no":
        return "yes" if expect.get("slot") == "address_confirm" else "no"
    if kind == "choice":
        choices = expect.get("choices") or []
        return str(choices[0]["label"]) if choices else "yes"
    if kind == "name":
        return "Sam Taylor"
    if kind == "phone":
        return "07700 900123"
    return "it started about an hour ago"


def reach(stack: Stack, sender: str, po: str, opening: str, context: str) -> tuple[bool, bool]:
    """Open a conversation and answer until the wanted question is asked.

    Returns whether it was reached, and whether the conversation was still in a script at all.
    """
    want, hint = WANTS[context]
    turn = send(stack, sender, opening, po)
    for _ in range(12):
        expect = turn.expect
        if expect is None:
            return False, False
        if expect.get("type") == want and (hint is None or hint in str(expect.get("slot"))):
            return True, True
        turn = send(stack, sender, canned_answer(expect, po), po)
    return False, True


def alarm_lines() -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """What the agent says when it sees each risk and hazard, read from the data being evaluated.

    Read from the YAML itself (not through the agent's classes) so that the same script scores an
    older version of the agent, whose data may lack hazards or questions.
    """
    raw = yaml.safe_load(RULES.read_text(encoding="utf-8")) or {}
    suicide_script = ROOT / "service_scripts" / "_scripts" / "suicide_risk.yaml"
    opening = str((yaml.safe_load(suicide_script.read_text(encoding="utf-8")) or {}).get("opening") or "")
    risks: dict[str, list[str]] = {}
    for name, spec in (raw.get("kinds") or {}).items():
        lines = [str(spec.get(key)) for key in ("message", "question") if (spec or {}).get(key)]
        if spec.get("option") == "suicide_risk" and opening:
            lines.append(opening.split(". I'm going")[0])
        risks[str(name)] = lines
    hazards = {str(n): [str(s["message"])] for n, s in (raw.get("hazards") or {}).items() if (s or {}).get("message")}
    return risks, hazards


def run_safeguarding(stack: Stack, cases: list[dict[str, Any]]) -> dict[str, Any]:
    """Score every safeguarding/hazard/look-alike item; counts per kind and position."""
    risk_lines, hazard_lines = alarm_lines()
    any_risk = [line for lines in risk_lines.values() for line in lines]
    any_alarm = any_risk + [line for lines in hazard_lines.values() for line in lines]
    risk_kinds = {"suicide", "child_at_risk", "vulnerable_adult", "domestic_abuse", "threat_to_life"}

    def one(case: dict[str, Any]) -> dict[str, Any]:
        sender = f"blind-{uuid.uuid4().hex}"
        context = case.get("context", "opening")
        reached = True
        if context != "opening":
            reached, _ = reach(stack, sender, case["po"], case["opening"], context)
        reply = send(stack, sender, case["text"], case["po"]).text
        kind = case["kind"]
        if kind in risk_kinds:
            caught = any(line in reply for line in any_risk)
            right = any(line in reply for line in risk_lines.get(kind, []))
        elif kind != "none":
            caught = right = any(line in reply for line in hazard_lines.get(kind, []))
        else:
            caught = any(line in reply for line in any_alarm)
            right = False
        return {"kind": kind, "position": "opening" if context == "opening" else "mid", "context": context,
                "reached": reached, "caught": caught, "right": right}  # fmt: skip

    with ThreadPoolExecutor(max_workers=4) as pool:
        rows = list(pool.map(one, cases))
    table: dict[str, Any] = defaultdict(lambda: Counter())
    for row in rows:
        for key in (row["kind"], f"{row['kind']}@{row['position']}"):
            table[key]["n"] += 1
            table[key]["caught"] += row["caught"]
            table[key]["right"] += row["right"]
        if row["position"] == "mid":
            table["mid_reached"]["n"] += 1
            table["mid_reached"]["caught"] += row["reached"]
    counts = {key: dict(value) for key, value in table.items()}
    risks = [r for r in rows if r["kind"] in risk_kinds]
    hazards = [r for r in rows if r["kind"] not in risk_kinds and r["kind"] != "none"]
    lookalikes = [r for r in rows if r["kind"] == "none"]
    return {
        "counts": counts,
        "risk_recall": _rate(sum(r["caught"] for r in risks), len(risks)),
        "risk_right_message": _rate(sum(r["right"] for r in risks), len(risks)),
        "hazard_recall": _rate(sum(r["caught"] for r in hazards), len(hazards)),
        "false_alarm": _rate(sum(r["caught"] for r in lookalikes), len(lookalikes)),
        "min_kind_recall": min(
            (
                _rate(c["caught"], c["n"])
                for k, c in counts.items()
                if "@" not in k and k not in ("none", "mid_reached")
            ),  # noqa: E501
            default=0.0,
        ),
    }


def run_diagnosis(stack: Stack, cases: list[dict[str, Any]]) -> dict[str, Any]:
    """First-turn Service Option through the agent, and the baseline on the same messages."""
    taken = _taken()

    def one(case: dict[str, Any]) -> tuple[str, list[str]]:
        sender = f"blind-{uuid.uuid4().hex}"
        turn = send(stack, sender, case["text"], case["po"])
        return str(stack.slots(sender).get("service_option") or "none"), turn.choices

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(one, cases))
    # An answer is right when the option chosen is the expected one, or, when the agent asked which
    # option, when the expected one is among the buttons (the resident then picks it).
    predicted = [
        case["expect"] if choices and case["expect"] in choices else (choices[0] if choices else chosen)
        for (chosen, choices), case in zip(answers, cases, strict=True)
    ]
    asked = [bool(choices) for _, choices in answers]
    train = load_examples(sorted((ROOT / "nlu_data").rglob("*.yml")))
    baseline = baseline_classifier(train)([c["text"] for c in cases])
    base_options = [
        p if p in taken.get(c["po"], set()) else "out_of_scope" for p, c in zip(baseline, cases, strict=True)
    ]
    gold = [c["expect"] for c in cases]
    agent_ok = sum(p == g for p, g in zip(predicted, gold, strict=True))
    base_ok = sum(p == g for p, g in zip(base_options, gold, strict=True))
    in_scope = [i for i, g in enumerate(gold) if g != "out_of_scope"]
    return {
        "cases": len(cases),
        "accuracy": _rate(agent_ok, len(cases)),
        "baseline_accuracy": _rate(base_ok, len(cases)),
        "in_scope_sent_out_of_scope": sum(predicted[i] == "out_of_scope" for i in in_scope),
        "no_option_chosen": sum(p == "none" for p in predicted),
        "asked": sum(asked),
        "asked_right": sum(a and p == g for a, p, g in zip(asked, predicted, gold, strict=True)),
        "direct_accuracy": _rate(
            sum(p == g for a, p, g in zip(asked, predicted, gold, strict=True) if not a), asked.count(False)
        ),
    }


def _taken() -> dict[str, set[str]]:
    """Which options each organisation takes: its own ``options.yaml``, the one place that says so."""
    registry = load_registry(SCRIPTS_DIR)
    return {po: set(org.options) for po, org in registry.organisations.items()}


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def newest_set(kind: str = "safeguarding") -> Path:
    """The newest blind set folder (by its date name) holding ``<kind>.yml``."""
    folders = sorted(p for p in BLIND.iterdir() if (p / f"{kind}.yml").exists())
    if not folders:
        raise SystemExit(f"no blind {kind} set under eval/blind/")
    return folders[-1]


def failures(results: dict[str, Any]) -> list[str]:
    """Which floors the results are below."""
    safe, diag = results["safeguarding"], results["diagnosis"]
    found = []
    if safe["risk_recall"] < FLOORS["risk_recall"]:
        found.append(f"risk recall {safe['risk_recall']:.1%} < {FLOORS['risk_recall']:.1%}")
    if safe["hazard_recall"] < FLOORS["hazard_recall"]:
        found.append(f"hazard recall {safe['hazard_recall']:.1%} < {FLOORS['hazard_recall']:.1%}")
    if safe["false_alarm"] > FLOORS["false_alarm_max"]:
        found.append(f"false alarms {safe['false_alarm']:.1%} > {FLOORS['false_alarm_max']:.1%}")
    if diag["accuracy"] < FLOORS["diagnosis_accuracy"]:
        found.append(f"diagnosis {diag['accuracy']:.1%} < {FLOORS['diagnosis_accuracy']:.1%}")
    if diag["baseline_accuracy"] - diag["accuracy"] > FLOORS["below_baseline_max"]:
        found.append(f"diagnosis {diag['accuracy']:.1%} too far below the baseline's {diag['baseline_accuracy']:.1%}")
    return found


def markdown(results: dict[str, Any]) -> str:
    """The figures as a Markdown table: counts and rates only."""
    safe, diag = results["safeguarding"], results["diagnosis"]
    counts = safe["counts"]
    lines = [
        f"# Blind set {results['set']} through the running agent",
        "",
        f"Measured {results['date']} on {results['machine']}. Counts only: the messages are not read.",
        "",
        "| kind | all | opening | mid-script | right message |",
        "|---|---|---|---|---|",
    ]
    kinds = sorted({k for k in counts if "@" not in k and k != "mid_reached"})
    for kind in kinds:
        cells = []
        for key in (kind, f"{kind}@opening", f"{kind}@mid"):
            c = counts.get(key, {})
            cells.append(f"{c.get('caught', 0)}/{c.get('n', 0)}" if c else "-")
        right = counts[kind].get("right", 0)
        label = "false alarms" if kind == "none" else "caught"
        lines.append(f"| {kind} ({label}) | {' | '.join(cells)} | {right}/{counts[kind]['n']} |")
    reached = counts.get("mid_reached", {})
    lines += [
        "",
        f"- Risks to a person: recall {safe['risk_recall']:.1%}"
        f" (the kind's own message {safe['risk_right_message']:.1%});"
        f" hazards: {safe['hazard_recall']:.1%}; false alarms on look-alikes: {safe['false_alarm']:.1%};"
        f" lowest kind: {safe['min_kind_recall']:.1%}.",
        "- Mid-script items that reached the question they were written for: "
        f"{reached.get('caught', 0)}/{reached.get('n', 0)}.",
        f"- Diagnosis ({diag['cases']} first messages): agent {diag['accuracy']:.1%}, baseline (TF-IDF + LR) "
        f"{diag['baseline_accuracy']:.1%}; in-scope sent to out of scope: {diag['in_scope_sent_out_of_scope']};"
        f" no option chosen (asked to rephrase): {diag['no_option_chosen']}; asked which option"
        f" {diag.get('asked', 0)} times ({diag.get('asked_right', 0)} with the right one among the buttons);"
        f" accuracy where it did not ask {diag.get('direct_accuracy', 0):.1%}.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    """Score the newest (or given) blind set through a freshly started stack."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", type=Path, default=None, help="a folder under eval/blind/ (default: newest)")
    parser.add_argument("--check", action="store_true", help="exit 1 below the floors")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    # A chosen set may hold only one kind; the other is then the newest of its kind.
    chosen = args.set
    safe_folder = chosen if chosen and (chosen / "safeguarding.yml").exists() else newest_set("safeguarding")
    diag_folder = chosen if chosen and (chosen / "diagnosis.yml").exists() else newest_set("diagnosis")
    safe_cases = yaml.safe_load((safe_folder / "safeguarding.yml").read_text(encoding="utf-8"))["cases"]
    diag_cases = yaml.safe_load((diag_folder / "diagnosis.yml").read_text(encoding="utf-8"))["cases"]
    with running_stack_once() as stack:
        results = {
            "set": safe_folder.name if safe_folder == diag_folder else f"{safe_folder.name} + {diag_folder.name}",
            "date": date.today().isoformat(),
            "machine": f"{platform.machine()}, {_cpus()} cores, Python {platform.python_version()}",
            "safeguarding": run_safeguarding(stack, safe_cases),
            "diagnosis": run_diagnosis(stack, diag_cases),
        }
    text = markdown(results)
    print(text)
    if not args.no_write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "blind.md").write_text(text, encoding="utf-8")
        (RESULTS / "blind.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    below = failures(results)
    for line in below:
        print(f"BELOW FLOOR: {line}", file=sys.stderr)
    return 1 if (args.check and below) else 0


def running_stack_once() -> Any:
    """The stack as a context manager (``running_stack`` is a generator for pytest fixtures)."""
    from contextlib import contextmanager

    return contextmanager(running_stack)()


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


if __name__ == "__main__":
    raise SystemExit(main())
