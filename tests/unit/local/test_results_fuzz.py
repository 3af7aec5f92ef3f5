"""Random truncations and corruptions of a real results file: the loader either continues the
study to its end or refuses the file in one line; it never fails any other way."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from kubetune.local.results import ResultsError
from kubetune.local.tuner import StudyFinishedError, Tuner

from factories import manifest

CASES = 400
STUDY = manifest(
    earlyStopping={"name": "median", "settings": {"minTrials": 2, "startStep": 1}},
    budget={"maxTrials": 8, "parallelism": 2, "maxFailedTrials": 8},
)


def score(params: dict[str, object]) -> float:
    return -abs(float(params["lr"]) - 0.01) - 0.01 * float(params["layers"])  # type: ignore[arg-type]


def play(tuner: Tuner, stop_after: int | None = None) -> None:
    """Run a study the way a notebook does: two trials open at once, several reports each."""
    finished = 0
    while not tuner.finished:
        asked = []
        for _ in range(2):
            try:
                asked.append(tuner.ask())
            except StudyFinishedError:  # maxTrials reached while one is still open
                break
        for trial in asked:
            for step in range(1, 4):
                if tuner.report(trial.name, step, accuracy=score(trial.params) * step / 3):
                    break
            else:
                tuner.tell(trial.name)
            finished += 1
            if stop_after is not None and finished >= stop_after:
                return


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("real") / "results.jsonl"
    tuner = Tuner.from_manifest(STUDY, results=path, clock=lambda: 1000.0)
    play(tuner, stop_after=5)
    tuner.ask()  # one left open, as a killed runner leaves it
    tuner.results.close()
    return path.read_bytes()


def corrupt(data: bytes, rng: random.Random) -> bytes:
    kind = rng.choice(["truncate", "flip", "zeros", "drop-line", "repeat-line", "garbage"])
    lines = data.split(b"\n")
    if kind == "truncate":
        return data[: rng.randrange(len(data))]
    if kind == "flip":
        out = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            out[rng.randrange(len(out))] = rng.randrange(256)
        return bytes(out)
    if kind == "zeros":  # power lost before the last blocks reached the disk
        cut = rng.randrange(len(data))
        return data[:cut] + b"\0" * rng.randint(1, 4096)
    if kind == "drop-line":
        del lines[rng.randrange(len(lines))]
    elif kind == "repeat-line":
        index = rng.randrange(len(lines))
        lines.insert(index, lines[index])
    else:
        lines.insert(rng.randrange(len(lines)), bytes(rng.randrange(256) for _ in range(30)))
    return b"\n".join(lines)


def test_no_corruption_of_a_results_file_fails_other_than_with_a_one_line_refusal(
    original: bytes, tmp_path: Path
) -> None:
    rng = random.Random(17)
    outcomes = {"continued": 0, "refused": 0}
    for case in range(CASES):
        path = tmp_path / f"case-{case}" / "results.jsonl"
        path.parent.mkdir()
        path.write_bytes(corrupt(original, rng))
        try:
            tuner = Tuner.from_results(path, clock=lambda: 1000.0)
        except (ResultsError, ValueError) as error:
            assert "\n" not in str(error).strip() or str(error).startswith("invalid Study")
            outcomes["refused"] += 1
            continue
        play(tuner)
        names = [t.name for t in tuner.trials]
        assert len(names) == len(set(names))
        assert sum(not t.state.active for t in tuner.trials) >= min(8, len(names))
        outcomes["continued"] += 1
    # Both paths are exercised: most corruptions are a crash's tail and are cut off.
    assert outcomes["continued"] > CASES // 4 and outcomes["refused"] > 0, outcomes


def test_a_torn_tail_is_cut_off_before_the_next_write_and_kept_beside_the_file(
    original: bytes, tmp_path: Path
) -> None:
    path = tmp_path / "results.jsonl"
    path.write_bytes(original + b'{"event": "report", "trial": "demo-')
    tuner = Tuner.from_results(path, clock=lambda: 2000.0)
    play(tuner)
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""  # ends with a whole line
    assert all(line.startswith(b'{"') and line.endswith(b"}") for line in lines[:-1])
    [kept] = tmp_path.glob("results.jsonl.torn-*")
    assert kept.read_bytes() == b'{"event": "report", "trial": "demo-'
    assert tuner.results.torn_tail == kept
    again = Tuner.from_results(path)  # and the next session loads it whole
    assert len(again.trials) == 8


def test_a_bad_line_followed_by_good_ones_is_refused_with_its_line_number(
    original: bytes, tmp_path: Path
) -> None:
    lines = original.split(b"\n")
    lines[3] = b"this is not an event"
    path = tmp_path / "results.jsonl"
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(ResultsError, match=r"line 4 is not a results event .* line 5 after it"):
        Tuner.from_results(path)
