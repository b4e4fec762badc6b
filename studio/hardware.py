"""What this machine computes natively, asked of the CPU itself: stages pick their kernels from it and say
which path they took. In the core, so every stage package can ask (torch is imported only when asked)."""

from __future__ import annotations

from functools import cache
from pathlib import Path


@cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return frozenset()
    return frozenset(next((ln.split(":", 1)[1].split() for ln in lines if ln.startswith("flags")), []))


@cache  # asked at every embedding call; the CPU does not change
def cpu_bf16() -> tuple[bool, str]:
    """Whether the CPU computes bf16 natively (AVX512-BF16 or AMX; AMX is not needed and not assumed), and why.
    oneDNN also runs bf16 on AVX-512 CPUs without those instructions, by emulation: on an AVX2-only CPU a bf16
    matmul ran at 0.3 GFLOP/s against 88 for fp32, so the flags decide, not what torch accepts."""
    import torch

    kernels = torch.backends.cpu.get_cpu_capability()
    native = {"avx512_bf16", "amx_bf16"} & cpu_flags()
    if native and torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return True, f"the CPU computes bf16 natively ({', '.join(sorted(native))}; torch kernels {kernels})"
    return False, f"the CPU has no native bf16 (torch kernels {kernels}), so bf16 would be emulated"
