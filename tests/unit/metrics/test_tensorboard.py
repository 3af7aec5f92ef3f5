"""Our TensorBoard event reader against event files written by TensorBoard's own writer (the
one PyTorch's SummaryWriter wraps), in both scalar shapes, and against tensorboardX."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from tensorboard.backend.event_processing.plugin_event_accumulator import EventAccumulator
from tensorboard.compat.proto import event_pb2, tensor_pb2
from tensorboard.compat.tensorflow_stub import pywrap_tensorflow
from tensorboard.plugins.scalar.summary_v2 import scalar_pb
from tensorboard.summary.writer.event_file_writer import EventFileWriter
from tensorboard.util import tensor_util
from tensorboardX import SummaryWriter

from kubetune.engine import Report
from kubetune.metrics import tfrecord
from kubetune.metrics.event_proto import decode_event
from kubetune.metrics.tensorboard import EventDirFollower


def simple(tag: str, value: float, step: int) -> event_pb2.Event:
    """A scalar as PyTorch's SummaryWriter writes it: `simple_value`."""
    event = event_pb2.Event(step=step, wall_time=1.0)
    event.summary.value.add(tag=tag, simple_value=value)
    return event


def tensor(tag: str, value: float, step: int) -> event_pb2.Event:
    """A scalar as TF2 and Keras write it: a tensor summary of the scalars plugin (the
    plugin named with every value here; TF names it with the first only)."""
    event = event_pb2.Event(step=step, wall_time=1.0)
    event.summary.CopyFrom(scalar_pb(tag, np.float32(value)))
    return event


def write(folder: Path, events: list[event_pb2.Event], suffix: str = "") -> Path:
    writer = EventFileWriter(str(folder), filename_suffix=suffix)
    for event in events:
        writer.add_event(event)
    writer.close()
    return Path(writer.get_logdir())


def test_both_scalar_shapes_read_as_tensorboard_itself_reads_them(tmp_path: Path) -> None:
    events = []
    for step in range(1, 6):
        events += [simple("accuracy", step / 10, step), tensor("loss", 1 - step / 10, step)]
    write(tmp_path, events)
    polled = EventDirFollower(tmp_path, {}, ["accuracy", "loss"]).poll()
    assert polled.error is None
    assert [r.step for r in polled.reports] == [1, 2, 3, 4, 5]
    theirs = EventAccumulator(str(tmp_path))
    theirs.Reload()
    for metric in ("accuracy", "loss"):
        ours = [(r.step, r.metrics[metric]) for r in polled.reports]
        expected = [
            (t.step, float(tensor_util.make_ndarray(t.tensor_proto)))
            for t in theirs.Tensors(metric)
        ]
        assert [s for s, _ in ours] == [s for s, _ in expected]
        assert np.allclose([v for _, v in ours], [v for _, v in expected], rtol=1e-7)
    assert polled.reports[0].metrics == {"accuracy": 0.1, "loss": 0.9}  # float32's shortest


def test_tf2_names_the_plugin_once_and_its_later_values_still_count(tmp_path: Path) -> None:
    first = tensor("loss", 0.5, 1)
    later = event_pb2.Event(step=2)
    content = tensor_pb2.TensorProto(dtype=1, tensor_content=struct.pack("<f", 0.25))
    later.summary.value.add(tag="loss", tensor=content)  # no metadata: the tag's plugin is known
    double = event_pb2.Event(step=3)
    value = double.summary.value.add(
        tag="loss", tensor=tensor_pb2.TensorProto(dtype=2, double_val=[0.125])
    )
    value.metadata.plugin_data.plugin_name = "scalars"
    write(tmp_path, [first, later, double])
    reports = EventDirFollower(tmp_path, {}, ["loss"]).poll().reports
    assert reports == (
        Report(1, {"loss": 0.5}),
        Report(2, {"loss": 0.25}),
        Report(3, {"loss": 0.125}),
    )


def test_tensors_of_other_plugins_and_images_are_skipped(tmp_path: Path) -> None:
    histogram = event_pb2.Event(step=1)
    value = histogram.summary.value.add(tag="loss", tensor=tensor_pb2.TensorProto(dtype=1))
    value.metadata.plugin_data.plugin_name = "histograms"
    write(tmp_path, [histogram, simple("loss", 0.5, 1)])
    assert EventDirFollower(tmp_path, {}, ["loss"]).poll().reports == (Report(1, {"loss": 0.5}),)


def test_tensorboardx_event_files_in_subfolders_are_named_by_their_run(tmp_path: Path) -> None:
    for run, offset in (("train", 0.0), ("validation", 0.5)):
        writer = SummaryWriter(str(tmp_path / run))
        for step in range(3):
            writer.add_scalar("epoch_accuracy", offset + step / 10, step)
        writer.close()
    tags = {"val_accuracy": "validation/epoch_accuracy", "accuracy": "train/epoch_accuracy"}
    reports = EventDirFollower(tmp_path, tags, list(tags)).poll().reports
    assert [r.metrics.get("val_accuracy") for r in reports if "val_accuracy" in r.metrics] == [
        0.5,
        0.6,
        0.7,
    ]
    assert [r.metrics["accuracy"] for r in reports if "accuracy" in r.metrics] == [0.0, 0.1, 0.2]


def test_a_plain_tag_written_in_two_runs_fails_asking_for_the_run(tmp_path: Path) -> None:
    write(tmp_path / "train", [simple("epoch_accuracy", 0.1, 1)])
    write(tmp_path / "validation", [simple("epoch_accuracy", 0.2, 1)])
    polled = EventDirFollower(tmp_path, {"accuracy": "epoch_accuracy"}, ["accuracy"]).poll()
    assert polled.error is not None
    assert "written in two runs" in polled.error
    assert "accuracy: validation/epoch_accuracy" in polled.error


def test_a_restarted_trainers_files_are_read_in_the_order_they_were_written(
    tmp_path: Path,
) -> None:
    second = tmp_path / "events.out.tfevents.1700000200.host.2.0"
    first = tmp_path / "events.out.tfevents.1700000100.host.1.0"
    # written out of name order: the timestamp, not the host or pid, says which came first
    second.write_bytes(tfrecord.frame(simple("loss", 0.2, 2).SerializeToString()))
    first.write_bytes(tfrecord.frame(simple("loss", 0.9, 1).SerializeToString()))
    reports = EventDirFollower(tmp_path, {}, ["loss"]).poll().reports
    assert reports == (Report(1, {"loss": 0.9}), Report(2, {"loss": 0.2}))


def test_a_record_still_being_written_is_read_once_it_is_whole(tmp_path: Path) -> None:
    path = tmp_path / "events.out.tfevents.1.host"
    records = [
        tfrecord.frame(simple("loss", v, s).SerializeToString()) for s, v in [(1, 0.5), (2, 0.25)]
    ]
    follower = EventDirFollower(tmp_path, {}, ["loss"])
    path.write_bytes(records[0] + records[1][:7])  # the second one's header, torn
    assert follower.poll().reports == (Report(1, {"loss": 0.5}),)
    with path.open("ab") as out:
        out.write(records[1][7:20])
    assert follower.poll().reports == ()  # its payload still short
    with path.open("ab") as out:
        out.write(records[1][20:])
    assert follower.poll().reports == (Report(2, {"loss": 0.25}),)
    assert follower.poll(final=True).reports == ()


@pytest.mark.parametrize(
    ("where", "why"), [(3, "the length's checksum"), (20, "the data's checksum")]
)
def test_a_corrupt_record_fails_naming_the_file_and_byte_offset(
    tmp_path: Path, where: int, why: str
) -> None:
    good = tfrecord.frame(simple("loss", 0.5, 1).SerializeToString())
    bad = bytearray(tfrecord.frame(simple("loss", 0.25, 2).SerializeToString()))
    bad[where] ^= 0xFF
    (tmp_path / "events.out.tfevents.1.host").write_bytes(good + bytes(bad) + good)
    follower = EventDirFollower(tmp_path, {}, ["loss"])
    polled = follower.poll()
    assert polled.reports == (Report(1, {"loss": 0.5}),)  # what came before it counts
    assert polled.error == (
        f"TensorBoard event file events.out.tfevents.1.host: corrupt record at byte {len(good)} "
        f"({why} does not match)"
    )
    assert follower.poll(final=True) == type(polled)()  # nothing more is read


def test_a_nan_of_a_studied_metric_fails_the_trial_and_others_are_ignored(tmp_path: Path) -> None:
    write(tmp_path, [simple("grad_norm", float("nan"), 1), simple("loss", float("nan"), 2)])
    polled = EventDirFollower(tmp_path, {}, ["loss"]).poll()
    assert polled.error is not None and "metric 'loss'" in polled.error and "NaN" in polled.error


def test_no_folder_yet_is_nothing_to_read(tmp_path: Path) -> None:
    assert EventDirFollower(tmp_path / "later", {}, ["loss"]).poll().reports == ()


def test_decode_event_leaves_a_zero_step_as_zero() -> None:
    event = decode_event(simple("loss", 1.5, 0).SerializeToString(), {})
    assert event.step == 0 and event.scalars[0].value == 1.5


def test_our_crc_agrees_with_tensorboards() -> None:
    for data in (b"", b"a", b"hello world", bytes(range(256)) * 3):
        assert tfrecord.masked_crc32c(data) == pywrap_tensorflow.masked_crc32c(data)
