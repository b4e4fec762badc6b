"""Rows of a user's table file (CSV, JSONL or Parquet, read with pandas): seed examples, for one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.errors import StudioError

READERS = {".csv": "read_csv", ".jsonl": "read_json", ".json": "read_json", ".parquet": "read_parquet"}


def read_rows(path: Path, what: str = "seed examples") -> list[dict[str, Any]]:
    """The file's rows as dicts (missing cells None); a file that cannot be read is a StudioError naming it."""
    import pandas as pd

    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise StudioError(f"{what} must be .csv, .jsonl or .parquet, not '{path.suffix}'", path)
    try:
        kwargs = {"lines": True} if path.suffix.lower() == ".jsonl" else {}
        frame = getattr(pd, reader)(path, **kwargs)
    except FileNotFoundError:
        raise StudioError(f"{what} file not found", path) from None
    except Exception as e:  # pandas raises many kinds; the user needs the file and the reason
        raise StudioError(f"cannot read the {what}: {str(e).splitlines()[0]}", path) from None
    if frame.empty:
        raise StudioError(f"the {what} file has no rows", path)
    return frame.astype(object).where(frame.notna(), None).to_dict("records")
