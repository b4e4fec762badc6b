"""The plan: diversity axes expanded to a grid of cells, a template per cell, n items with stable ids.

Item i takes cell i mod len(cells) of the grid (in order, or shuffled with the seed), and its sample index
is how many times that cell came before it, so every cell is used once before any is used twice.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from studio.errors import StudioError
from studio.project import Project
from studio.records import stable_id

SUBTOPIC_AXIS = "subtopic"


@dataclass(frozen=True)
class PlannedItem:
    id: str
    template: str
    axes: dict[str, str]
    sample_index: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "template": self.template,
            "axes": self.axes,
            "sample_index": self.sample_index,
        }


def axis_lists(project: Project, subtopics: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """The axes as declared, plus the `subtopic` axis when the first pass produced one."""
    axes: dict[str, Any] = {name: axis for name, axis in project.axes.items()}
    if subtopics and project.generate.subtopics:
        from studio.project import Axis

        axes[SUBTOPIC_AXIS] = Axis(values=subtopics, by=project.generate.subtopics.axis)
    return axes


def grid(axes: dict[str, Any]) -> list[dict[str, str]]:
    """Every combination of axis values; a `by` axis contributes the values listed for its parent's value."""
    cells: list[dict[str, str]] = [{}]
    for name, axis in axes.items():
        nxt = []
        for cell in cells:
            values = axis.values[cell[axis.by]] if axis.by else axis.values
            nxt.extend({**cell, name: v} for v in values)
        cells = nxt
    return cells


def choose_template(project: Project, cell: dict[str, str]) -> str:
    for t in project.templates:
        if all(cell.get(axis) in wanted for axis, wanted in t.when.items()):
            return t.name
    raise StudioError(f"no template's `when` matches the cell {cell}", None, "templates")


def plan(project: Project, n: int | None = None, subtopics: dict[str, list[str]] | None = None) -> list[PlannedItem]:
    cells = grid(axis_lists(project, subtopics))
    if project.generate.sampling == "random":
        random.Random(project.generate.seed).shuffle(cells)
    n = n or project.generate.n or len(cells)
    templates = [choose_template(project, c) for c in cells]
    items = []
    for i in range(n):
        k, sample_index = i % len(cells), i // len(cells)
        items.append(PlannedItem(stable_id(templates[k], cells[k], sample_index), templates[k], cells[k], sample_index))
    return items
