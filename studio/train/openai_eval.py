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
from statistics import mean
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
    # The examples a variant is shown, as earlier user and assistant turns.
    turns = {
        name: [turn for shot in examples for turn in chat_messages(title, shot["prompt"], shot["text"])[1:]]
        for name, (_, examples) in variants.items()
    }
    samples = []
    for example in test:
        sample = {"prompt": example["prompt"], "reference": example["text"]}
        system, prompt = chat_messages(title, example["prompt"])
        for name, (model_name, _) in variants.items():
            messages = [system, *turns[name], prompt]
            request = {"model": model_name, "messages": messages, "max_tokens": settings.max_new_tokens}
            sample[name] = answers.get(request) or answers.put(request, _ask(api, request))
        samples.append(sample)
    schema = DomainSchema.load(project.schema_path) if entry["settings"]["target"] == "item" else None
    scores = {name: evaluate.generation_scores(samples, name, schema) for name in variants}
    rouge = {name: [metrics.rouge_l([s[name]], [s["reference"]]) for s in samples] for name in variants}
    for name in variants:
        ci = evaluate.bootstrap(rouge[name], mean)
        scores[name]["rouge_l_ci95"] = [round(x, 4) for x in ci] if ci else None
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
        **evaluate.compare("held-out ROUGE-L (higher is better)", rouge, mean, len(shots), lower_is_better=False),
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
