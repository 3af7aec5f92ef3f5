"""Train an SVC on scikit-learn's bundled digits and report its cross-validated accuracy.

Used by examples/quickstart.yaml; runs as a local process under `kubetune run` and, unchanged,
in the trainer image on a cluster.
"""

import argparse

from sklearn.datasets import load_digits
from sklearn.model_selection import cross_val_score
from sklearn.svm import SVC

import kubetune


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--C", type=float, required=True)
    parser.add_argument("--gamma", type=float, required=True)
    parser.add_argument("--kernel", default="rbf")
    args = parser.parse_args()

    features, labels = load_digits(return_X_y=True)
    features = features / 16.0
    model = SVC(C=args.C, gamma=args.gamma, kernel=args.kernel)
    scores = cross_val_score(model, features, labels, cv=3)
    print(f"C={args.C:.4g} gamma={args.gamma:.4g} kernel={args.kernel} folds={scores.round(4)}")
    kubetune.report(accuracy=float(scores.mean()))


if __name__ == "__main__":
    main()
