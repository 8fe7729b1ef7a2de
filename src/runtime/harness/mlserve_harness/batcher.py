"""Cortex server-side batching: one predict call for up to max_batch_size
requests, or for those that arrived within batch_interval."""

import threading
import time


class _BatchItem:
    __slots__ = ("payload", "arrived", "event", "result", "error")

    def __init__(self, payload):
        self.payload = payload
        self.arrived = time.monotonic()
        self.event = threading.Event()
        self.result = None
        self.error = None


class Batcher:
    """Cortex server-side batching for one process: one predict call per batch."""

    def __init__(self, report_exception, invoker, max_size, interval_s):
        self.report_exception = report_exception
        self.fn = invoker.fn
        self.max_size = max_size
        self.interval_s = interval_s
        self.cond = threading.Condition()
        self.queue = []
        thread = threading.Thread(target=self._run, name="mlserve-batcher", daemon=True)
        thread.start()

    def submit(self, payload):
        item = _BatchItem(payload)
        with self.cond:
            self.queue.append(item)
            self.cond.notify()
        item.event.wait()
        return item

    def submit_many(self, payloads):
        """Queues every payload at once (a batch call's items), and waits for them all."""
        items = [_BatchItem(payload) for payload in payloads]
        with self.cond:
            self.queue.extend(items)
            self.cond.notify()
        for item in items:
            item.event.wait()
        return items

    def _run(self):
        cond = self.cond
        queue = self.queue
        while True:
            with cond:
                while not queue:
                    cond.wait()
                deadline = queue[0].arrived + self.interval_s
                while len(queue) < self.max_size:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    cond.wait(remaining)
                batch = queue[:self.max_size]
                del queue[:self.max_size]
            self._execute(batch)

    def _execute(self, batch):
        try:
            results = self.fn([item.payload for item in batch])
            if not isinstance(results, (list, tuple)):
                if hasattr(results, "__len__") and hasattr(results, "__getitem__"):
                    results = list(results)
                else:
                    raise TypeError("predict returned %s for a batch; it must return a list"
                                    % type(results).__name__)
            if len(results) != len(batch):
                raise ValueError("predict returned %d results for a batch of %d requests"
                                 % (len(results), len(batch)))
            for item, result in zip(batch, results):
                item.result = result
        except BaseException as exc:  # noqa: BLE001 - reported to every request of the batch
            error_id = self.report_exception(exc, "batch of %d" % len(batch))
            for item in batch:
                item.error = (exc, error_id)
        for item in batch:
            item.event.set()
