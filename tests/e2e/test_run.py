"""The one command on the embedded defaults (the bundled local model, penguin wood, review pushed to the local
Argilla), with small numbers: every stage's output, the funnel, the tuned model beside its base, the report.
(A run killed during tuning and run again: tests/e2e/test_joins.py, on a tiny model.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.records import read_records
from studio.runs import Run
from studio.schema import DomainSchema
from tests.conftest import ROOT, copy_project, run_studio

pytestmark = [pytest.mark.llm, pytest.mark.argilla, pytest.mark.slow]

SMALL = {
    "generate.n": 24,
    "train.epochs": 2,
    "train.batch_size": 4,
    "train.splits.validation": 0.2,
    "train.splits.test": 0.2,
    "train.eval.generations": 2,
    "train.eval.max_new_tokens": 24,
    "train.eval.few_shot": 1,
}


def test_one_command_on_the_embedded_defaults(llm_server, argilla, tmp_path: Path) -> None:
    project = copy_project(tmp_path, SMALL)
    first = run_studio("run", "--project", str(project), "--no-progress", timeout=1500)
    assert first.returncode == 0, first.stderr[-3000:]
    run = Run(tmp_path / "outputs/penguin-wood/default")

    # Every stage's output.
    for key in (
        "plan",
        "generated",
        "rejected",
        "valid",
        "invalid",
        "unique",
        "duplicates",
        "judged",
        "judge_rejected",
        "reviewed",
        "curated",
        "eval",
        "report",
    ):
        assert run.file(key).exists(), key
    assert (run.file("splits") / "dataset_dict.json").exists() and (run.file("model") / "README.md").exists()
    for name in ("data.jsonl", "data.parquet", "README.md", "openai_chat_train.jsonl"):
        assert (run.dir / "dataset" / name).exists(), name

    # The manifest: every stage complete, the funnel adds up.
    stages = json.loads(run.manifest_path.read_text())["stages"]
    for stage in (
        "generate",
        "validate",
        "dedup",
        "judge",
        "push",
        "review",
        "curate",
        "tune",
        "eval",
        "export",
        "report",
    ):
        assert stages[stage]["complete"] is True, stage
    gen = stages["generate"]["counts"]
    assert gen["planned"] == 24 == gen["accepted"] + gen["rejected"]
    assert len(read_records(run.file("generated"))) == gen["accepted"]
    valid, unique = read_records(run.file("valid")), read_records(run.file("unique"))
    assert len(valid) + len(read_records(run.file("invalid"))) == gen["accepted"]
    assert len(unique) + len(read_records(run.file("duplicates"))) == len(valid)
    judged = read_records(run.file("judged"))
    assert len(judged) + len(read_records(run.file("judge_rejected"))) == len(unique)
    assert stages["judge"]["llm_judge"] == "stepped aside"  # the bundled model is no judge
    curated = read_records(run.file("curated"))
    assert stages["review"]["mode"] == "push" and len(curated) == len(judged)  # nobody reviewed yet: kept, marked
    assert all(r.meta["review"]["by"] == "none" for r in curated)
    assert stages["push"]["counts"]["sampled"] > 0
    schema = DomainSchema.load(ROOT / "schemas/penguin_wood.json")
    assert all(schema.first_error(r.data) is None for r in curated)
    tune = stages["tune"]
    assert sum(tune["counts"][s] for s in ("train", "validation", "test")) == len(curated)
    ppl = json.loads(run.file("eval").read_text())["perplexity"]
    assert ppl["tuned"]["all"] < ppl["base"]["all"]  # the tuned model knows the domain better

    # The report has every section filled, the loss curve among them.
    report = run.file("report").read_text()
    assert 'id="training"' in report and "loss curves" in report and "The tune stage has not run" not in report
    assert "perplexity on the held-out test split" in report.lower()
    assert str(run.file("report")) in first.stdout
