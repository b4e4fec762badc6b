"""The plan: axes to a grid, sampled with the seed, every cell used before any is used twice."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from studio.generation.plan import grid, plan
from studio.project import load_project
from tests.conftest import copy_project


def test_grid_follows_conditional_axes(tmp_path: Path) -> None:
    project = load_project(copy_project(tmp_path))
    cells = grid(project.axes)
    # 17 (kind, focus) pairs x 3 styles x 3 audiences x 2 lengths
    assert len(cells) == 17 * 3 * 3 * 2
    assert all(c["focus"] in project.axes["focus"].values[c["kind"]] for c in cells)  # type: ignore[index]


def test_plan_is_seeded_balanced_and_stable(tmp_path: Path) -> None:
    project = load_project(copy_project(tmp_path))
    a, b = plan(project, 40), plan(project, 40)
    assert [i.id for i in a] == [i.id for i in b]
    assert len({i.id for i in a}) == 40
    assert plan(project, 10) == a[:10]  # a smaller run is a prefix of a larger one
    other = load_project(copy_project(tmp_path / "o", {"generate.seed": 8}))
    assert [i.id for i in plan(other, 40)] != [i.id for i in a]


def test_cells_repeat_only_after_the_grid_is_used_up(tmp_path: Path) -> None:
    project = load_project(
        copy_project(
            tmp_path, {"axes": {"kind": ["qa", "history"], "length": ["short"]}, "templates": [{"name": "item"}]}
        )
    )
    items = plan(project, 5)
    assert [i.sample_index for i in items] == [0, 0, 1, 1, 2]
    assert Counter(i.axes["kind"] for i in items) == {"qa": 3, "history": 2} or Counter(
        i.axes["kind"] for i in items
    ) == {"qa": 2, "history": 3}
    assert len({i.id for i in items}) == 5


def test_templates_are_chosen_by_when(tmp_path: Path) -> None:
    project = load_project(copy_project(tmp_path))
    for item in plan(project, 60):
        assert item.template == ("qa" if item.axes["kind"] == "qa" else "item")
