"""Prompt templates: prompts/<domain>/<name>.system.j2 and <name>.user.j2, rendered with StrictUndefined.

A syntax error or an undefined variable is a StudioError naming the template file and line.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import jinja2

from studio.errors import StudioError

PARTS = ("system", "user")


class Templates:
    """The project's templates; `fallback`: a folder of built-in ones (studio's rubric) a project may override."""

    def __init__(self, prompts_dir: Path, fallback: Path | None = None):
        self.dir, self.fallback = Path(prompts_dir), fallback
        if not self.dir.is_dir():
            raise StudioError("prompts folder not found", self.dir)
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader([self.dir, *([fallback] if fallback else [])]),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=False,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._compiled: dict[str, jinja2.Template] = {}
        self._hashes: dict[str, str] = {}

    def file(self, name: str, part: str) -> Path:
        own = self.dir / f"{name}.{part}.j2"
        return own if own.exists() or self.fallback is None else self.fallback / own.name

    def _get(self, name: str, part: str) -> jinja2.Template:
        key = f"{name}.{part}.j2"
        if key not in self._compiled:
            try:
                self._compiled[key] = self.env.get_template(key)
            except jinja2.TemplateNotFound:
                raise StudioError("template file not found", self.dir / key) from None
            except jinja2.TemplateSyntaxError as e:
                raise StudioError(f"template syntax error: {e.message}", self.file(name, part), e.lineno) from None
        return self._compiled[key]

    def check(self, names: list[str]) -> None:
        """Load every part of every named template now, so a broken file fails before any request."""
        for name in names:
            for part in PARTS:
                self._get(name, part)

    def content_hash(self, name: str) -> str:
        """A hash of the template's text (both parts): provenance, and what invalidates cached replies."""
        if name not in self._hashes:
            h = hashlib.sha256()
            for part in PARTS:
                h.update(self.file(name, part).read_bytes())
            self._hashes[name] = h.hexdigest()[:16]
        return self._hashes[name]

    def render(self, name: str, variables: dict[str, Any]) -> list[dict[str, str]]:
        """The chat messages (system, user) for one item."""
        messages = []
        for part in PARTS:
            template = self._get(name, part)
            try:
                text = template.render(**variables)
            except jinja2.UndefinedError as e:
                raise StudioError(
                    f"undefined variable: {e.message}", self.file(name, part), _template_line(e)
                ) from None
            except jinja2.TemplateError as e:
                raise StudioError(f"template error: {e}", self.file(name, part), _template_line(e)) from None
            messages.append({"role": part, "content": text.strip()})
        return messages


def _template_line(error: BaseException) -> int | None:
    """Jinja rewrites tracebacks so template frames carry the template's file name and line."""
    line, tb = None, error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(".j2"):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
