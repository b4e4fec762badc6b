"""The README tells the truth: its two commands exist, its project-file table is the models' own."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def test_the_project_file_table_is_current() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    from project_reference import in_readme

    readme = (ROOT / "README.md").read_text()
    assert in_readme(readme) == readme, "run: python scripts/project_reference.py --write"


def test_the_two_commands_come_first_and_ci_runs_the_second() -> None:
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```sh\n", 1)[1].split("```", 1)[0].splitlines()
    assert [line.split()[:2] for line in first_block] == [["make", "demo"], ["make", "test"]]
    targets = subprocess.run(["make", "-n", "demo", "test"], cwd=ROOT, capture_output=True, text=True)
    assert targets.returncode == 0, targets.stderr
    assert "studio run" in targets.stdout and "pytest" in targets.stdout
    assert "make test" in (ROOT / ".ci/run").read_text()
