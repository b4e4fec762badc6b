"""`engine: ray`: validate and dedup as Ray Data jobs on a local Ray (started by studio on this machine's cores),
deciding every item as the local path does. The parts are made small here so that a job has many of them."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from studio.pipeline import dedup, validate
from studio.quality import minhash, ray_jobs
from studio.quality import validate as validate_module
from tests.conftest import ROOT, run_studio
from tests.quality.conftest import small_edit, write_lines

pytestmark = pytest.mark.xdist_group("ray")  # one local Ray at a time on two cores
SCHEMA = ROOT / "schemas/penguin_wood.json"


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[None]:
    import ray

    yield
    ray.shutdown()


def labelled_items() -> list[dict]:
    """The benchmark's hand-labelled items (clean ones and every kind of artefact), as penguin-wood history
    items, with near copies of some of them, and lines that are no JSON object."""
    rows = []
    for name in ("quality_set", "quality_heldout", "quality_fresh"):
        for line in (ROOT / f"benchmarks/data/{name}.jsonl").read_text().splitlines():
            r = json.loads(line)
            rows.append(
                {
                    "id": r["id"],
                    "data": {
                        "kind": "history",
                        "text": r["data"]["text"],
                        "era": "late 18th century",
                        "place": "the isles",
                    },
                    "meta": {},
                }
            )
    rng = random.Random(0)
    for r in rng.sample(rows, 150):
        text = r["data"]["text"]
        if ". " in text:
            rows.append({"id": f"copy-{r['id']}", "data": {**r["data"], "text": small_edit(text)}, "meta": {}})
    rng.shuffle(rows)
    return rows


def test_validate_on_ray_decides_every_line_as_the_local_path_does(tmp_path: Path, monkeypatch) -> None:
    source = write_lines(tmp_path / "items.jsonl", labelled_items())
    with open(source, "a") as f:
        f.write("{broken\n[1, 2]\n")
    whole = validate_module.batches
    monkeypatch.setattr(validate_module, "batches", lambda path: whole(path, size=100))  # 14 parts
    said: list[str] = []
    local = validate(file=source, schema=SCHEMA, out=tmp_path / "local", engine="local")
    on_ray = validate(file=source, schema=SCHEMA, out=tmp_path / "ray", engine="ray", say=said.append)
    assert any("engine: ray, on a local Ray" in line for line in said), said
    for name in ("valid.jsonl", "invalid.jsonl"):
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
    assert on_ray["counts"] == {**local["counts"], "items_per_s": on_ray["counts"]["items_per_s"]}
    assert 0 < local["counts"]["valid"] < local["counts"]["lines"]  # both kinds of decision were made


def test_dedup_on_ray_drops_the_same_items_for_the_same_twins(tmp_path: Path, monkeypatch) -> None:
    source = write_lines(tmp_path / "items.jsonl", labelled_items())
    monkeypatch.setattr(minhash, "SIGN_CHUNK", 100)  # 15 chunks of texts to sign
    local = dedup(file=source, out=tmp_path / "local", semantic=False, engine="local")
    on_ray = dedup(file=source, out=tmp_path / "ray", semantic=False, engine="ray")
    for name in ("unique.jsonl", "duplicates.jsonl"):
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
    assert on_ray["counts"]["by_method"] == local["counts"]["by_method"]
    assert local["counts"]["by_method"]["minhash"] > 50  # the near copies were found, on both paths


def test_the_cli_takes_engine_ray_and_joins_the_cluster_ray_address_names(tmp_path: Path) -> None:
    import ray

    ray_jobs.connect()  # this module's local Ray stands in for a cluster (and the CLI starts none of its own)
    address = ray.get_runtime_context().gcs_address
    source = write_lines(tmp_path / "items.jsonl", labelled_items()[:200])
    done = run_studio(
        "validate",
        *(str(source), "--schema", str(SCHEMA), "--out", str(tmp_path), "--engine", "ray"),
        env={"RAY_ADDRESS": address},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"engine: ray, on the Ray cluster at {address}" in done.stderr and "checked 200 line(s)" in done.stdout
