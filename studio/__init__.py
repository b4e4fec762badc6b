"""studio: a synthetic-data-first dataset studio.

The Python API (the CLI calls the same functions): `studio.generate(...)`, `studio.status(...)`.
They are imported on first use, so `import studio` stays fast.
"""

from typing import Any

__all__ = ["generate", "status"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from studio import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'studio' has no attribute {name!r}")
