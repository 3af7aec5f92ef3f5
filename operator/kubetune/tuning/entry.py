"""The program every trial of `kubetune.tune` runs: call the shipped function once, report.

This file is shipped beside the function (`shipping.py` writes both, locally into the study's
folder, on a cluster into a ConfigMap mounted in the trial's pod), and runs there as
`python entry.py --NAME=VALUE ...`, one flag per parameter the trial has (a conditional one
it lacks is left out by the template). So it must run on the standard library alone, in any
image with Python 3.10+: it imports nothing of kubetune's until the function does.

What it does, in order: install the `packages` the call names (once per folder, with pip's
`--target`), make `import kubetune` work (the installed package, else the copy of the SDK
shipped beside it), load the function from `function.py`, call it with the trial's parameters
typed as the Study declares them and the call's fixed arguments, and report what it returns:
a number is the objective, a dict of numbers is several metrics, None means the function
reported itself with `kubetune.report`. Anything it raises fails this trial, not the study:
the traceback is the trial's log.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

CALL = "call.json"
FUNCTION = "function.py"
#: Where the SDK's copy is shipped (`fallback/kubetune/__init__.py`), for images without kubetune.
FALLBACK = "fallback"
PACKAGES_DIR = "KUBETUNE_PACKAGES_DIR"


def typed(parameter: dict[str, Any], text: str) -> Any:
    """A flag's text as the value the Study declared: float, int, or the categorical value it
    names (an int choice comes back as an int)."""
    kind = parameter["type"]
    if kind == "float":
        return float(text)
    if kind == "int":
        return int(float(text))
    for value in parameter["values"]:
        if str(value) == text:
            return value
    raise SystemExit(f"kubetune: {parameter['name']}={text!r} is not one of {parameter['values']}")


def parse_params(argv: list[str], parameters: list[dict[str, Any]]) -> dict[str, Any]:
    """The trial's parameters from `--NAME=VALUE` flags, in the Study's order."""
    given: dict[str, str] = {}
    for flag in argv:
        name, sep, text = flag[2:].partition("=")
        if not flag.startswith("--") or not sep:
            raise SystemExit(f"kubetune: expected --NAME=VALUE, got {flag!r}")
        given[name] = text
    out = {}
    for parameter in parameters:
        if parameter["name"] in given:
            out[parameter["name"]] = typed(parameter, given[parameter["name"]])
    return out


def default_packages_dir() -> Path:
    return Path(os.environ.get(PACKAGES_DIR) or Path(tempfile.gettempdir(), "kubetune-packages"))


def install_into(folder: Path, packages: list[str]) -> None:
    """pip install `packages` into `folder`, once: a folder already made for the same list is
    left as it is (the local backend installs before its trials start, so they find it)."""
    key = hashlib.sha256(json.dumps(sorted(packages)).encode()).hexdigest()
    marker = folder / ".kubetune-installed"
    if marker.is_file() and marker.read_text() == key:
        return
    print(f"kubetune: installing {' '.join(packages)}", file=sys.stderr, flush=True)
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    done = subprocess.run([*command, "--target", str(folder), *packages], check=False)
    if done.returncode != 0:
        raise SystemExit(f"kubetune: pip could not install {packages} (exit {done.returncode})")
    marker.write_text(key)


def install(packages: list[str]) -> None:
    """The call's packages, importable before the function is loaded."""
    if packages:
        folder = default_packages_dir()
        install_into(folder, packages)
        sys.path.insert(0, str(folder))


def reachable_sdk(here: Path) -> None:
    """`import kubetune` for the function: the image's own, else the SDK shipped here."""
    try:
        import kubetune  # noqa: F401, PLC0415
    except ImportError:
        sys.path.append(str(here / FALLBACK))


def load(path: Path, name: str) -> Callable[..., Any]:
    spec = importlib.util.spec_from_file_location("kubetune_function", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["kubetune_function"] = module
    spec.loader.exec_module(module)
    function: Callable[..., Any] = getattr(module, name)
    return function


def report_result(result: Any, metric: str) -> None:
    """What the function returned, reported: a number as the objective, a dict as metrics."""
    if result is None:
        return
    import kubetune  # noqa: PLC0415

    if isinstance(result, dict):
        kubetune.report(**result)
    elif isinstance(result, (int, float)) and not isinstance(result, bool):
        kubetune.report(**{metric: result})  # type: ignore[arg-type]
    else:
        raise SystemExit(
            f"kubetune: the function returned {result!r}; return a number (the objective "
            f"{metric!r}), a dict of numbers, or None after calling kubetune.report()"
        )


def main(argv: list[str] | None = None) -> int:
    here = Path(__file__).resolve().parent
    call = json.loads((here / CALL).read_text())
    params = parse_params(sys.argv[1:] if argv is None else argv, call["parameters"])
    install(call["packages"])
    reachable_sdk(here)
    function = load(here / FUNCTION, call["function"])
    report_result(function(params, **call["args"]), call["metric"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
