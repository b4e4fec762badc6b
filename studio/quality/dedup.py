"""Deduplicate: exact, then near (MinHash LSH), then semantic (embeddings) duplicates, optionally against
earlier accepted corpora, so a new batch adds only what is new.

Which record of a group is kept is a rule (`keep`: first seen, longest, best score): the records are ranked
by it, earlier corpora ahead of all, and taken in that order; a record is dropped when it is a duplicate of
one already kept, and names that twin (the most similar one), the method and the similarity. So every
dropped record is within the threshold of the record it names, and chains (a~b~c with a and c apart) never
drop a record for a twin it does not resemble. Records of earlier corpora are never dropped nor written.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from studio.errors import StudioError
from studio.project import Dedup, Project
from studio.quality import exact, minhash, semantic
from studio.quality.diversity import diversity
from studio.quality.items import Item, dotted_value, load_texts
from studio.quality.validate import out_folder
from studio.records import write_jsonl
from studio.runs import FILES, Run
from studio.stage import Context, Outcome, Stage

MEASURE = {"exact": "normalised text", "minhash": "jaccard", "semantic": "cosine"}
KIND = {"exact": "exact", "minhash": "near", "semantic": "semantic"}


@dataclass
class Corpus:
    """Earlier accepted records: what new records must differ from."""

    file: Path
    items: list[Item]
    texts: list[str]


@dataclass
class Decisions:
    """For texts 0..N-1 (earlier corpora first): the twin each dropped text names, and kept texts' marks."""

    n: int
    twin: np.ndarray = field(init=False)
    method: list[str | None] = field(init=False)
    similarity: np.ndarray = field(init=False)
    nearest: np.ndarray = field(init=False)  # the nearest other text by embedding (-1: unknown)
    nearest_cosine: np.ndarray = field(init=False)
    seconds: dict[str, float] = field(default_factory=dict)
    vectors: np.ndarray | None = None  # embeddings of the texts still kept after the semantic pass
    vector_rows: np.ndarray | None = None  # which texts those rows are

    def __post_init__(self) -> None:
        self.twin = np.full(self.n, -1)
        self.method = [None] * self.n
        self.similarity = np.zeros(self.n)
        self.nearest = np.full(self.n, -1)
        self.nearest_cosine = np.full(self.n, np.nan)

    @property
    def kept(self) -> np.ndarray:
        return self.twin < 0


def ranking(texts: list[str], scores: list[float | None], keep: str) -> np.ndarray:
    """The rank of each new record under the keep rule (0 is kept first); ties go to the earlier line."""
    n = len(texts)
    if keep == "first":
        key: list[Any] = list(range(n))
    elif keep == "longest":
        key = [(-len(t), i) for i, t in enumerate(texts)]
    else:
        key = [(-(s if s is not None else -np.inf), i) for i, s in enumerate(scores)]
    order = sorted(range(n), key=key.__getitem__)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    return rank


def deduplicate(
    texts: list[str],
    rank: np.ndarray,
    settings: Dedup,
    fixed: int = 0,
    progress: bool = False,
    engine: str = "local",
) -> Decisions:
    """Decide every text. The first `fixed` texts are earlier corpora (ranked first, never dropped); `rank`
    orders the others. `engine` ray: MinHash signatures as a Ray Data job."""
    n = len(texts)
    full_rank = np.concatenate([np.arange(fixed), fixed + rank]).astype(np.int64)
    d = Decisions(n)
    if settings.exact and n:
        t0 = time.perf_counter()
        twin = exact.exact_twins(texts, np.argsort(full_rank))
        dropped = np.flatnonzero((twin != np.arange(n)) & (np.arange(n) >= fixed))
        d.twin[dropped], d.similarity[dropped] = twin[dropped], 1.0
        for i in dropped:
            d.method[i] = "exact"
        d.seconds["exact"] = round(time.perf_counter() - t0, 3)
    if settings.minhash.enabled:
        t0 = time.perf_counter()
        alive = np.flatnonzero(d.kept)
        first = int(np.searchsorted(alive, fixed))  # earlier corpora come first
        pairs, sims = minhash.near_pairs([texts[i] for i in alive], settings.minhash, full_rank[alive], first, engine)
        drop_in_order(d, alive[pairs], sims, full_rank, fixed, "minhash")
        d.seconds["minhash"] = round(time.perf_counter() - t0, 3)
    if settings.semantic.enabled:
        t0 = time.perf_counter()
        alive = np.flatnonzero(d.kept)
        s = settings.semantic
        index = semantic.index_for(s.index, len(alive))  # before the embeddings: a missing usearch is said at once
        vectors = semantic.embed([texts[i] for i in alive], s.device, s.batch_size, progress)
        first = int(np.searchsorted(alive, fixed))
        pairs, sims, nearest, nearest_sim = semantic.near_pairs(vectors, s.threshold, first, index)
        pairs = alive[pairs]
        # Orient each pair by rank: the earlier one can be the twin of the later.
        swap = full_rank[pairs[:, 0]] > full_rank[pairs[:, 1]]
        pairs[swap] = pairs[swap][:, ::-1]
        drop_in_order(d, pairs, sims, full_rank, fixed, "semantic")
        has = nearest >= 0
        d.nearest[alive[has]], d.nearest_cosine[alive[has]] = alive[nearest[has]], nearest_sim[has]
        still = d.kept[alive]
        d.vectors, d.vector_rows = vectors[still], alive[still]
        d.seconds["semantic"] = round(time.perf_counter() - t0, 3)
    return d


def drop_in_order(d: Decisions, pairs: np.ndarray, sims: np.ndarray, rank: np.ndarray, fixed: int, method: str) -> None:
    """Take the later member of each pair (i ranked before j) in rank order; drop it when its earlier member is
    still kept, naming the most similar such twin."""
    if not len(pairs):
        return
    order = np.lexsort((-sims, rank[pairs[:, 1]]))
    for k in order:
        i, j = pairs[k]
        if j >= fixed and d.twin[j] < 0 and d.twin[i] < 0:
            d.twin[j], d.method[j], d.similarity[j] = i, method, round(float(sims[k]), 4)


def corpus_file(path: Path | str) -> Path:
    """The file of an earlier corpus: a JSONL file, or a run folder's curated records, else its unique ones."""
    path = Path(path)
    if path.is_dir():
        found = [path / FILES[k] for k in ("curated", "unique") if (path / FILES[k]).exists()]
        if not found:
            raise StudioError(f"a run folder without {FILES['curated']} or {FILES['unique']}", path)
        return found[0]
    if not path.exists():
        raise StudioError("earlier corpus not found", path)
    return path


def corpus(path: Path | str, id_field: str, text_field: str) -> Corpus:
    file = corpus_file(path)
    items, texts = load_texts(file, id_field, text_field)
    return Corpus(file, items, texts)


def dedup_items(
    items: list[Item],
    texts: list[str],
    settings: Dedup,
    against: list[Corpus] | None = None,
    progress: bool = False,
    engine: str = "local",
) -> dict[str, Any]:
    """Decide every item; returns the kept and dropped lines, counts and diversity figures."""
    against = against or []
    earlier = [(c, i) for c in against for i in range(len(c.items))]
    scores = [_score(item, settings.score) for item in items]
    rank = ranking(texts, scores, settings.keep)
    all_texts = [c.texts[i] for c, i in earlier] + texts
    d = deduplicate(all_texts, rank, settings, fixed=len(earlier), progress=progress, engine=engine)
    fixed = len(earlier)

    def who(k: int) -> dict[str, Any]:
        if k < fixed:
            c, i = earlier[k]
            return {"twin": c.items[i].id, "twin_file": str(c.file)}
        return {"twin": items[k - fixed].id}

    kept, dropped = [], []
    twins_of = np.bincount(d.twin[d.twin >= 0], minlength=len(all_texts))
    for k, item in enumerate(items, fixed):
        if d.twin[k] >= 0:
            method, sim = d.method[k], float(d.similarity[k])
            twin = who(int(d.twin[k]))
            reason = f"{KIND[method]} duplicate of {twin['twin']}"
            if method != "exact":
                reason += f" ({MEASURE[method]} {sim:.3f})"
            rejected = {"stage": "dedup", "rule": method, "reason": reason, **twin, "similarity": sim}
            rejected["measure"] = MEASURE[method]
            dropped.append(item.dropped(rejected))
            continue
        if item.record:
            mark: dict[str, Any] = {"twins": int(twins_of[k])}
            if d.nearest[k] >= 0:
                mark.update(nearest=who(int(d.nearest[k]))["twin"], cosine=round(float(d.nearest_cosine[k]), 4))
            item.meta = {**item.meta, "dedup": mark}
        kept.append(item.kept())
    keep_rows = [k - fixed for k in np.flatnonzero(d.kept) if k >= fixed]
    vectors = None
    if d.vectors is not None and d.vector_rows is not None:
        vectors = d.vectors[d.vector_rows >= fixed]
    by_method = {m: sum(1 for x in d.method[fixed:] if x == m) for m in MEASURE}
    return {
        "kept": kept,
        "dropped": dropped,
        "counts": {
            "items": len(items),
            "unique": len(kept),
            "duplicates": len(dropped),
            "by_method": by_method,
            "against": {"files": [str(c.file) for c in against], "items": fixed},
        },
        "seconds_by_method": d.seconds,
        "diversity": diversity(
            [texts[i] for i in keep_rows],
            [items[i].meta if items[i].record else {} for i in keep_rows],
            vectors,
            [items[i].data for i in keep_rows],
        ),
    }


def _score(item: Item, path: str) -> float | None:
    value = dotted_value(item.kept() if item.record else {"data": item.data, "meta": {}}, path)
    if value is None and not item.record:
        value = dotted_value(item.data, path)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def dedup_file(
    path: Path | str,
    unique_path: Path,
    duplicates_path: Path,
    settings: Dedup,
    against: list[Path] | None = None,
    id_field: str = "id",
    text_field: str = "text",
    progress: bool = False,
    say: Callable[[str], None] | None = None,
    engine: str = "local",
) -> dict[str, Any]:
    """Deduplicate the records of one file (against earlier corpora) into unique and duplicates files.
    `say` hears how ids were made up for lines without one; repeated ids are a StudioError. `engine`: local
    or ray."""
    path = Path(path)
    for target in (unique_path, duplicates_path):
        if Path(target).resolve() == path.resolve():
            raise StudioError("the output would overwrite the input: choose another --out folder", path)
    t0 = time.perf_counter()
    items, texts = load_texts(path, id_field, text_field)
    check_ids(items, path, id_field, say)
    corpora = [corpus(p, id_field, text_field) for p in against or []]
    if engine == "ray":
        from studio.quality import ray_jobs

        ray_jobs.connect(say)
    if settings.semantic.enabled and say is not None:
        chosen, why = semantic.precision(settings.semantic.device)
        say(f"dedup: embeddings in {chosen}: {why}")
    result = dedup_items(items, texts, settings, corpora, progress, engine)
    write_jsonl(unique_path, result.pop("kept"))
    write_jsonl(duplicates_path, result.pop("dropped"))
    seconds = time.perf_counter() - t0
    result["seconds"] = round(seconds, 3)
    result["counts"]["items_per_s"] = round(len(items) / seconds) if seconds else None
    result["files"] = {"unique": str(unique_path), "duplicates": str(duplicates_path)}
    return result


def check_ids(items: list[Item], path: Path, id_field: str = "id", say: Callable[[str], None] | None = None) -> None:
    """Every dropped line names its kept twin by id, so ids must be unique; lines without one get their line
    number (line-N), which is said, since a user may have meant another key."""
    if say is not None:
        missing = sum(1 for i in items if not i.record and not isinstance(dotted_value(i.data, id_field), str | int))
        if missing:
            say(
                f"{path}: {missing} line(s) have no `{id_field}`: their ids are their line numbers (line-N); "
                "pass --id-field to use another key"
            )
    first_line: dict[str, int] = {}
    for item in items:
        first = first_line.setdefault(item.id, item.line)
        if first != item.line:
            raise StudioError(
                f"id {item.id!r} is on line {first} and line {item.line}: ids must be unique "
                f"(choose another key with --id-field)",
                path,
            )


def settings_for(project: Project | None, semantic: bool | None = None, keep: str | None = None) -> Dedup:
    """The project's dedup settings (or the defaults), with the command line's choices on top."""
    settings = project.quality.dedup if project else Dedup()
    if semantic is not None:
        settings = settings.model_copy(update={"semantic": settings.semantic.model_copy(update={"enabled": semantic})})
    if keep is not None:
        settings = Dedup.model_validate({**settings.model_dump(), "keep": keep})
    return settings


def dedup_standalone(
    file: Path | str,
    project: Project | None,
    against: list[Path] | None = None,
    out: Path | str | None = None,
    id_field: str = "id",
    text_field: str | None = None,
    semantic: bool | None = None,
    keep: str | None = None,
    progress: bool = False,
    say: Callable[[str], None] | None = None,
    engine: str | None = None,
) -> dict[str, Any]:
    """Any JSONL file into out/unique.jsonl and out/duplicates.jsonl (default: the file's folder); `say` hears
    how ids were made up for lines without one. `engine`: local or ray (default: the project's)."""
    file = Path(file)
    settings = settings_for(project, semantic, keep)
    earlier = [project.path(p) for p in settings.against] if project else []
    out_dir = out_folder(out, file)
    text_field = text_field or (project.quality.text_field if project else "text")
    return dedup_file(
        file,
        out_dir / "unique.jsonl",
        out_dir / "duplicates.jsonl",
        settings,
        earlier + list(against or []),
        id_field,
        text_field,
        progress,
        say,
        engine or (project.engine if project else "local"),
    )


class DedupStage(Stage):
    """The run's 02-valid.jsonl into 03-unique.jsonl and 03-duplicates.jsonl, with diversity figures."""

    name = "dedup"
    command = "studio dedup"
    inputs = ("valid",)
    outputs = ("unique", "duplicates")

    def __init__(self, against: list[Path] | None = None, semantic: bool | None = None, keep: str | None = None):
        self.against, self.semantic, self.keep = against or [], semantic, keep

    def settings(self, project: Project) -> Any:
        dedup = settings_for(project, self.semantic, self.keep)
        return {"dedup": dedup.model_dump(mode="json", exclude={"against"}), "text_field": project.quality.text_field}

    def earlier(self, project: Project, run: Run) -> list[Path]:
        """The corpora compared against: the project's `against` and the call's."""
        settings = settings_for(project, self.semantic, self.keep)
        earlier = [corpus_file(project.path(p)) for p in settings.against] + [corpus_file(p) for p in self.against]
        if run.file("unique").resolve() in {p.resolve() for p in earlier}:
            raise StudioError("a run cannot be deduplicated against its own unique records", run.file("unique"))
        return earlier

    def sources(self, project: Project, run: Run) -> list[Path]:
        return [run.file("valid"), *self.earlier(project, run)]

    def run(self, ctx: Context) -> Outcome:
        p = ctx.project
        result = dedup_file(
            ctx.input("valid"),
            ctx.output("unique"),
            ctx.output("duplicates"),
            settings_for(p, self.semantic, self.keep),
            self.earlier(p, ctx.run),
            "id",
            p.quality.text_field,
            ctx.show_progress,
            ctx.say,
            p.engine,
        )
        details = {k: result[k] for k in ("seconds_by_method", "diversity")}
        return Outcome(result["counts"], details=details)
