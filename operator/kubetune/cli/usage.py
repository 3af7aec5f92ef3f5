"""What every command shares with the user: the error they can fix, where output goes, and
how to type `kubetune` in the shell they are in.

The hints the commands print (`explore it: ...`, `continue with: ...`) must work when pasted
into a plain shell; after `make demo` the command lives in `.venv/bin`, which is not on the
PATH until the user activates the virtual environment, so the hints spell it as it can be found.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
from pathlib import Path


class UsageError(Exception):
    """A problem the user can fix; printed without a traceback, exit status 2."""


def say(message: str) -> None:
    """A line for the user beside the command's output (on stderr: stdout stays parseable)."""
    print(f"kubetune: {message}", file=sys.stderr)


def write_out(text: str, file: str | None, what: str) -> None:
    """`text` into `file` (saying so on stderr), or onto standard output."""
    if not file:
        print(text, end="")
        return
    try:
        Path(file).write_text(text)
    except OSError as error:
        raise UsageError(f"{file}: cannot write it ({error.strerror})") from None
    print(f"wrote {what} to {file}", file=sys.stderr)


def output_and_file(
    output: str | None, file: str | None, formats: tuple[str, ...]
) -> tuple[str, str | None]:
    """`-o` is the output format (as in kubectl) and `--file` where it goes. A file given to
    `-o`, as `report` and `convert` once took it (`convert -o STUDY.yaml` is issue 34's
    wording), still works and is said to be `--file` now."""
    if output is None or output in formats:
        return output or formats[0], file
    if file is None and ("." in output or "/" in output):
        say(
            f"-o {output}: -o is the output format ({', '.join(formats)}); writing the file as "
            f"--file {output} would"
        )
        return formats[0], output
    raise UsageError(
        f"-o {output}: the output format is one of {', '.join(formats)}; the file to write is "
        "--file"
    )


def _script() -> Path | None:
    """The `kubetune` script of the installation this process runs from."""
    argv0 = Path(sys.argv[0])
    if argv0.name == "kubetune" and argv0.exists():
        return argv0
    beside = Path(sys.executable).parent / "kubetune"  # python -m kubetune.cli in a venv
    return beside if beside.exists() else None


@functools.cache
def program() -> str:
    """`kubetune` when the shell finds this installation under that name; else its path, from
    the current folder when it is below it (`.venv/bin/kubetune`)."""
    script = _script()
    if script is None:
        return f"{sys.executable} -m kubetune.cli"
    on_path = shutil.which("kubetune")
    if on_path is not None and Path(on_path).resolve() == script.resolve():
        return "kubetune"
    absolute = script.absolute()
    try:
        return str(absolute.relative_to(Path.cwd()))
    except ValueError:
        return str(absolute)


def typed(*words: str) -> str:
    """`kubetune WORDS` as the user can type it here."""
    return " ".join([program(), *words])


def activate_hint() -> str | None:
    """The one line that puts `kubetune` on the PATH, when it is not and a venv holds it."""
    if program() == "kubetune":
        return None
    script = _script()
    if script is None:
        return None
    activate = script.parent / "activate"
    if not activate.exists():
        return None
    where = os.path.relpath(activate) if not program().startswith("/") else str(activate)
    return f"to type plain `kubetune`: . {where}"
