"""Train a small MLP on digits epoch by epoch (`partial_fit`), reporting validation accuracy
after every epoch, so that a stopping rule (asha in examples/early-stopping.yaml) can end
unpromising trials early. Exits cleanly on SIGTERM, as a stopped trial should.

With --size (examples/multi-objective.yaml) each report also carries the network's size in
thousands of weights and the validation log-loss, for a study with several objectives and a
constraint.

With --pushgateway (examples/prometheus.yaml) it also pushes each epoch's accuracy to a
Prometheus Pushgateway, as a trainer that already exports Prometheus metrics would; the
operator then reads the metric with a PromQL query instead of from the trainer's output.
"""

import argparse
import signal
import sys
import urllib.request

import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

import kubetune


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hidden", type=int, required=True)
    parser.add_argument("--lr", type=float, required=True)
    parser.add_argument("--alpha", type=float, required=True)
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--pushgateway", help="e.g. http://pushgateway.monitoring:9091")
    parser.add_argument("--trial", help="the trial's name, the series' `trial` label")
    parser.add_argument("--size", action="store_true", help="also report weights_k, log_loss")
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
    curve: dict[int, float] = {}
    for epoch in range(1, args.epochs + 1):
        model.partial_fit(train_x, train_y, classes=classes)
        curve[epoch] = float(model.score(val_x, val_y))
        if args.pushgateway:
            push(args.pushgateway, args.trial or "unknown", curve)
        elif args.size:
            weights = sum(w.size for w in model.coefs_) + sum(b.size for b in model.intercepts_)
            loss = float(log_loss(val_y, model.predict_proba(val_x), labels=classes))
            kubetune.report(
                step=epoch, accuracy=curve[epoch], weights_k=weights / 1000, log_loss=loss
            )
        else:
            kubetune.report(step=epoch, accuracy=curve[epoch])


def push(gateway: str, trial: str, curve: dict[int, float]) -> None:
    """The whole curve so far, one series per epoch (label `step`): a push replaces the
    group's series, and a series missing from a scrape would go stale in Prometheus."""
    body = "".join(f'digits_val_accuracy{{step="{e}"}} {v}\n' for e, v in curve.items())
    url = f"{gateway.rstrip('/')}/metrics/job/digits/trial/{trial}"
    request = urllib.request.Request(url, data=body.encode(), method="PUT")
    urllib.request.urlopen(request, timeout=10).close()


if __name__ == "__main__":
    main()
