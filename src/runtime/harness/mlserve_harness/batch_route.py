"""The replica's batch route (POST /predict-batch, which the gateway's batch
endpoint calls with the unique items of a batch): a JSON list of payloads in,
a JSON list of per-item answers out, in the same order.

How the items run, in this order of preference:
- predict_batch(payloads): the predictor's own, one call for every item;
- server-side batching (when configured): through the process's batcher, as
  that many single requests would;
- else one by one with predict, on as many threads as the gateway holds slots
  for this call (X-Mlserve-Slots, at most threads_per_process): the
  calling thread and helpers from a pool of the process's, so the predictor
  never runs on more threads at once than the replica's slots.

An item that fails (its predict raised) fails alone; predict_batch raising,
or returning something other than one result per item, fails the whole batch
(one 500 answer for the call)."""

import base64
import json
import threading
from concurrent.futures import ThreadPoolExecutor

from .payloads import CT_JSON, CT_TEXT, encode_json, encode_result, error_body

MODE_HEADER = b"X-Mlserve-Batch-Mode: %s\r\n"


class BatchRoute:
    def __init__(self, report_exception, invoke, batch_invoker, post_invoker, batcher, threads):
        self.report_exception = report_exception
        self.invoke = invoke
        self.batch_invoker = batch_invoker
        self.post = post_invoker
        self.batcher = batcher
        self.threads = threads
        self.pool = None
        self.pool_lock = threading.Lock()
        if batch_invoker is not None:
            self.mode = b"predict_batch"
        elif batcher is not None:
            self.mode = b"server_side_batching"
        else:
            self.mode = b"each"

    def answer(self, headers, body, query):
        """(status, Content-Type line, body, extra header lines) for one batch call."""
        extra = MODE_HEADER % self.mode
        try:
            payloads = json.loads(body) if body else None
        except ValueError as exc:
            return 400, CT_JSON, error_body("invalid JSON body: %s" % exc), extra
        if not isinstance(payloads, list):
            return 400, CT_JSON, error_body("a batch body must be a JSON list of payloads"), extra
        if self.batch_invoker is not None:
            try:
                results = self.invoke(self.batch_invoker, payloads, headers, query)
                results = _one_per_item(results, len(payloads), "predict_batch")
            except BaseException as exc:  # noqa: BLE001 - the whole batch fails; the process keeps serving
                error_id = self.report_exception(exc, "a batch of %d (predict_batch)" % len(payloads))
                return 500, CT_JSON, error_body("%s: %s" % (type(exc).__name__, exc), error_id), extra
            answers = [self._item(result) for result in results]
        elif self.post is None:
            return 405, CT_JSON, error_body("the predictor has no POST method for a batch"), extra
        elif self.batcher is not None:
            answers = []
            for item in self.batcher.submit_many(payloads):
                if item.error is not None:
                    exc, error_id = item.error
                    answers.append(_failed(exc, error_id))
                else:
                    answers.append(self._item(item.result))
        else:
            answers = self._each(payloads, headers, query)
        return 200, CT_JSON, b"[" + b",".join(answers) + b"]", extra

    def _each(self, payloads, headers, query):
        answers = [None] * len(payloads)
        indexes = iter(range(len(payloads)))
        lock = threading.Lock()

        def work():
            while True:
                with lock:
                    i = next(indexes, None)
                if i is None:
                    return
                try:
                    result = self.invoke(self.post, payloads[i], headers, query)
                except BaseException as exc:  # noqa: BLE001 - this item fails alone
                    answers[i] = _failed(exc, self.report_exception(exc, "item %d of a batch" % i))
                    continue
                answers[i] = self._item(result)

        granted = _int_header(headers.get(b"x-mlserve-slots"), 1)
        helpers = min(granted, self.threads, len(payloads)) - 1
        futures = [self._pool().submit(work) for _ in range(helpers)] if helpers > 0 else []
        work()
        for future in futures:
            future.result()
        return answers

    def _pool(self):
        with self.pool_lock:
            if self.pool is None:
                self.pool = ThreadPoolExecutor(max_workers=max(1, self.threads - 1), thread_name_prefix="mlserve-batch")
            return self.pool

    def _item(self, result):
        if isinstance(result, BaseException):
            # predict_batch may mark one item as failed by returning its exception.
            return _failed(result, self.report_exception(result, "an item of predict_batch"))
        status, ctype, out = encode_result(result, self.report_exception)
        if ctype is CT_JSON:
            return b'{"status":%d,"body":%s}' % (status, out)
        if ctype is CT_TEXT:
            return b'{"status":%d,"body":%s,"content_type":"text/plain; charset=utf-8"}' % (status, encode_json(out.decode("utf-8")).encode())
        content_type = ctype.decode("latin-1").partition(":")[2].strip()
        if content_type.split(";", 1)[0].strip().lower() == "application/json" and _is_json(out):
            return b'{"status":%d,"body":%s}' % (status, out)
        return encode_json({"status": status, "body": base64.b64encode(out).decode("ascii"), "encoding": "base64",
                            "content_type": content_type}).encode()


def _failed(exc, error_id):
    return encode_json({"status": 500, "error": "%s: %s" % (type(exc).__name__, exc), "error_id": error_id}).encode()


def _one_per_item(results, n, what):
    if not isinstance(results, (list, tuple)):
        if hasattr(results, "__len__") and hasattr(results, "__getitem__"):
            results = list(results)
        else:
            raise TypeError("%s returned %s; it must return a list with one result per payload" % (what, type(results).__name__))
    if len(results) != n:
        raise ValueError("%s returned %d results for %d payloads" % (what, len(results), n))
    return results


def _is_json(data):
    try:
        json.loads(data)
    except ValueError:
        return False
    return True


def _int_header(value, default):
    if value is None or not value.isdigit():
        return default
    return int(value)
