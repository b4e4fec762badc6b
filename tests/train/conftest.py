"""Fixtures of the train tests: a tiny random Llama with a tokenizer trained here, records, projects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from studio.records import write_jsonl
from tests.conftest import copy_project
from tests.train.items import penguin_records

# SmolLM2's chat template (ChatML with a default system turn), so the tiny model chats like the real one.
CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random LlamaForCausalLM (hidden 64, 2 blocks) and a byte-level BPE tokenizer (vocab 512) trained on
    penguin-wood text: Trainer runs 20 steps of it in well under a second."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-llama")
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    bpe = ByteLevelBPETokenizer()
    texts = [r["data"]["text"] for r in penguin_records(400, seed=99)]
    bpe.train_from_iterator(texts, vocab_size=512, min_frequency=1, special_tokens=specials, show_progress=False)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|im_end|>", unk_token="<|endoftext|>"
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(folder)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        tie_word_embeddings=True,
    )
    import torch

    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


@pytest.fixture
def items_file(tmp_path: Path) -> Path:
    """120 penguin-wood records of all five kinds."""
    path = tmp_path / "items.jsonl"
    write_jsonl(path, penguin_records(120, seed=1))
    return path


def tiny_project(dest: Path, model: Path, **train: Any) -> Path:
    """The penguin-wood project tuning the tiny model briefly; `train` overrides train.* keys."""
    settings = {"base_model": str(model), "epochs": 2, "batch_size": 8, "max_length": 128, "eval.generations": 2}
    settings |= {"eval.max_new_tokens": 8, **train}
    return copy_project(dest, {f"train.{k}": v for k, v in settings.items()})
