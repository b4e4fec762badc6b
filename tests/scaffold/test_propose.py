"""`studio init --propose`: an endpoint proposes the axes and the schema; anything short of a usable proposal
writes the plain scaffold and says why in one line. Against tests/openai_server.py as a real process."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import yaml

import studio
from studio.generation.plan import plan
from studio.generation.requests import Requests
from studio.project import load_project
from studio.records import read_records
from studio.runs import Run
from studio.scaffold import propose
from studio.schema import DomainSchema
from studio.target import Target
from tests.conftest import run_studio

KEY = "sk-fake-7f3a9c-NEVER-WRITE-ME"
KEY_ENV = {"STUDIO_TEST_KEY": KEY}
LABELS = ["spam", "ham"]
MAIL = "Messages that reach a small shop's inbox, each one of: spam, ham."

LABELLED = {
    "axes": {"tone": ["calm", "pushy"], "channel": ["email", "contact form", "text message"]},
    "schema": {
        "type": "object",
        "required": ["label", "text"],
        "properties": {
            "label": {"enum": ["ham", "spam"]},
            "text": {"type": "string", "minLength": 10, "maxLength": 300},
        },
        "additionalProperties": False,
    },
}
PASSAGES = {
    "axes": {"season": ["spring bloom", "winter dormancy"], "reader": ["gardeners", "botanists"]},
    "schema": {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["text", "season"],
        "properties": {
            "text": {"type": "string", "minLength": 20, "maxLength": 400},
            "season": {"type": "string"},
            "height_cm": {"type": "integer", "minimum": 1},
        },
        "additionalProperties": False,
    },
}


def init(folder: Path, *flags: str, server=None, task: str = "text", description: str = "Moon orchids of Java."):
    endpoint = ["--propose", "--base-url", server.base_url, "--model", "fake"] if server else []
    args = ["init", str(folder), "--task", task, "--description", description, *endpoint, *flags]
    return run_studio(*args, "--api-key-env", "STUDIO_TEST_KEY", env=KEY_ENV, timeout=60)


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_usable_classification_proposal_makes_the_project(tmp_path: Path, fake_openai) -> None:
    server = fake_openai("--reply", json.dumps(LABELLED), "--record")
    folder = tmp_path / "shop-mail"
    result = init(folder, "--labels", ",".join(LABELS), server=server, task="classification")
    assert result.returncode == 0 and result.stderr == "", result.stderr
    # The endpoint was asked once, for JSON, knowing the labels, with the key.
    stats = server.stats()
    (asked,) = stats["chats"]
    assert asked["response_format"] == {"type": "json_object"} and '["spam", "ham"]' in asked["messages"][0]["content"]
    assert stats["authorized"] == 1
    # The proposed schema (with the label branches that narrow an item to its label) and axes, behind the label.
    project = load_project(folder / "studio.yaml")
    schema = DomainSchema.load(project.schema_path).schema
    assert {k: v for k, v in schema.items() if k not in ("$schema", "oneOf")} == LABELLED["schema"]
    assert schema["oneOf"] == [{"properties": {"label": {"const": label}}} for label in LABELS]
    assert {name: axis.all_values() for name, axis in project.axes.items()} == {"label": LABELS, **LABELLED["axes"]}
    assert (project.train.task, project.train.label) == ("classification", "label")
    # studio run asks the same endpoint, its key named by variable.
    e = project.endpoint
    assert (e.base_url, e.model, e.api_key_env) == (server.base_url, "fake", "STUDIO_TEST_KEY")

    dry = run_studio("generate", "--dry-run", cwd=folder, env=KEY_ENV, timeout=60)
    assert dry.returncode == 0, dry.stderr
    assert "items planned                   24" in dry.stdout and "nothing was sent" in dry.stdout
    # Every planned item renders; its prompt names its label and its proposed axis values.
    builder = Requests(project, Target(server.base_url, "fake"), "json_object")
    for item in plan(project, project.generate.n):
        system, user = builder.request(item)[1]
        assert "spam, ham" in system["content"] and f'Set "label" to "{item.axes["label"]}"' in user["content"]
        assert f"- tone: {item.axes['tone']}" in user["content"] and item.axes["channel"] in user["content"]


def test_a_usable_text_proposal_in_a_plain_reply_generates_valid_items(tmp_path: Path, fake_openai) -> None:
    # An endpoint without JSON mode, whose model wraps the JSON in prose: asked again in text, the object is read.
    server = fake_openai("--modes", "text", "--text-wrap", "prose", "--reply", json.dumps(PASSAGES), "--record")
    folder = tmp_path / "moon-orchid"
    result = init(folder, server=server)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert [c.get("response_format") for c in server.stats()["chats"]] == [{"type": "json_object"}, None]
    assert json.loads((folder / "schemas/moon_orchid.json").read_text()) == PASSAGES["schema"]
    assert sorted(p.name for p in (folder / "prompts/moon-orchid").iterdir()) == [
        "proposed.system.j2",
        "proposed.user.j2",
    ]
    project = load_project(folder / "studio.yaml")
    assert {name: axis.all_values() for name, axis in project.axes.items()} == PASSAGES["axes"]
    assert project.train.task == "text" and project.endpoint.base_url == server.base_url

    dry = run_studio("generate", "--dry-run", cwd=folder, env=KEY_ENV, timeout=60)
    assert dry.returncode == 0 and "items planned                   60" in dry.stdout, dry.stderr
    system, user = Requests(project, Target(server.base_url, "fake"), "json_object").request(plan(project, 1)[0])[1]
    assert "Moon orchids of Java" in system["content"] and '"height_cm"' in system["content"]
    assert any(f"- season: {value}" in user["content"] for value in PASSAGES["axes"]["season"])

    # And the project generates items valid against the proposed schema (an endpoint that writes items).
    writer = fake_openai()
    run = studio.generate(folder / "studio.yaml", n=6, base_url=writer.base_url, model="fake", show_progress=False)
    accepted = read_records(Run(run["run_dir"]).file("generated"))
    assert len(accepted) == 6 and all(DomainSchema(PASSAGES["schema"]).first_error(r.data) is None for r in accepted)


def with_schema(proposal: dict, **changes: object) -> dict:
    return {**proposal, "schema": {**proposal["schema"], **changes}}


UNUSABLE = {
    "not JSON": ("text", "Here are some axes: tone, length. Hope it helps!", "the reply holds no JSON object"),
    "no text": (
        "text",
        json.dumps(with_schema(PASSAGES, required=["season"])),
        "schema: 'text' is not required",
    ),
    "other labels": (
        "classification",
        json.dumps(with_schema(LABELLED, properties={"label": {"enum": ["spam", "eggs"]}, "text": {"type": "string"}})),
        "schema: the label enum ['spam', 'eggs'] is not the labels ['spam', 'ham']",
    ),
}


@pytest.mark.parametrize("case", list(UNUSABLE))
def test_an_unusable_proposal_writes_the_plain_scaffold_and_says_why(tmp_path: Path, fake_openai, case: str) -> None:
    task, reply, why = UNUSABLE[case]
    server = fake_openai("--reply", reply)
    result = init(tmp_path / "proposed" / "shop", server=server, task=task, description=MAIL)
    assert result.returncode == 0, result.stderr
    assert result.stderr == f"studio init: the endpoint's proposal was not usable ({why}); wrote the scaffold instead\n"
    plain = init(tmp_path / "plain" / "shop", task=task, description=MAIL)
    assert plain.returncode == 0 and plain.stderr == "", plain.stderr
    assert files_of(tmp_path / "proposed" / "shop") == files_of(tmp_path / "plain" / "shop")


def test_an_endpoint_that_is_down_or_refuses_gives_the_plain_scaffold(tmp_path: Path, fake_openai) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    down = run_studio(
        "init",
        str(tmp_path / "a" / "orchid"),
        "--description",
        "Moon orchids.",
        "--propose",
        "--base-url",
        f"http://127.0.0.1:{closed}/v1",
        "--model",
        "fake",
        timeout=60,
    )
    assert down.returncode == 0 and down.stderr.count("\n") == 1, down.stderr
    assert down.stderr.startswith("studio init: no proposal from the endpoint (connection error: ")
    assert down.stderr.endswith("); wrote the scaffold instead\n") and "Traceback" not in down.stderr
    # An endpoint that answers neither JSON mode nor plain text: its HTTP error is the reason.
    refusing = fake_openai("--modes", "json_schema")
    refused = init(tmp_path / "b" / "orchid", server=refusing, task="chat", description="Moon orchids.")
    assert refused.returncode == 0 and refused.stderr == (
        "studio init: no proposal from the endpoint (HTTP 400: response_format text is not supported); "
        "wrote the scaffold instead\n"
    )
    plain = run_studio("init", str(tmp_path / "c" / "orchid"), "--description", "Moon orchids.")
    assert plain.returncode == 0
    assert files_of(tmp_path / "a/orchid") == files_of(tmp_path / "b/orchid") == files_of(tmp_path / "c/orchid")


def test_propose_needs_an_endpoint(tmp_path: Path) -> None:
    alone = run_studio("init", str(tmp_path / "a"), "--description", "x", "--propose")
    assert alone.returncode == 2 and alone.stderr.count("\n") == 1 and "Traceback" not in alone.stderr
    assert alone.stderr == "studio: error: --propose: needs the endpoint to ask: --base-url URL and --model NAME\n"
    no_model = run_studio("init", str(tmp_path / "b"), "--description", "x", "--propose", "--base-url", "http://x/v1")
    assert no_model.returncode == 2 and "--model NAME" in no_model.stderr
    # The endpoint flags without --propose would be silently dropped: said instead.
    unused = run_studio("init", str(tmp_path / "c"), "--description", "x", "--base-url", "http://x/v1")
    assert unused.returncode == 2 and unused.stderr.count("\n") == 1 and "only with --propose" in unused.stderr
    assert not any((tmp_path / d).exists() for d in "abc")


def test_the_api_key_is_never_written(tmp_path: Path, fake_openai) -> None:
    usable = fake_openai("--reply", json.dumps(PASSAGES))
    unusable = fake_openai("--reply", json.dumps(with_schema(PASSAGES, required=[])))
    for server, folder in ((usable, tmp_path / "usable"), (unusable, tmp_path / "unusable")):
        result = init(folder, server=server)
        assert result.returncode == 0 and KEY not in result.stdout + result.stderr
        assert server.stats()["authorized"] == 1  # the key went to the endpoint, and only there
        dry = run_studio("generate", "--dry-run", cwd=folder, env=KEY_ENV, timeout=60)
        assert dry.returncode == 0 and KEY not in dry.stdout + dry.stderr
        written = files_of(folder)
        assert written and not [name for name, data in written.items() if KEY.encode() in data]
    assert yaml.safe_load((tmp_path / "usable/studio.yaml").read_text())["endpoint"]["api_key_env"] == "STUDIO_TEST_KEY"


@pytest.mark.parametrize(
    ("axes", "why"),
    [
        ({}, "axes: expected an object of 1 to 5 axes"),
        ({f"a{i}": ["x", "y"] for i in range(6)}, "axes: expected an object of 1 to 5 axes"),
        ({"tone of voice": ["x", "y"]}, "axes: 'tone of voice' is not an allowed axis name"),
        ({"domain": ["x", "y"]}, "axes: 'domain' is not an allowed axis name"),
        ({"tone": ["calm"]}, "axes.tone: expected a list of 2 to 6 values"),
        ({"tone": ["calm", 3]}, "axes.tone: every value must be a short string (1 to 60 characters)"),
        ({"tone": ["calm", "x" * 61]}, "axes.tone: every value must be a short string (1 to 60 characters)"),
        ({"tone": ["calm", "calm "]}, "axes.tone: values repeat"),
    ],
)
def test_axes_are_checked_strictly(axes: dict, why: str) -> None:
    with pytest.raises(ValueError) as e:
        propose.check({**PASSAGES, "axes": axes}, "text", [])
    assert str(e.value) == why
