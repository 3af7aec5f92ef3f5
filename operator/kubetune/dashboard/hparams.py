"""A study in TensorBoard's HParams format: `kubetune export STUDY --tensorboard DIR`.

`tensorboard --logdir DIR` then shows the study in the HParams dashboard (a table, parallel
coordinates and scatter plots of every trial) and each trial's curves in Scalars:
- DIR holds the experiment: its parameters with their domains (a float's interval, an int's,
  a categorical's values) and its metrics (every metric the study tracks, objectives first);
- DIR/TRIAL is one run per trial: its parameters (a conditional one it lacks is left out),
  every value it reported, at its step, under the metric's name, and how it ended.
The HParams dashboard shows a metric's last value in a run, which is what kubetune takes as a
trial's objective. Written with TensorBoard's own summaries and event writer (the optional
extra `kubetune[tensorboard]`; no TensorFlow). The study is read from a snapshot (a results
file or the cluster), so the same export works for both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2
from tensorboard.plugins.hparams import summary_v2 as hparams
from tensorboard.plugins.scalar import metadata as scalar_metadata
from tensorboard.summary.writer.event_file_writer import EventFileWriter
from tensorboard.util import tensor_util

Obj = Mapping[str, Any]


def _domain(parameter: Obj) -> Any:
    kind = parameter["type"]
    if kind == "categorical":
        return hparams.Discrete(list(parameter["values"]))
    if kind == "int":
        return hparams.IntInterval(int(parameter["min"]), int(parameter["max"]))
    return hparams.RealInterval(float(parameter["min"]), float(parameter["max"]))


def _metrics(spec: Obj) -> list[str]:
    goals = spec.get("objectives") or [spec["objective"]]
    names = [g["metric"] for g in goals] + [c["metric"] for c in spec.get("constraints") or []]
    for goal in goals:
        names += goal.get("additionalMetrics") or []
    return list(dict.fromkeys(names))


def _write(folder: Path, events: Sequence[event_pb2.Event]) -> None:
    writer = EventFileWriter(str(folder))
    for event in events:
        writer.add_event(event)
    writer.close()


def export_hparams(study: Obj, trials: Sequence[Obj], out: Path, now: float) -> int:
    """Write the experiment and one run per trial into `out`; returns the runs written."""
    spec = study["spec"]
    domains = {p["name"]: hparams.HParam(p["name"], _domain(p)) for p in spec["parameters"]}
    metrics = [hparams.Metric(name, display_name=name) for name in _metrics(spec)]
    config = hparams.hparams_config_pb(list(domains.values()), metrics, time_created_secs=now)
    out.mkdir(parents=True, exist_ok=True)
    _write(out, [event_pb2.Event(wall_time=now, summary=config)])
    for trial in trials:
        _write(out / trial["metadata"]["name"], _trial_events(trial, domains, now))
    return len(trials)


def _trial_events(trial: Obj, domains: Mapping[str, Any], now: float) -> list[event_pb2.Event]:
    spec, status = trial["spec"], trial.get("status") or {}
    name = trial["metadata"]["name"]
    values = {domains[k]: v for k, v in spec["params"].items() if k in domains}
    started = _seconds(status.get("startTime")) or now
    events = [
        event_pb2.Event(
            wall_time=started,
            summary=hparams.hparams_pb(values, trial_id=name, start_time_secs=started),
        )
    ]
    ended = _seconds(status.get("completionTime"))
    phase = status.get("phase", "Pending")
    for position, report in enumerate(status.get("reports") or [], start=1):
        step = report.get("step")
        for metric, value in report["metrics"].items():
            events.append(
                event_pb2.Event(
                    wall_time=started,
                    step=step if step is not None else position,
                    summary=_scalar(metric, value),
                )
            )
    if ended is not None:
        events.append(event_pb2.Event(wall_time=ended, summary=_session_end(phase, ended)))
    return events


def _scalar(tag: str, value: float) -> summary_pb2.Summary:
    """A scalar of the scalars plugin, kept a double (`scalar_pb` rounds it to float32)."""
    summary = summary_pb2.Summary()
    summary.value.add(
        tag=tag,
        tensor=tensor_util.make_tensor_proto(np.float64(value)),
        metadata=scalar_metadata.create_summary_metadata(display_name=tag, description=""),
    )
    return summary


#: A finished trial's phase as the HParams dashboard's session status (it has no word for
#: "stopped early": such a trial ended as planned, with what it learned).
STATUSES = {
    "Succeeded": api_pb2.STATUS_SUCCESS,
    "EarlyStopped": api_pb2.STATUS_SUCCESS,
    "Failed": api_pb2.STATUS_FAILURE,
    "Killed": api_pb2.STATUS_FAILURE,
}


def _session_end(phase: str, ended: float) -> summary_pb2.Summary:
    """The session's end, as the HParams plugin reads it (TensorBoard's own helper for it
    needs TensorFlow): its status and end time, under the plugin's own tag."""
    info = plugin_data_pb2.SessionEndInfo(
        status=STATUSES.get(phase, api_pb2.STATUS_UNKNOWN), end_time_secs=ended
    )
    content = plugin_data_pb2.HParamsPluginData(
        session_end_info=info, version=metadata.PLUGIN_DATA_VERSION
    )
    value = summary_pb2.Summary.Value(
        tag=metadata.SESSION_END_INFO_TAG, metadata=metadata.create_summary_metadata(content)
    )
    return summary_pb2.Summary(value=[value])


def _seconds(stamp: object) -> float | None:
    if not isinstance(stamp, str):
        return None
    try:
        return datetime.fromisoformat(stamp).timestamp()  # RFC 3339 (3.11 reads the Z)
    except ValueError:
        return None
