"""Small timing helpers and the machine description shared by the benchmarks."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import sys
import time
from collections.abc import Callable
from typing import Any


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Run fn() once; return (seconds, result)."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def best_of(fn: Callable[[], Any], repeats: int = 3) -> tuple[float, list[float], Any]:
    """Run fn() `repeats` times; return (best seconds, all seconds, last result). The best is the least disturbed run."""
    if repeats < 1:
        raise ValueError(f"best_of: repeats must be >= 1, got {repeats}")
    times, result = [], None
    for _ in range(repeats):
        t, result = timed(fn)
        times.append(t)
    return min(times), times, result


def best_of_pair(fn_a: Callable[[], Any], fn_b: Callable[[], Any], repeats: int = 3
                 ) -> tuple[tuple[float, list[float]], tuple[float, list[float]]]:
    """Time fn_a and fn_b alternately (A B A B ...) so a noisy neighbour hurts both alike; best and all times of each."""
    if repeats < 1:
        raise ValueError(f"best_of_pair: repeats must be >= 1, got {repeats}")
    ta, tb = [], []
    for _ in range(repeats):
        ta.append(timed(fn_a)[0])
        tb.append(timed(fn_b)[0])
    return (min(ta), ta), (min(tb), tb)


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (Linux), else platform.processor()."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def ram_gib() -> float | None:
    """Total RAM in GiB (from /proc/meminfo or psutil), or None if neither is available."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    try:
        import psutil

        return round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        return None


def load_average() -> str:
    """The 1/5/15-minute load averages as text ('n/a' where the OS has none)."""
    try:
        return " / ".join(f"{v:.2f}" for v in os.getloadavg())
    except (OSError, AttributeError):
        return "n/a"


def machine() -> dict[str, Any]:
    """What the numbers were measured on: CPU, cores, RAM, OS, Python/torch versions, date and load."""
    import numpy
    import torch
    import torchvision

    return {
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "ram_gib": ram_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": numpy.__version__,
        "cuda": torch.cuda.is_available(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "(unset)"),
        "load_average_start": load_average(),
    }
