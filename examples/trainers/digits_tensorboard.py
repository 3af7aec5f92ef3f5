"""A trainer that logs to TensorBoard and never prints a report: a small MLP on digits, trained
epoch by epoch, writing `train/loss` and `val/accuracy` scalars into the folder kubetune names
in KUBETUNE_TENSORBOARD_DIR. examples/tensorboard.yaml reads them (spec.metrics.tensorboard)
and stops weak trials at asha's rungs from those scalars' steps.

The writer is PyTorch's SummaryWriter when torch is installed; otherwise TensorBoard's own
event writer, the one SummaryWriter wraps (`pip install tensorboard`). Either way the files
are what `tensorboard --logdir` shows. It flushes every epoch: a SummaryWriter left to
itself flushes every two minutes, and a stopping rule can only act on what is on disk.
"""

import argparse
import os
import signal
import sys
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier


class EventWriter:
    """add_scalar/flush/close as SummaryWriter has them, on TensorBoard's own writer."""

    def __init__(self, logdir: str) -> None:
        # Imported here: with torch installed, this writer is never made.
        from tensorboard.compat.proto import event_pb2  # noqa: PLC0415
        from tensorboard.summary.writer.event_file_writer import EventFileWriter  # noqa: PLC0415

        self.event = event_pb2.Event
        self.writer = EventFileWriter(logdir)

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        event = self.event(step=step, wall_time=time.time())
        event.summary.value.add(tag=tag, simple_value=value)
        self.writer.add_event(event)

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def summary_writer(logdir: str):  # type: ignore[no-untyped-def]
    try:
        from torch.utils.tensorboard import SummaryWriter  # noqa: PLC0415 (torch is optional)
    except ImportError:
        return EventWriter(logdir)
    return SummaryWriter(logdir)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hidden", type=int, required=True)
    parser.add_argument("--lr", type=float, required=True)
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--logdir", default=os.environ.get("KUBETUNE_TENSORBOARD_DIR", "runs"))
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    features, labels = load_digits(return_X_y=True)
    train_x, val_x, train_y, val_y = train_test_split(
        features / 16.0, labels, test_size=0.3, random_state=0, stratify=labels
    )
    model = MLPClassifier(
        hidden_layer_sizes=(args.hidden,),
        learning_rate_init=args.lr,
        batch_size=64,
        random_state=0,
    )
    classes = np.unique(labels)
    writer = summary_writer(args.logdir)
    for epoch in range(1, args.epochs + 1):
        model.partial_fit(train_x, train_y, classes=classes)
        loss = float(log_loss(train_y, model.predict_proba(train_x), labels=classes))
        writer.add_scalar("train/loss", loss, epoch)
        writer.add_scalar("val/accuracy", float(model.score(val_x, val_y)), epoch)
        writer.flush()
        print(f"epoch {epoch}: written to {args.logdir}")
    writer.close()


if __name__ == "__main__":
    main()
