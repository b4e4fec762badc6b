"""The Hub push, against a real Hub-compatible HTTP server on 127.0.0.1 (tests/hub_server.py) through
huggingface_hub's own upload path: the card, written once by studio, and the split files it names, in one
commit; nothing pushed when nothing changed; what the Hub holds loads with `datasets.load_dataset`."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, run_studio
from tests.dataset.conftest import curated_run

REPO = "ann/penguin-wood"


@pytest.fixture
def hub():
    proc = subprocess.Popen([sys.executable, "-m", "tests.hub_server"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{int(proc.stdout.readline())}"
    yield url
    proc.kill()
    proc.wait()


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read()


def test_the_dataset_goes_to_the_hub_once_per_change_and_loads_from_there(tmp_path: Path, hub: str) -> None:
    project, run, _ = curated_run(tmp_path, 20, **{"share.hub_repo": REPO})
    env = {"HF_ENDPOINT": hub, "HF_TOKEN": "hf_test", "HF_HUB_OFFLINE": "0"}

    no_token = run_studio("export", "--project", str(project), env={**env, "HF_TOKEN": ""})
    assert no_token.returncode == 2 and "share.hub_token_env" in no_token.stderr and "Traceback" not in no_token.stderr

    first = run_studio("export", "--project", str(project), env=env)
    assert first.returncode == 0, first.stderr
    out = run.file("dataset")
    stats = json.loads(fetch(f"{hub}/_stats"))
    repo = stats[f"dataset/{REPO}"]
    assert repo["private"] is True and len(repo["commits"]) == 1
    # The card and the split files, as they are in dataset/; nothing else (no local-only file, no second card).
    local = {str(f.relative_to(out)) for f in [out / "README.md", *out.glob("data/*.parquet")]}
    assert set(repo["files"]) == local
    for name, digest in repo["files"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest, name
    assert f"pushed the dataset to the Hub repo {REPO}" in first.stderr

    # What the Hub holds is a dataset `load_dataset` reads, splits from the card, typed columns.
    from datasets import Value, load_dataset

    mirror = tmp_path / "from-hub"
    for name in repo["files"]:
        (mirror / name).parent.mkdir(parents=True, exist_ok=True)
        (mirror / name).write_bytes(fetch(f"{hub}/_files/dataset/{REPO}/{name}"))
    loaded = load_dataset(str(mirror), cache_dir=str(tmp_path / "hf-cache"))
    assert set(loaded) == {"train"} and loaded["train"].num_rows == len(run.file("curated").read_text().splitlines())
    assert loaded["train"].features["properties"]["density_kg_m3"] == Value("int64")

    # Unchanged: the stage is skipped; forced: huggingface_hub finds every file on the Hub already.
    assert "export is up to date" in run_studio("export", "--project", str(project), env=env).stdout
    forced = run_studio("export", "--project", str(project), "--force", env=env)
    assert forced.returncode == 0 and "already holds this dataset; nothing pushed" in forced.stderr
    assert len(json.loads(fetch(f"{hub}/_stats"))[f"dataset/{REPO}"]["commits"]) == 1

    # A changed card is one more commit, of the card alone.
    raw = yaml.safe_load(project.read_text())
    raw["share"]["license"] = "mit"
    project.write_text(yaml.safe_dump(raw, sort_keys=False))
    relicensed = run_studio("export", "--project", str(project), env=env)
    assert relicensed.returncode == 0, relicensed.stderr
    commits = json.loads(fetch(f"{hub}/_stats"))[f"dataset/{REPO}"]["commits"]
    assert len(commits) == 2 and commits[1]["files"] == ["README.md"]
