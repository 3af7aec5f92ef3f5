"""What `tune()` ships to a trial: the function's source and what it uses, run by `entry.py`
in a process of its own; and the functions it refuses, before anything is created."""

from __future__ import annotations

import functools
import json
import math
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Any

import pytest

import kubetune
from kubetune.sdk import PREFIX
from kubetune.tuning import entry
from kubetune.tuning.shipping import UnshippableFunctionError, ship

PARAMS = [
    {"name": "x", "type": "float", "min": 0.0, "max": 1.0},
    {"name": "n", "type": "int", "min": 1, "max": 5},
    {"name": "kind", "type": "categorical", "values": ["a", 7]},
]
SCALE = 2.5
WEIGHTS = {"a": [1, 2], "b": (3.5, None)}


def _square(value: float) -> float:
    return value * value


def with_neighbours(params: dict[str, Any], offset: float = 0.0) -> float:
    """Uses a module (math), a neighbour function, constants, an imported class."""
    table = OrderedDict(w=WEIGHTS["a"][1])
    kubetune.report(step=1, partial=params["x"])
    return SCALE * _square(params["x"]) + math.log(params["n"]) + table["w"] + offset


def run_program(
    function: Any, tmp_path: Path, argv: list[str], **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    program = ship(function, PARAMS, "score", **kwargs)
    program.write(tmp_path)
    return subprocess.run(
        [sys.executable, str(tmp_path / "entry.py"), *argv],
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
    )


def reports(stdout: str) -> list[dict[str, Any]]:
    return [
        json.loads(line[len(PREFIX) :]) for line in stdout.splitlines() if line.startswith(PREFIX)
    ]


def test_a_function_with_its_neighbours_runs_in_a_process_of_its_own(tmp_path: Path) -> None:
    done = run_program(
        with_neighbours, tmp_path, ["--x=0.5", "--n=3", "--kind=7"], args={"offset": 1}
    )
    assert done.returncode == 0, done.stderr
    expected = SCALE * 0.25 + math.log(3) + 2 + 1
    assert reports(done.stdout) == [
        {"step": 1, "metrics": {"partial": 0.5}},
        {"metrics": {"score": pytest.approx(expected)}},
    ]
    source = (tmp_path / "function.py").read_text()
    assert "import math\n" in source and "from collections import OrderedDict\n" in source
    assert "SCALE = 2.5\n" in source and "def _square(" in source
    assert "pytest" not in source, "a module the function never uses was shipped"


def typed_params(params: dict[str, Any]) -> dict[str, float]:
    assert isinstance(params["x"], float) and isinstance(params["n"], int)
    assert params["kind"] == 7 and "missing" not in params
    return {"score": params["x"] + params["n"], "other": 1.0}


def test_flags_come_back_typed_as_the_study_declares_them(tmp_path: Path) -> None:
    done = run_program(typed_params, tmp_path, ["--x=0.25", "--n=2", "--kind=7"])
    assert done.returncode == 0, done.stderr
    assert reports(done.stdout) == [{"metrics": {"score": 2.25, "other": 1.0}}]


def raises(params: dict[str, Any]) -> float:
    raise RuntimeError("diverged at step 3")


def returns_text(params: dict[str, Any]) -> str:
    return "great"


def test_a_function_that_raises_or_returns_garbage_fails_its_trial_saying_why(
    tmp_path: Path,
) -> None:
    done = run_program(raises, tmp_path / "a", ["--x=0.1", "--n=1", "--kind=a"])
    assert done.returncode == 1 and "RuntimeError: diverged at step 3" in done.stderr
    done = run_program(returns_text, tmp_path / "b", ["--x=0.1", "--n=1", "--kind=a"])
    assert done.returncode == 1
    assert "returned 'great'; return a number (the objective 'score')" in done.stderr


def uses_the_fallback_sdk(params: dict[str, Any]) -> None:
    import kubetune  # noqa: PLC0415

    assert kubetune.__file__.endswith("fallback/kubetune/__init__.py"), kubetune.__file__
    kubetune.report(score=params["x"])


def test_an_image_without_kubetune_reports_through_the_shipped_sdk(tmp_path: Path) -> None:
    program = ship(uses_the_fallback_sdk, PARAMS, "score")
    program.write(tmp_path)
    done = subprocess.run(  # -I -S: no PYTHONPATH, no site-packages: kubetune is not importable
        [sys.executable, "-I", "-S", str(tmp_path / "entry.py"), "--x=0.75"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
    )
    assert done.returncode == 0, done.stderr
    assert reports(done.stdout) == [{"metrics": {"score": 0.75}}]


# ----- refusals -------------------------------------------------------------------------------


class Model:
    def fit(self, params: dict[str, Any]) -> float:
        return 0.0


MODEL = Model()
HANDLE = open(__file__)  # noqa: SIM115 - an unshippable global on purpose


def uses_an_object(params: dict[str, Any]) -> float:
    return MODEL.fit(params)


def uses_a_file(params: dict[str, Any]) -> float:
    return float(len(HANDLE.name))


def forgot_an_import(params: dict[str, Any]) -> float:
    return np.mean([params["x"]])  # type: ignore[name-defined]  # noqa: F821


def two_arguments(params: dict[str, Any], data: Any) -> float:
    return 0.0


def make_closure(value: Any) -> Any:
    def inner(params: dict[str, Any]) -> Any:
        return value

    return inner


@pytest.mark.parametrize(
    ("function", "kwargs", "why"),
    [
        (lambda params: 1.0, {}, "a lambda has no source of its own to ship; write it with def"),
        (
            uses_an_object,
            {},
            "it uses the global 'MODEL' (a test_shipping.Model), which cannot travel",
        ),
        (uses_a_file, {}, "it uses the global 'HANDLE' (a _io.TextIOWrapper)"),
        (forgot_an_import, {}, "it uses 'np', which is neither defined nor imported"),
        (two_arguments, {}, "does not fit its signature"),
        (with_neighbours, {"args": {"offset": object()}}, "args= must be JSON"),
        (make_closure(Model()), {}, "it closes over 'value' (a test_shipping.Model)"),
        (functools.partial(with_neighbours, offset=1), {}, "takes a function defined with def"),
        (MODEL.fit, {}, "takes a function defined with def"),
    ],
    ids=[
        "lambda",
        "object",
        "file",
        "missing-import",
        "signature",
        "args",
        "closure",
        "partial",
        "method",
    ],
)
def test_a_function_that_cannot_travel_is_refused_saying_why(
    function: Any, kwargs: dict[str, Any], why: str
) -> None:
    with pytest.raises(UnshippableFunctionError, match="cannot ship") as raised:
        ship(function, PARAMS, "score", **kwargs)
    assert why in str(raised.value)
    assert isinstance(raised.value, ValueError)


def test_a_closure_over_constants_travels_with_them(tmp_path: Path) -> None:
    done = run_program(make_closure(0.125), tmp_path, ["--x=0"])
    assert done.returncode == 0, done.stderr
    assert reports(done.stdout) == [{"metrics": {"score": 0.125}}]


def test_params_come_back_from_flags_and_a_missing_conditional_stays_missing() -> None:
    assert entry.parse_params(["--kind=7", "--x=1e-05"], PARAMS) == {"x": 1e-05, "kind": 7}
    with pytest.raises(SystemExit, match="expected --NAME=VALUE"):
        entry.parse_params(["x=1"], PARAMS)
    with pytest.raises(SystemExit, match="is not one of"):
        entry.parse_params(["--kind=b"], PARAMS)


def test_importing_kubetune_loads_nothing_beyond_the_standard_library() -> None:
    def loaded(code: str) -> set[str]:
        code += (
            "; import sys, json; print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        return set(json.loads(done.stdout))

    at_start = loaded("pass")  # what the interpreter's site hooks load anyway
    with_kubetune = loaded("import kubetune; kubetune.search.float(0, 1)")
    assert with_kubetune - at_start - set(sys.stdlib_module_names) == {"kubetune"}
