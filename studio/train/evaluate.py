"""studio eval: the tuned model beside its base on the held-out test split, written to eval.json.

Causal LM (text, chat) and encoder-decoder (seq2seq): perplexity of the test items (of their responses, for
chat and seq2seq) for the base model prompted zero-shot, the base
model with `few_shot` training examples in its prompt, and the tuned model, overall and per axis value;
greedy generations of all three for the same prompts, scored by BLEU and ROUGE-L against the test item,
by the share valid against the domain schema (when the model writes whole items) and, if asked, by an
LLM judge. That answers the source articles' question: prompt engineering or fine-tuning?
Classification: accuracy, precision, recall, F1 and the confusion matrix, beside the majority class.
"""

from __future__ import annotations

import json
import math
import random
import re
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.errors import StudioError
from studio.project import Project
from studio.records import write_json
from studio.runs import FILES, Run
from studio.schema import DomainSchema
from studio.stage import Context, Outcome, Stage, progress_bar
from studio.target import Target
from studio.train import card, data, metrics, model

PROMPT_WORDS = 8  # text task: a generation continues the first words of a test item


class EvalStage(Stage):
    """The tuned model beside its base on the test split, into eval.json and the model card."""

    name = "eval"
    command = "studio eval"
    inputs = ("splits", "model")
    outputs = ("eval", "model_card")

    def __init__(self, judge: bool, start_judge: Callable[[], Target | None] | None = None):
        # The judge's endpoint (the project's `judge`) is started only when the stage really runs; None: there is
        # only the bundled model, which is no judge.
        self.judge, self.start_judge = judge, start_judge

    def settings(self, project: Project) -> Any:
        return {"eval": project.train.eval.model_dump(mode="json"), "judge": self.judge}

    def run(self, ctx: Context) -> Outcome:
        judge = self.start_judge() if self.judge and self.start_judge else None
        if self.judge and judge is None:
            ctx.say("eval: no judge's endpoint (see `judge` in the project file); the answers are not scored")
        if ctx.run.stage("tune").get("backend") == "openai":
            from studio.train.openai_eval import run_openai_eval

            result = run_openai_eval(ctx, judge)
        else:
            result = run_eval(ctx, judge)
        write_json(ctx.output("eval"), result)
        card.write(ctx.run.file("model"), ctx.run, ctx.run.stage("tune"), result, ctx.output("model_card"))
        perplexity = {k: v["all"] for k, v in result.get("perplexity", {}).items()}
        return Outcome({"test": result["test_items"]}, details={"perplexity": perplexity})


@model.quiet()
def run_eval(ctx: Context, judge: Target | None = None) -> dict[str, Any]:
    project, run, say = ctx.project, ctx.run, ctx.say
    tune = run.stage("tune")
    settings = project.train.eval
    started = time.monotonic()
    model.threads(project.train.threads)
    splits = data.load_splits(run.file("splits"))
    if not splits["test"].num_rows:
        raise StudioError("the test split is empty: raise train.splits.test and tune again", None, "train.splits.test")
    tokenizer = model.load_tokenizer(str(run.file("model")))
    task = tune["task"]
    result: dict[str, Any] = {
        "run": run.name,
        "task": task,
        "method": tune["method"],
        "base_model": tune["base_model"],
        "model": FILES["model"],
        "test_items": splits["test"].num_rows,
        # Near copies of seen items moved out of test when tune split (train.splits.decontaminate).
        "moved_from_test": tune.get("counts", {}).get("moved_from_test", 0),
    }
    with autocast(project.train.precision):
        if task == "classification":
            result["classification"] = classify(run.file("model"), tokenizer, splits, tune, settings.batch_size)
        else:
            schema = DomainSchema.load(project.schema_path) if tune["settings"]["target"] == "item" else None
            result.update(causal(project, run, tokenizer, splits, tune, schema, judge, say, ctx.show_progress))
    result["seconds"] = round(time.monotonic() - started, 2)
    return result


def autocast(setting: str) -> Any:
    """Score in the precision the model was tuned in (bf16 runs about twice as fast on a CPU that has it)."""
    import torch

    precision = model.precision(setting)
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(model.device(), dtype=dtype, enabled=precision != "fp32")


# Causal LM.


def causal(
    project: Project,
    run: Run,
    tokenizer: Any,
    splits: Any,
    tune: dict[str, Any],
    schema: DomainSchema | None,
    judge: Target | None,
    say: Callable[[str], None],
    show_progress: bool = False,
) -> dict[str, Any]:
    settings = project.train.eval
    task, max_length = tune["task"], tune["settings"]["max_length"]
    test = list(splits["test"])
    shots = random.Random(tune["settings"]["seed"]).sample(
        list(splits["train"]), min(settings.few_shot, len(splits["train"]))
    )
    base, tuned = model.load_model(tune["base_model"], task), load_tuned(run.file("model"), tune)
    models = {"base": base.to(model.device()), "tuned": tuned.to(model.device())}
    say(f"eval: scoring {len(test)} test items with the base model (zero-shot, {len(shots)}-shot) and the tuned one")
    variants = {"base": (models["base"], []), "base_few_shot": (models["base"], shots), "tuned": (models["tuned"], [])}
    prompts = prompts_and_references(test, settings.prompts, settings.generations, task)
    # One bar over the scoring and the answers of the three models; none in a log, whose lines say the steps.
    bar = progress_bar(len(variants) * (len(test) + len(prompts)), "eval", show_progress)
    perplexity, per_item = {}, {}
    for name, (net, examples) in variants.items():
        rows = [data.encode(e, tokenizer, task, max_length, [], shots=examples) for e in test]
        # Few-shot rows are several times longer: fewer of them per batch keeps the memory flat.
        batch = max(1, settings.batch_size // (len(examples) + 1))
        per_item[name] = nll(net, rows, tokenizer, batch, task, bar)
        perplexity[name] = by_axis(test, per_item[name])
        perplexity[name]["ci95"] = interval(per_item[name])
    perplexity["base_few_shot"]["shots"] = len(shots)

    say(f"eval: generating answers to {len(prompts)} prompt(s) with each model")
    samples = [{"prompt": prompt, "reference": reference} for prompt, reference in prompts]
    for name, (net, examples) in variants.items():
        answers = generate(net, tokenizer, task, [p for p, _ in prompts], examples, settings.max_new_tokens)
        for sample, answer in zip(samples, answers, strict=True):
            sample[name] = answer
        bar.update(len(prompts))
    bar.close()
    scores = {name: generation_scores(samples, name, schema) for name in variants}
    if judge and samples:
        for name in variants:
            scores[name]["judge"] = ask_judge(judge, samples, name, project.domain.description)
    return {
        "perplexity": perplexity,
        **compare("held-out perplexity", per_item, perplexity_of, len(shots)),
        "generation": {"greedy": True, "max_new_tokens": settings.max_new_tokens, "samples": samples, "scores": scores},
    }


def load_tuned(folder: Path, tune: dict[str, Any]) -> Any:
    """The tuned model: full weights, or the base with the LoRA adapter merged in (faster to run)."""
    if not (folder / "adapter_config.json").exists():
        return model.load_model(str(folder), tune["task"], tune["labels"])
    from peft import PeftModel

    base = model.load_model(tune["base_model"], tune["task"], tune["labels"])
    return PeftModel.from_pretrained(base, str(folder)).merge_and_unload()


def nll(
    net: Any, rows: list[dict[str, Any]], tokenizer: Any, batch_size: int, task: str = "text", bar: Any = None
) -> list[tuple[float, int]]:
    """Summed negative log-likelihood and the number of predicted tokens, per row (`bar`: a progress bar to
    advance by each batch's rows)."""
    import torch

    collate = data.collator(tokenizer, task, packing=False)
    net.eval()
    out = []
    for start in range(0, len(rows), batch_size):
        batch = collate(rows[start : start + batch_size]).to(net.device)
        inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"], "use_cache": False}
        with torch.no_grad():
            if task == "seq2seq":  # the decoder predicts each label from the ones before it: no shift
                logits, labels = net(**inputs, labels=batch["labels"]).logits.float(), batch["labels"]
            else:
                logits, labels = net(**inputs).logits.float()[:, :-1], batch["labels"][:, 1:]
        losses = torch.nn.functional.cross_entropy(
            logits.transpose(1, 2), labels, ignore_index=data.IGNORE, reduction="none"
        )
        for loss, mask in zip(losses, labels != data.IGNORE, strict=True):
            out.append((float(loss[mask].sum()), int(mask.sum())))
        if bar is not None:
            bar.update(len(losses))
    return out


def by_axis(examples: list[dict[str, str]], scored: list[tuple[float, int]]) -> dict[str, Any]:
    """Token-weighted perplexity of all items and of the items of each axis value."""
    groups: dict[str, dict[str, list[tuple[float, int]]]] = defaultdict(lambda: defaultdict(list))
    for example, score in zip(examples, scored, strict=True):
        for axis, value in json.loads(example["axes"]).items():
            groups[axis][str(value)].append(score)
    return {
        "all": perplexity(scored),
        "by_axis": {axis: {v: perplexity(s) for v, s in sorted(values.items())} for axis, values in groups.items()},
    }


def perplexity(scored: list[tuple[float, int]]) -> float | None:
    tokens = sum(n for _, n in scored)
    return round(math.exp(sum(loss for loss, _ in scored) / tokens), 3) if tokens else None


def perplexity_of(scored: list[tuple[float, int]]) -> float | None:
    """The perplexity unrounded: what the bootstrap resamples (a rounded one makes ties of small differences)."""
    tokens = sum(n for _, n in scored)
    return math.exp(sum(loss for loss, _ in scored) / tokens) if tokens else None


def interval(scored: list[tuple[float, int]]) -> list[float] | None:
    """The 95% bootstrap interval of the perplexity over test items."""
    return bootstrap(scored, perplexity)


def bootstrap(
    items: list[Any], statistic: Callable[[list[Any]], float | None], draws: int = 1000
) -> list[float] | None:
    """The 95% bootstrap interval of `statistic` over the test items (resampled with a fixed seed)."""
    if len(items) < 2:
        return None
    rng = random.Random(0)
    values = sorted(
        v for _ in range(draws) if (v := statistic([items[rng.randrange(len(items))] for _ in items])) is not None
    )
    return [values[int(0.025 * len(values))], values[int(0.975 * len(values)) - 1]] if values else None


def wilson(successes: int, n: int, z: float = 1.96) -> list[float] | None:
    """The 95% Wilson interval of a share: honest for the small test splits a niche domain has."""
    if not n:
        return None
    p = successes / n
    centre, half = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return [round((centre - half) / (1 + z * z / n), 3), round((centre + half) / (1 + z * z / n), 3)]


CHOICES = {"tuned": "fine-tuning", "base_few_shot": "few-shot prompting", "base": "the base model as it is"}


def compare(
    label: str,
    per_item: dict[str, list[Any]],
    statistic: Callable[[list[Any]], float | None],
    shots: int,
    lower_is_better: bool = True,
) -> dict[str, Any]:
    """Which of the base model, the few-shot base and the tuned model fits the domain best by one metric, and
    whether the test split can tell it from the next: the 95% bootstrap interval of their difference, both
    scored on the same resampled test items (paired: an item hard for one model is hard for the other, which
    two separate intervals ignore), must leave out zero. Returns `verdict` (a sentence) and `comparison`."""
    values = {name: statistic(per_item[name]) for name in CHOICES}
    first, second = sorted(CHOICES, key=lambda n: (values[n] or 0) * (1 if lower_is_better else -1))[:2]
    pairs = list(zip(per_item[first], per_item[second], strict=True))

    def difference(sample: list[tuple[Any, Any]]) -> float | None:
        a, b = statistic([x for x, _ in sample]), statistic([y for _, y in sample])
        return None if a is None or b is None else a - b

    shown = {name: None if v is None else round(v, 3) for name, v in values.items()}
    gap = difference(pairs)
    ci = [round(x, 3) for x in bootstrap(pairs, difference) or []] or None
    told = ci is not None and (ci[1] < 0 if lower_is_better else ci[0] > 0)
    text = (
        f"{label}: base {shown['base']}, base with {shots} example(s) in the prompt {shown['base_few_shot']}, "
        f"tuned {shown['tuned']}: {CHOICES[first]} fits the domain best"
    )
    if ci and not told:
        text += (
            f", but the test split is too small to tell it from {CHOICES[second]} (the difference {gap:+.3f}; "
            f"its 95% interval over the same resampled test items, {ci[0]:+.3f} to {ci[1]:+.3f}, holds 0): "
            "raise train.splits.test or generate more items"
        )
    elif ci:
        text += (
            f", told apart from {CHOICES[second]} (the difference {gap:+.3f}; its 95% interval over the same "
            f"resampled test items, {ci[0]:+.3f} to {ci[1]:+.3f}, holds no 0)"
        )
    comparison = {"best": first, "next": second, "difference": None if gap is None else round(gap, 3), "ci95": ci}
    return {"verdict": text, "comparison": {**comparison, "paired": True, "told_apart": told}}


def prompts_and_references(
    test: list[dict[str, str]], prompts: list[str], count: int, task: str
) -> list[tuple[str, str | None]]:
    """The configured prompts (no reference), else the first test items' prompts with their text as reference.
    Text task: the first words of a test item, continued; the rest of it is the reference."""
    if prompts:
        return [(p, None) for p in prompts]
    out: list[tuple[str, str | None]] = []
    for example in test[:count]:
        if task in data.PROMPTED:
            out.append((example["prompt"], example["text"]))
        else:
            first = example["text"].split(" ")
            out.append((" ".join(first[:PROMPT_WORDS]), " ".join(first[PROMPT_WORDS:])))
    return out


def generate(
    net: Any, tokenizer: Any, task: str, prompts: list[str], shots: list[dict], max_new_tokens: int
) -> list[str]:
    """Greedy answers to all prompts in one batch: on a CPU a batch of five costs little more than one."""
    import torch

    if not prompts:
        return []
    if task == "seq2seq":
        rows = [tokenizer(data.seq2seq_input(p, shots))["input_ids"] for p in prompts]
    elif task == "chat":
        texts = [data.chat_parts(tokenizer, p, shots=shots)[0] for p in prompts]
        rows = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    else:
        prefix = tokenizer(data.text_prefix(shots), add_special_tokens=False)["input_ids"] if shots else []
        rows = [prefix + tokenizer(p)["input_ids"] for p in prompts]
    # A decoder continues from the last position, so its prompts are padded on the left; an encoder's on the right.
    decoder_only = not net.config.is_encoder_decoder
    batch = tokenizer.pad(
        {"input_ids": rows}, padding_side="left" if decoder_only else "right", return_tensors="pt"
    ).to(net.device)
    with torch.no_grad():
        out = net.generate(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
        )
    # A decoder-only model's output starts with the prompt; an encoder-decoder's is the answer alone.
    written = out[:, batch["input_ids"].shape[1] :] if decoder_only else out
    return [tokenizer.decode(w, skip_special_tokens=True).strip() for w in written]


def generation_scores(samples: list[dict[str, Any]], name: str, schema: DomainSchema | None) -> dict[str, Any]:
    scored = [s for s in samples if s["reference"] is not None]
    hypotheses, references = [s[name] for s in scored], [s["reference"] for s in scored]
    scores: dict[str, Any] = {
        "bleu": round(metrics.bleu(hypotheses, references), 4) if scored else None,
        "rouge_l": round(metrics.rouge_l(hypotheses, references), 4) if scored else None,
    }
    if schema is not None:
        scores["schema_valid"] = round(sum(_valid_item(s[name], schema) for s in samples) / len(samples), 4)
    return scores


def _valid_item(text: str, schema: DomainSchema) -> bool:
    match = re.search(r"\{.*\}", text, re.DOTALL)
    try:
        item = json.loads(match.group(0)) if match else None
    except json.JSONDecodeError:
        return False
    return isinstance(item, dict) and schema.first_error(item) is None


def ask_judge(judge: Target, samples: list[dict[str, Any]], name: str, domain: str) -> float | None:
    """Mean score (1-5) the judge gives the answers; answers it does not score are left out of the mean."""
    from openai import OpenAI

    client = OpenAI(base_url=judge.base_url, api_key=judge.api_key or "not-needed", max_retries=2)
    scores = []
    for sample in samples:
        reference = f"\nA reference answer: {sample['reference']}" if sample["reference"] else ""
        question = (
            f"Domain: {domain}\nPrompt: {sample['prompt']}{reference}\nAnswer to rate: {sample[name]}\n\n"
            "Rate the answer from 1 (wrong or off-topic) to 5 (correct, on-topic, fluent). Reply with the number only."
        )
        reply = client.chat.completions.create(
            model=judge.model, messages=[{"role": "user", "content": question}], temperature=0, max_tokens=4
        )
        found = re.search(r"[1-5]", reply.choices[0].message.content or "")
        if found:
            scores.append(int(found.group(0)))
    return round(sum(scores) / len(scores), 3) if scores else None


# Classification.


def classify(folder: Path, tokenizer: Any, splits: Any, tune: dict[str, Any], batch_size: int) -> dict[str, Any]:
    import torch

    labels = tune["labels"]
    net = load_tuned(folder, tune).to(model.device())
    net.eval()
    test = list(splits["test"])
    collate = data.collator(tokenizer, "classification", packing=False)
    rows = [data.encode(e, tokenizer, "classification", tune["settings"]["max_length"], labels) for e in test]
    predicted = []
    for start in range(0, len(rows), batch_size):
        batch = collate(rows[start : start + batch_size]).to(net.device)
        batch.pop("labels")
        with torch.no_grad():
            predicted += [labels[i] for i in net(**batch).logits.argmax(-1).tolist()]
    truth = [e["label"] for e in test]
    majority = max(labels, key=list(splits["train"]["label"]).count)
    correct = sum(t == p for t, p in zip(truth, predicted, strict=True))
    return {
        "tuned": {**metrics.classification(truth, predicted, labels), "accuracy_ci95": wilson(correct, len(truth))},
        "baseline": {"majority_class": majority, **metrics.classification(truth, [majority] * len(truth), labels)},
        "predictions": [
            {"id": e["id"], "label": e["label"], "predicted": p} for e, p in zip(test, predicted, strict=True)
        ],
    }
