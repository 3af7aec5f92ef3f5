"""A study's progress as one bar: tqdm's (a widget in Jupyter, a redrawn line in a terminal)
when tqdm is installed, else a plain line each time something changes.

tqdm is an optional extra (`kubetune[notebook]`): `tqdm.auto` picks the notebook widget when
ipywidgets is there and the terminal bar otherwise, which no code of ours would do better.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO


class Bar:
    """Trials finished out of the budget, with the best so far as the bar's postfix."""

    def __init__(self, title: str, total: int, enabled: bool = True, stream: TextIO | None = None):
        self.title = title
        self.total = total
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self._bar: Any = None
        self._done = 0
        self._said = ""
        if not enabled:
            return
        try:
            from tqdm.auto import tqdm  # noqa: PLC0415
        except ImportError:
            return
        self._bar = tqdm(total=total, desc=title, unit="trial", file=self.stream, leave=True)

    def update(self, done: int, note: str = "", total: int | None = None) -> None:
        """`done` trials finished of `total` (the budget may grow while a study runs: a new
        `total` is taken as given)."""
        total = max(total if total is not None else self.total, done)
        if not self.enabled or (done, note, total) == (self._done, self._said, self.total):
            return
        self.total = total
        if self._bar is not None:
            self._bar.total = total
            self._bar.update(done - self._done)
            self._bar.set_postfix_str(note, refresh=True)
        else:
            line = f"{self.title}: {done}/{total} trials" + (f" · {note}" if note else "")
            print(line, file=self.stream, flush=True)
        self._done, self._said = done, note

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def best_note(metric: str, best: dict[str, Any] | None) -> str:
    if not best:
        return ""
    return f"best {metric}={float(best['objective']):.6g} ({best['name']})"
