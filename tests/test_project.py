"""The project file: unknown keys refused, every mistake one line with file, line and key, exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from studio.errors import StudioError
from studio.project import load_project
from tests.conftest import ROOT, copy_project, run_studio


def test_the_shipped_project_loads() -> None:
    project = load_project(ROOT / "studio.yaml")
    assert project.domain.name == "penguin-wood"
    assert project.schema_path.exists() and project.prompts_dir.is_dir()
    assert set(project.axes["focus"].values) == set(project.axes["kind"].values)  # type: ignore[arg-type]


def _edit(path: Path, edit) -> Path:
    raw = yaml.safe_load(path.read_text())
    edit(raw)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda r: r["generate"].update(temprature=0.5), "generate.temprature: unknown key"),
        (lambda r: r["generate"].update(n="many"), "generate.n: Input should be a valid integer"),
        (lambda r: r["sampling"].update(temperature=5), "sampling.temperature: Input should be less than or equal"),
        (lambda r: r.pop("domain"), "domain: required key is missing"),
        (lambda r: r["axes"]["focus"].update(by="colour"), "axes.focus.by: 'colour' is not an axis"),
        (lambda r: r["templates"][1]["when"].update(kind=["poem"]), "templates[1].when.kind: ['poem']"),
        (lambda r: r.update(curate={"text_field": "text"}), "curate: unknown key: the quality gate's settings are"),
        (
            lambda r: r["sampling"].update(text_pattern="^[A-Z][^{}]{38,998}[.]$"),
            "sampling.text_pattern: the class [^{}] lets a quote end the JSON string",
        ),
        (lambda r: r["sampling"].update(text_pattern="^[A-Z"), "sampling.text_pattern: not a regular expression"),
        (lambda r: r["endpoint"].update(base_url=[]), "endpoint.base_url: an empty list"),
        (
            lambda r: r["endpoint"].update(base_url=["http://a:8000/v1", "http://a:8000/v1"], model="m"),
            "endpoint.base_url: a base_url is listed twice",
        ),
        (
            lambda r: r["endpoint"].update(base_url=["http://a:8000/v1", "http://b:8000/v1"], model="m", batch=True),
            "endpoint: batch: true sends each batch to one endpoint",
        ),
        (lambda r: r.update(train={"devices": 3}), "train: batch_size 8 does not split between 3 devices"),
        (lambda r: r.update(train={"backend": "openai"}), "train: backend openai needs base_model: the API's name"),
        (
            lambda r: r.update(train={"backend": "openai", "base_model": "m", "task": "text"}),
            "train: backend openai tunes the chat task, not text",
        ),
    ],
)
def test_a_mistake_is_one_line_naming_file_line_and_key(tmp_path: Path, edit, expected: str) -> None:
    path = _edit(copy_project(tmp_path), edit)
    with pytest.raises(StudioError) as e:
        load_project(path)
    message = str(e.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: line ")
    assert expected in message


def test_the_line_number_points_at_the_key(tmp_path: Path) -> None:
    path = copy_project(tmp_path)
    text = path.read_text().replace("  seed: 7\n", "  seed: 7\n  bogus: 1\n", 1)
    path.write_text(text)
    line = text.splitlines().index("  bogus: 1") + 1
    with pytest.raises(StudioError, match=rf"line {line}: generate.bogus: unknown key"):
        load_project(path)


def test_cli_exits_2_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    path = copy_project(tmp_path)
    path.write_text(path.read_text().replace("sampling:", "sampling:\n  temp: [", 1))
    result = run_studio("generate", "--project", str(path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"studio: error: {path}: line ") and "not valid YAML" in lines[0]
    assert "Traceback" not in result.stderr


def test_missing_project_file_is_a_clear_error(tmp_path: Path) -> None:
    result = run_studio("generate", "--project", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2
    assert "nope.yaml: project file not found" in result.stderr


def test_cli_flags_are_validated_like_the_file(tmp_path: Path) -> None:
    result = run_studio("generate", "--project", str(copy_project(tmp_path)), "--n", "0")
    assert result.returncode == 2
    assert "generate.n: Input should be greater than or equal to 1" in result.stderr


def test_missing_schema_file_is_named(tmp_path: Path) -> None:
    path = _edit(copy_project(tmp_path), lambda r: r.update(schema="schemas/missing.json"))
    result = run_studio("generate", "--project", str(path), "--base-url", "http://127.0.0.1:9/v1", "--model", "m")
    assert result.returncode == 2
    assert result.stderr.strip() == f"studio: error: {tmp_path / 'schemas/missing.json'}: schema file not found"
