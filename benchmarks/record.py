"""What every benchmark records beside its figures: the machine it ran on (cores, CPU model, the vector flags
that decide kernels, the load), and its table in benchmarks/README.md between its own markers."""

from __future__ import annotations

import os
from pathlib import Path

README = Path(__file__).resolve().parent / "README.md"


def machine() -> str:
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    lines = info.splitlines()
    model = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), "unknown CPU")
    flags = set(next((ln.split(":", 1)[1].split() for ln in lines if ln.startswith("flags")), []))
    vector = [f.upper() for f in ("avx2", "avx512f", "avx512_bf16", "amx_tile") if f in flags]
    return (
        f"{os.cpu_count()} cores, {model} ({', '.join(vector) or 'no AVX2'}), "
        f"load average {os.getloadavg()[0]:.1f} at the start"
    )


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def write_between(name: str, section: str) -> None:
    """Replace what lies between the markers of `name` in benchmarks/README.md (they must be there)."""
    start, end = markers(name)
    text = README.read_text(encoding="utf-8")
    head, rest = text.split(start, 1)
    README.write_text(f"{head}{start}\n{section}\n{end}{rest.split(end, 1)[1]}", encoding="utf-8")


def publish(name: str, section: str, write: bool) -> None:
    """Print a benchmark's section and, when asked, write it between its markers in benchmarks/README.md."""
    print(section)
    if write:
        write_between(name, section)
        print("\n# written to benchmarks/README.md")
