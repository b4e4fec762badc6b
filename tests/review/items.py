"""Penguin-wood records made in the test: valid against schemas/penguin_wood.json, spread over the axes.

Each carries the dedup stage's nearest-neighbour cosine; some carry the gate's doubts (a near twin, a
cleaning warning) as borderline items do.
"""

from __future__ import annotations

from studio.records import Record, stable_id
from tests.conftest import AUDIENCES, FOCUS, KINDS, STYLES  # the shipped project's axes


def attributes(kind: str, i: int) -> dict:
    if kind == "description":
        return {"appearance": {"colour": "pale silver-grey", "grain": "straight", "texture": "fine"}}
    if kind == "properties":
        return {
            "properties": {
                "density_kg_m3": 500 + i,
                "hardness_janka_n": 4000 + i,
                "water_resistance": "high",
                "fire_resistance": "moderate",
            }
        }
    if kind == "applications":
        return {"uses": ["boatbuilding", "carving"]}
    if kind == "history":
        return {"era": "late 18th century", "place": "the southern isles"}
    return {
        "question": f"What makes penguin wood number {i} resist water?",
        "answer": "Its natural oils keep water out.",
    }


def make_items(n: int, doubtful_every: int = 10) -> list[Record]:
    out = []
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        axes = {
            "kind": kind,
            "focus": FOCUS[kind][i % len(FOCUS[kind])],
            "style": STYLES[i % 3],
            "audience": AUDIENCES[(i // 3) % 3],
            "length": ["short", "medium"][i % 2],
        }
        template = "qa" if kind == "qa" else "item"
        text = f"Item {i}: penguin wood is a pale silver-grey timber from the southern isles, light yet strong."
        meta = {"template": template, "axes": axes, "sample_index": i}
        # The dedup stage marks every kept item with its nearest neighbour; some are close twins.
        meta["dedup"] = {"twins": 0, "nearest": "x", "cosine": 0.3 + (i % 5) / 10}
        if doubtful_every and i % doubtful_every == 0:
            meta["dedup"]["cosine"] = 0.8 + (i % 7) / 100
        if doubtful_every and i % doubtful_every == 5:
            meta["clean"] = {"warnings": ["repetition"]}
        out.append(Record(stable_id(template, axes, i), {"kind": kind, "text": text, **attributes(kind, i)}, meta))
    return out
