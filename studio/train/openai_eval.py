"""studio eval of a model tuned by an OpenAI fine-tuning job (train.backend openai), through the chat API.

The base model (zero-shot, and with `few_shot` training examples as earlier turns) and the tuned one answer
every test prompt, greedily (temperature 0), and the answers are scored as a local eval scores its generations:
BLEU and ROUGE-L against the test item, the share valid against the schema when the model writes whole items,
and the judge's mean when asked. The API gives no log-probabilities of a given text, so there is no perplexity:
the verdict compares ROUGE-L, with a 95% bootstrap interval over the test items.

Every answer is kept in checkpoints/openai-eval.jsonl as it comes, so a killed eval asks only what it has not.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

from studio.records import canonical_json
from studio.schema import DomainSchema
from studio.stage import Context
from studio.target import Target
from studio.train import data, evaluate, metrics, openai_tune, tune
from studio.training_examples import chat_messages

ANSWERS = "openai-eval.jsonl"


def run_openai_eval(ctx: Context, judge: Target | None) -> dict[str, Any]:
    project, run, say = ctx.project, ctx.run, ctx.say
    entry, settings = run.stage("tune"), project.train.eval
    splits = data.load_splits(run.file("splits"))
    test, train = list(splits["test"]), list(splits["train"])
    tuned = json.loads((run.file("model") / openai_tune.MODEL_FILE).read_text())["fine_tuned_model"]
    shots = random.Random(entry["settings"]["seed"]).sample(train, min(settings.few_shot, len(train)))
    base, title = entry["base_model"], project.domain.title
    variants = {"base": (base, []), "base_few_shot": (base, shots), "tuned": (tuned, [])}
    say(f"eval: {len(test)} test prompt(s) answered through the API by {base} (zero-shot, {len(shots)}-shot), {tuned}")
    api = openai_tune.client(ctx)
    answers = Answers(run.dir / tune.CHECKPOINTS / ANSWERS)
    samples = []
    for example in test:
        sample = {"prompt": example["prompt"], "reference": example["text"]}
        for name, (model_name, examples) in variants.items():
            turns = [turn for shot in examples for turn in chat_messages(title, shot["prompt"], shot["text"])[1:]]
            system, prompt = chat_messages(title, example["prompt"])
            request = {"model": model_name, "messages": [system, *turns, prompt], "max_tokens": settings.max_new_tokens}
            sample[name] = answers.get(request) or answers.put(request, _ask(api, request))
        samples.append(sample)
    schema = DomainSchema.load(project.schema_path) if entry["settings"]["target"] == "item" else None
    scores = {name: evaluate.generation_scores(samples, name, schema) for name in variants}
    rouge = {name: [metrics.rouge_l([s[name]], [s["reference"]]) for s in samples] for name in variants}
    for name in variants:
        scores[name]["rouge_l_ci95"] = mean_interval(rouge[name])
    if judge and samples:
        for name in variants:
            scores[name]["judge"] = evaluate.ask_judge(judge, samples, name, project.domain.description)
    return {
        "run": run.name,
        "task": entry["task"],
        "method": entry["method"],
        "base_model": base,
        "model": tuned,
        "test_items": len(test),
        "moved_from_test": entry.get("counts", {}).get("moved_from_test", 0),
        "verdict": verdict(scores, len(shots)),
        "generation": {"greedy": True, "max_new_tokens": settings.max_new_tokens, "samples": samples, "scores": scores},
    }


def _ask(api: Any, request: dict[str, Any]) -> str:
    reply = openai_tune.call(lambda: api.chat.completions.create(**request, temperature=0))
    return (reply.choices[0].message.content or "").strip()


class Answers:
    """The answers got so far, by request (model, turns, token limit); each appended to the file as it comes."""

    def __init__(self, path: Path):
        self.path = path
        self.known: dict[str, str] = {}
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                except ValueError:  # the last line of a killed run may be cut
                    continue
                self.known[row["key"]] = row["answer"]

    @staticmethod
    def key(request: dict[str, Any]) -> str:
        return hashlib.sha256(canonical_json(request).encode()).hexdigest()

    def get(self, request: dict[str, Any]) -> str | None:
        return self.known.get(self.key(request))

    def put(self, request: dict[str, Any], answer: str) -> str:
        self.known[self.key(request)] = answer
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"key": self.key(request), "answer": answer}, ensure_ascii=False) + "\n")
        return answer


def mean_interval(values: list[float], draws: int = 1000) -> list[float] | None:
    """The 95% bootstrap interval of the mean over test items (resampled with a fixed seed)."""
    if len(values) < 2:
        return None
    rng = random.Random(0)
    means = sorted(sum(rng.choice(values) for _ in values) / len(values) for _ in range(draws))
    return [round(means[int(0.025 * draws)], 4), round(means[int(0.975 * draws) - 1], 4)]


def verdict(scores: dict[str, dict[str, Any]], shots: int) -> str:
    names = {"tuned": "fine-tuning", "base_few_shot": "few-shot prompting", "base": "the base model as it is"}
    ranked = sorted(names, key=lambda v: scores[v]["rouge_l"] or 0, reverse=True)
    first, second = ranked[0], ranked[1]
    text = (
        f"held-out ROUGE-L (higher is better): base {scores['base']['rouge_l']}, base with {shots} example(s) in the "
        f"prompt {scores['base_few_shot']['rouge_l']}, tuned {scores['tuned']['rouge_l']}: {names[first]} fits "
        "the domain best"
    )
    a, b = scores[first].get("rouge_l_ci95"), scores[second].get("rouge_l_ci95")
    if a and b and a[0] <= b[1]:
        text += (
            f", but the test split is too small to tell it from {names[second]} (95% intervals {a[0]}-{a[1]} and "
            f"{b[0]}-{b[1]}): raise train.splits.test or generate more items"
        )
    return text
