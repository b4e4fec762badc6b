"""The model card (model/README.md): base model, method, data, settings and results, written by studio tune
and rewritten with the held-out results by studio eval."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from studio.runs import Run
from studio.train.model import hub_id

PIPELINE_TAG = {
    "text": "text-generation",
    "chat": "text-generation",
    "seq2seq": "text2text-generation",
    "classification": "text-classification",
}


def write(
    folder: Path, run: Run, tune: dict[str, Any], evaluation: dict[str, Any] | None = None, path: Path | None = None
) -> Path:
    """The card of the model in `folder`, written to `path` (default: its README.md)."""
    lines = _provider_lines(run, tune) if tune.get("backend") == "openai" else _local_lines(folder, run, tune)
    lines += ["", "## Results", ""]
    ppl = tune.get("validation_perplexity")
    if ppl and ppl["after"] is not None:
        lines.append(f"- validation perplexity: {ppl['before']} before, {ppl['after']} after tuning")
    if evaluation:
        lines += _eval_lines(evaluation)
    else:
        lines.append("- held-out test results: run `studio eval`")
    lines += ["", "## Use", "", "```python", *_usage(folder, tune), "```", ""]
    path = path or folder / "README.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _local_lines(folder: Path, run: Run, tune: dict[str, Any]) -> list[str]:
    settings = tune["settings"]
    adapter = (folder / "adapter_config.json").exists()
    # The Hub's card metadata names a base model by its Hub id; a folder of the user's own by its name only.
    base = hub_id(tune["base_model"])
    base_name = base or f"a local model folder, {Path(tune['base_model']).name}"
    lines = [
        "---",
        *([f"base_model: {json.dumps(base)}"] if base else []),
        f"library_name: {'peft' if adapter else 'transformers'}",
        f"pipeline_tag: {PIPELINE_TAG[tune['task']]}",
        f"tags: [studio, {tune['method']}, {tune['task']}]",
        "---",
        "",
        f"# {run.dir.parent.name} / {run.name}: a {tune['task']} model tuned by studio",
        "",
        "## Base model and method",
        "",
        f"- base model: `{base_name}`",
        f"- method: {_method(tune)}",
        f"- saved as: {'a LoRA adapter (load it on the base model with peft)' if adapter else 'full weights'}",
        f"- parameters: {tune['parameters']['trainable']:,} trained of {tune['parameters']['total']:,}",
        f"- precision: {tune['precision']} on {tune['device']}",
        "",
        *_data_lines(run, tune),
        "",
        "## Training",
        "",
        f"- {tune['steps']} steps, {tune['epochs']} epochs"
        + (" (stopped early: validation loss stopped improving)" if tune["stopped_early"] else ""),
        f"- {tune['train_seconds']} s, {tune['train_tokens_per_s']} tokens/s (real tokens, no padding)",
        f"- settings: {_settings(settings)}",
    ]
    if tune.get("search"):
        lines.append(f"- hyperparameter search: best {tune['search']}")
    return lines


def _provider_lines(run: Run, tune: dict[str, Any]) -> list[str]:
    """A model tuned by a job on OpenAI's fine-tuning API: it lives at the provider, under its name."""
    hyper = tune.get("hyperparameters") or {}
    return [
        "---",
        "tags: [studio, openai-fine-tuning, chat]",
        "---",
        "",
        f"# {run.dir.parent.name} / {run.name}: a chat model tuned by studio through OpenAI's fine-tuning API",
        "",
        "## Base model and method",
        "",
        f"- base model: `{tune['base_model']}`",
        f"- fine-tuned model: `{tune['fine_tuned_model']}` (at the provider; no weights here)",
        f"- fine-tuning job: `{tune['job']}`",
        "",
        "## Data",
        "",
        *_data_lines(run, tune),
        "",
        "## Training",
        "",
        f"- {tune.get('steps') or 'unknown'} steps, {tune.get('trained_tokens') or 0:,} tokens trained",
        "- hyperparameters: " + ", ".join(f"{k}={v}" for k, v in hyper.items()),
    ]


def _data_lines(run: Run, tune: dict[str, Any]) -> list[str]:
    settings, counts, tokens = tune["settings"], tune["counts"], tune.get("tokens") or {}
    lines = [
        f"- source: `{Path(tune['inputs'][0]).name}` of run `{run.name}`",
        "- splits (seeded" + (f", stratified by `{settings['stratify']}`" if settings["stratify"] else "") + "):",
    ]
    for name in ("train", "validation", "test"):
        size = f", {tokens[name]['tokens']:,} tokens" if name in tokens else ""
        lines.append(f"  - {name}: {counts[name]} items{size}")
    for name, ids in counts.get("dropped", {}).items():
        lines.append(f"  - left out of {name}: {len(ids)} items whose prompt fills max_length")
    if counts.get("moved_from_test"):
        lines.append(
            f"  - moved from test to train: {counts['moved_from_test']} near copies of a training, validation or "
            "seed example (the test split scores what the model did not see)"
        )
    return lines


def _method(tune: dict[str, Any]) -> str:
    s = tune["settings"]
    k = tune["frozen_blocks"]
    if tune["method"] == "lora":
        lora = s["lora"]
        where = f", blocks from {k} up" if k else ""
        return f"LoRA (r={lora['r']}, alpha={lora['alpha']}, on {lora['target_modules']}{where})"
    if tune["method"] == "freeze":
        return f"fine-tuning with the embeddings and the first {k} blocks frozen"
    return "full fine-tuning" + (f" with the embeddings and the first {k} blocks frozen" if k else "")


def _settings(s: dict[str, Any]) -> str:
    keys = ("epochs", "learning_rate", "batch_size", "max_length", "packing", "seed")
    return ", ".join(f"{k}={s[k]}" for k in keys)


def _eval_lines(e: dict[str, Any]) -> list[str]:
    lines = []
    ppl = e.get("perplexity")
    if ppl:
        parts = [
            f"{name} {value['all']}"
            + (f" (95% interval {value['ci95'][0]}-{value['ci95'][1]})" if value.get("ci95") else "")
            for name, value in ppl.items()
        ]
        lines.append(f"- held-out test perplexity: {', '.join(parts)}")
    if e.get("verdict"):
        lines.append(f"- {e['verdict']}")
    scores = e.get("classification")
    if scores:
        tuned = scores["tuned"]
        lines.append(
            f"- held-out test accuracy {tuned['accuracy']}, macro precision {tuned['precision']}, "
            f"recall {tuned['recall']}, F1 {tuned['f1']} (majority-class baseline: {scores['baseline']['accuracy']})"
        )
    for name, value in (e.get("generation") or {}).get("scores", {}).items():
        lines.append(f"- generations of {name}: " + ", ".join(f"{k} {v}" for k, v in value.items()))
    lines.append("- full results: eval.json in the run folder")
    return lines


def _usage(model_dir: Path, tune: dict[str, Any]) -> list[str]:
    if tune.get("backend") == "openai":
        return [
            "from openai import OpenAI",
            "reply = OpenAI().chat.completions.create(",
            f'    model="{tune["fine_tuned_model"]}", messages=[{{"role": "user", "content": "..."}}]',
            ")",
        ]
    adapter = (model_dir / "adapter_config.json").exists()
    # The folder as the run names it: an absolute path would point into this machine (or a staging folder).
    folder = "model"
    if tune["task"] == "classification":
        return ["from transformers import pipeline", f'classify = pipeline("text-classification", model="{folder}")']
    kind = "Seq2SeqLM" if tune["task"] == "seq2seq" else "CausalLM"
    if adapter:
        return [
            f"from peft import AutoPeftModelFor{kind}",
            f'model = AutoPeftModelFor{kind}.from_pretrained("{folder}")',
        ]
    return [
        f"from transformers import AutoModelFor{kind}",
        f'model = AutoModelFor{kind}.from_pretrained("{folder}")',
    ]
