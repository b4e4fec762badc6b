"""Quality gate on hand-labelled sets: recall per kind of generator artefact, false flags on clean items.

    .venv/bin/python benchmarks/quality.py [--set FILE.jsonl] [--no-write]

Every set is studio records written by hand, each with a label: `clean`, or the one artefact it carries
(residue, placeholder, meta_talk, instruction_echo, qa_scaffold, truncated, repetition), and a note.

Each set after the first was written by a writer who had not read the rules and measured once as it came
(that first figure is the honest one, recorded in SETS); its misses then widened the rules, which makes it a
dev set. The held-out set (HELD_OUT) is the last one, written after the last rule change.

The records go, without their labels, through `validate_file` exactly as `studio validate FILE` runs it:
`Quality()` defaults and a permissive schema (kind and text required), so that only the cleaning rules
decide. An item counts as flagged when it ends in invalid.jsonl, whatever the rule (`meta.rejected.rule`).
One table per set goes into benchmarks/README.md between this script's markers (--no-write: print only;
--set FILE: measure that one file, print only). Missed items and false flags are printed in full.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.record import README, machine, markers, write_between  # noqa: E402
from studio.project import Quality  # noqa: E402
from studio.quality.clean import has_markup  # noqa: E402
from studio.quality.validate import validate_file  # noqa: E402
from studio.records import canonical_json  # noqa: E402
from studio.schema import DomainSchema  # noqa: E402

DATA = ROOT / "benchmarks/data"
# (file, domains, written, first measured: recall and false flags, or None): a set is measured once as it comes,
# by rules its writer never read, and that first figure is the honest one; then its misses widen the rules and
# it is a dev set. The last set with no rule change after it is the held-out set: its table is the one to quote.
SETS = [
    ("quality_set.jsonl", 6, "2026-11-30, with the first rules", None),
    ("quality_heldout.jsonl", 7, "2026-12-01", (0.838, 0.028)),
    ("quality_fresh.jsonl", 24, "2026-12-02", (0.833, 0.025)),
    ("quality_fresh2.jsonl", 30, "2026-12-02", (0.807, 0.040)),
    ("quality_fresh3.jsonl", 20, "2026-12-02", (0.940, 0.020)),
    ("quality_fresh4.jsonl", 20, "2026-12-03", (0.800, 0.020)),
    ("quality_fresh5.jsonl", 20, "2026-12-03", (0.850, 0.020)),
    ("quality_fresh6.jsonl", 20, "2026-12-03", (0.860, 0.010)),
    ("quality_fresh7.jsonl", 20, "2026-12-03", (0.730, 0.000)),
    ("quality_fresh8.jsonl", 20, "2026-12-03", (0.820, 0.020)),
    ("quality_fresh9.jsonl", 20, "2026-12-03", (0.930, 0.030)),
    ("quality_fresh10.jsonl", 20, "2026-12-03", (0.870, 0.030)),
    ("quality_fresh11.jsonl", 20, "2026-12-03", (0.800, 0.020)),
    ("quality_fresh12.jsonl", 20, "2026-12-03", (0.850, 0.060)),
    ("quality_fresh13.jsonl", 20, "2026-12-03", (0.850, 0.060)),
    ("quality_fresh14.jsonl", 20, "2026-12-03", (0.900, 0.000)),
    ("quality_fresh15.jsonl", 20, "2026-12-03", (0.890, 0.040)),
    ("quality_fresh16.jsonl", 20, "2026-12-04", (0.910, 0.000)),
    ("quality_fresh17.jsonl", 20, "2026-12-04", (0.890, 0.020)),
    ("quality_fresh18.jsonl", 20, "2026-12-04", (0.860, 0.030)),
    ("quality_fresh19.jsonl", 20, "2026-12-04", (0.800, 0.060)),
    ("quality_fresh20.jsonl", 20, "2026-12-04", (0.800, 0.000)),
    ("quality_fresh21.jsonl", 20, "2026-12-05", (0.770, 0.020)),
    ("quality_fresh22.jsonl", 12, "2026-12-07", (0.870, 0.070)),
    ("quality_fresh23.jsonl", 12, "2026-12-07", (0.970, 0.000)),
    ("quality_fresh24.jsonl", 12, "2026-12-07", (0.920, 0.040)),
    ("quality_fresh25.jsonl", 12, "2026-12-07", (0.890, 0.100)),
    # First 0.920 / 0.060; a unit test then made `again` no sign of a repetition named on purpose (a loop says
    # `again` too), which flagged one more clean item before the set was used for anything: 0.070 as landed.
    ("quality_fresh26.jsonl", 12, "2026-12-07", (0.920, 0.070)),
    ("quality_fresh27.jsonl", 12, "2026-12-07", (0.930, 0.040)),
    ("quality_fresh28.jsonl", 12, "2026-12-07", (0.970, 0.040)),
    ("quality_fresh29.jsonl", 12, "2026-12-07", (0.930, 0.050)),
    ("quality_fresh30.jsonl", 12, "2026-12-08", (0.960, 0.050)),
    ("quality_fresh31.jsonl", 12, "2026-12-08", (0.960, 0.020)),
    ("quality_fresh32.jsonl", 12, "2026-12-08", (0.920, 0.050)),
    ("quality_fresh33.jsonl", 12, "2026-12-08", (0.940, 0.040)),
    ("quality_fresh34.jsonl", 12, "2026-12-08", (0.930, 0.050)),
    ("quality_fresh35.jsonl", 12, "2026-12-08", (0.960, 0.020)),
    ("quality_fresh36.jsonl", 12, "2026-12-08", (0.940, 0.030)),
    ("quality_fresh37.jsonl", 12, "2026-12-08", (0.950, 0.050)),
    ("quality_fresh38.jsonl", 12, "2026-12-08", (0.980, 0.000)),
    ("quality_fresh39.jsonl", 12, "2026-12-08", (0.940, 0.020)),
]
# Never used to tune the rules; shaped as SETS' are. Since fresh31 the sets come in pairs written at once and
# measured first on one rule set (fresh31/32, 33/34, 35/36, 37/38, 39/40), to see whether a figure holds. fresh38,
# fresh39 and fresh40 are untuned: fresh38 was measured on the rules of 71072e8 (changed after it for fresh37
# only), fresh39 and fresh40 on the rules of 798bd41, the last change. The writers' guide, from fresh24 on, defines
# the artefacts without example strings (the sets before gave examples).
HELD_OUT = ("quality_fresh40.jsonl", 12, "2026-12-08", (0.930, 0.050))
START, END = markers("quality-benchmark")
CATEGORIES = ["residue", "placeholder", "meta_talk", "instruction_echo", "qa_scaffold", "truncated", "repetition"]
TARGETS = "targets: recall >= 0.95, false flags <= 0.03"


def first_measured(first: tuple[float, float] | None) -> str:
    return f"{first[0]:.3f} / {first[1]:.3f}" if first else "tuned on from the start"


def set_row(name: str, domains: int, written: str, first: tuple[float, float] | None, mark: str = "") -> str:
    return f"| `{name}`{mark} | {domains} | {written} | {first_measured(first)} |\n"


FIRSTS = [first for *_, first in [*SETS, HELD_OUT] if first]


HEADING = (
    """## Quality gate: `benchmarks/quality.py`

`.venv/bin/python benchmarks/quality.py` (hand-labelled sets of clean and defective items, about half each,
written in 200-300-item sets by writers who had not read the rules; a few seconds). Each set was measured
once as it came, and then its misses widened the rules, which makes its later numbers optimistic: **the
figure to quote is each set's first measurement**, and above all the held-out set's, the one set no rule has
been changed for. Clean items are at least half hard cases (units and parentheses, quoted questions, code spans
with braces, set notation, citations, acronyms, one-word answers, texts ending on a quote or a parenthesis,
"template" and "assistant" in their own sense); defective ones cover every kind below, subtle ones in
mid-text among them.

| set | domains | written | first measured: recall / false flags |
|---|---:|---|---|
"""
    + "".join(set_row(*entry) for entry in SETS)
    + set_row(*HELD_OUT, mark=" (held out, its table below)")
    + f"""
Across the {len(FIRSTS)} first measurements recall ran from {min(r for r, _ in FIRSTS):.2f} to \
{max(r for r, _ in FIRSTS):.2f} and false flags from {min(f for _, f in FIRSTS):.2f} to \
{max(f for _, f in FIRSTS):.2f}. Widening the rules from one writer's misses lifts that writer's own set close to 1.00
(the tables below) and the next writer's first figure only a little (the last five sets came in at \
{", ".join(f"{r:.2f}" for r, _ in FIRSTS[-5:])}):
each writer invents shapes the last one did not, and asks for hard clean cases (notation, blanks shown as the
subject) that the widened rules had not met. On text from a writer the rules have not met, expect eight or nine
in ten artefacts caught, with false flags anywhere from none to ten in a hundred (the most where the writers aimed
their hard clean cases at one rule, as fresh25's did at repetition), and leave the rest to the LLM judge and the
reviewers. A learned check was tried beside the rules and not kept: logistic regression on
character n-grams, or on the bundled MiniLM's embeddings, trained on the sets before `quality_fresh11.jsonl`
and tested on it: at the threshold that held cross-validated false flags under 0.01, the n-grams added 0.05
recall and 0.01 false flags, the embeddings added nothing (0.01 recall only where their false flags passed 0.02).

Up to `quality_fresh18.jsonl` each writer was given the labels with example shapes, some of them taken from the
sets before (the ones the rules had just been widened for), which flatters their first figures. The writers of
`quality_fresh19.jsonl`, `quality_fresh20.jsonl` and `quality_fresh21.jsonl` were given only what each label
means and asked for shapes a rule-writer would not anticipate: their 0.80, 0.80 and 0.77 recall (with 6%, none
and 2% false flags) are the plainest figures of what the rules do on new text. (`quality_fresh21.jsonl` was
measured once after the rules for `quality_fresh20.jsonl`'s misses; one of those rules then flagged a gloss on
a dev set, `QTH (location)`, and was narrowed; the held-out set's figure stayed 0.770 / 0.020, its misses
unread.) What they miss is mostly meaning, not form: an answer that circles its question or
answers another one, a fact said again in other words, settings echoed in words no rule lists.

`quality_fresh22.jsonl` and `quality_fresh23.jsonl` were written from one guide (what each label means, with
example shapes such as `as you mentioned` and `The answer to this question is`, and a list of hard clean
cases), four writers each, at the same time. `quality_fresh22.jsonl` came in at 0.87 / 0.07: the rules missed
the guide's own shapes in forms they did not know (`as you mentioned`, the answer to a question no passage asks,
`"text":` with its quotes, `the the the`, an unclosed `**`) and dropped a topic word said four times in 59 words,
figures in one unit (`12,000 tonnes ... 40,000 tonnes`), an ion's charge `[OH-]`, a one-digit answer. The rules
were widened for those, and `quality_fresh23.jsonl`, unread until then, came in at 0.97 / 0.00, the first set
to meet both targets as it came. Its writers had the guide that the widening was done from, which flatters it
as the sets up to `quality_fresh18.jsonl` were flattered; the plainer figures are the three sets before. (A
rule for the writer's own plans, `I'm going to make some more`, `I'll give you some tips`, read in a demo's
curated items, came after it; measured again, its figure stayed 0.970 / 0.000.)

An HTML tag or entity in an item (`<p>`, `</s>`, `&quot;`) is repaired, not dropped: cleaning takes it out
before the rules run, the kept item says so (`meta.clean.markup_removed`) and `studio validate` counts it.
From `quality_fresh9.jsonl` on, recall counts such an item as caught when nothing of the markup is left
("repaired"; "dropped only" beside it); the first measurements before it counted it as missed.

The items go, labels removed, through `validate_file` as `studio validate FILE` runs it (`Quality()`
defaults, a schema that accepts any item with a kind and a text); dropped means in invalid.jsonl, by any rule.

{START}
{END}
"""
)


def short(text: str, n: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def run_gate(records: list[dict]) -> tuple[dict[str, str], set[str], float]:
    """Ids dropped by the gate, with the rule that dropped each; ids kept after cleaning took HTML markup out
    (and none is left); and the seconds validate_file took."""
    schema = DomainSchema({"type": "object", "required": ["kind", "text"]}, "<permissive>")
    with tempfile.TemporaryDirectory() as tmp:
        source, valid, invalid = Path(tmp) / "items.jsonl", Path(tmp) / "valid.jsonl", Path(tmp) / "invalid.jsonl"
        with open(source, "w", encoding="utf-8") as f:
            for r in records:  # what a plain generated JSONL holds: no label, no note
                f.write(canonical_json({"id": r["id"], "data": r["data"], "meta": {}}) + "\n")
        t0 = time.perf_counter()
        validate_file(source, schema, Quality(), valid, invalid)
        seconds = time.perf_counter() - t0
        flagged = {}
        for line in invalid.read_text(encoding="utf-8").splitlines():
            obj = json.loads(line)
            flagged[obj["id"]] = obj["meta"]["rejected"]["rule"]
        kept = [json.loads(line) for line in valid.read_text(encoding="utf-8").splitlines()]
    assert len(kept) + len(flagged) == len(records), "every record ends in exactly one of the two files"
    repaired = {
        r["id"]
        for r in kept
        if r["meta"]["clean"].get("markup_removed") and not any(has_markup(s) for s in strings(r["data"]))
    }
    return flagged, repaired, seconds


def strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    return [s for v in value for s in strings(v)] if isinstance(value, list) else []


def report(records: list[dict], flagged: dict[str, str], repaired: set[str]) -> tuple[str, str]:
    """One set's markdown (table, false flags, totals) and the lines printed only (every missed item). An
    artefact counts as caught when the item is dropped, or kept with the markup taken out by cleaning."""
    by_label: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        by_label[r["label"]].append(r)
    unknown = set(by_label) - {"clean", *CATEGORIES}
    assert not unknown, f"labels not known to the benchmark: {sorted(unknown)}"

    lines = [
        "| category | items | dropped | repaired | recall | rules that dropped |",
        "|---|---:|---:|---:|---:|---|",
    ]
    missed_lines = []
    total = caught = dropped = 0
    for cat in CATEGORIES:
        items = by_label.get(cat, [])
        rules = Counter(flagged[r["id"]] for r in items if r["id"] in flagged)
        fixed = sum(r["id"] in repaired for r in items)
        hit = sum(rules.values()) + fixed
        total, caught, dropped = total + len(items), caught + hit, dropped + hit - fixed
        recall = f"{hit / len(items):.2f}" if items else ""
        rule_text = ", ".join(f"{k} {v}" for k, v in rules.most_common())
        lines.append(f"| {cat} | {len(items)} | {hit - fixed} | {fixed} | {recall} | {rule_text} |")
        missed = [r for r in items if r["id"] not in flagged and r["id"] not in repaired]
        if missed:
            missed_lines.append(f"missed {cat} ({len(missed)}):")
            missed_lines += [f"  {r['id']} {json.dumps(r['data'], ensure_ascii=False)}" for r in missed]
    lines.append(f"| **all defective** | {total} | {dropped} | {caught - dropped} | {caught / total:.2f} |  |")
    clean = by_label.get("clean", [])
    false = [r for r in clean if r["id"] in flagged]
    rate = len(false) / len(clean) if clean else 0.0
    rules = Counter(flagged[r["id"]] for r in false)
    lines.append(f"| clean (false flags) | {len(clean)} | {len(false)} |  | {rate:.3f} | ")
    lines[-1] += ", ".join(f"{k} {v}" for k, v in rules.most_common()) + " |"

    out = [*lines, ""]
    out.append(
        f"Recall on defective items: {caught / total:.3f} ({caught}/{total}; dropped only {dropped / total:.3f}); "
        "false flags on clean items: "
    )
    out[-1] += f"{rate:.3f} ({len(false)}/{len(clean)})."
    if false:
        out += ["", "Clean items flagged, by rule (up to 5 examples each):", ""]
        for rule, n in rules.most_common():
            out.append(f"- `{rule}` ({n}):")
            for r in [r for r in false if flagged[r["id"]] == rule][:5]:
                text = short(r["data"]["text"]).replace("|", "/")
                out.append(f"  - {r['id']}: {json.dumps(text, ensure_ascii=False)}")
        missed_lines.append(f"clean items flagged ({len(false)}):")
        missed_lines += [f"  {r['id']} [{flagged[r['id']]}] {json.dumps(r['data'], ensure_ascii=False)}" for r in false]
    return "\n".join(out), "\n".join(missed_lines)


def write_section(section: str) -> None:
    """Replace what is between this script's markers in benchmarks/README.md, and the prose just above them
    (from the section's title to the start marker), with the current text; add the section if absent."""
    text = README.read_text(encoding="utf-8")
    intro, title = HEADING.split(START, 1)[0], HEADING.split("\n", 1)[0]
    if START not in text:
        text = text.rstrip("\n") + "\n\n" + HEADING
    elif 0 <= text.find(title) < text.index(START):
        text = text[: text.find(title)] + intro + text[text.index(START) :]
    README.write_text(text, encoding="utf-8")
    write_between("quality-benchmark", section)


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", type=Path, help="measure only this labelled JSONL set (print only)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave benchmarks/README.md as it is")
    args = parser.parse_args()
    chosen = [(DATA / name, f"`{name}`: dev set, first measured {first_measured(first)}") for name, *_, first in SETS]
    chosen.append((DATA / HELD_OUT[0], f"`{HELD_OUT[0]}`: the held-out set, never used to tune the rules"))
    sets = [(args.set, f"`{args.set.name}`")] if args.set else chosen
    print(f"# machine: {machine()}")
    parts, timings = [], []
    for path, title in sets:
        records = load(path)
        flagged, repaired, seconds = run_gate(records)
        body, missed = report(records, flagged, repaired)
        timings.append(f"{seconds:.2f} s for the {len(records)} items of {path.name}")
        part = f"### {title} ({len(records)} items)\n\n{body}"
        parts.append(part)
        print(f"\n{part}")
        if missed:
            print(f"\n# {path.name}, in full:\n{missed}")
    head = f"Last run ({datetime.date.today().isoformat()}, {machine()}; validate_file took {'; '.join(timings)}):"
    section = "\n\n".join([head, *parts, TARGETS])
    if not args.no_write and not args.set:
        write_section(section)
        print(f"\n# written to {README.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
