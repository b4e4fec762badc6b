"""Templates render with StrictUndefined; a mistake names the template file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.errors import StudioError
from studio.generation.templates import Templates
from tests.conftest import ROOT


def test_penguin_templates_render_every_kind() -> None:
    t = Templates(ROOT / "prompts/penguin-wood")
    domain = {"name": "penguin-wood", "title": "penguin wood", "description": "A timber."}
    for kind, name in [
        ("description", "item"),
        ("properties", "item"),
        ("applications", "item"),
        ("history", "item"),
        ("qa", "qa"),
    ]:
        messages = t.render(
            name,
            {
                "domain": domain,
                "kind": kind,
                "focus": "colour",
                "style": "a label",
                "audience": "students",
                "length": "short",
                "schema": "{}",
                "examples": [],
            },
        )
        assert [m["role"] for m in messages] == ["system", "user"]
        assert "A timber." in messages[0]["content"]
        assert f'"{kind}"' in messages[1]["content"]


def test_undefined_variable_names_template_and_line(tmp_path: Path) -> None:
    (tmp_path / "x.system.j2").write_text("You write.\n")
    (tmp_path / "x.user.j2").write_text("Line one.\nAbout {{ topic }}.\n")
    with pytest.raises(StudioError) as e:
        Templates(tmp_path).render("x", {})
    assert str(e.value) == f"{tmp_path / 'x.user.j2'}: line 2: undefined variable: 'topic' is undefined"


def test_syntax_error_names_template_and_line(tmp_path: Path) -> None:
    (tmp_path / "x.system.j2").write_text("ok\n{% if %}\n")
    (tmp_path / "x.user.j2").write_text("ok")
    with pytest.raises(StudioError, match=r"x.system.j2: line 2: template syntax error"):
        Templates(tmp_path).check(["x"])


def test_missing_template_file(tmp_path: Path) -> None:
    with pytest.raises(StudioError, match=r"y.system.j2: template file not found"):
        Templates(tmp_path).check(["y"])
