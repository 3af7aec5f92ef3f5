"""A trainer that writes its metrics to a file, one JSON object per line, as Katib's File
collector reads them: a linear model on digits trained by stochastic gradient descent, one
line per epoch (`{"step": 3, "accuracy": 0.93, "loss": 0.21}`). examples/metrics-file.yaml
reads the file (spec.metrics.file) from KUBETUNE_METRICS_FILE, which kubetune sets on both
shells. It prints nothing kubetune reads.
"""

import argparse
import json
import os
import signal
import sys

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alpha", type=float, required=True)
    parser.add_argument("--eta0", type=float, required=True)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--metrics-file", default=os.environ.get("KUBETUNE_METRICS_FILE"))
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    features, labels = load_digits(return_X_y=True)
    train_x, val_x, train_y, val_y = train_test_split(
        features / 16.0, labels, test_size=0.3, random_state=0, stratify=labels
    )
    model = SGDClassifier(
        loss="log_loss",
        alpha=args.alpha,
        learning_rate="constant",
        eta0=args.eta0,
        random_state=0,
    )
    classes = np.unique(labels)
    with open(args.metrics_file, "a", encoding="utf-8") as out:
        for epoch in range(1, args.epochs + 1):
            model.partial_fit(train_x, train_y, classes=classes)
            accuracy = float(model.score(val_x, val_y))
            loss = float(log_loss(val_y, model.predict_proba(val_x), labels=classes))
            out.write(json.dumps({"step": epoch, "accuracy": accuracy, "loss": loss}) + "\n")
            out.flush()
            print(f"epoch {epoch}: accuracy {accuracy:.4f}")


if __name__ == "__main__":
    main()
