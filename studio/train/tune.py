"""The tune stage: curated items -> splits -> a fine-tuned model in the run folder, with Hugging Face Trainer.

Inputs: 05-curated.jsonl (or any records JSONL given as `data`) and the project's `train` settings.
Outputs: splits/ (the DatasetDict and the records of each split), model/ (weights, or a LoRA adapter, with
the tokenizer and the model card) and the `tune` entry of the manifest (fingerprint, counts, tokens,
losses, validation perplexity before and after, seconds).

Methods: full fine-tuning, LoRA (peft) and layer freezing (the embeddings and the first k blocks stay
as they are). The best checkpoint by validation loss is kept, training stops early when it stops
improving, and an interrupted run resumes from its last checkpoint when started again with the same
settings and data.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.errors import StudioError
from studio.project import Project, Train
from studio.records import write_json
from studio.runs import Run
from studio.stage import Context, Outcome, Stage
from studio.tables import read_rows
from studio.train import card, data, model

CHECKPOINTS = "checkpoints"
DEFAULT_LR = {"lora": 1e-3, "full": 5e-5, "freeze": 5e-5}
TASK_TYPES = {"text": "CAUSAL_LM", "chat": "CAUSAL_LM", "seq2seq": "SEQ_2_SEQ_LM", "classification": "SEQ_CLS"}


def learning_rate(settings: Train) -> float:
    return settings.learning_rate or DEFAULT_LR[settings.method]


def frozen_blocks(settings: Train, blocks: int) -> int:
    k = settings.freeze_layers
    if k is None:
        # LoRA on the upper half only: the backward pass stops halfway, about twice as fast (benchmarks/tune.py).
        # An encoder-decoder keeps every block: the blocks counted are its encoder's, and its decoder writes.
        k = 0 if settings.method == "full" or settings.task == "seq2seq" else blocks // 2
    if k > blocks:
        raise StudioError(f"the model has {blocks} blocks; cannot freeze {k}", None, "train.freeze_layers")
    return k


def prepare(net: Any, settings: Train) -> Any:
    """Apply the method: LoRA adapters on the blocks above the frozen ones, or freeze embeddings and blocks."""
    blocks = model.transformer_blocks(net)
    k = frozen_blocks(settings, len(blocks))
    # With a KV cache, transformers builds one causal mask over a packed row: its items would see each other.
    net.config.use_cache = False
    if settings.method == "lora":
        from peft import LoraConfig, get_peft_model

        targets = settings.lora.target_modules
        if k and targets == "all-linear":  # peft takes a block range only with named modules
            targets = sorted({name.split(".")[-1] for name, m in blocks[-1].named_modules() if _is_linear(m)})
        config = LoraConfig(
            r=settings.lora.r,
            lora_alpha=settings.lora.alpha,
            lora_dropout=settings.lora.dropout,
            target_modules=targets,
            layers_to_transform=list(range(k, len(blocks))) if k else None,
            # T5's names hold `block.N` and, inside it, `layer.N`: the block's index is the one meant.
            layers_pattern="block" if k and settings.task == "seq2seq" else None,
            task_type=TASK_TYPES[settings.task],
        )
        return get_peft_model(net, config)
    if k:
        for module in [net.get_input_embeddings(), *blocks[:k]]:
            module.requires_grad_(False)
    return net


def _is_linear(module: Any) -> bool:
    import torch

    return isinstance(module, torch.nn.Linear)


def report_to(settings: Train) -> list[str]:
    if settings.report_to == "none":
        return []
    if settings.report_to != "auto":
        return list(settings.report_to)
    from transformers.integrations import get_available_reporting_integrations

    return [name for name in ("tensorboard", "mlflow") if name in get_available_reporting_integrations()]


def training_args(
    settings: Train, output: Path, steps_per_epoch: int, has_validation: bool, show_progress: bool, search: bool = False
) -> Any:
    """`settings.batch_size` is the items of one step over all devices: each of `settings.devices` processes
    takes its share, so the same settings make the same updates on one process or several."""
    from transformers import TrainingArguments

    every = max(1, steps_per_epoch // settings.evals_per_epoch)
    precision = model.precision(settings.precision)
    keep_best = has_validation and not search
    return TrainingArguments(
        output_dir=str(output),
        num_train_epochs=settings.epochs,
        learning_rate=learning_rate(settings),
        warmup_steps=settings.warmup_ratio,
        weight_decay=settings.weight_decay,
        per_device_train_batch_size=settings.batch_size // settings.devices,
        per_device_eval_batch_size=settings.batch_size // settings.devices,
        gradient_accumulation_steps=settings.gradient_accumulation,
        eval_strategy="steps" if has_validation else "no",
        eval_steps=every,
        save_strategy="no" if search else "steps",
        save_steps=every,
        save_total_limit=2,
        load_best_model_at_end=keep_best,
        metric_for_best_model="eval_loss" if keep_best else None,
        greater_is_better=False if keep_best else None,
        logging_steps=max(1, every // 2),
        seed=settings.seed,
        data_seed=settings.seed,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        use_cpu=model.device() == "cpu",
        ddp_backend=("gloo" if model.device() == "cpu" else "nccl") if settings.devices > 1 else None,
        # Without packing, items of like length share a batch: less padding.
        train_sampling_strategy="random" if settings.packing else "group_by_length",
        report_to=report_to(settings),
        run_name=None if search else output.parent.name,  # the run's name, in MLflow and TensorBoard
        disable_tqdm=not show_progress,
        restore_callback_states_from_checkpoint=True,  # early stopping's patience survives a resume
        dataloader_num_workers=0,
    )


class TuneStage(Stage):
    """05-curated.jsonl (or `data`, any records JSONL) into splits/ and model/ (weights or adapter,
    tokenizer, model card). Checkpoints are kept in checkpoints/ with the fingerprint they belong to: a
    killed run of the same settings and data resumes from the last one."""

    name = "tune"
    command = "studio tune"
    inputs = ("curated",)
    outputs = ("splits", "model")

    def __init__(self, data: Path | str | None = None):
        self.data = Path(data) if data else None

    def settings(self, project: Project) -> Any:
        # How often a provider's job is looked at changes nothing it makes.
        return {"train": project.train.model_dump(mode="json", exclude={"eval": True, "openai": {"poll_s"}})}

    def sources(self, project: Project, run: Run) -> list[Path]:
        if self.data is None:
            return [run.file("curated")]
        if not self.data.exists():
            raise StudioError("file not found", self.data, "--data")
        return [self.data]

    def run(self, ctx: Context) -> Outcome:
        source = self.sources(ctx.project, ctx.run)[0]
        if ctx.project.train.backend == "openai":
            from studio.train.openai_tune import JobEnded, run_openai_tune

            try:
                entry = run_openai_tune(ctx, source)
            except JobEnded as e:
                return Outcome(complete=False, why=str(e))
        else:
            entry = run_tune(ctx, source)
        return Outcome(entry.pop("counts"), details=entry)


@model.quiet()
def run_tune(ctx: Context, source: Path) -> dict[str, Any]:
    project, run, say = ctx.project, ctx.run, ctx.say
    settings = project.train
    base = model.resolve_base(settings.base_model, settings.task, project.root, say)
    started = time.monotonic()
    checkpoints = run.dir / CHECKPOINTS
    # Checkpoints of other settings or data are no use: start afresh.
    same = (checkpoints / "fingerprint").exists() and (checkpoints / "fingerprint").read_text() == ctx.fingerprint
    resume = last_checkpoint(checkpoints) if same and not ctx.force else None
    if not resume:
        shutil.rmtree(checkpoints, ignore_errors=True)
        checkpoints.mkdir(parents=True)
        (checkpoints / "fingerprint").write_text(ctx.fingerprint)

    examples, splits, moved = split_source(ctx, source)
    labels = sorted({e["label"] for e in examples}) if settings.task == "classification" else []
    tokenizer = model.load_tokenizer(base)
    tokenized, dropped = {}, {}
    for name in data.SPLITS:
        tokenized[name], dropped[name] = data.tokenize(
            splits[name], tokenizer, settings.task, settings.max_length, labels
        )
    if not tokenized["train"].num_rows:
        raise StudioError("no training example fits max_length", None, "train.max_length")
    counts = {name: splits[name].num_rows for name in data.SPLITS}
    tokens = {name: data.token_counts(tokenized[name]) for name in data.SPLITS}
    for name, ids in dropped.items():
        if ids:
            say(f"tune: {len(ids)} {name} item(s) left out: the prompt fills max_length ({settings.max_length})")
    say(
        f"tune: {counts['train']} training, {counts['validation']} validation, {counts['test']} test items "
        f"({tokens['train']['tokens']:,} training tokens); {settings.method} on {base}"
    )

    threads = model.threads(settings.threads)
    chosen, why = model.chosen_precision(settings.precision)
    spread = f" in each of {settings.devices} processes (torchrun, DDP)" if settings.devices > 1 else ""
    say(f"tune: {chosen} on {model.device()}, {threads} thread(s){spread}: {why}")
    steps_per_epoch = math.ceil(tokenized["train"].num_rows / (settings.batch_size * settings.gradient_accumulation))
    model_dir = ctx.output("model")
    resumed_at = 0.0
    if resume:
        resumed_at = json.loads((resume / "trainer_state.json").read_text()).get("epoch") or 0.0
        say(f"tune: resuming from the last checkpoint, {resume}")
    with tracking(run, project.domain.name, report_to(settings)):  # TensorBoard and MLflow write into the run folder
        best_params = {}
        if settings.search.trials:
            collate = data.collator(tokenizer, settings.task, settings.packing)
            best_params = search(settings, base, labels, tokenized, collate, checkpoints, steps_per_epoch, say)
            settings = settings.model_copy(update=best_params)
        job = Job(settings, base, labels, checkpoints, steps_per_epoch, resume, ctx.show_progress, model_dir)
        fitted = fit(job, tokenized, say) if settings.devices == 1 else fit_across(job, tokenized, threads)
    shutil.rmtree(checkpoints, ignore_errors=True)
    trained_tokens = tokens["train"]["tokens"] * (fitted["epoch"] - resumed_at)  # by this run
    frozen = frozen_blocks(settings, fitted["blocks"])
    entry = {
        "task": settings.task,
        "method": settings.method,
        "base_model": base,
        "labels": labels,
        # The settings in effect: defaults that depend on the method filled in.
        "settings": settings.model_copy(
            update={"learning_rate": learning_rate(settings), "freeze_layers": frozen}
        ).model_dump(mode="json", exclude={"eval"}),
        "search": best_params or None,
        "precision": chosen,
        "precision_reason": why,
        "device": model.device(),
        "threads": threads,
        "counts": {**counts, "dropped": {k: v for k, v in dropped.items() if v}, "moved_from_test": len(moved)},
        "decontaminated": moved,
        "tokens": tokens,
        "parameters": fitted["parameters"],
        "blocks": fitted["blocks"],
        "frozen_blocks": frozen,
        "devices": settings.devices,
        "steps": fitted["steps"],
        "epochs": round(fitted["epoch"], 3),
        "stopped_early": fitted["steps"] < fitted["max_steps"],
        "resumed": resume is not None,
        "losses": _curves(fitted["log_history"]),
        "validation_loss": {"before": fitted["before"], "after": fitted["after"]},
        "validation_perplexity": None
        if settings.task == "classification"
        else {"before": _exp(fitted["before"]), "after": _exp(fitted["after"])},
        "train_seconds": round(fitted["train_runtime"], 2),
        "train_tokens_per_s": round(trained_tokens / max(fitted["train_runtime"], 1e-9), 1),
    }
    card.write(model_dir, run, {**entry, "inputs": [source.name], "seconds": round(time.monotonic() - started, 2)})
    return entry


@dataclass
class Job:
    """What the training itself needs, in one process or in each of several."""

    settings: Train
    base: str
    labels: list[str]
    checkpoints: Path
    steps_per_epoch: int
    resume: Path | None
    show_progress: bool
    model_dir: Path

    def to_dict(self) -> dict[str, Any]:
        plain = {k: str(v) if isinstance(v, Path) else v for k, v in vars(self).items()}
        return {**plain, "settings": self.settings.model_dump(mode="json")}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Job:
        paths = {k: Path(d[k]) if d[k] else None for k in ("checkpoints", "resume", "model_dir")}
        return cls(**{**d, **paths, "settings": Train.model_validate(d["settings"])})


def fit(job: Job, tokenized: dict[str, Any], say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train the base model on the tokenized splits (resuming from `job.resume`), keep the best checkpoint,
    save the model in `job.model_dir` (the first process of several), and return what the manifest records.
    Without progress bars, `say` gets a line per validation pass (default: studio's line on stderr)."""
    from transformers import set_seed

    settings = job.settings
    has_validation = tokenized["validation"].num_rows > 0
    tokenizer = model.load_tokenizer(job.base)
    # train.seed decides the weights a run starts from (LoRA's A matrices, a new classifier head), not
    # whatever the process drew from torch's generator before.
    set_seed(settings.seed)
    net = prepare(model.load_model(job.base, settings.task, job.labels), settings)
    trainer = _trainer(
        net,
        training_args(settings, job.checkpoints, job.steps_per_epoch, has_validation, job.show_progress),
        tokenized,
        data.collator(tokenizer, settings.task, settings.packing),
        settings.early_stopping_patience if has_validation else None,
        job.show_progress,
        say=say or _say_stderr,
    )
    before = trainer.evaluate()["eval_loss"] if has_validation else None
    result = trainer.train(resume_from_checkpoint=str(job.resume) if job.resume else None)
    tracked = "mlflow" in trainer.args.report_to and trainer.is_world_process_zero()
    if tracked:
        reopen_mlflow_run()
    after = trainer.evaluate()["eval_loss"] if has_validation else None
    if trainer.is_world_process_zero():
        _save(trainer.model, tokenizer, settings, job.model_dir)
    if tracked:
        log_model_to_mlflow(job.model_dir)
    state = trainer.state
    return {
        "parameters": {
            "trainable": sum(p.numel() for p in net.parameters() if p.requires_grad),
            "total": sum(p.numel() for p in net.parameters()),
        },
        "blocks": len(model.transformer_blocks(net)),
        "steps": state.global_step,
        "max_steps": state.max_steps,
        "epoch": state.epoch,
        "log_history": state.log_history,
        "before": before,
        "after": after,
        "train_runtime": result.metrics["train_runtime"],
    }


def fit_across(job: Job, tokenized: dict[str, Any], threads: int) -> dict[str, Any]:
    """`fit` in `settings.devices` processes under torchrun (DDP; gloo on CPUs, NCCL on GPUs), each with its
    share of the threads. The splits go to the processes on disk; the first one writes what `fit` returned."""
    folder = job.checkpoints / "across"
    shutil.rmtree(folder, ignore_errors=True)
    for name, split in tokenized.items():
        split.save_to_disk(str(folder / name))
    n = job.settings.devices
    share = max(1, threads // n)
    write_json(folder / "job.json", {"job": job.to_dict(), "parent": os.getpid(), "threads": share})
    env = {**os.environ, "OMP_NUM_THREADS": str(share)}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={n}"]
    done = subprocess.run([*command, "-m", "studio.train.worker", str(folder)], env=env, check=False)
    fitted = folder / "fitted.json"
    if done.returncode != 0 or not fitted.exists():
        raise StudioError(
            f"training in {n} processes failed (torchrun exit code {done.returncode}): the lines above say why",
            None,
            "train.devices",
        )
    return json.loads(fitted.read_text())


def split_source(ctx: Context, source: Path) -> tuple[list[dict[str, str]], Any, list[dict[str, Any]]]:
    """The examples of `source`, their splits (saved in the stage's splits/) and the test items moved to train."""
    settings = ctx.project.train
    records = data.training_records(source)
    examples = data.to_examples(records, settings, ctx.project.domain.name, source)
    splits, moved = data.make_splits(examples, records, settings, ctx.output("splits"), seed_texts(ctx.project))
    if moved:
        ctx.say(
            f"tune: {len(moved)} test item(s) moved to train: near copies (word 3-gram Jaccard >= "
            f"{settings.splits.decontaminate}) of a training, validation or seed example"
        )
    return examples, splits, moved


def seed_texts(project: Project) -> list[str]:
    """The seed examples' text (every string cell of a row), which the generator was shown."""
    examples = project.generate.seed_examples
    if not examples or not project.path(examples.file).exists():
        return []
    rows = read_rows(project.path(examples.file))
    return [" ".join(str(v) for v in row.values() if isinstance(v, str)) for row in rows]


def search(
    settings: Train,
    base: str,
    labels: list[str],
    tokenized: dict[str, Any],
    collate: Any,
    output: Path,
    steps_per_epoch: int,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """Trainer.hyperparameter_search with Optuna over the learning rate and epochs; the best by validation loss."""
    try:
        import optuna
    except ImportError:
        raise StudioError("train.search needs optuna: pip install 'studio[search]'", None, "train.search") from None
    if not tokenized["validation"].num_rows:
        raise StudioError("a search needs a validation split", None, "train.splits.validation")
    space = settings.search
    say(f"tune: searching {space.trials} trial(s) over learning rate {space.learning_rate} and epochs {space.epochs}")
    trainer = _trainer(
        None,
        training_args(settings, output / "search", steps_per_epoch, True, False, search=True),
        tokenized,
        collate,
        None,
        False,
        model_init=lambda trial=None: prepare(model.load_model(base, settings.task, labels), settings),
    )
    best = trainer.hyperparameter_search(
        hp_space=lambda trial: {
            "learning_rate": trial.suggest_float("learning_rate", *space.learning_rate, log=True),
            "num_train_epochs": trial.suggest_int("num_train_epochs", *space.epochs),
        },
        compute_objective=lambda metrics: metrics["eval_loss"],
        n_trials=space.trials,
        direction="minimize",
        backend="optuna",
        sampler=optuna.samplers.TPESampler(seed=settings.seed),
    )
    shutil.rmtree(output / "search", ignore_errors=True)
    params = {
        "learning_rate": best.hyperparameters["learning_rate"],
        "epochs": best.hyperparameters["num_train_epochs"],
    }
    say(f"tune: best trial: learning rate {params['learning_rate']:.2e}, {params['epochs']} epoch(s)")
    return params


def _trainer(
    net: Any,
    args: Any,
    tokenized: dict[str, Any],
    collate: Any,
    patience: int | None,
    show_progress: bool,
    model_init: Callable[..., Any] | None = None,
    say: Callable[[str], None] | None = None,
) -> Any:
    from transformers import EarlyStoppingCallback, PrinterCallback, Trainer

    trainer = Trainer(
        model=net,
        model_init=model_init,
        args=args,
        train_dataset=tokenized["train"],
        eval_dataset=tokenized["validation"] if tokenized["validation"].num_rows else None,
        data_collator=collate,
        callbacks=[EarlyStoppingCallback(patience)] if patience else None,
    )
    if not show_progress:
        # In a log, not a terminal: no bars and no raw dicts, one line per validation pass instead.
        trainer.remove_callback(PrinterCallback)
        if say is not None:
            trainer.add_callback(validation_lines(say))
    return trainer


def validation_lines(say: Callable[[str], None]) -> Any:
    """A Trainer callback: a line per validation pass (from the first process of several)."""
    from transformers import TrainerCallback

    class ValidationLines(TrainerCallback):
        def on_evaluate(self, args: Any, state: Any, control: Any, metrics: dict | None = None, **kw: Any) -> None:
            if not state.is_world_process_zero or not metrics or "eval_loss" not in metrics:
                return
            if not state.global_step:
                say(f"tune: before training: validation loss {metrics['eval_loss']:.4f}")
                return
            train = next((h["loss"] for h in reversed(state.log_history) if "loss" in h), None)
            said = f", training loss {train:.4f}" if train is not None else ""
            say(
                f"tune: step {state.global_step}/{state.max_steps}, epoch {state.epoch or 0:.2f}: "
                f"validation loss {metrics['eval_loss']:.4f}{said}"
            )

    return ValidationLines()


def _say_stderr(line: str) -> None:
    print(f"studio: {line}", file=sys.stderr, flush=True)


def _save(net: Any, tokenizer: Any, settings: Train, folder: Path) -> None:
    """The model folder: full weights, or the LoRA adapter (merged into full weights if lora.merge)."""
    shutil.rmtree(folder, ignore_errors=True)
    if settings.method == "lora" and settings.lora.merge:
        net = net.merge_and_unload()
    net.config.use_cache = True  # for generation
    net.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def _mlflow_experiment(uri: str, name: str, artifacts: Path) -> None:
    """The experiment, made once with its artifacts in the run folder (MLflow's default is the working directory)."""
    import logging

    from mlflow import MlflowClient

    logging.getLogger("mlflow").setLevel(logging.WARNING)  # its notes on creating tables are not the user's
    client = MlflowClient(tracking_uri=uri)
    if client.get_experiment_by_name(name) is None:
        client.create_experiment(name, artifact_location=artifacts.as_uri())


def reopen_mlflow_run() -> None:
    """Open again the MLflow run Trainer's callback ended with the training, so that the last evaluation (of the
    model kept) and the model land in it, not in a run of their own."""
    import mlflow

    last = mlflow.last_active_run()
    if mlflow.active_run() is None and last is not None:
        mlflow.start_run(run_id=last.info.run_id)


def log_model_to_mlflow(folder: Path) -> None:
    """The saved model as the run's `model` artifact (Trainer's callback logs a model only as every checkpoint),
    and the run ended."""
    import mlflow

    if mlflow.active_run() is not None:
        mlflow.log_artifacts(str(folder), artifact_path="model")
        mlflow.end_run()


@contextmanager
def tracking(run: Run, experiment: str, trackers: list[str]) -> Iterator[None]:
    """Point the experiment trackers at the run folder, unless the user pointed them elsewhere: TensorBoard's
    event files into logs/, MLflow's runs into mlflow.db (SQLite: MLflow 3 refuses its old file store) under an
    experiment named after the domain, with their artifacts in mlartifacts/ (not the working directory)."""
    wanted = {
        "TENSORBOARD_LOGGING_DIR": str(run.dir / "logs"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{run.dir / 'mlflow.db'}",
        "MLFLOW_EXPERIMENT_NAME": experiment,
    }
    ours = {name: value for name, value in wanted.items() if name not in os.environ}
    os.environ.update(ours)
    if "mlflow" in trackers and "MLFLOW_TRACKING_URI" in ours:
        _mlflow_experiment(ours["MLFLOW_TRACKING_URI"], os.environ["MLFLOW_EXPERIMENT_NAME"], run.dir / "mlartifacts")
    try:
        yield
    finally:
        for name in ours:
            os.environ.pop(name, None)


def last_checkpoint(folder: Path) -> Path | None:
    """The newest complete checkpoint. Trainer writes trainer_state.json last: a checkpoint without a readable
    one was cut off by the interruption, and is removed."""
    steps = {int(p.name.split("-")[-1]): p for p in folder.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()}
    for step in sorted(steps, reverse=True):
        try:
            json.loads((steps[step] / "trainer_state.json").read_text())
            return steps[step]
        except (OSError, ValueError):
            shutil.rmtree(steps[step], ignore_errors=True)
    return None


def _curves(history: list[dict[str, Any]]) -> dict[str, list[list[float]]]:
    """Training and validation loss by step, for the report's plot."""
    train = [[h["step"], round(h["loss"], 4)] for h in history if "loss" in h]
    validation = [[h["step"], round(h["eval_loss"], 4)] for h in history if "eval_loss" in h]
    return {"train": train, "validation": validation}


def _exp(loss: float | None) -> float | None:
    return None if loss is None else round(math.exp(min(loss, 50)), 3)
