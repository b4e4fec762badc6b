"""The review sample: its size, borderline items first, the axes' mix kept, the same sample every time."""

from __future__ import annotations

from collections import Counter

from studio.review.push import sample_size
from studio.review.sample import choose, doubt
from tests.review.items import make_items


def test_size_and_fraction() -> None:
    assert sample_size(500, None, None) == 100
    assert sample_size(40, 100, None) == 40
    assert sample_size(500, None, 0.1) == 50
    assert sample_size(3, None, 0.01) == 1


def test_borderline_items_come_first_up_to_their_share() -> None:
    items = make_items(300, doubtful_every=10)  # 60 doubtful items
    sample = choose(items, 100, ["kind"], borderline=0.25, seed=1)
    doubtful = [r for r in sample if doubt(r.meta) > 0]
    assert len(sample) == 100 and len(doubtful) >= 25
    # The 25 reserved places went to the most doubtful items.
    most = sorted((doubt(r.meta) for r in items if doubt(r.meta) > 0), reverse=True)[:25]
    assert sorted((doubt(r.meta) for r in doubtful), reverse=True)[:25] == most


def test_the_rest_keeps_the_mix_of_the_stratified_axes() -> None:
    items = make_items(250, doubtful_every=0)
    items += [r for r in make_items(500, doubtful_every=0)[250:] if r.meta["axes"]["kind"] == "qa"]  # qa: 40%
    sample = choose(items, 100, ["kind"], borderline=0.0, seed=3)
    population = Counter(r.meta["axes"]["kind"] for r in items)
    drawn = Counter(r.meta["axes"]["kind"] for r in sample)
    for kind, n in population.items():
        assert abs(drawn[kind] - 100 * n / len(items)) < 1  # largest remainder: within one of the quota


def test_the_same_inputs_give_the_same_sample_in_file_order() -> None:
    items = make_items(200)
    first = choose(items, 50, ["kind", "style"], 0.25, seed=7)
    assert [r.id for r in first] == [r.id for r in choose(items, 50, ["kind", "style"], 0.25, seed=7)]
    assert [r.id for r in first] != [r.id for r in choose(items, 50, ["kind", "style"], 0.25, seed=8)]
    order = {r.id: i for i, r in enumerate(items)}
    assert [order[r.id] for r in first] == sorted(order[r.id] for r in first)
    assert choose(items, 500, ["kind"], 0.25, 0) == items
