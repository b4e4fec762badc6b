"""A tuned transformers model -> one GGUF file the local llama.cpp server can serve.

The converter is llama.cpp's own convert_hf_to_gguf.py (with its `conversion` package and gguf-py), taken
once from the llama-cpp-python sdist (fetched from PyPI into the studio cache on first use, so it works from
an installed package as from a checkout), and run as a subprocess. A LoRA adapter is merged into its base
first, since the converter reads full weights.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from studio import paths
from studio.errors import StudioError

LLAMA_CPP_PYTHON = "0.3.36"
SDIST_NAME = f"llama_cpp_python-{LLAMA_CPP_PYTHON}.tar.gz"
CONVERTER_PARTS = ("convert_hf_to_gguf.py", "conversion/", "gguf-py/")
OUTTYPE = "q8_0"  # 8-bit: a quarter of fp32, answers like the full model (docs/platform-notes.md)


def sdist() -> Path:
    """The llama-cpp-python sdist in the studio cache, fetched from PyPI the first time (77 MB)."""
    path = paths.cache("sdist") / SDIST_NAME
    if not path.exists():
        fetch = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "-q"]
        done = subprocess.run(
            [*fetch, "-d", str(path.parent), f"llama-cpp-python=={LLAMA_CPP_PYTHON}"], capture_output=True, text=True
        )
        if done.returncode or not path.exists():
            raise StudioError(
                f"llama.cpp's GGUF converter comes from this sdist, and pip could not fetch it: "
                f"{done.stderr.strip()[-300:]}",
                path,
            )
    return path


def converter() -> Path:
    """convert_hf_to_gguf.py, extracted once from the sdist into the cache."""
    folder = paths.cache("llama.cpp", LLAMA_CPP_PYTHON)
    script = folder / CONVERTER_PARTS[0]
    if script.exists():
        return script
    prefix = f"llama_cpp_python-{LLAMA_CPP_PYTHON}/vendor/llama.cpp/"
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    with tarfile.open(sdist()) as tar:
        members = [
            m
            for m in tar.getmembers()
            if m.name.startswith(prefix) and m.name[len(prefix) :].startswith(CONVERTER_PARTS)
        ]
        for member in members:
            member.name = member.name[len(prefix) :]
        tar.extractall(tmp, members=members, filter="data")
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)
    return script


def to_gguf(model_dir: Path, out: Path | None = None, outtype: str = OUTTYPE) -> Path:
    """The GGUF of a tuned model folder, converted once (again when the weights are newer than the file)."""
    model_dir = Path(model_dir)
    out = Path(out or model_dir / f"model-{outtype}.gguf")
    weights = [p for p in model_dir.glob("*.safetensors")]
    if not weights:
        raise StudioError("no weights in this model folder: run `studio tune` first", model_dir)
    if out.exists() and out.stat().st_mtime >= max(p.stat().st_mtime for p in weights):
        return out
    script = converter()
    source = merged(model_dir) if (model_dir / "adapter_config.json").exists() else model_dir
    tmp = out.with_name(out.name + ".tmp")
    try:
        done = subprocess.run(
            [sys.executable, str(script), str(source), "--outfile", str(tmp), "--outtype", outtype],
            capture_output=True,
            text=True,
        )
    finally:
        if source != model_dir:
            shutil.rmtree(source, ignore_errors=True)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise StudioError(f"llama.cpp's converter failed: {tail[0]}", model_dir)
    os.replace(tmp, out)
    return out


def merged(adapter_dir: Path) -> Path:
    """A LoRA adapter merged into its base, saved in a temporary folder next to it."""
    from peft import AutoPeftModelForCausalLM
    from transformers import AutoTokenizer

    folder = adapter_dir.with_name(adapter_dir.name + ".merged")
    shutil.rmtree(folder, ignore_errors=True)
    AutoPeftModelForCausalLM.from_pretrained(str(adapter_dir)).merge_and_unload().save_pretrained(folder)
    AutoTokenizer.from_pretrained(str(adapter_dir)).save_pretrained(folder)
    return folder
