"""Shared fixtures: real servers started locally, projects copied into temporary folders.

Nothing is downloaded from a hub (HF_HUB_OFFLINE=1) and nothing is written into outputs/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"

ROOT = Path(__file__).resolve().parents[1]

# The penguin-wood axes, as the shipped project file declares them (for items made in tests).
_AXES = yaml.safe_load((ROOT / "studio.yaml").read_text())["axes"]
KINDS: list[str] = _AXES["kind"]
FOCUS: dict[str, list[str]] = _AXES["focus"]["values"]
STYLES: list[str] = _AXES["style"]
AUDIENCES: list[str] = _AXES["audience"]


def pytest_itemcollected(item: pytest.Item) -> None:
    """Under pytest-xdist (`make test` runs two workers), the tests of the llama.cpp server run one after another on
    one worker: each keeps every core busy, and two at once slow each other more than they gain."""
    if item.get_closest_marker("llm"):
        item.add_marker(pytest.mark.xdist_group("llm"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The llama.cpp tests first: they are the longest, so the other worker takes the rest meanwhile."""
    items.sort(key=lambda item: not item.get_closest_marker("llm"))


@pytest.fixture(scope="session", autouse=True)
def studio_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private STUDIO_HOME, so the tests' servers never meet a user's."""
    home = tmp_path_factory.mktemp("studio-home")
    os.environ["STUDIO_HOME"] = str(home)
    return home


@pytest.fixture(scope="session")
def llm_server(studio_home: Path):
    """The real llama.cpp server with the bundled model, on a free port, for the whole session. Under pytest-xdist
    it decodes on one thread: the other worker holds the other core, and llama.cpp's threads wait on each other
    when one of them is descheduled (two threads there ran the llama.cpp tests half as fast)."""
    from studio.serve import llm

    server, _ = llm.serve(port=0, threads=1 if os.environ.get("PYTEST_XDIST_WORKER") else None)
    yield server
    llm.stop()


@pytest.fixture(scope="session")
def argilla(studio_home: Path):
    """The real local Argilla (argilla-server, osmem, Redis, SQLite) on free ports, started once; argilla-server's
    venv is the shared one under STUDIO_CACHE (scripts/setup.sh creates it ahead)."""
    from studio.review import server

    stack, _ = server.serve(port=0)
    yield stack
    server.stop()


# SmolLM2's chat template (ChatML with a default system turn), so the tiny model chats like the real one.
CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def penguin_bpe(specials: list[str]) -> Any:
    """A byte-level BPE tokenizer (vocab 512) trained on penguin-wood text, with `specials` first."""
    from tokenizers import ByteLevelBPETokenizer

    from tests.train.items import penguin_records  # here: that module reads this one's axes

    bpe = ByteLevelBPETokenizer()
    texts = [r["data"]["text"] for r in penguin_records(400, seed=99)]
    bpe.train_from_iterator(texts, vocab_size=512, min_frequency=1, special_tokens=specials, show_progress=False)
    return bpe


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random LlamaForCausalLM (hidden 64, 2 blocks) and a byte-level BPE tokenizer (vocab 512) trained on
    penguin-wood text: Trainer runs 20 steps of it in well under a second."""
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-llama")
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=penguin_bpe(["<|endoftext|>", "<|im_start|>", "<|im_end|>"]),
        eos_token="<|im_end|>",
        pad_token="<|im_end|>",
        unk_token="<|endoftext|>",
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


@pytest.fixture(scope="session")
def tiny_t5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random T5ForConditionalGeneration (d_model 64, 2 encoder and 2 decoder blocks) with the same kind of
    tokenizer, which ends every sequence with `</s>` as T5's does."""
    from tokenizers.processors import TemplateProcessing
    from transformers import PreTrainedTokenizerFast, T5Config, T5ForConditionalGeneration

    folder = tmp_path_factory.mktemp("tiny-t5")
    bpe = penguin_bpe(["<pad>", "</s>", "<unk>"])
    bpe.post_processor = TemplateProcessing(single="$A </s>", special_tokens=[("</s>", bpe.token_to_id("</s>"))])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="</s>", pad_token="<pad>", unk_token="<unk>")
    tokenizer.save_pretrained(folder)
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=64,
        d_kv=16,
        d_ff=128,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=4,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,
    )
    import torch

    torch.manual_seed(0)
    T5ForConditionalGeneration(config).save_pretrained(folder)
    return folder


CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1400,1000",
    "--virtual-time-budget=15000",  # let a single-page app fetch and render before the dump
]


def chromium(profile: Path, url: str, *args: str) -> str:
    """Debian's headless Chromium on `url` with a fresh profile folder; returns what it printed (--dump-dom)."""
    browser = shutil.which("chromium")
    assert browser, "Debian's chromium is missing: `scripts/setup.sh --tests` (make test) installs it"
    done = subprocess.run(
        [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def artifact(name: str) -> Path:
    """Where a test keeps what a person may want to look at (git-ignored artifacts/)."""
    folder = ROOT / "artifacts"
    folder.mkdir(exist_ok=True)
    return folder / name


def copy_project(dest: Path, changes: dict[str, object] | None = None) -> Path:
    """The penguin-wood project (file, schema, prompts) copied into `dest`, with dotted-key changes (and no
    generate.target or demo train settings unless a change sets them)."""
    for folder in ("schemas", "prompts"):
        shutil.copytree(ROOT / folder, dest / folder, dirs_exist_ok=True)
    raw = yaml.safe_load((ROOT / "studio.yaml").read_text())
    raw["output"] = str(dest / "outputs")
    raw["generate"].pop("target", None)  # a test plans exactly generate.n, unless it asks for a target
    raw.pop("train", None)  # the demo's splits and epochs suit its 40 items; tests count on train's defaults
    for dotted, value in (changes or {}).items():
        node = raw
        *parents, last = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    path = dest / "studio.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.fixture
def project_file(tmp_path: Path) -> Path:
    return copy_project(tmp_path)


def run_studio(*args: str, cwd: Path | None = None, timeout: float = 600, env: dict | None = None):
    """The CLI as a user runs it: a separate process; returns the CompletedProcess."""
    return subprocess.run(
        [sys.executable, "-m", "studio", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def run_studio_in_terminal(*args: str, timeout: float = 600) -> tuple[int, str]:
    """The CLI on a pseudo-terminal, as a user at a terminal runs it: (exit code, what the terminal showed)."""
    import fcntl
    import pty
    import select
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # a new pty is 0x0, a bar 0 wide
    proc = subprocess.Popen(
        [sys.executable, "-m", "studio", *args], stdin=follower, stdout=follower, stderr=follower, env=os.environ
    )
    os.close(follower)
    shown, deadline = b"", time.monotonic() + timeout
    while time.monotonic() < deadline:
        if select.select([leader], [], [], 0.2)[0]:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed: the process has exited
                break
            if not chunk:
                break
            shown += chunk
        elif proc.poll() is not None:
            break
    os.close(leader)
    return proc.wait(timeout=max(1.0, deadline - time.monotonic())), shown.decode(errors="replace")


class FakeOpenAI:
    """tests/openai_server.py in its own process: a real HTTP server that misbehaves on purpose."""

    def __init__(self, *flags: str):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.openai_server", "--port", "0", *flags],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.port = int(self.proc.stdout.readline())
        self.base_url = f"http://127.0.0.1:{self.port}/v1"

    def stats(self) -> dict:
        import json
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/_stats", timeout=10) as r:
            return json.loads(r.read())

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def fake_openai():
    """Start fake servers with flags (`fake_openai("--fault-rate", "0.3")`); all are stopped after the test."""
    servers: list[FakeOpenAI] = []

    def start(*flags: str) -> FakeOpenAI:
        servers.append(FakeOpenAI(*flags))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()
