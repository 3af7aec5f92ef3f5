"""The lineage view of a pbt study from Trial objects as the operator writes them: each
member's line joined across its segments, exploits as links from the copied checkpoint."""

from __future__ import annotations

from typing import Any

from kubetune.dashboard.lineage import lineage_plot

STUDY = {"spec": {"algorithm": {"name": "pbt"}, "objective": {"metric": "acc"}}}


def trial(
    index: int, member: int, generation: int, values: list[float], parent: str | None = None
) -> dict[str, Any]:
    first = 2 * generation + 1
    lineage = {"member": member, "generation": generation, "changes": {"lr": "copied"}}
    if parent is not None:
        lineage["parent"] = parent
    return {
        "metadata": {"name": f"s-{index}"},
        "spec": {"index": index, "params": {"lr": 0.1}, "lineage": lineage},
        "status": {
            "phase": "Succeeded",
            "reports": [{"step": first + i, "metrics": {"acc": v}} for i, v in enumerate(values)],
        },
    }


def test_each_member_is_one_line_and_an_exploit_links_the_copied_checkpoint() -> None:
    trials = [
        trial(0, 0, 0, [0.5, 0.6]),
        trial(1, 1, 0, [0.1, 0.2]),
        trial(2, 0, 1, [0.7, 0.8], parent="s-0"),
        trial(3, 1, 1, [0.65, 0.75], parent="s-0"),  # member 1 copies member 0
    ]
    view = lineage_plot(STUDY, trials, "acc", maximize=True)
    assert view is not None and view["population"] == 2 and view["segments"] == 4
    zero, one = view["members"]
    # Member 0 continues its own line: its parent's last point, then its steps.
    assert zero["x"] == [1, 2, 2, 3, 4] and zero["y"] == [0.5, 0.6, 0.6, 0.7, 0.8]
    # Member 1 breaks off and goes on from member 0's checkpoint.
    assert one["x"] == [1, 2, None, 3, 4] and one["y"] == [0.1, 0.2, None, 0.65, 0.75]
    assert view["jumps"]["x"] == [2, 3, None] and view["jumps"]["y"] == [0.6, 0.65, None]
    assert view["jumps"]["trial"] == ["s-3", "s-3", None]
    assert view["jumps"]["parent"][:2] == ["s-0", "s-0"]


def test_only_a_pbt_study_has_a_lineage() -> None:
    study = {"spec": {"algorithm": {"name": "tpe"}}}
    assert lineage_plot(study, [trial(0, 0, 0, [0.5])], "acc", maximize=True) is None
