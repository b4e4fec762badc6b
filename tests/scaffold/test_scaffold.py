"""`studio init`: a new domain that generates valid items with no edit."""

from __future__ import annotations

from pathlib import Path

import studio
from studio.generation.plan import plan
from studio.generation.requests import Requests
from studio.project import load_project
from studio.records import read_records
from studio.runs import Run
from studio.schema import DomainSchema
from studio.target import Target
from tests.conftest import run_studio


def test_a_new_domain_generates_valid_items_out_of_the_box(tmp_path: Path, fake_openai) -> None:
    folder = tmp_path / "glass-harp"
    result = run_studio("init", str(folder), "--description", "The glass harp is a set of tuned wine glasses.")
    assert result.returncode == 0, result.stderr
    project = load_project(folder / "studio.yaml")
    assert project.domain.name == "glass-harp" and project.domain.title == "glass harp"

    server = fake_openai()
    run = studio.generate(folder / "studio.yaml", n=12, base_url=server.base_url, model="fake", show_progress=False)
    accepted = read_records(Run(run["run_dir"]).file("generated"))
    assert len(accepted) == 12
    schema = DomainSchema.load(project.schema_path)
    assert all(schema.first_error(r.data) is None for r in accepted)
    assert {r.data["kind"] for r in accepted} <= {"overview", "properties", "uses", "history", "qa"}
    # The generic templates speak of the new domain, from its title and description.
    builder = Requests(project, Target("http://x/v1", "fake"), "json_object")
    system, user = builder.request(plan(project, 1)[0])[1]
    assert "glass harp" in system["content"] and "tuned wine glasses" in system["content"]
    assert "glass harp" in user["content"]


def test_init_never_overwrites_and_checks_the_name(tmp_path: Path) -> None:
    assert run_studio("init", str(tmp_path / "a"), "--description", "x").returncode == 0
    again = run_studio("init", str(tmp_path / "a"), "--description", "x")
    assert again.returncode == 2 and "a project file is already there" in again.stderr
    bad = run_studio("init", str(tmp_path / "b"), "--name", "Bad Name", "--description", "x")
    assert bad.returncode == 2 and "--name 'Bad Name'" in bad.stderr
