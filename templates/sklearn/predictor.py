"""An iris classifier (scikit-learn) served by mlserve's Python harness.

mlserve imports this file and, in each worker process, builds one
PythonPredictor(config) -- `config` is the `predictor.config` mapping in
mlserve.yaml -- then calls predict(payload) for every request, where `payload`
is the parsed JSON body. Whatever predict returns is sent back as JSON.

The model is loaded once per process in __init__ (train.py writes it), and
predict scores a whole batch with one vectorised numpy call:

    {"instances": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}
    -> {"predictions": ["setosa", "virginica"], "probabilities": [0.98, 0.95]}

A single instance works too: {"instance": [5.1, 3.5, 1.4, 0.2]}, a flat
{"instances": [...]} or a bare [...] list; the answer has the same shape, with
lists of length one.

predict_batch serves the gateway's batch endpoint (POST /<endpoint>/batch, a
JSON list of such payloads): the gateway drops duplicate payloads, and the
rest are scored together in one predict_proba call.
"""

import os
import sys

import joblib
import numpy as np
import sklearn

HERE = os.path.dirname(os.path.abspath(__file__))


class PythonPredictor:
    def __init__(self, config):
        config = config or {}
        path = config.get("model_path", "model/model.joblib")
        if not os.path.isabs(path):
            path = os.path.join(HERE, path)
        if not os.path.exists(path):
            raise FileNotFoundError(
                "%s does not exist: train the model first with `python3 train.py` "
                "(under an interpreter that has scikit-learn)" % path
            )
        # joblib files are pickles: load only models you trained yourself.
        bundle = joblib.load(path)
        self.model = bundle["model"]
        self.target_names = np.asarray(bundle["target_names"])
        self.n_features = int(bundle["n_features"])
        self.max_batch = int(config.get("max_batch", 1024))
        if bundle.get("sklearn_version") != sklearn.__version__:
            print(
                "warning: model trained with scikit-learn %s, serving with %s; retrain "
                "(python3 train.py) or pin scikit-learn in requirements.txt"
                % (bundle.get("sklearn_version"), sklearn.__version__),
                file=sys.stderr,
            )
        # One prediction now, so the first request does not pay for lazy setup.
        self.model.predict_proba(np.zeros((1, self.n_features)))

    def predict(self, payload):
        return self._answer(self.model.predict_proba(self._instances(payload)))

    def predict_batch(self, payloads):
        """POST /<endpoint>/batch: the instances of every payload scored in one
        vectorised call, then split back into one answer per payload. A payload
        that is not valid fails alone: its exception is returned in its place."""
        answers = [None] * len(payloads)
        parts = []
        for i, payload in enumerate(payloads):
            try:
                parts.append((i, self._instances(payload)))
            except ValueError as exc:
                answers[i] = exc
        if parts:
            probabilities = self.model.predict_proba(np.concatenate([x for _, x in parts]))
            start = 0
            for i, x in parts:
                answers[i] = self._answer(probabilities[start:start + len(x)])
                start += len(x)
        return answers

    def _answer(self, probabilities):
        best = probabilities.argmax(axis=1)
        return {
            "predictions": self.target_names[best].tolist(),
            "probabilities": probabilities[np.arange(len(best)), best].round(4).tolist(),
        }

    def _instances(self, payload):
        if isinstance(payload, dict):
            if "instances" in payload:
                payload = payload["instances"]
            elif "instance" in payload:
                payload = [payload["instance"]]
            else:
                raise ValueError('expected {"instances": [[...], ...]} or {"instance": [...]}')
        try:
            x = np.asarray(payload, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError("instances must be lists of %d numbers" % self.n_features) from None
        if x.ndim == 1:
            x = x.reshape(1, -1)
        if x.ndim != 2 or x.shape[1] != self.n_features or x.shape[0] == 0:
            raise ValueError(
                "expected instances of %d features each, got an array of shape %s"
                % (self.n_features, list(x.shape))
            )
        if x.shape[0] > self.max_batch:
            raise ValueError("at most %d instances per request, got %d" % (self.max_batch, x.shape[0]))
        if not np.isfinite(x).all():
            raise ValueError("instances must be finite numbers")
        return x
