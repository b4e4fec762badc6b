"""`studio tune --devices 2`: two CPU processes under torchrun (DDP on gloo) train as one process does with the
same global batch, and the model they save loads."""

from __future__ import annotations

import json
from pathlib import Path

import studio
from studio.runs import Run
from tests.conftest import run_studio
from tests.train.conftest import tiny_project


def test_two_processes_follow_the_loss_curve_of_one_and_save_a_model_that_loads(
    tmp_path: Path, tiny_llama: Path, items_file: Path
) -> None:
    settings = {"epochs": 2, "batch_size": 8, "method": "full", "learning_rate": 0.003}
    one = studio.tune(tiny_project(tmp_path / "one", tiny_llama, **settings), data=items_file, show_progress=False)

    project = tiny_project(tmp_path / "two", tiny_llama, **settings)
    done = run_studio("tune", "--project", str(project), "--data", str(items_file), "--devices", "2", "--no-progress")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "in each of 2 processes (torchrun, DDP)" in done.stderr
    run = Run.open(project.parent / "outputs", "penguin-wood", None)
    two = json.loads(run.manifest_path.read_text())["stages"]["tune"]
    assert two["devices"] == 2 and two["steps"] == one["steps"] == 24  # the same global batch: the same steps

    # The same updates on the same data, each process with half of every batch (in another order: DistributedSampler
    # shuffles apart from RandomSampler): the curves agree within 5% over the second epoch, and both learned.
    a, b = ([loss for step, loss in run_["losses"]["train"] if step > 12] for run_ in (one, two))
    assert len(a) == len(b) > 0
    mean_a, mean_b = sum(a) / len(a), sum(b) / len(b)
    assert abs(mean_a - mean_b) / mean_a < 0.05, (a, b)
    before, after = two["validation_loss"]["before"], two["validation_loss"]["after"]
    assert after < 0.9 * before, (before, after)
    assert abs(after - one["validation_loss"]["after"]) / one["validation_loss"]["after"] < 0.05

    from transformers import AutoModelForCausalLM

    net = AutoModelForCausalLM.from_pretrained(run.dir / "model")  # the model the first process saved
    assert net.num_parameters() == two["parameters"]["total"]
    assert not (run.dir / "checkpoints").exists()
