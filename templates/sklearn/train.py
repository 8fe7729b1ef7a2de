"""Train the iris classifier this API serves, and save it to model/.

Runs offline: load_iris() reads the copy of the iris data set that ships inside
scikit-learn. `mlserve init` runs this once when the chosen interpreter can
import scikit-learn; run it again yourself after changing it:

    {{python}} train.py

It writes model/model.joblib (the fitted pipeline plus what the predictor needs
to check its input) and model/metrics.json (held-out accuracy and the versions
used), each replaced atomically so a running API never reads half a file.
"""

import json
import os
import platform
import sys
import time

import joblib
import numpy as np
import sklearn
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_DIR = os.path.join(HERE, "model")
SEED = 0


def write_atomically(path, write):
    tmp = path + ".tmp"
    write(tmp)
    os.replace(tmp, path)


def main():
    data = load_iris()
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.25, random_state=SEED, stratify=data.target
    )

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    started = time.perf_counter()
    model.fit(x_train, y_train)
    fit_seconds = time.perf_counter() - started

    predicted = model.predict(x_test)
    metrics = {
        "dataset": "iris",
        "model": "StandardScaler + LogisticRegression",
        "accuracy": round(float(accuracy_score(y_test, predicted)), 4),
        "f1_macro": round(float(f1_score(y_test, predicted, average="macro")), 4),
        "n_train": int(len(y_train)),
        "n_test": int(len(y_test)),
        "fit_seconds": round(fit_seconds, 4),
        "seed": SEED,
        "python": platform.python_version(),
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
    }
    bundle = {
        "model": model,
        "feature_names": list(data.feature_names),
        "target_names": [str(name) for name in data.target_names],
        "n_features": int(data.data.shape[1]),
        "sklearn_version": sklearn.__version__,
    }

    os.makedirs(MODEL_DIR, exist_ok=True)
    write_atomically(os.path.join(MODEL_DIR, "model.joblib"), lambda p: joblib.dump(bundle, p))

    def write_metrics(p):
        with open(p, "w", encoding="utf-8") as f:
            json.dump(metrics, f, indent=2)
            f.write("\n")

    write_atomically(os.path.join(MODEL_DIR, "metrics.json"), write_metrics)
    print(
        "accuracy %.3f (macro F1 %.3f) on %d held-out samples; wrote model/model.joblib and model/metrics.json"
        % (metrics["accuracy"], metrics["f1_macro"], metrics["n_test"])
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
