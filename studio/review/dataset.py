"""The Argilla dataset of a run, made from the domain: fields, questions, metadata, guidelines, records.

Fields: the item's text, and its other attributes as plain lines. Questions: accept or reject (required),
a 1-5 quality rating, and a corrected version (plain text replaces the text; a JSON object changes the
attributes it names). Metadata to filter and sort by: the axis values, the template, the text's length,
the nearest twin's similarity and the number of cleaning warnings. A suggestion pre-fills "reject" where
the gate had doubts (sample.doubt). The Argilla record's external id is studio's id, so pushing again
updates the same record.
"""

from __future__ import annotations

import json
import re
from typing import Any

from studio.project import Project
from studio.records import Record
from studio.review.client import Argilla, ArgillaError
from studio.review.sample import clean_warnings, dedup_similarity, doubt

DECISION, RATING, CORRECTION = "decision", "rating", "correction"
ACCEPT, REJECT = "accept", "reject"
AGENT = "studio-gate"


def dataset_name(project: Project, run_name: str) -> str:
    return f"{project.domain.name}-{run_name}"


def fields() -> list[dict[str, Any]]:
    return [
        {"name": "text", "title": "Text", "required": True, "settings": {"type": "text", "use_markdown": False}},
        {"name": "attributes", "title": "Attributes", "required": False, "settings": {"type": "text"}},
    ]


def questions() -> list[dict[str, Any]]:
    return [
        {
            "name": DECISION,
            "title": "Keep this item?",
            "description": "Accept if it is correct, on topic and useful; reject otherwise.",
            "required": True,
            "settings": {
                "type": "label_selection",
                "options": [{"value": ACCEPT, "text": "Accept"}, {"value": REJECT, "text": "Reject"}],
            },
        },
        {
            "name": RATING,
            "title": "Quality (1 poor - 5 excellent)",
            "required": False,
            "settings": {"type": "rating", "options": [{"value": v} for v in range(1, 6)]},
        },
        {
            "name": CORRECTION,
            "title": "Corrected version (optional)",
            "description": "Leave empty if nothing needs fixing. Write the corrected text to replace the text; "
            'to change attributes, write a JSON object with only what changes, e.g. {"era": "1790s"}.',
            "required": False,
            "settings": {"type": "text", "use_markdown": False},
        },
    ]


def axis_key(axis: str) -> str:
    """An axis's metadata name: prefixed (an axis may be called `length`), no dots (they nest in the index)."""
    return "axis_" + re.sub(r"[^A-Za-z0-9_-]", "_", axis)


def metadata_properties(project: Project) -> list[dict[str, Any]]:
    # Terms without a fixed list of values: subtopics and later project edits bring values of their own.
    terms: dict[str, Any] = {"type": "terms", "values": None}
    out = [{"name": axis_key(name), "title": name, "settings": terms} for name in project.axes]
    out += [
        {"name": "template", "title": "template", "settings": terms},
        {"name": "length", "title": "length (characters)", "settings": {"type": "integer"}},
        {"name": "dedup_similarity", "title": "similarity to the nearest item", "settings": {"type": "float"}},
        {"name": "warnings", "title": "cleaning warnings", "settings": {"type": "integer"}},
    ]
    return out


def guidelines(project: Project) -> str:
    d = project.domain
    return (
        f"# Reviewing {d.title}\n\n{d.description.strip()}\n\n"
        "Each record is one generated item. For each one:\n\n"
        "1. **Keep this item?** Accept it if it is true to the description above, on topic, well written and "
        "useful to learn from. Reject it if it contradicts the description, is off topic, garbled, repetitive "
        "or unsafe. A pre-selected answer is studio's guess where its checks had doubts (a near duplicate, a "
        "cleaning warning); it is only a hint.\n"
        "2. **Quality**: how good the item is, from 1 (poor) to 5 (excellent).\n"
        "3. **Corrected version**: only when a small fix would make a good item. Write the corrected text, or "
        "a JSON object with the attributes to change. Corrections are checked against the domain's schema; "
        "one that does not fit is reported and not used.\n\n"
        "**Discard** a record if you cannot judge it; it then counts as a vote to reject.\n"
    )


def record_text(record: Record, text_field: str) -> str:
    value = record.data.get(text_field)
    return value if isinstance(value, str) and value.strip() else json.dumps(record.data, ensure_ascii=False)


def attributes_of(record: Record, text_field: str) -> str | None:
    lines = []
    for key, value in record.data.items():
        if key == text_field:
            continue
        shown = "; ".join(f"{k}: {_plain(v)}" for k, v in value.items()) if isinstance(value, dict) else _plain(value)
        lines.append(f"{key}: {shown}")
    return "\n".join(lines) or None


def _plain(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_plain(v) for v in value)
    if isinstance(value, str | int | float | bool) or value is None:
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def to_argilla(record: Record, text_field: str, question_ids: dict[str, str]) -> dict[str, Any]:
    """A studio record as an item of PUT /datasets/{id}/records/bulk."""
    text = record_text(record, text_field)
    meta = record.meta
    metadata: dict[str, Any] = {axis_key(k): str(v) for k, v in (meta.get("axes") or {}).items()}
    if meta.get("template"):
        metadata["template"] = str(meta["template"])
    metadata["length"] = len(text)
    similarity = dedup_similarity(meta)
    warnings = clean_warnings(meta)
    if similarity is not None:
        metadata["dedup_similarity"] = similarity
    metadata["warnings"] = len(warnings)
    fields = {"text": text}
    attributes = attributes_of(record, text_field)
    if attributes:
        fields["attributes"] = attributes
    item: dict[str, Any] = {"external_id": record.id, "fields": fields, "metadata": metadata}
    if doubt(meta) > 0:
        # The gate's doubt as a hint: the closer the twin or the more warnings, the surer.
        score = min(1.0, max(similarity or 0.0, 0.5 + 0.1 * len(warnings) if warnings else 0.0))
        item["suggestions"] = [
            {"question_id": question_ids[DECISION], "value": REJECT, "score": round(score, 3), "agent": AGENT}
        ]
    return item


def ensure_dataset(client: Argilla, project: Project, workspace_id: str, name: str, min_reviewers: int) -> dict:
    """The run's dataset with studio's settings: created and published if new, completed if left half-made,
    its guidelines and reviewers per record brought up to date if the project changed."""
    dataset = client.dataset(workspace_id, name)
    if dataset is None:
        dataset = client.post("/datasets", {"name": name, "workspace_id": workspace_id})
    did = dataset["id"]
    have_fields = {f["name"] for f in client.get(f"/datasets/{did}/fields")["items"]}
    have_questions = {q["name"] for q in client.get(f"/datasets/{did}/questions")["items"]}
    have_metadata = {m["name"] for m in client.get(f"/me/datasets/{did}/metadata-properties")["items"]}
    if dataset["status"] == "draft":
        for field in fields():
            if field["name"] not in have_fields:
                client.post(f"/datasets/{did}/fields", field)
        for question in questions():
            if question["name"] not in have_questions:
                client.post(f"/datasets/{did}/questions", question)
    else:
        missing = [q["name"] for q in questions() if q["name"] not in have_questions]
        missing += [f["name"] for f in fields() if f["name"] not in have_fields]
        if missing:
            raise ArgillaError(
                f"dataset {name!r} exists without studio's {', '.join(missing)}: delete it in Argilla or use "
                "another run name",
                client.api_url,
            )
    # Metadata properties may be added after publishing: a project with a new axis gets it here.
    for prop in metadata_properties(project):
        if prop["name"] not in have_metadata:
            client.post(f"/datasets/{did}/metadata-properties", prop)
    # The guidelines and the answers a record needs follow the project file.
    wanted = {
        "guidelines": guidelines(project),
        "distribution": {"strategy": "overlap", "min_submitted": min_reviewers},
    }
    if any(dataset.get(key) != value for key, value in wanted.items()):
        dataset = client.request("PATCH", f"/datasets/{did}", json=wanted)
    if dataset["status"] == "draft":
        dataset = client.put(f"/datasets/{did}/publish")
    return dataset
