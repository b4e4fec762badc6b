"""The run report opened in headless Chromium: every section under its full title, the plots its data makes as real
PNGs, and an LLM's `<script>` stays text."""

from __future__ import annotations

import base64
import html
import io
import json
import re
from pathlib import Path

from PIL import Image

import studio
from studio.records import JsonlWriter, Record
from studio.report.html import SECTIONS
from studio.runs import Run
from tests.conftest import artifact, chromium, copy_project

PLANTED = "<script>document.body.setAttribute('data-pwned', 'yes')</script><img src=x onerror=alert(1)>"


def test_report_sections_render_and_planted_scripts_stay_text(tmp_path: Path, fake_openai) -> None:
    server = fake_openai("--fault-rate", "0.2", "--faults", "schema_violation,not_json")
    project = copy_project(
        tmp_path,
        {
            "endpoint.base_url": server.base_url,
            "endpoint.model": "fake",
            "endpoint.structured_output": "json_object",
            "generate.n": 40,
            "quality.clean.language": False,
            "judge.enabled": False,  # the test server would score at random
            "domain.title": "penguin wood <b>report</b>",  # markup where the page shows the title
        },
    )
    result = studio.generate(project, show_progress=False)
    run = Run(result["run_dir"])
    # What a model might write: a rejected reply and an accepted item, both carrying markup.
    with JsonlWriter(run.file("rejected")) as rejected:
        rejected.write(
            Record(
                "planted-1",
                {},
                {
                    "rejected": {"stage": "generate", "reason": f"not JSON {PLANTED}", "retryable": False},
                    "raw": PLANTED,
                },
            )
        )
    studio.validate(project)
    studio.dedup(project)
    studio.judge(project)
    path = studio.build_report(project)

    dom = chromium(tmp_path / "profile", path.as_uri(), "--dump-dom")
    for anchor, title in SECTIONS:
        assert f'<section id="{anchor}"><h2>{html.escape(title)}</h2>' in dom
    assert "data-pwned" not in dom.split("<body", 1)[1].split(">", 1)[0]  # the script did not run
    assert "&lt;script&gt;document.body.setAttribute" in dom  # it is shown as text
    assert "penguin wood &lt;b&gt;report&lt;/b&gt;" in dom
    assert "<h3>Short fields: the value most kept items hold</h3>" in dom and '<td class="">kind</td>' in dom
    assert dom.count("<img") == dom.count('src="data:image/png;base64,')  # only our own plots are images
    # The plots this run has data for, each in its section: the funnel, the lengths and axes and the similarity
    # to the domain (no training yet).
    plots = {
        anchor: re.findall(r'<img alt="([^"]*)" src="data:image/png;base64,([^"]+)"', body)
        for anchor, body in re.findall(r'<section id="([^"]+)">(.*?)</section>', dom, re.DOTALL)
    }
    assert {anchor: [alt for alt, _ in found] for anchor, found in plots.items() if found} == {
        "funnel": ["funnel"],
        "distributions": ["distributions"],
        "judge": ["judge"],
    }
    for alt, data in plots["funnel"] + plots["distributions"] + plots["judge"]:
        png = base64.b64decode(data, validate=True)
        assert png.startswith(b"\x89PNG\r\n\x1a\n"), alt
        with Image.open(io.BytesIO(png)) as image:
            image.verify()
            assert image.format == "PNG" and min(image.size) > 100, alt
    counts = json.loads(run.manifest_path.read_text())["stages"]["generate"]["counts"]
    assert f">{counts['planned']}<" in dom  # the funnel shows the plan

    shot = artifact("report.png")
    chromium(tmp_path / "profile", path.as_uri(), f"--screenshot={shot}")
    assert shot.stat().st_size > 20_000
