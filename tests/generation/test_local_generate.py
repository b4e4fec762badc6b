"""Generation against the real llama.cpp server with the bundled model (the embedded default)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import studio
from studio import pipeline
from studio.records import read_records
from studio.runs import Run
from studio.schema import DomainSchema
from tests.conftest import ROOT, copy_project

pytestmark = pytest.mark.llm

PROVENANCE = {
    "template",
    "template_hash",
    "axes",
    "sample_index",
    "model",
    "endpoint",
    "base_url",
    "structured_output",
    "params",
    "tokens_in",
    "tokens_out",
    "seconds",
    "attempts",
    "repaired",
    "generated_at",
}


def test_every_item_ends_accepted_or_rejected_with_reason_and_ids_are_stable(llm_server, tmp_path: Path) -> None:
    project = copy_project(tmp_path, {"generate.n": 12, "sampling.temperature": 0})
    result = studio.generate(project, run="a", show_progress=False)
    run = Run(result["run_dir"])
    planned = [i["id"] for i in json.loads(run.file("plan").read_text())["items"]]
    accepted, rejected = read_records(run.file("generated")), read_records(run.file("rejected"))

    # Every planned item ends in exactly one file.
    assert len(planned) == 12
    assert sorted(r.id for r in accepted + rejected) == sorted(planned)
    assert result["counts"]["accepted"] == len(accepted) and result["complete"]
    assert len(accepted) >= 6, [r.meta["rejected"]["reason"] for r in rejected]

    schema = DomainSchema.load(ROOT / "schemas/penguin_wood.json")
    # The shipped project decodes the text to sampling.text_pattern: llama.cpp's grammar held every reply to it.
    pattern = re.compile(pipeline.open_project(project).sampling.text_pattern)
    assert all(pattern.fullmatch(r.data["text"]) for r in accepted), [r.data["text"] for r in accepted]
    for r in accepted:
        assert schema.first_error(r.data) is None
        assert r.data["kind"] == r.meta["axes"]["kind"]
        assert set(r.meta) >= PROVENANCE
        assert set(r.meta["axes"]) == {"kind", "focus", "style", "audience", "length"}
        assert r.meta["model"] == llm_server.model and r.meta["endpoint"] == "local"
        assert r.meta["base_url"] == llm_server.base_url
        assert r.meta["structured_output"] == "json_schema"  # llama-server takes OpenAI's strict mode
        assert r.meta["params"]["temperature"] == 0 and "seed" in r.meta["params"]
        assert r.meta["tokens_in"] > 0 and r.meta["tokens_out"] > 0 and r.meta["seconds"] > 0
    for r in rejected:
        assert r.meta["rejected"]["reason"]

    manifest = run.stage("generate")
    assert manifest["counts"]["planned"] == 12 and manifest["complete"]
    assert manifest["tokens"]["in"] == sum(r.meta["tokens_in"] for r in accepted + rejected)

    # Run again: nothing is asked again, nothing is written twice.
    again = studio.generate(project, run="a", show_progress=False)
    assert again["skipped"] and again["counts"] == manifest["counts"]  # up to date: the stage is skipped
    forced = studio.generate(project, run="a", force=True, show_progress=False)
    assert forced["counts"]["done_before"] == 12 and forced["counts"]["requests"] == 0  # and nothing is asked again
    assert len(read_records(run.file("generated"))) == len(accepted)

    # Another run with the same seed plans the same ids and asks each the very same request (prompt and
    # parameters). The replies need not match word for word: llama-server reuses a different cached prefix
    # then, and on 2 threads that changes the last bits of the logits (docs/platform-notes.md).
    other = studio.generate(project, run="b", n=3, show_progress=False)
    other_records = read_records(Run(other["run_dir"]).file("generated")) + read_records(
        Run(other["run_dir"]).file("rejected")
    )
    assert sorted(r.id for r in other_records) == sorted(planned[:3])
    first = {r.id: r.meta["request_key"] for r in accepted + rejected}
    assert [r.meta["request_key"] for r in other_records] == [first[r.id] for r in other_records]
