"""The trial guard: ends every trial process group once the runner that started them is gone.

Why a separate process: a runner killed with SIGKILL (or the OOM killer, or a crash in C) runs
no cleanup of its own, and each trial runs in its own session so that the terminal's Ctrl-C
reaches the runner first; such trials would outlive it. A parent-death signal only reaches
the direct child, not a trainer's own workers. So the runner starts this guard once, in a
session of its own, and tells it on a pipe which process groups are live (`+PGID`, `-PGID`).
The pipe's end of file means the runner is gone, however it went: the guard sends SIGTERM to
every group still listed, SIGKILL after the grace period, and exits. A runner that ends
cleanly has ended its trials first, so the guard finds nothing to do.

Run as a script (`python -I guard.py GRACE`), never imported by the runner's trials: it must
start in milliseconds and depend on nothing but the standard library.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time


def _alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a recycled id now used by someone else's group: not ours
        return False
    return True


def _signal(groups: set[int], sig: signal.Signals) -> None:
    for group in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, sig)


def end_groups(groups: set[int], grace: float) -> None:
    """SIGTERM, then SIGKILL whatever is left once `grace` seconds have passed."""
    _signal(groups, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        groups = {g for g in groups if _alive(g)}
        if not groups:
            return
        time.sleep(0.05)
    _signal(groups, signal.SIGKILL)


def main() -> int:
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)  # only the pipe's end tells the guard to act
    grace = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    groups: set[int] = set()
    for line in sys.stdin:
        op, _, number = line.strip().partition(" ")
        if not number.isdigit():
            continue
        if op == "+":
            groups.add(int(number))
        elif op == "-":
            groups.discard(int(number))
    end_groups(groups, grace)
    return 0


if __name__ == "__main__":
    sys.exit(main())
