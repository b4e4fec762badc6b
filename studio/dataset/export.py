"""The dataset to share, in run/dataset/: JSONL, Parquet, a `datasets` folder (save_to_disk), the chat
JSONL that OpenAI's fine-tuning API takes, and a dataset card; pushed to the Hub when the user gives a repo
and a token. Inputs: 05-curated.jsonl, and splits/ when `studio tune` made them. Outputs: dataset/."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from studio.dataset import card
from studio.dataset.features import cast, item_features
from studio.errors import StudioError
from studio.project import Project
from studio.records import Record, read_records, write_json, write_jsonl
from studio.runs import Run
from studio.schema import DomainSchema
from studio.stage import Context, Outcome, Stage
from studio.training_examples import chat_messages, chat_pair

SPLITS = ("train", "validation", "test")


def split_of(run: Run) -> dict[str, str]:
    """Each item's split, as `studio tune` made them (splits/<split>.jsonl); empty before tuning."""
    out = {}
    for name in SPLITS:
        path = run.file("splits") / f"{name}.jsonl"
        if path.exists():
            out.update((r.id, name) for r in read_records(path))
    return out


def meta_features(project: Project) -> dict[str, Any]:
    """The `meta` column: where an item comes from, without endpoint URLs or reviewers' names."""
    from datasets import Value

    text, number = Value("string"), Value("float64")
    return {
        "id": text,
        "split": text,
        "axes": {name: text for name in project.axes} or text,
        "template": text,
        "generator": text,
        "judge": {"mean": number, "scores": {c: Value("int64") for c in project.judge.criteria}},
        "review": {"by": text, "rating": number, "corrected": Value("bool")},
    }


def provenance(record: Record, split: str) -> dict[str, Any]:
    """An item's shareable provenance: what `meta_features` holds."""
    meta = record.meta
    judge, review = meta.get("judge") or {}, meta.get("review") or {}
    return {
        "id": record.id,
        "split": split,
        "axes": meta.get("axes") or {},
        "template": meta.get("template"),
        "generator": meta.get("model"),
        "judge": {"mean": judge.get("mean"), "scores": judge.get("scores")} if "scores" in judge else None,
        "review": {"by": review.get("by"), "rating": review.get("rating"), "corrected": bool(review.get("corrected"))},
    }


def table_features(project: Project, records: list[Record]) -> Any:
    """The columns: each property of the domain schema, typed (features.py), then `meta`. A data key the
    schema does not name (it allows more) is a column of JSON text."""
    from datasets import Features, Value

    label = project.train.label if project.train.task == "classification" else None
    columns = item_features(DomainSchema.load(project.schema_path).schema, label)
    if "meta" in columns:
        raise StudioError(
            "the schema names a property 'meta', the dataset's provenance column: rename it",
            project.schema_path,
            "properties.meta",
        )
    extra = dict.fromkeys(k for r in records for k in r.data if k not in columns and k != "meta")
    return Features({**columns, **{k: Value("string") for k in extra}, "meta": meta_features(project)})


def row(record: Record, split: str, features: Any) -> dict[str, Any]:
    """One table row: the item's fields as the schema types them, and its provenance under `meta`."""
    values = {**record.data, "meta": provenance(record, split)}
    return {name: cast(values.get(name), feature) for name, feature in features.items()}


def share_line(record: Record, split: str, full: bool) -> dict[str, Any]:
    """A line of data.jsonl: studio's record, with the shareable provenance (or, with share.provenance: full,
    every field of the record's meta and its split)."""
    meta = {**record.meta, "split": split} if full else provenance(record, split)
    return {"id": record.id, "data": record.data, "meta": meta}


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
    from datasets.utils.logging import disable_progress_bar, enable_progress_bar, is_progress_bar_enabled

    # A bar per file written in a fraction of a second is noise in a log.
    was_on = is_progress_bar_enabled()
    disable_progress_bar()
    try:
        return _export(project, run, out, say)
    finally:
        if was_on:
            enable_progress_bar()


def _export(project: Project, run: Run, out: Path, say: Any) -> dict[str, Any]:
    from datasets import Dataset, DatasetDict

    token = hub_token(project)
    records = read_records(run.file("curated"))
    splits = split_of(run)
    split = {r.id: splits.get(r.id, "train") for r in records}
    out.mkdir(parents=True, exist_ok=True)
    full = project.share.provenance == "full"
    write_jsonl(out / "data.jsonl", (share_line(r, split[r.id], full) for r in records))
    features = table_features(project, records)
    whole = Dataset.from_list([row(r, split[r.id], features) for r in records], features=features)
    whole.to_parquet(str(out / "data.parquet"))
    # Each split is the whole table's rows of that split, in order: every row is made once.
    dataset = DatasetDict(
        {s: whole.select([i for i, r in enumerate(records) if split[r.id] == s]) for s in SPLITS if s in split.values()}
    )
    dataset.save_to_disk(str(out / "hf"))
    # The Hub's layout: one Parquet file a split, which the card's `configs` name.
    for s, part in dataset.items():
        part.to_parquet(str(out / "data" / f"{s}.parquet"))
    chat_files, no_response = {}, 0
    for s in dataset:
        path = out / f"openai_chat_{s}.jsonl"
        lines = [openai_chat(project, r) for r in records if split[r.id] == s]
        no_response += sum(line is None for line in lines)
        write_jsonl(path, (line for line in lines if line is not None))
        chat_files[s] = path.name
    if no_response:
        say(
            f"export: {no_response} item(s) left out of openai_chat_*.jsonl: "
            f"no `{project.train.text_field}` to answer with"
        )
    counts = {s: len(part) for s, part in dataset.items()}
    info = {
        "items": len(records),
        "splits": counts,
        "columns": list(features),
        "openai_chat": chat_files,
        "openai_chat_left_out": no_response,
        "license": project.share.license,
    }
    write_json(out / "dataset_info.json", info)
    card.write(out, project, run, records, info)
    if token is not None:
        info["hub_commit"] = push_to_hub(project, token, out, say)
        info["hub_repo"] = project.share.hub_repo
    return info


def openai_chat(project: Project, record: Record) -> dict[str, Any] | None:
    """A line of OpenAI's chat fine-tuning format, with the same prompt and response `studio tune` uses; None
    for an item with no response (OpenAI refuses an assistant turn without content)."""
    prompt, response = chat_pair(record, project.train, project.domain.name.replace("-", " "))
    if response is None:
        return None
    return {"messages": chat_messages(project.domain.title, prompt, response)}


def hub_token(project: Project) -> str | None:
    """The Hub token when the dataset is to be pushed (checked before anything is written); None when not."""
    share = project.share
    if not share.hub_repo:
        return None
    token = os.environ.get(share.hub_token_env)
    if not token:
        raise StudioError(
            f"share.hub_repo is set but ${share.hub_token_env} is empty: set the token there",
            None,
            "share.hub_token_env",
        )
    return token


# What goes to the Hub: the card (written once, by studio, with the metadata the Hub reads) and the split files
# it names; the other files of dataset/ are for local use.
HUB_FILES = ["README.md", "data/*.parquet"]


def push_to_hub(project: Project, token: str, folder: Path, say: Any) -> str:
    """dataset/'s Hub files in one commit (none when the Hub repo already holds them as they are); returns the
    commit id. The endpoint is huggingface_hub's (HF_ENDPOINT, else the Hub)."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    share = project.share
    api = HfApi(token=token)
    try:
        api.create_repo(share.hub_repo, repo_type="dataset", private=share.private, exist_ok=True)
        before = api.repo_info(share.hub_repo, repo_type="dataset").sha
        commit = api.upload_folder(
            repo_id=share.hub_repo,
            repo_type="dataset",
            folder_path=folder,
            allow_patterns=HUB_FILES,
            commit_message="studio export",
        )
    except (HfHubHTTPError, OfflineModeIsEnabled) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise StudioError(f"the Hub push failed: {first}", None, "share.hub_repo") from None
    if commit.oid == before:
        say(f"export: the Hub repo {share.hub_repo} already holds this dataset; nothing pushed")
    else:
        say(f"export: pushed the dataset to the Hub repo {share.hub_repo} (commit {commit.oid[:12]})")
    return commit.oid
