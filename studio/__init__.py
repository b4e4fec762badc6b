"""studio: a synthetic-data-first dataset studio.

The Python API (the CLI calls the same functions): `studio.run(...)` for the whole loop, and a function
per stage (`studio.generate(...)`, `studio.validate(...)`, `studio.dedup(...)`, `studio.review_push(...)`,
`studio.tune(...)`, ...). They are imported on first use, so `import studio` stays fast.
"""

from typing import Any

__all__ = [
    "run",
    "init",
    "generate",
    "validate",
    "dedup",
    "judge",
    "status",
    "review_install",
    "review_serve",
    "review_stop",
    "review_status",
    "review_push",
    "review_pull",
    "tune",
    "evaluate",
    "serve_model",
    "curate",
    "export",
    "build_report",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from studio import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'studio' has no attribute {name!r}")
