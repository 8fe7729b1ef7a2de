"""An iris classifier behind a FastAPI app, served by uvicorn.

mlserve runs this as a `command` predictor (see mlserve.yaml): it starts
uvicorn with PORT, MLSERVE_PYTHON, MLSERVE_PROCESSES, MLSERVE_THREADS and
WEB_CONCURRENCY in the environment. The app must:

- listen on 127.0.0.1:$PORT;
- answer GET /healthz with 200 only once the model is loaded (mlserve sends
  traffic to a replica only after that);
- answer POST /predict.

The model (model/weights.json, a softmax linear model) is loaded once per
uvicorn worker by a startup handler, before the worker accepts requests. It is
plain Python, so the app needs only fastapi and uvicorn. (Startup handlers are
passed as `on_startup`, which works on every FastAPI from Debian bookworm's
0.92 to today's; the `lifespan=` argument needs 0.93 or later and older
versions silently ignore it.)
"""

import asyncio.base_events
import json
import math
import os
import socket
from typing import List, Optional

from fastapi import FastAPI, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel



def _nodelay_for_every_tcp_socket():
    """Turn off Nagle's algorithm on every accepted TCP connection.

    With --workers N above 1, uvicorn binds the listening socket itself and hands
    it to each worker with `proto` 0; asyncio sets TCP_NODELAY only on sockets that
    report IPPROTO_TCP, so each keep-alive response after the first waited about
    40 ms for the client's delayed ACK (uvicorn issue #3149, Linux): p50 44 ms
    instead of 1 ms here, and the CI workflow's --max-p99 200 missed. This widens
    asyncio's check to any TCP stream socket; drop it once your uvicorn binds with
    IPPROTO_TCP.
    """
    original = getattr(asyncio.base_events, "_set_nodelay", None)
    if original is None:  # not CPython's asyncio: nothing to widen
        return

    def set_nodelay(sock):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return
            except OSError:
                pass
        original(sock)

    asyncio.base_events._set_nodelay = set_nodelay


_nodelay_for_every_tcp_socket()

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_PATH = os.environ.get("MODEL_PATH", os.path.join(HERE, "model", "weights.json"))


class SoftmaxModel:
    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            spec = json.load(f)
        self.classes = spec["classes"]
        self.weights = [[float(w) for w in row] for row in spec["weights"]]
        self.bias = [float(b) for b in spec["bias"]]
        self.n_features = len(self.weights[0])

    def predict_one(self, x):
        scores = [sum(w * v for w, v in zip(row, x)) + b for row, b in zip(self.weights, self.bias)]
        top = max(scores)
        exps = [math.exp(s - top) for s in scores]
        best = max(range(len(exps)), key=exps.__getitem__)
        return self.classes[best], exps[best] / sum(exps)


class PredictRequest(BaseModel):
    # A batch: {"instances": [[5.1, 3.5, 1.4, 0.2], ...]}, or one: {"instance": [...]}.
    instances: Optional[List[List[float]]] = None
    instance: Optional[List[float]] = None


def load_model():
    app.state.model = SoftmaxModel(MODEL_PATH)


app = FastAPI(title="{{name}}", on_startup=[load_model])
app.state.model = None


@app.get("/healthz")
async def healthz():
    if app.state.model is None:
        return JSONResponse({"status": "loading"}, status_code=503)
    return {"status": "ok"}


# `async def`: the model is pure Python and takes microseconds, so running it on
# the event loop beats a hop through FastAPI's thread pool (a plain `def`
# endpoint). For a model that holds the CPU for milliseconds or blocks on I/O,
# make this a plain `def` and size the pool with MLSERVE_THREADS.
@app.post("/predict")
async def predict(request: PredictRequest):
    model = app.state.model
    if model is None:
        raise HTTPException(status_code=503, detail="model not loaded yet")
    if request.instances is not None:
        rows = request.instances
    elif request.instance is not None:
        rows = [request.instance]
    else:
        raise HTTPException(status_code=422, detail='expected {"instances": [[...], ...]} or {"instance": [...]}')
    for i, row in enumerate(rows):
        if len(row) != model.n_features:
            raise HTTPException(
                status_code=422,
                detail="instance %d has %d features; expected %d" % (i, len(row), model.n_features),
            )
    results = [model.predict_one(row) for row in rows]
    return {
        "predictions": [label for label, _ in results],
        "probabilities": [round(p, 4) for _, p in results],
    }
