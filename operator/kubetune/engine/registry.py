"""The engine's side of the algorithm registries in `kubetune.api.algorithms`: each entry's
factory, imported on first use. The names come from there alone, so a Study's accepted
names, the CRD's enum and what the engine can build cannot disagree."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Any, Generic, TypeVar

from kubetune.api.algorithms import Registry

F = TypeVar("F")


class Factories(Mapping[str, F], Generic[F]):
    def __init__(self, registry: Registry[Any]) -> None:
        self._entries = {entry.name: entry for entry in registry.entries}

    def __getitem__(self, name: str) -> F:
        module, _, function = self._entries[name].factory.partition(":")
        factory: F = getattr(importlib.import_module(module), function)
        return factory

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)
