"""A trial that reports only through TensorBoard event files or a metrics file, as `--mode`
says, for the tests of both sources on both shells. score(x) = 1 - (x - 0.3)^2, written at
steps 1..--steps (scaled by step/steps) under the tag `val/score`.

Modes: ok; torn (the last record is written in two pieces, a poll apart); corrupt (a
record's data is damaged on disk); fail-first (the first attempt writes a high score, then
exits 1; the next one writes the real one). --env-out dumps the variables kubetune set.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

from tensorboard.compat.proto import event_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from kubetune.metrics.tfrecord import frame

parser = argparse.ArgumentParser()
parser.add_argument("--x", type=float, required=True)
parser.add_argument("--mode", default="ok")
parser.add_argument("--steps", type=int, default=3)
parser.add_argument("--logdir", default=os.environ.get("KUBETUNE_TENSORBOARD_DIR"))
parser.add_argument("--metrics-file", default=os.environ.get("KUBETUNE_METRICS_FILE"))
parser.add_argument("--env-out")
args = parser.parse_args()

if args.env_out:
    seen = {k: v for k, v in os.environ.items() if k.startswith("KUBETUNE_")}
    Path(args.env_out).write_text(json.dumps({"env": seen, "argv": sys.argv[1:]}))


def event(step: int, value: float) -> event_pb2.Event:
    written = event_pb2.Event(step=step, wall_time=time.time())
    written.summary.value.add(tag="val/score", simple_value=value)
    return written


score = 1 - (args.x - 0.3) ** 2
if args.mode == "fail-first" and os.environ.get("KUBETUNE_ATTEMPT", "1") == "1":
    score, failing = 5.0, True
else:
    failing = False

if args.metrics_file:
    with open(args.metrics_file, "a") as out:
        for step in range(1, args.steps + 1):
            out.write(json.dumps({"step": step, "score": score * step / args.steps}) + "\n")
            out.flush()
elif args.mode in ("torn", "corrupt"):
    path = Path(args.logdir) / f"events.out.tfevents.{int(time.time())}.test"
    records = [frame(event(s, score * s / args.steps).SerializeToString()) for s in (1, 2, 3)]
    with path.open("wb") as out:
        out.write(records[0])
        if args.mode == "corrupt":
            damaged = bytearray(records[1])
            damaged[-6] ^= 0xFF  # in the data: its checksum no longer matches
            out.write(bytes(damaged))
        else:
            out.write(records[1] + records[2][:9])  # the last record's header, torn
            out.flush()
            time.sleep(1.5)  # several polls see it torn
            out.write(records[2][9:])
else:
    writer = EventFileWriter(args.logdir)
    for step in range(1, args.steps + 1):
        writer.add_event(event(step, score * step / args.steps))
        writer.flush()
    writer.close()
sys.exit(1 if failing else 0)
