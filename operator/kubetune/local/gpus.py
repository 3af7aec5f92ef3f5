"""GPU slots for local trials: each GPU trial gets its own `CUDA_VISIBLE_DEVICES`.

The devices come from `--gpus`, else the runner's own CUDA_VISIBLE_DEVICES, else
`nvidia-smi -L`. A trial asking for N GPUs waits until N are free, so two trials never share
a card by accident.
"""

from __future__ import annotations

import os
import shutil
import subprocess


def detect_gpus() -> list[str]:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [d.strip() for d in visible.split(",") if d.strip() and d.strip() != "-1"]
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        listing = subprocess.run(
            ["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(i) for i, line in enumerate(listing.splitlines()) if line.startswith("GPU ")]


class GpuPool:
    def __init__(self, devices: list[str]) -> None:
        self.free = list(devices)
        self.total = len(devices)
        self.held: dict[str, list[str]] = {}

    def acquire(self, trial: str, count: int) -> list[str] | None:
        """The devices for `trial`, or None while fewer than `count` are free."""
        if count == 0:
            return []
        if len(self.free) < count:
            return None
        taken, self.free = self.free[:count], self.free[count:]
        self.held[trial] = taken
        return taken

    def release(self, trial: str) -> None:
        self.free.extend(self.held.pop(trial, []))
        self.free.sort(key=lambda d: (len(d), d))
