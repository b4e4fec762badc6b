"""One process of a tune across devices, started by torchrun from the tune stage (`train.devices` > 1).

    python -m torch.distributed.run --standalone --nproc-per-node N -m studio.train.worker FOLDER

FOLDER holds job.json (the Job, the tune stage's pid, threads per process) and the tokenized splits. Every
process trains its share of each batch (Trainer sees torchrun's environment and wraps the model in DDP); the
first one saves the model and writes fitted.json. A process whose tune stage has died (kill -9) stops too, so
a new run does not train beside a stale one: the checkpoints stay, and the next run resumes from them.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

from studio.records import write_json
from studio.train import data, model
from studio.train.tune import Job, fit


def watch(parent: int) -> None:
    """Exit at once when the process that started the tune is gone."""
    while True:
        try:
            os.kill(parent, 0)
        except ProcessLookupError:
            os._exit(1)
        time.sleep(1)


@model.quiet()
def main(folder: Path) -> None:
    from datasets import load_from_disk

    spec = json.loads((folder / "job.json").read_text())
    threading.Thread(target=watch, args=(spec["parent"],), daemon=True).start()
    model.threads(spec["threads"])
    job = Job.from_dict(spec["job"])
    tokenized = {name: load_from_disk(str(folder / name)) for name in data.SPLITS}
    fitted = fit(job, tokenized)
    if int(os.environ.get("RANK", "0")) == 0:
        write_json(folder / "fitted.json", fitted)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
