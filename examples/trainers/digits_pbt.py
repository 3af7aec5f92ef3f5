"""One segment of population-based training (examples/pbt.yaml): an MLP on digits, trained by
SGD epoch by epoch from where its line's last checkpoint left off, up to --epochs (the step the
segment ends at: ${trial.budget}).

kubetune gives each segment two folders: `$KUBETUNE_RESTORE_DIR`, the checkpoint of the trial
this one continues (unset in a line's first segment), and `$KUBETUNE_CHECKPOINT_DIR`, where
this segment leaves its own. The learning rate and weight decay may have changed since the
checkpoint was written (copied from a stronger member and perturbed): the model continues with
the new ones. Reports count epochs from the start of the line, not of the segment.
"""

import argparse
import os
import pickle
import signal
import sys
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

import kubetune

CHECKPOINT = "model.pkl"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, required=True)
    parser.add_argument("--alpha", type=float, required=True)
    parser.add_argument("--epochs", type=int, required=True, help="the line's step to reach")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    features, labels = load_digits(return_X_y=True)
    train_x, val_x, train_y, val_y = train_test_split(
        features / 16.0, labels, test_size=0.3, random_state=0, stratify=labels
    )
    restore = os.environ.get("KUBETUNE_RESTORE_DIR")
    if restore:  # a checkpoint that cannot be read fails this segment; its member moves on
        with (Path(restore) / CHECKPOINT).open("rb") as file:
            epoch, model = pickle.load(file)
        model.set_params(learning_rate_init=args.lr, alpha=args.alpha)
        model._optimizer.learning_rate = args.lr  # SGD's own copy of the rate
    else:
        epoch = 0
        model = MLPClassifier(
            hidden_layer_sizes=(64,),
            solver="sgd",
            momentum=0.9,
            learning_rate_init=args.lr,
            alpha=args.alpha,
            batch_size=64,
            random_state=0,
        )
    classes = np.unique(labels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        while epoch < args.epochs:
            model.partial_fit(train_x, train_y, classes=classes)
            epoch += 1
            kubetune.report(step=epoch, accuracy=float(model.score(val_x, val_y)))

    folder = Path(os.environ["KUBETUNE_CHECKPOINT_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / (CHECKPOINT + ".partial")
    with partial.open("wb") as file:
        pickle.dump((epoch, model), file)
    partial.replace(folder / CHECKPOINT)  # whole or absent, never half-written


if __name__ == "__main__":
    main()
