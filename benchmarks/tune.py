"""Fine-tuning throughput and quality: studio's default recipe beside the source article's, in one run.

    .venv/bin/python benchmarks/tune.py            # about 10-20 minutes on 2 cores, most of it the article's recipe
    .venv/bin/python benchmarks/tune.py --quick    # one epoch each: throughput only, perplexities not comparable

The same model (SmolLM2-135M-Instruct from the bundled GGUF), the same 192 short penguin-wood sentences to train
on and the same 24 held-out ones to score. The article's recipe: Hugging Face Trainer, padding to max_length
128, full fine-tuning, batch 16, learning rate 2e-5, 3 epochs, fp32. studio's: `studio tune` with the project
defaults (LoRA on the upper half of the blocks, packed batches, bf16 where the CPU has it) on the text task,
so both learn the same thing; its time includes its validation passes and checkpoints.

Printed: real tokens/s (padding not counted), held-out perplexity (token-weighted, fp32, the same function for
both), the achieved FLOP/s (FLOPs of a training step counted by torch, including padding) beside a large torch
matmul in fp32 and bf16, and whether the CPU advertises AMX (it must not crash anything: the kernel forbids it).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

ARTICLE = {"max_length": 128, "batch_size": 16, "learning_rate": 2e-5, "epochs": 3}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one epoch each (throughput only)")
    parser.add_argument("--threads", type=int, help="torch threads (default: the idle cores, as studio picks)")
    parser.add_argument(
        "--precision", default="auto", help="studio's train.precision (fp32 shows the path of a CPU without bf16)"
    )
    args = parser.parse_args()

    import torch

    import studio
    from studio.records import read_records, write_jsonl
    from studio.train import model
    from tests.conftest import copy_project
    from tests.train.items import penguin_records

    threads = model.threads(args.threads)
    load = os.getloadavg()[0]
    epochs = 1 if args.quick else ARTICLE["epochs"]
    work = Path(tempfile.mkdtemp(prefix="studio-bench-tune-"))
    items = work / "items.jsonl"
    # 240 items with shares 0.1/0.1: 192 to train on, 24 validation (studio's early stopping), 24 held out.
    write_jsonl(items, [r for r in penguin_records(240, seed=11)])
    project = copy_project(
        work,
        {"train.task": "text", "train.epochs": epochs, "train.threads": threads, "train.precision": args.precision},
    )

    rows = []
    started = time.monotonic()
    tuned = studio.tune(project, data=items, show_progress=False, say=lambda m: None)
    run_dir = Path(tuned["run_dir"])
    train_items = read_records(run_dir / "splits" / "train.jsonl")
    test_texts = [r.data["text"] for r in read_records(run_dir / "splits" / "test.jsonl")]
    base = model.resolve_base(None, "text", ROOT)
    tokenizer = model.load_tokenizer(base)
    studio_net = load_tuned(run_dir / "model", base)
    rows.append(
        {
            "recipe": f"studio default ({tuned['method']}, packing, {tuned['precision']})",
            "tokens_per_s": tuned["train_tokens_per_s"],
            "seconds": tuned["train_seconds"],
            "ppl": held_out_perplexity(studio_net, tokenizer, test_texts),
            "flops_per_token": studio_step_flops(base, tokenizer, [r.data["text"] for r in train_items[:8]]),
            "why": f"{tuned['precision']} on {tuned['threads']} thread(s): {tuned['precision_reason']}",
        }
    )
    del studio_net
    print(f"studio's recipe done in {time.monotonic() - started:.0f} s", file=sys.stderr)

    article = article_recipe(base, tokenizer, [r.data["text"] for r in train_items], epochs, work / "article")
    article["ppl"] = held_out_perplexity(article.pop("net"), tokenizer, test_texts)
    rows.append(article)
    base_ppl = held_out_perplexity(model.load_model(base, "text"), tokenizer, test_texts)

    peak = {dtype: matmul_flops(getattr(torch, dtype)) for dtype in ("float32", "bfloat16")}
    print_table(rows, base_ppl, peak, threads, load, len(train_items), epochs)


def load_tuned(folder: Path, base: str):
    from peft import PeftModel

    from studio.train import model

    net = model.load_model(base, "text")
    if (folder / "adapter_config.json").exists():
        return PeftModel.from_pretrained(net, str(folder)).merge_and_unload()
    return model.load_model(str(folder), "text")


def article_recipe(base: str, tokenizer, texts: list[str], epochs: int, out: Path) -> dict:
    """Trainer, padding to max_length 128, full fine-tuning, batch 16, lr 2e-5, fp32."""
    from datasets import Dataset
    from transformers import DataCollatorForLanguageModeling, Trainer, TrainingArguments

    from studio.train import model

    encoded = tokenizer(texts, padding="max_length", truncation=True, max_length=ARTICLE["max_length"])
    data = Dataset.from_dict(dict(encoded))
    real = sum(sum(mask) for mask in encoded["attention_mask"])
    net = model.load_model(base, "text")
    args = TrainingArguments(
        output_dir=str(out),
        num_train_epochs=epochs,
        per_device_train_batch_size=ARTICLE["batch_size"],
        learning_rate=ARTICLE["learning_rate"],
        save_strategy="no",
        report_to=[],
        disable_tqdm=True,
        use_cpu=True,
    )
    collate = DataCollatorForLanguageModeling(tokenizer, mlm=False)
    trainer = Trainer(model=net, args=args, train_dataset=data, data_collator=collate)
    seconds = trainer.train().metrics["train_runtime"]
    sample = collate([data[i] for i in range(ARTICLE["batch_size"])])
    return {
        "recipe": "article (full, pad to 128, batch 16, lr 2e-5, fp32)",
        "tokens_per_s": round(real * epochs / seconds, 1),
        "seconds": round(seconds, 1),
        "net": net,
        "flops_per_token": count_flops(net, sample) / int(sample["attention_mask"].sum()),
    }


def held_out_perplexity(net, tokenizer, texts: list[str]) -> float:
    from studio.train import data, evaluate

    rows = [data.encode({"text": t}, tokenizer, "text", 128, []) for t in texts]
    return evaluate.perplexity(evaluate.nll(net, rows, tokenizer, 8))


def studio_step_flops(base: str, tokenizer, texts: list[str]) -> float:
    """FLOPs per real token of one training step of studio's default recipe (a packed batch of 8)."""
    from studio.project import Train
    from studio.train import data, model
    from studio.train.tune import prepare

    net = prepare(model.load_model(base, "text"), Train(task="text"))
    rows = [data.encode({"text": t}, tokenizer, "text", 256, []) for t in texts]
    batch = data.collator(tokenizer, "text", packing=True)(rows)
    return count_flops(net, batch) / batch["input_ids"].numel()


def count_flops(net, batch) -> float:
    """Forward and backward FLOPs of one step, counted by torch (matmuls and attention)."""
    from torch.utils.flop_counter import FlopCounterMode

    net.train()
    with FlopCounterMode(display=False) as counter:
        net(**batch).loss.backward()
    net.zero_grad(set_to_none=True)
    return float(counter.get_total_flops())


def matmul_flops(dtype, n: int = 2048, repeats: int = 5) -> float:
    import torch

    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - start)


def print_table(rows, base_ppl, peak, threads, load, n_train, epochs) -> None:
    import torch

    flags = next((line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")), "")
    amx = "advertised (the kernel does not allow it)" if "amx" in flags else "not advertised"
    print(
        f"\nSmolLM2-135M-Instruct, {n_train} training sentences, {epochs} epoch(s), torch {torch.__version__}, "
        f"{threads} thread(s), load average {load:.1f}, CPU kernels {torch.backends.cpu.get_cpu_capability()}, "
        f"AMX {amx}"
    )
    print(f"studio's path: {rows[0]['why']}")
    print(f"base model held-out perplexity: {base_ppl}\n")
    print("| recipe | real tokens/s | train seconds | held-out perplexity | achieved GFLOP/s |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        gflops = r["tokens_per_s"] * r["flops_per_token"] / 1e9
        print(f"| {r['recipe']} | {r['tokens_per_s']:.1f} | {r['seconds']:.0f} | {r['ppl']} | {gflops:.1f} |")
    print(f"| torch matmul 2048x2048, fp32 |  |  |  | {peak['float32'] / 1e9:.1f} |")
    print(f"| torch matmul 2048x2048, bf16 |  |  |  | {peak['bfloat16'] / 1e9:.1f} |")
    speedup = rows[0]["tokens_per_s"] / rows[1]["tokens_per_s"]
    better = "lower" if rows[0]["ppl"] <= rows[1]["ppl"] else "HIGHER"
    print(
        f"\nstudio's default: {speedup:.1f}x the article's real tokens/s (target 8x), held-out perplexity "
        f"{rows[0]['ppl']} vs {rows[1]['ppl']} ({better})"
    )


if __name__ == "__main__":
    main()
