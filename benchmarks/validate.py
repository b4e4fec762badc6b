"""Validation speed: 100,000 penguin-wood items checked against schemas/penguin_wood.json.

    .venv/bin/python benchmarks/validate.py [--items 100000]

Rows: the whole schema per item (jsonschema's compiled validator, `oneOf` of five kinds: the naive way),
studio's fast path (the branch the item's kind picks, compiled once), and the whole validate stage
(read, clean, check, write valid.jsonl and invalid.jsonl) with one process and with one per core.
One item in ten is invalid (a bad value, a missing or extra key) and one line in a hundred is broken.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path

from studio.project import Quality
from studio.quality.validate import validate_file
from studio.records import canonical_json
from studio.schema import DomainSchema

ROOT = Path(__file__).resolve().parents[1]
ADJECTIVES = ["pale", "light", "strong", "oily", "dense", "silver", "banded", "fine", "smooth", "old"]
PLACES = ["southern isles", "cold coast", "penguin colonies", "northern bays", "harbour towns"]
USES = ["boats", "chairs", "masks", "floors", "violins", "beams", "chests"]


def text(rng: random.Random) -> str:
    a, b = rng.sample(ADJECTIVES, 2)
    return (
        f"Penguin wood from the {rng.choice(PLACES)} is {a} and {b}, which makes it good for {rng.choice(USES)}. "
        f"Item {rng.randrange(10**6)} was noted by a {rng.choice(['carver', 'sealer', 'student'])} in the log."
    )


def item(rng: random.Random) -> dict:
    kind = rng.choice(["description", "properties", "applications", "history", "qa"])
    data: dict = {"kind": kind, "text": text(rng)}
    if kind == "description":
        data["appearance"] = {"colour": "silver-grey", "grain": "straight", "texture": "fine"}
    elif kind == "properties":
        data["properties"] = {
            "density_kg_m3": rng.randint(300, 900),
            "hardness_janka_n": rng.randint(2000, 9000),
            "water_resistance": "high",
            "fire_resistance": "moderate",
        }
    elif kind == "applications":
        data["uses"] = rng.sample(["furniture", "boatbuilding", "carving", "art"], 2)
    elif kind == "history":
        data.update(era="the 1790s", place="the southern isles")
    else:
        data.update(question="What is penguin wood used for?", answer="Boats, chairs and carved masks.")
    if rng.random() < 0.1:  # invalid
        spoil = rng.choice(["kind", "text", "extra"])
        if spoil == "kind":
            data["kind"] = "poem"
        elif spoil == "text":
            data["text"] = "too short"
        else:
            data["colour"] = "grey"
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    args = parser.parse_args()
    rng = random.Random(0)
    items = [item(rng) for _ in range(args.items)]
    schema = DomainSchema.load(ROOT / "schemas/penguin_wood.json")
    print(f"# {len(items):,} items; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start")
    rows = []

    t0 = time.perf_counter()
    naive = [schema.validator.is_valid(d) for d in items]
    rows.append(("whole schema per item (jsonschema, compiled once)", time.perf_counter() - t0))
    t0 = time.perf_counter()
    fast = [not schema.check(d) for d in items]
    rows.append(("studio fast path (DomainSchema.check)", time.perf_counter() - t0))
    assert naive == fast, "the fast path must give the whole schema's verdict"

    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "items.jsonl"
        with open(source, "w") as f:
            for i, d in enumerate(items):
                line = canonical_json({"id": f"{i:08x}", "data": d, "meta": {"template": "item"}})
                f.write((line[: len(line) // 2] if i % 100 == 99 else line) + "\n")
        for workers in (1, os.cpu_count() or 1):
            t0 = time.perf_counter()
            result = validate_file(
                source, schema, Quality(), Path(tmp) / "valid.jsonl", Path(tmp) / "invalid.jsonl", workers=workers
            )
            seconds = time.perf_counter() - t0
            c = result["counts"]
            rows.append((f"validate stage: read, clean, check, write ({workers} process(es))", seconds))
        print(f"# stage: {c['valid']:,} valid, {c['invalid']:,} invalid, by rule {json.dumps(c['by_rule'])}")

    print("\n| what | items | seconds | items/s |\n|---|---:|---:|---:|")
    for name, seconds in rows:
        print(f"| {name} | {len(items):,} | {seconds:.2f} | {len(items) / seconds:,.0f} |")


if __name__ == "__main__":
    main()
