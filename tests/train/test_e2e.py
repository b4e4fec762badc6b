"""End to end on the real default model: SmolLM2-135M-Instruct (from the bundled GGUF) tuned with the default
recipe on 150 penguin-wood items, scored against its base, and served by the local llama.cpp server.

The items come from the seeded generator in tests/train/items.py, not from the LLM: hundreds of LLM items
would take many minutes here, and the point is the tuning, not the generation.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import studio
from studio.records import write_jsonl
from studio.serve import llm
from tests.conftest import copy_project, run_studio
from tests.train.items import penguin_records

pytestmark = [pytest.mark.slow, pytest.mark.llm]


def test_default_recipe_beats_the_base_model_and_serves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    items = tmp_path / "items.jsonl"
    write_jsonl(items, penguin_records(150, seed=3))  # 250 took 30 s more to tune, and told no more
    # The default recipe (chat, LoRA, packing), one epoch to keep the test short; few generations.
    project = copy_project(
        tmp_path,
        {"train.epochs": 1, "train.eval.generations": 1, "train.eval.max_new_tokens": 24, "train.eval.few_shot": 1},
    )

    tuned = studio.tune(project, data=items, show_progress=False)
    assert tuned["task"] == "chat" and tuned["method"] == "lora"
    # The seeded items are template-shaped, as LLM output is: test items that copy a training item move to train.
    moved = tuned["counts"]["moved_from_test"]
    assert tuned["counts"]["train"] == 120 + moved and tuned["counts"]["test"] == 15 - moved >= 5
    assert all(m["similarity"] >= 0.5 for m in tuned["decontaminated"])
    assert tuned["validation_perplexity"]["after"] < tuned["validation_perplexity"]["before"]

    # No judge here: the 135M model is no judge, and the judge's arithmetic is checked exactly against a fake one.
    result = studio.evaluate(project)
    ppl = result["perplexity"]
    assert ppl["tuned"]["all"] < ppl["base"]["all"]
    assert ppl["tuned"]["all"] < ppl["base_few_shot"]["all"]
    assert set(ppl["tuned"]["by_axis"]["kind"]) == {"description", "properties", "applications", "history", "qa"}
    run_dir = Path(tuned["run_dir"])
    assert json.loads((run_dir / "eval.json").read_text())["perplexity"] == ppl
    card = (run_dir / "model" / "README.md").read_text()
    assert "held-out test perplexity" in card
    # The verdict compares the best two on the same test items; the card says it as eval.json does.
    assert result["comparison"]["best"] == "tuned" and result["comparison"]["next"] == "base_few_shot"
    assert f"- {result['verdict']}" in card
    # The Hub's metadata names the bundled model by its Hub id; no path of this machine is in the card.
    assert 'base_model: "HuggingFaceTB/SmolLM2-135M-Instruct"' in card
    assert tuned["base_model"] not in card and str(Path.home()) not in card and str(tmp_path) not in card
    low, high = ppl["tuned"]["ci95"]
    assert low <= ppl["tuned"]["all"] <= high and high < ppl["base"]["ci95"][0]  # clearly better, not by chance

    # `studio llm serve --model RUN` on a server of its own (its own state folder), so a session's
    # bundled-model server keeps running.
    monkeypatch.setenv("STUDIO_HOME", str(tmp_path / "home"))
    served = run_studio("llm", "serve", "--model", "default", "--project", str(project), "--port", "0")
    try:
        assert served.returncode == 0, served.stderr
        server = llm.status()
        assert server and server.model == "penguin-wood-default" and server.gguf.endswith("model-q8_0.gguf")
        assert f"started: penguin-wood-default at {server.base_url}" in served.stdout
        from openai import OpenAI

        reply = OpenAI(base_url=server.base_url, api_key="none").chat.completions.create(
            model=server.model,
            messages=[{"role": "user", "content": "Tell me about the colour of penguin wood."}],
            max_tokens=40,
            temperature=0,
        )
        answer = reply.choices[0].message.content
        assert answer and len(answer.split()) >= 3
    finally:
        llm.stop()
