"""What a stage is: a small declared object. The engine (studio/engine.py) does all the bookkeeping.

A stage names the run files it reads and writes (keys of `runs.FILES`), says which settings its output
depends on (its fingerprint covers them and the content of its inputs), and does its work in `run(ctx)`,
writing every output into `ctx.staging`. It never locks, skips, commits or touches the manifest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from studio.project import Project
from studio.runs import FILES, Run

Say = Callable[[str], None]


def progress_bar(total: int, desc: str, show: bool, **options: Any) -> Any:
    """A stage's bar: drawn when `show` is on and stderr is a terminal (tqdm's own test), never in a log."""
    from tqdm import tqdm

    options = {"unit": "item", "dynamic_ncols": True, **options}
    return tqdm(total=total, desc=desc, disable=None if show else True, **options)


@dataclass
class Outcome:
    """What a stage reports. `complete` False (with `why`) stops `studio run` before the next stage."""

    counts: dict[str, Any] = field(default_factory=dict)
    complete: bool = True
    why: str | None = None  # why it stopped early, and what lets it go on
    details: dict[str, Any] = field(default_factory=dict)  # more for the manifest entry and the caller


@dataclass
class Context:
    project: Project
    run: Run
    staging: Path  # a fresh folder laid out like the run folder; committed when run() returns
    fingerprint: str
    force: bool
    say: Say
    show_progress: bool

    def input(self, key: str) -> Path:
        return self.run.file(key)

    def output(self, key: str) -> Path:
        path = self.staging / FILES[key]
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


class Stage:
    name: ClassVar[str]
    command: ClassVar[str]  # the CLI command that runs it alone
    inputs: ClassVar[tuple[str, ...]] = ()
    outputs: ClassVar[tuple[str, ...]] = ()

    def settings(self, project: Project) -> Any:
        """What the output depends on besides the input files."""
        return None

    def sources(self, project: Project, run: Run) -> list[Path]:
        """The files read: the declared inputs (a stage may add files outside the run, or optional ones)."""
        return [run.file(key) for key in self.inputs]

    def volatile(self, project: Project) -> bool:
        """True when the stage reads state outside its files (an Argilla dataset, the manifest): it is never
        skipped, and its outputs' content decides whether the later stages run."""
        return False

    def run(self, ctx: Context) -> Outcome:
        raise NotImplementedError
