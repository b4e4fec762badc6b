"""A curated run to export: generated against tests/openai_server.py, validated, deduplicated, kept unreviewed."""

from __future__ import annotations

from pathlib import Path

import studio
from studio import pipeline
from studio.runs import Run
from tests.conftest import FakeOpenAI, copy_project


def curated_run(folder: Path, n: int, **changes: object) -> tuple[Path, Run, str]:
    """The project file, its run (curated, not yet exported) and the test server's URL (stopped by then)."""
    server = FakeOpenAI()
    try:
        project = copy_project(
            folder,
            {
                "endpoint.base_url": server.base_url,
                "endpoint.model": "fake",
                "endpoint.structured_output": "json_object",
                "generate.n": n,
                "review.mode": "none",
                "quality.dedup.semantic": False,
                "quality.clean.language": False,  # the test server writes word lists, not English sentences
                "quality.topic.enabled": False,  # word lists are off any topic
                "judge.enabled": False,  # the test server would score at random
                **changes,
            },
        )
        studio.generate(project, show_progress=False)
    finally:
        server.stop()
    studio.validate(project)
    studio.dedup(project)
    studio.judge(project)
    p = pipeline.open_project(project)
    run = pipeline.open_run(p)
    pipeline.run_one("review", p, run, review_mode="none")
    studio.curate(project)
    return project, run, server.base_url
