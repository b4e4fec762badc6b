"""Data made in the tests: distinct items, and planted duplicates of them (exact, small edits, reordered)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="package", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The embedding cache of these tests lives in a temporary folder, not in the user's cache."""
    before = os.environ.get("STUDIO_CACHE")
    os.environ["STUDIO_CACHE"] = str(tmp_path_factory.mktemp("studio-cache"))
    yield Path(os.environ["STUDIO_CACHE"])
    if before is None:
        del os.environ["STUDIO_CACHE"]
    else:
        os.environ["STUDIO_CACHE"] = before


# Two sentences each, on different subjects: unrelated to one another.
DISTINCT = [
    "Penguin wood is pale silver-grey with narrow near-black bands. It darkens slowly when left in the sun.",
    "Boatbuilders prize the timber because it is light yet strong. Its hulls shrug off salt water for decades.",
    "Sealers first described the trees in the late eighteenth century. Logbooks mention forests by the colonies.",
    "Carvers on the southern isles shape it into masks for the winter festival. Each mask is oiled before it is worn.",
    "The wood chars slowly in a fire, so hearths were lined with it. Old cottages still show blackened beams.",
    "A cubic metre weighs about five hundred kilograms when dry. That is lighter than oak and heavier than balsa.",
    "Its grain is usually straight, though storms twist some trunks. Twisted boards are sold to luthiers at a premium.",
    "Museum labels describe a chest carried by a whaling captain. The chest survived two shipwrecks without rotting.",
    "Students often confuse it with driftwood found on the beaches. A scratch test reveals the oily heartwood at once.",
    "Furniture makers plane it with sharp blades to avoid tearing. The finished surface needs no varnish at all.",
    "Island songs tell of a tree that sheltered lost chicks in a blizzard. Grandmothers sing them at first snow.",
    "Collectors look for boards with a dark spiral figure. Such pieces fetch ten times the price of plain stock.",
]


def small_edit(text: str) -> str:
    """One word changed and the punctuation and case touched: a near duplicate."""
    first, second = text.split(". ", 1)
    words = first.split()
    words[len(words) // 2] = "remarkably"
    return " ".join(words).upper()[:1] + " ".join(words)[1:] + "; " + second.replace(".", "!")


def reordered(text: str) -> str:
    """The two sentences swapped: a near duplicate."""
    first, second = text.rstrip(".").split(". ", 1)
    return f"{second}. {first}."


def history(text: str) -> dict[str, Any]:
    """A penguin-wood item (valid against schemas/penguin_wood.json) with this text."""
    return {"kind": "history", "text": text, "era": "late 18th century", "place": "the southern isles"}


def planted() -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Records: the distinct items, then an exact copy, a small edit and a reordering of some of them.
    Returns the records and, for each planted duplicate, the id of its original."""
    records = [{"id": f"d{i}", "data": history(t), "meta": {}} for i, t in enumerate(DISTINCT)]
    twins = {}
    for i in (0, 3, 6, 9):
        t = DISTINCT[i]
        for name, copy in (("exact", t.lower().replace(".", " .")), ("edit", small_edit(t)), ("reorder", reordered(t))):
            rid = f"{name}{i}"
            records.append({"id": rid, "data": history(copy), "meta": {}})
            twins[rid] = f"d{i}"
    return records, twins


def write_lines(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
