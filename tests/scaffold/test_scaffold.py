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


KETTLE = (
    "Customer messages to the support desk of a smart kettle; each item is one message and its intent, one of: "
    "pairing_problem, temperature_wrong, limescale, app_crash, delivery_late, refund_request."
)
INTENTS = ["pairing_problem", "temperature_wrong", "limescale", "app_crash", "delivery_late", "refund_request"]


def test_a_classification_domain_is_shaped_for_its_labels(tmp_path: Path, fake_openai) -> None:
    folder = tmp_path / "kettle-support"
    result = run_studio("init", str(folder), "--task", "classification", "--description", KETTLE)
    assert result.returncode == 0, result.stderr
    project = load_project(folder / "studio.yaml")
    # The labels come from the description; the schema, the axes and the training all speak of them.
    schema = DomainSchema.load(project.schema_path).schema
    assert schema["properties"]["label"]["enum"] == INTENTS and set(schema["required"]) == {"label", "text"}
    assert project.axes["label"].all_values() == INTENTS and {"tone", "length", "detail"} <= set(project.axes)
    assert (project.train.task, project.train.label, project.train.stratify) == ("classification", "label", "label")
    planned = plan(project, project.generate.n)
    assert {i.axes["label"] for i in planned} == set(INTENTS)
    # The prompt asks for a text of the item's label, against the other labels, and the schema it must match.
    item = next(i for i in planned if i.axes["label"] == "limescale")
    system, user = Requests(project, Target("http://x/v1", "fake"), "json_object").request(item)[1]
    assert "smart kettle" in system["content"] and ", ".join(INTENTS) in system["content"]
    assert 'label is "limescale"' in user["content"] and "pairing_problem" in user["content"]
    # The item is decoded to its own label: the schema it is asked for allows no other.
    asked = Requests(project, Target("http://x/v1", "fake"), "json_object").request(item)[0]
    assert asked.schema["properties"]["label"] == {"const": "limescale"}
    assert asked.first_error({"label": "refund_request", "text": "The kettle is white and it is late."})
    assert item.axes["tone"] in user["content"] and item.axes["detail"] in user["content"]

    server = fake_openai()
    run = studio.generate(folder / "studio.yaml", n=12, base_url=server.base_url, model="fake", show_progress=False)
    accepted = read_records(Run(run["run_dir"]).file("generated"))
    assert len(accepted) == 12 and all(DomainSchema(schema).first_error(r.data) is None for r in accepted)


def test_labels_are_given_or_the_init_says_what_is_missing(tmp_path: Path) -> None:
    given = run_studio(
        "init", str(tmp_path / "a"), "--task", "classification", "--labels", "spam, ham", "--description", "Mail."
    )
    assert given.returncode == 0, given.stderr
    assert DomainSchema.load(tmp_path / "a/schemas/a.json").schema["properties"]["label"]["enum"] == ["spam", "ham"]
    missing = run_studio("init", str(tmp_path / "b"), "--task", "classification", "--description", "Mail.")
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "--labels" in missing.stderr
    assert not (tmp_path / "b" / "studio.yaml").exists()


def test_a_seq2seq_domain_generates_and_tune_asks_for_its_model(tmp_path: Path, fake_openai) -> None:
    folder = tmp_path / "glass-harp"
    result = run_studio("init", str(folder), "--task", "seq2seq", "--description", "Tuned wine glasses, played wet.")
    assert result.returncode == 0, result.stderr
    assert "set train.base_model to a T5-style model folder" in result.stdout
    project = load_project(folder / "studio.yaml")  # loads: generating needs no model to tune
    assert project.train.task == "seq2seq" and project.train.base_model is None
    server = fake_openai()
    run = studio.generate(folder / "studio.yaml", n=12, base_url=server.base_url, model="fake", show_progress=False)
    assert len(read_records(Run(run["run_dir"]).file("generated"))) == 12
    tune = run_studio("tune", "--project", str(folder / "studio.yaml"), "--data", run["files"]["generated"])
    assert tune.returncode == 2 and tune.stderr.count("\n") == 1 and "Traceback" not in tune.stderr
    assert "train.base_model: task seq2seq needs a T5-style model folder" in tune.stderr
