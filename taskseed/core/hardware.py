"""What the hardware computes well: the dtype a model runs in on this machine.

bfloat16 only where the CPU computes it natively (AVX-512 BF16 or AMX); elsewhere (AVX2-only CPUs such as
older AMD EPYC) it is emulated and several times slower than float32 (DESIGN §7). On a GPU, bf16.
`TASKSEED_CPU_BF16=0|1` overrides the detection (tests, odd virtual machines).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

DTYPES = ("auto", "float32", "bfloat16", "float16")


@functools.cache
def _cpuinfo() -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo (empty where there is none)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            break
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def cpu_flags() -> frozenset[str]:
    return frozenset(_cpuinfo().get("flags", "").split())


def cpu_model() -> str:
    return _cpuinfo().get("model name", "unknown CPU")


def native_cpu_bf16() -> bool:
    override = os.environ.get("TASKSEED_CPU_BF16")
    if override in ("0", "1"):
        return override == "1"
    return bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})


def resolve_dtype(setting: str, device: str = "cpu") -> str:
    """`auto` → bfloat16 on a GPU or a CPU with native bf16, float32 elsewhere; other values unchanged."""
    if setting != "auto":
        return setting
    return "bfloat16" if device.startswith("cuda") or native_cpu_bf16() else "float32"
