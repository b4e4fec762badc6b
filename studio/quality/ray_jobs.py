"""The data stages as Ray Data jobs (`engine: ray`, `--engine ray`): on a local Ray that studio starts, or on
the cluster that RAY_ADDRESS names.

The work is cut into parts (batches of lines to validate, chunks of texts to sign for MinHash), each part is a
row of a Ray Dataset, and one task maps it with the very function the local path runs; the results come back
in the parts' order, so the decisions are the local path's, item by item. What needs every item at once (the
LSH buckets, the exact Jaccard checks, the order of drops) stays in the driver.

On a cluster every worker needs studio and its dependencies installed, at the driver's version (an image, or
`ray job submit --runtime-env-json '{"pip": [...]}'`).
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from typing import Any

Say = Callable[[str], None]


def connect(say: Say | None = None) -> None:
    """Join the cluster RAY_ADDRESS names, else start a local Ray on this machine's cores (once a process)."""
    import ray

    if ray.is_initialized():
        return
    address = os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, log_to_driver=False)
        where = f"the Ray cluster at {address}"
    else:
        ray.init(num_cpus=len(os.sched_getaffinity(0)), include_dashboard=False, log_to_driver=False)
        where = "a local Ray"
    if say:
        say(f"engine: ray, on {where} ({int(ray.cluster_resources().get('CPU', 0))} CPUs)")


def ordered_map(fn: Callable[[Any], Any], parts: list[Any], say: Say | None = None) -> list[Any]:
    """`fn` over every part as a Ray Data job; the results in the parts' order."""
    import ray.data

    connect(say)
    if not parts:
        return []
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    # Parts and results travel pickled: a column of bytes, whatever Python objects they are.
    rows = ray.data.from_items([{"index": i, "part": pickle.dumps(part)} for i, part in enumerate(parts)])
    done = rows.map(lambda row: {"index": row["index"], "result": pickle.dumps(fn(pickle.loads(row["part"])))})
    return [pickle.loads(row["result"]) for row in sorted(done.take_all(), key=lambda row: row["index"])]
