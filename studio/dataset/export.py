"""The dataset to share, in run/dataset/: JSONL, Parquet, a `datasets` folder (save_to_disk), the chat
JSONL that OpenAI's fine-tuning API takes, and a dataset card; pushed to the Hub when the user gives a repo
and a token. Inputs: 05-curated.jsonl, and splits/ when `studio tune` made them. Outputs: dataset/."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from studio.dataset import card
from studio.errors import StudioError
from studio.project import Project
from studio.records import Record, read_records, write_json, write_jsonl
from studio.runs import Run
from studio.stage import Context, Outcome, Stage
from studio.training_examples import chat_pair

SPLITS = ("train", "validation", "test")


def split_of(run: Run) -> dict[str, str]:
    """Each item's split, as `studio tune` made them (splits/<split>.jsonl); empty before tuning."""
    out = {}
    for name in SPLITS:
        path = run.file("splits") / f"{name}.jsonl"
        if path.exists():
            out.update((r.id, name) for r in read_records(path))
    return out


def flat(record: Record, split: str) -> dict[str, Any]:
    """One table row: the item's fields (nested ones as JSON text) and its provenance."""
    row: dict[str, Any] = {"id": record.id, "split": split}
    for key, value in record.data.items():
        row[key] = json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value
    meta = record.meta
    row["axes"] = json.dumps(meta.get("axes") or {}, ensure_ascii=False, sort_keys=True)
    row["template"] = meta.get("template")
    row["generator"] = meta.get("model")
    row["review"] = (meta.get("review") or {}).get("by")
    return row


class ExportStage(Stage):
    """05-curated.jsonl (and splits/, once tuned) into dataset/; pushed to the Hub when share.hub_repo is set.
    Skipped when neither changed, so the Hub gets a push only for a new dataset."""

    name = "export"
    command = "studio export"
    inputs = ("curated",)
    outputs = ("dataset",)

    def settings(self, project: Project) -> Any:
        return {"share": project.share.model_dump(mode="json"), "domain": project.domain.model_dump(mode="json")}

    def sources(self, project: Project, run: Run) -> list[Path]:
        splits = run.file("splits")
        return [run.file("curated"), *([splits] if splits.exists() else [])]

    def run(self, ctx: Context) -> Outcome:
        info = export(ctx.project, ctx.run, ctx.output("dataset"), ctx.say)
        return Outcome(info.pop("splits"), details=info)


def export(project: Project, run: Run, out: Path, say: Any = print) -> dict[str, Any]:
    import pandas as pd
    from datasets import Dataset, DatasetDict

    records = read_records(run.file("curated"))
    splits = split_of(run)
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(out / "data.jsonl", records)
    rows = [flat(r, splits.get(r.id, "train")) for r in records]
    columns = list(dict.fromkeys(k for row in rows for k in row))
    rows = [{c: row.get(c) for c in columns} for row in rows]
    pd.DataFrame(rows, columns=columns).to_parquet(out / "data.parquet", index=False)
    by_split = {s: [r for r in rows if r["split"] == s] for s in SPLITS}
    # Every cell as text or null, so that columns with mixed kinds of value still make one schema.
    as_text = [{c: None if v is None else str(v) for c, v in r.items()} for r in rows]
    dataset = DatasetDict(
        {
            s: Dataset.from_list([t for t, r in zip(as_text, rows, strict=True) if r["split"] == s])
            for s, part in by_split.items()
            if part
        }
    )
    dataset.save_to_disk(str(out / "hf"))
    chat_files = {}
    for s, part in by_split.items():
        if part:
            ids = {r["id"] for r in part}
            path = out / f"openai_chat_{s}.jsonl"
            write_jsonl(path, (openai_chat(project, r) for r in records if r.id in ids))
            chat_files[s] = path.name
    counts = {s: len(p) for s, p in by_split.items() if p}
    info = {
        "items": len(records),
        "splits": counts,
        "columns": columns,
        "openai_chat": chat_files,
        "license": project.share.license,
    }
    write_json(out / "dataset_info.json", info)
    card.write(out, project, run, records, info)
    if project.share.hub_repo:
        push_to_hub(project, dataset, out, say)
        info["hub_repo"] = project.share.hub_repo
    return info


def openai_chat(project: Project, record: Record) -> dict[str, Any]:
    """A line of OpenAI's chat fine-tuning format, with the same prompt and response `studio tune` uses."""
    prompt, response = chat_pair(record, project.train, project.domain.name.replace("-", " "))
    system = f"You are an expert on {project.domain.title}. Answer accurately and concisely."
    return {
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": prompt},
            {"role": "assistant", "content": response},
        ]
    }


def push_to_hub(project: Project, dataset: Any, folder: Path, say: Any) -> None:
    share = project.share
    token = os.environ.get(share.hub_token_env)
    if not token:
        raise StudioError(
            f"share.hub_repo is set but ${share.hub_token_env} is empty: set the token there",
            None,
            "share.hub_token_env",
        )
    from huggingface_hub import HfApi

    dataset.push_to_hub(share.hub_repo, token=token, private=share.private)
    HfApi(token=token).upload_file(
        path_or_fileobj=str(folder / "README.md"), path_in_repo="README.md", repo_id=share.hub_repo, repo_type="dataset"
    )
    say(f"pushed the dataset to https://huggingface.co/datasets/{share.hub_repo}")
