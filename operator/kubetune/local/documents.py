"""Manifest bytes to YAML documents, refusing what kubectl refuses and what would hurt us.

Why not plain `yaml.safe_load`: it decodes only UTF-8 (other encodings fail with a traceback
deep in the reader), keeps the last of two duplicate keys in silence (kubectl refuses the
file), and shares aliased nodes, so a few hundred bytes of nested aliases (a "billion laughs")
load in a blink and then expand to gigabytes when anything walks the result. Here the
composed node graph is measured before anything is built from it. Pure: bytes in, Python
values or a `ManifestError` out, one line naming the place and the fix.
"""

from __future__ import annotations

from typing import Any

import yaml

#: Bigger than any Study anyone writes; Kubernetes refuses objects over ~1.5 MiB anyway.
MAX_BYTES = 3 * 1024 * 1024
#: Values (scalars, lists, maps) a file may expand to once its aliases are followed.
MAX_VALUES = 100_000
#: Nesting deeper than this is no manifest (PyYAML's composer recurses per level).
MAX_DEPTH = 100


class ManifestError(ValueError):
    """A file that is not a readable manifest; the message is one line."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key written twice in one mapping, as kubectl does."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *base`: its keys may be overridden, as YAML means them to
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key: the base class names that error
                break
            if duplicate:
                mark = key_node.start_mark
                raise ManifestError(
                    f"line {mark.line + 1}: key {key!r} is written twice in one mapping; "
                    "keep one (kubectl refuses the file too)"
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse_documents(data: bytes, source: str) -> list[Any]:
    """Every non-empty YAML document in `data`, or ManifestError naming what is wrong."""
    if len(data) > MAX_BYTES:
        raise ManifestError(f"{source}: {len(data)} bytes; a manifest is at most {MAX_BYTES} bytes")
    text = _decode(data, source)
    _check_flow_depth(text, source)
    loader = None
    try:
        loader = _UniqueKeyLoader(text)  # the reader checks every character here
        documents = []
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            _measure(node, source)
            value = loader.construct_document(node)
            if value is not None:
                documents.append(value)
        return documents
    except ManifestError as error:
        message = str(error)
        raise ManifestError(
            message if message.startswith(source) else f"{source}: {message}"
        ) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        what = error.problem or error.context or "invalid YAML"
        raise ManifestError(f"{source}{where}: not valid YAML: {what}") from None
    except yaml.YAMLError as error:
        raise ManifestError(f"{source}: not valid YAML: {error}".splitlines()[0]) from None
    except RecursionError:
        raise ManifestError(
            f"{source}: nested too deeply to be a manifest (over {MAX_DEPTH} levels)"
        ) from None
    finally:
        if loader is not None:
            loader.dispose()


def _decode(data: bytes, source: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(data) > 1 and b"\x00" in data[:2]):
        raise ManifestError(f"{source}: looks like UTF-16; save it as UTF-8")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ManifestError(
            f"{source}: not UTF-8 text (byte 0x{data[error.start]:02x} at offset "
            f"{error.start}); save it as UTF-8"
        ) from None


def _check_flow_depth(text: str, source: str) -> None:
    """PyYAML recurses once per level and its scanner slows with depth (5,000 levels of `[`
    cost 1.8 s before a RecursionError). A bracket count (quotes ignored, so it can only
    overcount) refuses such a file at once, with a message saying why."""
    depth = deepest = 0
    for char in text:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth = max(0, depth - 1)
    if deepest > MAX_DEPTH:
        raise ManifestError(f"{source}: nested more than {MAX_DEPTH} levels deep")


def _measure(root: yaml.Node, source: str) -> None:
    """Count the values the document expands to, aliases followed, without expanding it."""
    sizes: dict[int, int] = {}
    in_progress: set[int] = set()

    def size(node: yaml.Node, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise ManifestError(
                f"line {node.start_mark.line + 1}: nested more than {MAX_DEPTH} levels deep"
            )
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in in_progress:
            raise ManifestError(
                f"line {node.start_mark.line + 1}: an alias refers to a value that holds it"
            )
        in_progress.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(child, depth + 1) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k, depth + 1) + size(v, depth + 1) for k, v in node.value)
        in_progress.discard(key)
        sizes[key] = total
        if total > MAX_VALUES:
            raise ManifestError(
                f"its aliases expand to more than {MAX_VALUES} values (an alias bomb?); "
                "write the values out or use fewer aliases"
            )
        return total

    size(root, 0)
