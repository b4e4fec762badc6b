"""The review UI shows the pushed records: headless Chromium signs in to the local Argilla and the
annotation page lists the run's records. The screenshot is kept in artifacts/ (git-ignored)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

import studio
from studio.review import server
from tests.conftest import artifact, chromium
from tests.review.conftest import review_project
from tests.review.items import make_items

pytestmark = [pytest.mark.argilla, pytest.mark.slow]


def test_annotation_page_lists_the_pushed_records(argilla, tmp_path: Path) -> None:
    items = make_items(20)
    project_file = review_project(tmp_path, "ui", items)
    pushed = studio.review_push(project_file, run="ui", show_progress=False)

    creds = json.loads(server.credentials_path().read_text())
    auth = base64.b64encode(f"{creds['username']}:{creds['password']}".encode()).decode()
    profile = tmp_path / "chromium-profile"
    # The sign-in page logs in from ?auth= and keeps the session in the profile for the next visit.
    chromium(profile, f"{argilla.url}/sign-in?auth={auth}", "--dump-dom")
    page = f"{pushed['dataset']['url']}?page=1~50"  # the list view, 50 records a page
    dom = chromium(profile, page, "--dump-dom")
    assert pushed["dataset"]["name"] in dom
    assert all(item.data["text"] in dom for item in items)

    shot = artifact("review-annotation-page.png")
    chromium(profile, page, f"--screenshot={shot}")
    assert shot.stat().st_size > 10_000
