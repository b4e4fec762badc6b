"""Curated records -> examples -> seeded (optionally stratified) splits -> tokens and batches.

An example is what the model learns from, in plain words: `prompt` (chat and seq2seq), `text` (the item
text, the chat or seq2seq response, or the classifier's input) and `label` (classification only), with the item's `id`,
its axis values (for per-axis scores) and its stratum. The splits are saved in the run folder as a
datasets.DatasetDict (splits/) and as the records of each split (splits/<split>.jsonl); tokens are made
from the examples when a model is trained or scored.
"""

from __future__ import annotations

import json
import random
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

from studio.errors import StudioError
from studio.project import Train
from studio.records import Record, read_records, write_jsonl
from studio.train.leakage import near_copies
from studio.training_examples import chat_pair, item_value

SPLITS = ("train", "validation", "test")
COLUMNS = ("id", "prompt", "text", "label", "stratum", "axes")
IGNORE = -100  # the label of a token the loss skips (prompt tokens, padding)
PROMPTED = ("chat", "seq2seq")  # the tasks whose examples pair a prompt with its response


def training_records(path: Path) -> list[Record]:
    records = read_records(path)
    if not records:
        raise StudioError("no items to train on", path)
    return records


def to_examples(records: list[Record], settings: Train, domain: str, source: Path | str) -> list[dict[str, str]]:
    """One example per record; a record lacking what its task needs is a StudioError naming its line."""
    out = []
    for line, record in enumerate(records, 1):
        axes = record.meta.get("axes") or {}
        example = {"id": record.id, "prompt": "", "label": "", "axes": json.dumps(axes, sort_keys=True)}
        stratum = item_value(record, settings.stratify) if settings.stratify else None
        example["stratum"] = "" if stratum is None else str(stratum)
        if settings.task in PROMPTED:
            example["prompt"], text = chat_pair(record, settings, domain.replace("-", " "))
        elif settings.target == "item" and settings.task == "text":
            text = json.dumps(record.data, ensure_ascii=False)
        else:
            text = item_value(record, settings.text_field)
        if not isinstance(text, str) or not text.strip():
            raise StudioError(
                f"item {record.id} has no text to learn (train.text_field and train.target)", source, line
            )
        example["text"] = text
        if settings.task == "classification":
            label = item_value(record, settings.label)
            if label is None or isinstance(label, dict | list):
                raise StudioError(f"item {record.id} has no label `{settings.label}` (train.label)", source, line)
            example["label"] = str(label)
        out.append(example)
    return out


def split_indices(strata: list[str], validation: float, test: float, seed: int) -> dict[str, list[int]]:
    """Seeded splits that keep each stratum's share. Rounding is carried from one stratum to the next, so
    the split sizes match the shares overall even when every stratum is small."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, stratum in enumerate(strata):
        groups[stratum].append(i)
    rng = random.Random(seed)
    out: dict[str, list[int]] = {name: [] for name in SPLITS}
    wanted = {"test": 0.0, "validation": 0.0}
    taken = {"test": 0, "validation": 0}
    for stratum in sorted(groups):
        members = groups[stratum]
        rng.shuffle(members)
        start = 0
        for name, share in (("test", test), ("validation", validation)):
            wanted[name] += len(members) * share
            n = max(0, min(round(wanted[name]) - taken[name], len(members) - start))
            out[name] += members[start : start + n]
            taken[name] += n
            start += n
        out["train"] += members[start:]
    return {name: sorted(indices) for name, indices in out.items()}


def make_splits(
    examples: list[dict[str, str]],
    records: list[Record],
    settings: Train,
    folder: Path,
    seed_texts: list[str] = (),
) -> tuple[Any, list[dict[str, Any]]]:
    """Split, move test items that copy a seen one (train, validation, `seed_texts`) to train, save (splits/ as
    a DatasetDict, splits/<split>.jsonl with the records) and return the DatasetDict and the moved items."""
    from datasets import DatasetDict

    parts = split_indices(
        [e["stratum"] for e in examples], settings.splits.validation, settings.splits.test, settings.seed
    )
    moved: list[dict[str, Any]] = []
    if settings.splits.decontaminate is not None and parts["test"]:
        seen = [(examples[i]["id"], examples[i]["text"]) for i in parts["train"] + parts["validation"]]
        seen += [(f"seed example {n}", text) for n, text in enumerate(seed_texts, 1)]
        copies = near_copies([examples[i]["text"] for i in parts["test"]], seen, settings.splits.decontaminate)
        for at, (twin, similarity) in copies.items():
            moved.append({"id": examples[parts["test"][at]]["id"], "copies": twin, "similarity": similarity})
        gone = {parts["test"][at] for at in copies}
        parts["test"] = [i for i in parts["test"] if i not in gone]
        parts["train"] = sorted(parts["train"] + sorted(gone))
    if not parts["train"]:
        raise StudioError(f"{len(examples)} item(s) leave none for training; lower train.splits", None, "train.splits")
    splits = DatasetDict({name: _split([examples[i] for i in parts[name]]) for name in SPLITS})
    if folder.exists():
        shutil.rmtree(folder)
    # datasets cannot read back an empty split it saved: those are left out, and load_splits makes them again.
    DatasetDict({name: split for name, split in splits.items() if split.num_rows}).save_to_disk(str(folder))
    for name in SPLITS:
        write_jsonl(folder / f"{name}.jsonl", (_with_split(records[i], name) for i in parts[name]))
    return splits, moved


def _split(examples: list[dict[str, str]]) -> Any:
    from datasets import Dataset, Features, Value

    columns = {c: [e[c] for e in examples] for c in COLUMNS}  # by columns: an empty split still has them
    return Dataset.from_dict(columns, features=Features({c: Value("string") for c in COLUMNS}))


def _with_split(record: Record, name: str) -> Record:
    return Record(record.id, record.data, {**record.meta, "split": name})


def load_splits(folder: Path) -> Any:
    from datasets import DatasetDict, load_from_disk

    if not (folder / "dataset_dict.json").exists():
        raise StudioError("no splits here: run `studio tune` first", folder)
    saved = load_from_disk(str(folder))
    return DatasetDict({name: saved[name] if name in saved else _split([]) for name in SPLITS})


# Tokens.


def chat_parts(tokenizer: Any, prompt: str, response: str | None = None, shots: list[dict] = ()) -> tuple[str, str]:
    """The chat-template text up to where the assistant answers `prompt` (after the example turns in `shots`),
    and the text of `response` after it."""
    if not getattr(tokenizer, "chat_template", None):
        raise StudioError("task chat needs a model whose tokenizer has a chat template", None, "train.base_model")
    turns = []
    for shot in shots:
        turns += [{"role": "user", "content": shot["prompt"]}, {"role": "assistant", "content": shot["text"]}]
    turns.append({"role": "user", "content": prompt})
    head = tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)
    if response is None:
        return head, ""
    full = tokenizer.apply_chat_template(turns + [{"role": "assistant", "content": response}], tokenize=False)
    if not full.startswith(head):
        raise StudioError("the chat template renders the prompt differently alone and with an answer", None)
    return head, full[len(head) :]


def text_prefix(shots: list[dict]) -> str:
    """Few-shot examples before a text: the items one after another, a blank line apart."""
    return "".join(shot["text"] + "\n\n" for shot in shots)


def seq2seq_input(prompt: str, shots: list[dict] = ()) -> str:
    """The encoder's input: few-shot pairs (a prompt, its response on the next line), a blank line apart, then the
    prompt."""
    return "".join(f"{shot['prompt']}\n{shot['text']}\n\n" for shot in shots) + prompt


def encode(
    example: dict[str, str], tokenizer: Any, task: str, max_length: int, labels: list[str], shots: list[dict] = ()
) -> dict[str, Any]:
    """input_ids and labels of one example, at most max_length long (a few-shot prefix comes on top of that).
    Chat: the loss is on the response only. Seq2seq: the prompt is the encoder's input and the response the
    decoder's target. Text: on every token but the first (it has no context)."""
    if task == "classification":
        ids = tokenizer(example["text"], truncation=True, max_length=max_length)["input_ids"]
        return {"input_ids": ids, "labels": labels.index(example["label"])}
    if task == "seq2seq":
        ids = tokenizer(example["prompt"], truncation=True, max_length=max_length)["input_ids"]
        if shots:
            ids = tokenizer(seq2seq_input("", shots), add_special_tokens=False)["input_ids"] + ids
        targets = tokenizer(text_target=example["text"], truncation=True, max_length=max_length)["input_ids"]
        return {"input_ids": ids, "labels": targets}
    if task == "chat":
        head, tail = chat_parts(tokenizer, example["prompt"], example["text"])
        prompt = tokenizer(head, add_special_tokens=False)["input_ids"]
        response = tokenizer(tail, add_special_tokens=False)["input_ids"]
        ids = (prompt + response)[:max_length]
        targets = ([IGNORE] * len(prompt) + response)[:max_length]
        if shots:  # the same tokens to predict, after the example turns
            few = tokenizer(chat_parts(tokenizer, example["prompt"], shots=shots)[0], add_special_tokens=False)
            ids = few["input_ids"] + ids[len(prompt) :]
            targets = [IGNORE] * len(few["input_ids"]) + targets[len(prompt) :]
        return {"input_ids": ids, "labels": targets}
    ids = tokenizer(example["text"])["input_ids"]
    if tokenizer.eos_token_id is not None and (not ids or ids[-1] != tokenizer.eos_token_id):
        ids.append(tokenizer.eos_token_id)  # the model learns where an item ends
    ids = ids[:max_length]
    targets = [IGNORE] + ids[1:]
    if shots:
        prefix = tokenizer(text_prefix(shots), add_special_tokens=False)["input_ids"]
        ids, targets = prefix + ids, [IGNORE] * len(prefix) + targets
    return {"input_ids": ids, "labels": targets}


def tokenize(split: Any, tokenizer: Any, task: str, max_length: int, labels: list[str]) -> tuple[Any, list[str]]:
    """A tokenized split (input_ids, labels) and the ids of the examples left out: those whose whole
    response was cut off by max_length teach nothing (the caller reports them)."""
    from datasets import Dataset

    rows, dropped = [], []
    for example in split:
        row = encode(example, tokenizer, task, max_length, labels)
        if task != "classification" and all(t == IGNORE for t in row["labels"]):
            dropped.append(example["id"])
        else:
            rows.append(row)
    return (Dataset.from_list(rows) if rows else Dataset.from_dict({"input_ids": [], "labels": []})), dropped


def token_counts(data: Any) -> dict[str, int]:
    """Real tokens (no padding) and the ones the loss is computed on."""
    ids = data["input_ids"]
    tokens = sum(len(x) for x in ids)
    if data.num_rows and isinstance(data[0]["labels"], list):
        trained = sum(sum(1 for t in labels if t != IGNORE) for labels in data["labels"])
    else:
        trained = tokens
    return {"examples": data.num_rows, "tokens": tokens, "loss_tokens": trained}


def collator(tokenizer: Any, task: str, packing: bool) -> Any:
    """Batches without wasted compute: one unpadded row per batch (packing), else padding to the longest item."""
    from transformers import DataCollatorForSeq2Seq, DataCollatorWithFlattening, DataCollatorWithPadding

    if task == "classification":
        return DataCollatorWithPadding(tokenizer)
    if packing and task != "seq2seq":  # an encoder-decoder pads: its decoder has no items to keep apart
        # position_ids restart at every item, and the attention mask built from them keeps items apart.
        return DataCollatorWithFlattening(separator_id=IGNORE)
    return DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=IGNORE)
