"""Records -> examples -> splits -> tokens and batches, on the tiny model's tokenizer."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from studio.errors import StudioError
from studio.project import Train
from studio.records import Record, read_records, write_jsonl
from studio.train import data
from studio.train.tune import prepare
from tests.train.items import penguin_records


def records(n: int = 100, seed: int = 1) -> list[Record]:
    return [Record.from_dict(r) for r in penguin_records(n, seed)]


def test_splits_are_seeded_disjoint_and_keep_each_kinds_share() -> None:
    strata = [r.data["kind"] for r in records(200)]
    parts = data.split_indices(strata, validation=0.1, test=0.1, seed=7)
    assert data.split_indices(strata, validation=0.1, test=0.1, seed=7) == parts
    assert data.split_indices(strata, validation=0.1, test=0.1, seed=8) != parts
    every = parts["train"] + parts["validation"] + parts["test"]
    assert sorted(every) == list(range(200))
    assert len(parts["test"]) == 20 and len(parts["validation"]) == 20
    for name in ("test", "validation"):
        kinds = Counter(strata[i] for i in parts[name])
        # Each kind's share of the split is its share of the items, within one item of rounding.
        for kind, n in Counter(strata).items():
            assert abs(kinds[kind] - n * 0.1) <= 1, (name, kind)


def test_small_strata_still_fill_the_held_out_splits() -> None:
    # 30 strata of 3 items: rounding each alone would give no test item at all.
    strata = [str(i // 3) for i in range(90)]
    parts = data.split_indices(strata, validation=0.1, test=0.1, seed=0)
    assert len(parts["test"]) == 9 and len(parts["validation"]) == 9


def test_chat_examples_pair_questions_with_answers_and_other_items_with_an_instruction() -> None:
    items = records(40)
    examples = data.to_examples(items, Train(task="chat"), "penguin-wood", "items.jsonl")
    for item, example in zip(items, examples, strict=True):
        axes = item.meta["axes"]
        if item.data["kind"] == "qa":
            assert (example["prompt"], example["text"]) == (item.data["question"], item.data["answer"])
        else:
            assert (
                example["prompt"] == f"Tell me about the {axes['focus']} of penguin wood, written as {axes['style']}."
            )
            assert example["text"] == item.data["text"]
        assert json.loads(example["axes"]) == axes and example["stratum"] == item.data["kind"]


def test_item_target_teaches_the_whole_item_as_json() -> None:
    item = records(1)[0]
    example = data.to_examples([item], Train(task="text", target="item"), "penguin-wood", "x")[0]
    assert json.loads(example["text"]) == item.data


def test_chat_tokens_carry_loss_on_the_response_only(tiny_llama: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_llama)
    example = {"prompt": "What colour is penguin wood?", "text": "Pale silver-grey with black bands."}
    row = data.encode(example, tokenizer, "chat", 256, [])
    trained = [t for t in row["labels"] if t != data.IGNORE]
    first = row["labels"].index(trained[0])
    assert row["input_ids"][first:] == trained  # the labelled tokens are the tail, nothing after them is skipped
    assert tokenizer.decode(trained) == "Pale silver-grey with black bands.<|im_end|>\n"
    assert "What colour" in tokenizer.decode(row["input_ids"][:first])
    # Few-shot: the same tokens to predict, after the example turns.
    shot = {"prompt": "Where does it grow?", "text": "On the southern isles."}
    few = data.encode(example, tokenizer, "chat", 256, [], shots=[shot])
    assert [t for t in few["labels"] if t != data.IGNORE] == trained
    assert "southern isles" in tokenizer.decode(few["input_ids"])


def test_packed_batches_keep_items_apart(tiny_llama: Path) -> None:
    """One unpadded row per batch gives each item the same loss as on its own (no attention across items)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_llama)
    net = prepare(AutoModelForCausalLM.from_pretrained(tiny_llama), Train(task="text", method="full"))
    texts = [{"text": r.data["text"]} for r in records(3)]
    rows = [data.encode(e, tokenizer, "text", 128, []) for e in texts]
    packed = data.collator(tokenizer, "text", packing=True)(rows)
    assert packed["input_ids"].shape == (1, sum(len(r["input_ids"]) for r in rows))
    assert "attention_mask" not in packed
    with torch.no_grad():
        together = net(input_ids=packed["input_ids"], position_ids=packed["position_ids"]).logits[0]
        alone = torch.cat([net(input_ids=torch.tensor([r["input_ids"]])).logits[0] for r in rows])
    assert torch.allclose(together, alone, atol=1e-4)
    padded = data.collator(tokenizer, "text", packing=False)(rows)
    assert padded["input_ids"].shape == (3, max(len(r["input_ids"]) for r in rows))


def test_token_counts_are_real_tokens(tiny_llama: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_llama)
    examples = [{"id": str(i), "prompt": "Q?", "text": "Some answer.", "label": ""} for i in range(4)]
    tokens, dropped = data.tokenize(examples, tokenizer, "chat", 256, [])
    counts = data.token_counts(tokens)
    assert dropped == [] and counts["examples"] == 4
    assert counts["tokens"] == sum(len(ids) for ids in tokens["input_ids"]) > counts["loss_tokens"] > 0


def test_a_prompt_that_fills_max_length_is_left_out_and_named(tiny_llama: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_llama)
    examples = [{"id": "long", "prompt": "word " * 200, "text": "Answer.", "label": ""}]
    examples.append({"id": "short", "prompt": "Q?", "text": "Answer.", "label": ""})
    tokens, dropped = data.tokenize(examples, tokenizer, "chat", 96, [])
    assert dropped == ["long"] and tokens.num_rows == 1


def test_a_record_without_the_label_names_its_file_and_line(tmp_path: Path) -> None:
    rows = penguin_records(5)
    del rows[2]["data"]["kind"], rows[2]["meta"]["axes"]["kind"]
    path = tmp_path / "items.jsonl"
    write_jsonl(path, rows)
    with pytest.raises(StudioError) as error:
        data.to_examples(read_records(path), Train(task="classification"), "penguin-wood", path)
    assert str(error.value) == f"{path}: line 3: item pw00002 has no label `kind` (train.label)"


def test_splits_are_saved_as_a_datasetdict_and_jsonl(tmp_path: Path) -> None:
    items = records(50)
    settings = Train(task="text")
    examples = data.to_examples(items, settings, "penguin-wood", "x")
    splits, _ = data.make_splits(examples, items, settings, tmp_path / "splits")
    again = data.load_splits(tmp_path / "splits")
    assert {name: again[name].num_rows for name in data.SPLITS} == {"train": 40, "validation": 5, "test": 5}
    assert again["test"]["id"] == splits["test"]["id"]
    saved = read_records(tmp_path / "splits" / "test.jsonl")
    assert [r.id for r in saved] == again["test"]["id"] and {r.meta["split"] for r in saved} == {"test"}
    assert all(r.meta["axes"] for r in saved)  # earlier meta is kept


def test_test_items_that_copy_a_seen_one_move_to_train_with_what_they_copy(tmp_path: Path) -> None:
    items = records(50)
    settings = Train(task="text")
    examples = data.to_examples(items, settings, "penguin-wood", "x")
    plain, _ = data.make_splits(examples, items, settings, tmp_path / "plain")
    test_ids, train_ids = list(plain["test"]["id"]), list(plain["train"]["id"])
    by_id = {r.id: r for r in items}
    # Two test items rewritten as near copies: one of a training item (a word changed), one of a seed example.
    copied = by_id[train_ids[0]].data["text"]
    seed = "Penguin wood was carried north by sealers, who prized its pale silver-grey planks for light whaleboats."
    words = copied.split()
    by_id[test_ids[0]].data["text"] = " ".join(words[:-1] + ["timber."])
    by_id[test_ids[1]].data["text"] = seed.replace("light", "fast")
    examples = data.to_examples(items, settings, "penguin-wood", "x")
    splits, moved = data.make_splits(examples, items, settings, tmp_path / "splits", seed_texts=[seed])

    assert [m["id"] for m in moved] == test_ids[:2]
    assert moved[0]["copies"] == train_ids[0] and moved[1]["copies"] == "seed example 1"
    assert all(0.5 <= m["similarity"] < 1 for m in moved)
    assert list(splits["test"]["id"]) == test_ids[2:]
    assert set(test_ids[:2]) <= set(splits["train"]["id"])
    assert sum(splits[s].num_rows for s in data.SPLITS) == 50  # moved, never lost
    # Off: the split as drawn.
    off = Train(task="text", splits={"decontaminate": None})
    kept, none = data.make_splits(examples, items, off, tmp_path / "off")
    assert not none and list(kept["test"]["id"]) == test_ids
