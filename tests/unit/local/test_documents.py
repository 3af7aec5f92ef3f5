"""Manifest files that are not readable Studies are refused in one line, quickly and cheaply:
encodings, duplicate keys, alias bombs, deep nesting, sheer size."""

from __future__ import annotations

import tracemalloc

import pytest
import yaml

from kubetune.local.documents import ManifestError, parse_documents

from factories import manifest

GOOD = yaml.safe_dump(manifest()).encode()


def bomb(levels: int) -> bytes:
    """The "billion laughs": each level a list of ten aliases of the level below."""
    lines = ['a0: &a0 ["lol"]']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    return ("\n".join(lines) + "\n").encode()


BAD_FILES = [
    ("utf-16", GOOD.decode().encode("utf-16"), "looks like UTF-16; save it as UTF-8"),
    ("latin-1", "name: caf\xe9\n".encode("latin-1"), "not UTF-8 text (byte 0xe9 at offset 9)"),
    ("binary", bytes(range(256)) * 4, "UTF-16"),  # \x00\x01 opens it
    ("binary-no-nul", b"\x89PNG\r\n\x1a\n" + bytes(range(1, 256)), "not UTF-8 text"),
    ("duplicate-key", b"kind: Study\nkind: Study\n", "line 2: key 'kind' is written twice"),
    ("small-alias-bomb", bomb(5), "aliases expand to more than 100000 values"),
    ("alias-bomb", bomb(9), "aliases expand to more than 100000 values"),
    ("deep-nesting", b"[" * 5000 + b"]" * 5000, "nested"),
    ("deep-mapping", b"".join(b"  " * i + b"k:\n" for i in range(200)), "nested"),
    ("too-big", b"# " + b"x" * (4 * 1024 * 1024), "a manifest is at most"),
    ("bad-yaml", b"kind: Study\n  spec: [\n", "study.yaml:"),
    ("nul-in-text", b"kind: Study\nmetadata: {name: \x00}\n", "not valid YAML"),
]


@pytest.mark.parametrize(
    ("data", "words"), [c[1:] for c in BAD_FILES], ids=[c[0] for c in BAD_FILES]
)
def test_an_unreadable_manifest_is_refused_in_one_line_with_little_memory(
    data: bytes, words: str
) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(ManifestError) as refused:
            parse_documents(data, "study.yaml")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(refused.value)
    assert words in message and message.startswith("study.yaml")
    assert "\n" not in message
    assert peak < 200 * 1024 * 1024, f"peak {peak / 2**20:.0f} MiB"


def test_a_good_manifest_and_harmless_aliases_still_load() -> None:
    [document] = parse_documents(GOOD, "study.yaml")
    assert document == manifest()
    shared = b"base: &b {x: 1}\none: *b\ntwo:\n  <<: *b\n  y: 2\n"
    [aliased] = parse_documents(shared, "s.yaml")
    assert aliased["two"] == {"x": 1, "y": 2}
    assert parse_documents(b"\xef\xbb\xbfkind: Study\n", "bom.yaml") == [{"kind": "Study"}]
