"""Train one of three model families on scikit-learn's digits; report cross-validated accuracy.

Used by examples/conditional.yaml: `--model` picks the family, and only that family's flags
are passed (kubetune leaves out an argument whose parameter the trial does not have), so each
flag has a default here that is never used by a trial that lacks it.
"""

import argparse

from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.svm import SVC

import kubetune


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", choices=["svc", "forest", "logreg"], required=True)
    parser.add_argument("--svc-C", type=float, default=1.0)
    parser.add_argument("--svc-gamma", type=float, default=0.01)
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--depth", type=int, default=None)
    parser.add_argument("--logreg-C", type=float, default=1.0)
    args = parser.parse_args()

    features, labels = load_digits(return_X_y=True)
    features = features / 16.0
    if args.model == "svc":
        model = SVC(C=args.svc_C, gamma=args.svc_gamma)
    elif args.model == "forest":
        model = RandomForestClassifier(
            n_estimators=args.trees, max_depth=args.depth, random_state=0, n_jobs=1
        )
    else:
        model = LogisticRegression(C=args.logreg_C, max_iter=300)
    scores = cross_val_score(model, features, labels, cv=3)
    print(f"{args} folds={scores.round(4)}")
    kubetune.report(accuracy=float(scores.mean()))


if __name__ == "__main__":
    main()
