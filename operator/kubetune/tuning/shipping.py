"""A Python function turned into a program a trial can run anywhere: its source, what it needs
from its module, and the call's fixed arguments; or the reason it cannot be.

The function travels as source, not as a pickle: a pickle of a notebook's function is only a
reference to `__main__`, which the trial's process does not have, and cloudpickle would tie the
trial's Python to the notebook's. So `ship` reads the function's source and resolves every
global name it uses (its code's LOAD_GLOBAL, nested functions and comprehensions included):

- a module becomes `import x as name`; a function or class importable from a module becomes
  `from module import name` (the trial's image must have that module: `packages=` installs it);
- a function defined beside it (in the same notebook or module) travels as source too,
  checked the same way, and so does a class whose source can be read;
- a constant (numbers, strings, None, and lists, tuples, dicts and sets of them) is written out
  as its literal;
- anything else (a model, a DataFrame, an open file, a lambda) is refused here, before anything
  is created, saying which name and why, and so is a name the module never defined (a
  missing import) and a closure over anything but constants.
"""

from __future__ import annotations

import ast
import builtins
import dis
import inspect
import json
import sys
import textwrap
import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubetune import sdk
from kubetune.tuning import entry


class UnshippableFunctionError(ValueError):
    """The function cannot run in a trial as it is; the message says why and what to change."""


@dataclass
class Program:
    """The files a trial of `tune` runs, by name: `entry.py`, `function.py`, `call.json`, and
    the SDK's copy for images without kubetune (`fallback/kubetune/__init__.py`)."""

    files: dict[str, str]
    #: What pip installs before the function runs.
    packages: list[str] = field(default_factory=list)

    def write(self, folder: Path) -> None:
        for name, text in self.files.items():
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)


def _refuse(function: Callable[..., Any], why: str) -> UnshippableFunctionError:
    name = getattr(function, "__qualname__", repr(function))
    return UnshippableFunctionError(f"cannot ship {name}() to the trials: {why}")


def _global_names(code: types.CodeType) -> Iterator[str]:
    """Every global name the code (and the functions and comprehensions inside it) reads."""
    for instruction in dis.get_instructions(code):
        # A name no source can spell (pytest's `@py_assert...` rewrite) is the tool's, not
        # the function's: the source shipped has none.
        if instruction.opname in ("LOAD_GLOBAL", "LOAD_NAME") and instruction.argval.isidentifier():
            yield str(instruction.argval)
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            yield from _global_names(constant)


def _literal(value: Any) -> str | None:
    """The Python literal that gives `value` back, for a plain constant; else None."""
    plain = (type(None), bool, int, float, str, bytes, list, tuple, dict, set, frozenset)
    if type(value) not in plain or type(value) is frozenset:
        return None
    text = repr(value)
    try:
        same = ast.literal_eval(text) == value
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return text if same and len(text) <= 100_000 else None


def _source(function: types.FunctionType) -> str:
    """The function's own source, dedented, its decorators left out (they ran already here;
    the trial calls the function itself)."""
    try:
        text = textwrap.dedent(inspect.getsource(function))
    except (OSError, TypeError):
        raise _refuse(
            function,
            "its source cannot be read (a function typed at a plain Python prompt has none); "
            "define it in a notebook cell or a file",
        ) from None
    tree = ast.parse(text)
    definition = tree.body[0]
    if not isinstance(definition, ast.FunctionDef | ast.AsyncFunctionDef):
        raise _refuse(function, "its source is not a def statement")
    lines = text.splitlines(keepends=True)
    return "".join(lines[definition.lineno - 1 :])


def _describe(value: Any) -> str:
    kind = type(value)
    return (
        f"a {kind.__module__}.{kind.__qualname__}"
        if kind.__module__ != "builtins"
        else (f"a {kind.__qualname__}")
    )


class _Shipper:
    def __init__(self, root: Callable[..., Any]) -> None:
        self.root = root
        self.imports: dict[str, str] = {}
        self.constants: dict[str, str] = {}
        self.sources: dict[str, str] = {}  # helpers first, the root last

    def add_function(self, function: types.FunctionType) -> None:
        if function.__name__ in self.sources:
            return
        if function.__name__ == "<lambda>":
            raise _refuse(function, "a lambda has no source of its own to ship; write it with def")
        if inspect.iscoroutinefunction(function) or inspect.isgeneratorfunction(function):
            raise _refuse(function, "a trial calls a plain function; this one is async or yields")
        source = _source(function)
        self.sources[function.__name__] = ""  # taken: a helper that calls back does not loop
        self._closure(function)
        for name in dict.fromkeys(_global_names(function.__code__)):
            self._global(function, name)
        self.sources.pop(function.__name__)
        self.sources[function.__name__] = source

    def add_class(self, function: types.FunctionType, name: str, value: type) -> None:
        """A class defined beside the function travels as source; its methods' globals are
        not followed (write what they need inside them, or import the class from a module)."""
        if name in self.sources:
            return
        try:
            source = textwrap.dedent(inspect.getsource(value))
        except (OSError, TypeError):
            raise _refuse(
                function,
                f"it uses the class {name!r}, whose source cannot be read where it was defined "
                "(a notebook's classes have none before Python 3.13); define it inside the "
                "function, or in a module the trial can import (packages=)",
            ) from None
        self.sources[name] = source

    def _closure(self, function: types.FunctionType) -> None:
        for name, cell in zip(
            function.__code__.co_freevars, function.__closure__ or (), strict=True
        ):
            try:
                value = cell.cell_contents
            except ValueError:  # an empty cell: the name is assigned after the def
                raise _refuse(
                    function, f"it closes over {name!r}, which has no value yet"
                ) from None
            literal = _literal(value)
            if literal is None:
                raise _refuse(
                    function,
                    f"it closes over {name!r} ({_describe(value)}), which cannot travel to a "
                    "trial; define the function at the top level of its module or cell and "
                    "build that value inside it, or pass plain data in args=",
                )
            self.constants[name] = literal

    def _global(self, function: types.FunctionType, name: str) -> None:
        scope = function.__globals__
        if name not in scope:
            if hasattr(builtins, name):
                return
            raise _refuse(
                function,
                f"it uses {name!r}, which is neither defined nor imported where the function "
                f"was defined (a missing import?); import or define {name!r} first",
            )
        value = scope[name]
        if isinstance(value, types.ModuleType):
            self._import_module(function, name, value)
        elif isinstance(value, types.FunctionType) and value.__globals__ is scope:
            self.add_function(value)  # its neighbour: travels as source, like the function
        elif (
            inspect.isclass(value)
            and sys.modules.get(value.__module__) is not None
            and (vars(sys.modules[value.__module__]) is scope)
        ):
            self.add_class(function, name, value)
        elif self._importable(value):
            module, qualname = value.__module__, value.__qualname__
            self.imports[name] = f"from {module} import {qualname}" + (
                "" if qualname == name else f" as {name}"
            )
        else:
            literal = _literal(value)
            if literal is None:
                raise _refuse(
                    function,
                    f"it uses the global {name!r} ({_describe(value)}), which cannot travel to "
                    "a trial; build it inside the function, or pass plain data in args=",
                )
            self.constants[name] = literal

    def _import_module(
        self, function: types.FunctionType, name: str, module: types.ModuleType
    ) -> None:
        real = module.__name__
        if real == "__main__" or real not in sys.modules:
            raise _refuse(
                function, f"it uses the module {name!r}, which cannot be imported by name"
            )
        self.imports[name] = f"import {real}" if real == name else f"import {real} as {name}"

    @staticmethod
    def _importable(value: Any) -> bool:
        """A function or class that its module gives back by name (not one of `__main__`'s)."""
        module_name = getattr(value, "__module__", None)
        qualname = getattr(value, "__qualname__", None)
        if not (inspect.isclass(value) or callable(value)) or not module_name or not qualname:
            return False
        if module_name == "__main__" or "<locals>" in qualname or "." in qualname:
            return False
        module = sys.modules.get(module_name)
        return module is not None and getattr(module, qualname, None) is value

    def program(self) -> str:
        parts = [
            f"# The function {self.root.__qualname__}() shipped by kubetune.tune: its source, "
            "and what it uses from its module.\n",
            # Annotations stay text: the names they mention need not travel.
            "from __future__ import annotations\n\n",
            *(f"{line}\n" for line in self.imports.values()),
            *(f"{name} = {text}\n" for name, text in self.constants.items()),
        ]
        for source in self.sources.values():
            parts += ["\n\n", source]
        return "".join(parts)


def _check_signature(function: types.FunctionType, args: Mapping[str, Any]) -> None:
    try:
        inspect.signature(function).bind({}, **args)
    except TypeError as error:
        raise _refuse(
            function,
            f"a trial calls it as {function.__name__}(params"
            + "".join(f", {k}=..." for k in args)
            + f") and that does not fit its signature ({error}); take the trial's parameters "
            "as the first argument",
        ) from None


def ship(
    function: Callable[..., Any],
    parameters: list[dict[str, Any]],
    metric: str,
    args: Mapping[str, Any] | None = None,
    packages: list[str] | None = None,
) -> Program:
    """The program for `function`; raises UnshippableFunctionError before anything exists."""
    if not isinstance(function, types.FunctionType):
        raise UnshippableFunctionError(
            f"cannot ship {function!r} to the trials: tune() takes a function defined with def "
            "(a method, a functools.partial or a callable object has no source of its own)"
        )
    args = dict(args or {})
    _check_signature(function, args)
    try:
        fixed = json.dumps(args)
    except (TypeError, ValueError) as error:
        raise _refuse(
            function, f"args= must be JSON (numbers, strings, lists, dicts): {error}"
        ) from None
    shipper = _Shipper(function)
    shipper.add_function(function)
    program = shipper.program()
    try:
        compile(program, "function.py", "exec", dont_inherit=True)
    except SyntaxError as error:  # pragma: no cover - our own output; say it plainly if so
        raise _refuse(function, f"its shipped source does not compile ({error})") from None
    call = {
        "function": function.__name__,
        "parameters": parameters,
        "args": json.loads(fixed),
        "metric": metric,
        "packages": list(packages or []),
    }
    files = {
        "entry.py": inspect.getsource(entry),
        "function.py": program,
        "call.json": json.dumps(call, indent=2) + "\n",
        "fallback/kubetune/__init__.py": inspect.getsource(sdk),
    }
    return Program(files, call["packages"])
