"""Train a small MLP on digits epoch by epoch (`partial_fit`), reporting validation accuracy
after every epoch, so that a stopping rule (asha in examples/early-stopping.yaml) can end
unpromising trials early. Exits cleanly on SIGTERM, as a stopped trial should.
"""

import argparse
import signal
import sys

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

import kubetune


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hidden", type=int, required=True)
    parser.add_argument("--lr", type=float, required=True)
    parser.add_argument("--alpha", type=float, required=True)
    parser.add_argument("--epochs", type=int, required=True)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    features, labels = load_digits(return_X_y=True)
    train_x, val_x, train_y, val_y = train_test_split(
        features / 16.0, labels, test_size=0.3, random_state=0, stratify=labels
    )
    model = MLPClassifier(
        hidden_layer_sizes=(args.hidden,),
        learning_rate_init=args.lr,
        alpha=args.alpha,
        batch_size=64,
        random_state=0,
    )
    classes = np.unique(labels)
    for epoch in range(1, args.epochs + 1):
        model.partial_fit(train_x, train_y, classes=classes)
        kubetune.report(step=epoch, accuracy=float(model.score(val_x, val_y)))


if __name__ == "__main__":
    main()
