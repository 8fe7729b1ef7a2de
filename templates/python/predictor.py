"""A keyword sentiment scorer served by mlserve's Python harness.

mlserve imports this file and, in each worker process, builds one
PythonPredictor(config) -- `config` is the `predictor.config` mapping in
mlserve.yaml -- then calls predict(payload) for every request, where `payload`
is the parsed JSON body. Whatever predict returns is sent back as JSON.

The "model" is model/weights.json: word weights, negations and intensifiers,
combined into a logistic score. It uses only the standard library, so any
python3 runs it. Swap in your own model: load it once in __init__ (never per
request), and keep predict free of shared mutable state if you raise
threads_per_process above 1.
"""

import json
import math
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?")


class PythonPredictor:
    def __init__(self, config):
        config = config or {}
        path = config.get("model_path", "model/weights.json")
        if not os.path.isabs(path):
            path = os.path.join(HERE, path)
        with open(path, encoding="utf-8") as f:
            model = json.load(f)
        self.labels = model["labels"]
        self.bias = float(model["bias"])
        self.weights = {word: float(w) for word, w in model["weights"].items()}
        self.negations = frozenset(model["negations"])
        self.negation_window = int(model.get("negation_window", 3))
        self.intensifiers = {word: float(f) for word, f in model["intensifiers"].items()}
        self.threshold = float(config.get("threshold", 0.5))

    def predict(self, payload):
        # {"text": "..."} -> one prediction; {"texts": [...]} -> {"predictions": [...]}.
        if isinstance(payload, dict) and isinstance(payload.get("texts"), list):
            return {"predictions": [self._score(text) for text in payload["texts"]]}
        if isinstance(payload, dict) and "text" in payload:
            return self._score(payload["text"])
        if isinstance(payload, str):
            return self._score(payload)
        raise ValueError('expected a JSON body {"text": "..."} or {"texts": ["...", ...]}')

    def _score(self, text):
        if not isinstance(text, str):
            raise ValueError("each text must be a string, got %s" % type(text).__name__)
        z = self.bias
        negated_for = 0
        boost = 1.0
        matched = []
        for token in TOKEN.findall(text.lower()):
            if token in self.negations:
                negated_for = self.negation_window
                continue
            if token in self.intensifiers:
                boost *= self.intensifiers[token]
                continue
            weight = self.weights.get(token)
            if weight is not None:
                if negated_for > 0:
                    weight = -0.8 * weight
                z += boost * weight
                matched.append(token)
            boost = 1.0
            negated_for = max(0, negated_for - 1)
        probability = 1.0 / (1.0 + math.exp(-z))
        label = self.labels[1] if probability >= self.threshold else self.labels[0]
        return {"label": label, "score": round(probability, 4), "matched": matched}
