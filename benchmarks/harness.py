"""What every benchmark script does the same way: run jobs in a process pool with a progress
line, describe the machine, write the result as JSON."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

J = TypeVar("J")
R = TypeVar("R")


def in_pool(work: Callable[[J], R], jobs: Iterable[J], workers: int) -> Iterator[R]:
    """Each job's result in order, from `workers` processes, with "N/M runs (Ss)" on stderr."""
    jobs = list(jobs)
    started = time.time()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for done, result in enumerate(pool.map(work, jobs), start=1):
            print(
                f"\r{done}/{len(jobs)} runs ({time.time() - started:.0f}s)", end="", file=sys.stderr
            )
            yield result
    print(file=sys.stderr)


def machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }


def write_result(path: str, result: dict[str, Any], started: float) -> None:
    """Writes `result` with the machine and the seconds since `started`, and says where."""
    result = {"machine": machine(), "seconds": round(time.time() - started, 1), **result}
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"\nwrote {out} ({result['seconds']}s)")
