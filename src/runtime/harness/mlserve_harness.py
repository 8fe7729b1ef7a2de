#!/usr/bin/env python3
"""mlserve replica harness: serves one Cortex-style Python predictor over HTTP/1.1.

Standard library only; runs on Python 3.9-3.12. The mlserve process driver
launches it once per replica, and `mlserve build` copies the same file into
images (CMD / HEALTHCHECK). docs/replica-contract.md is the contract.

    mlserve_harness.py serve --host 127.0.0.1 --port 0 --processes P --threads T \\
        --project-dir DIR --predictor predictor.py [--config-json JSON] \\
        [--batch-max-size N --batch-interval-ms MS] [--events-fd 3] \\
        [--keepalive-s 5] [--max-body-bytes N] [--name API_NAME]
    mlserve_harness.py check --status-file PATH

Process model: a master binds the listening socket, forks P worker processes
(each imports and constructs its own predictor after the fork) and supervises
them. Each worker runs T threads; a thread owns one connection at a time and
serves its requests in order, so P x T requests run at once and further
connections wait in the kernel backlog.
"""

from __future__ import annotations

import argparse
import errno
import importlib.util
import inspect
import json
import mmap
import os
import select
import selectors
import signal
import socket
import stat
import struct
import sys
import threading
import time
import traceback
from email.utils import formatdate
from http import HTTPStatus
from urllib.parse import parse_qsl

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_LOAD_FAILED = 3
EXIT_BIND_FAILED = 4

MAX_HEAD_BYTES = 64 * 1024
READ_TIMEOUT_S = 30  # a started request (head or body) must keep arriving
DEFAULT_MAX_BODY = 10 * 1024 * 1024
DRAIN_TIMEOUT_S = 30.0
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0
BACKOFF_RESET_AFTER_S = 60.0
YIELD_DEFER_S = 0.02  # an idle thread leaves a pending connection to a free thread this long
YIELD_MAX_DEFERS = 3
YIELD_GRACE_S = 0.05  # an idle connection is closed for a pending one only after this much idleness

# MLSERVE_NO_EPOLL=1 forces the portable poll(2) path (used to test it on Linux).
_HAS_EPOLL = hasattr(select, "epoll") and os.environ.get("MLSERVE_NO_EPOLL") != "1"
if _HAS_EPOLL:
    EV_IN = select.EPOLLIN
    EV_EXCL = getattr(select, "EPOLLEXCLUSIVE", 0)
    EV_ONESHOT = select.EPOLLONESHOT
else:  # non-Linux development machines: poll(2) emulation below
    EV_IN = select.POLLIN
    EV_EXCL = 0
    EV_ONESHOT = 1 << 30


def _env(*names, default=None):
    for name in names:
        value = os.environ.get(name)
        if value is not None and value != "":
            return value
    return default


def _log(name, message):
    try:
        sys.stderr.write("[mlserve] api=%s %s\n" % (name, message))
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


# ---------------------------------------------------------------------------
# OS helpers


def _set_pdeathsig(sig):
    """Ask Linux to send `sig` to this process when its parent dies (no-op elsewhere)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except Exception:
        return False


def _pipe_nonblocking():
    r, w = os.pipe()
    os.set_blocking(r, False)
    os.set_blocking(w, False)
    return r, w


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            select.select([], [fd], [], 1.0)
            continue
        view = view[n:]


def _exit_description(status):
    """(code, signal name or None) from a waitpid status; code is -N for signal N."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            sig_name = signal.Signals(sig).name
        except ValueError:
            sig_name = "SIG%d" % sig
        return -sig, sig_name
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status), None
    return -1, None


class _PollEmulation:
    """The subset of select.epoll used here, on top of select.poll (macOS etc.)."""

    def __init__(self):
        self._poll = select.poll()
        self._masks = {}

    def register(self, fd, mask):
        self._masks[fd] = mask
        self._poll.register(fd, mask & select.POLLIN)

    def modify(self, fd, mask):
        self._masks[fd] = mask
        self._poll.modify(fd, mask & select.POLLIN)

    def unregister(self, fd):
        self._masks.pop(fd, None)
        self._poll.unregister(fd)

    def poll(self, timeout=-1):
        ms = None if timeout is None or timeout < 0 else int(timeout * 1000) + 1
        events = self._poll.poll(ms)
        for fd, _ in events:
            if self._masks.get(fd, 0) & EV_ONESHOT:
                self._poll.modify(fd, 0)
        return events

    def close(self):
        pass


def _new_poller():
    return select.epoll() if _HAS_EPOLL else _PollEmulation()


def _register_exclusive(poller, fd):
    """Register for input with EPOLLEXCLUSIVE where the kernel allows it (Linux 4.5+)."""
    if EV_EXCL:
        try:
            poller.register(fd, EV_IN | EV_EXCL)
            return
        except OSError:
            pass
    poller.register(fd, EV_IN)


# ---------------------------------------------------------------------------
# Predictor loading


class _Invoker:
    """Calls a predictor method, passing query_params / headers only when it accepts them."""

    __slots__ = ("fn", "payload", "query", "headers", "simple")

    def __init__(self, fn, with_payload):
        self.fn = fn
        try:
            params = inspect.signature(fn).parameters
        except (TypeError, ValueError):
            params = {}
        names = list(params)
        var_kw = any(p.kind == inspect.Parameter.VAR_KEYWORD for p in params.values())
        positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                      inspect.Parameter.VAR_POSITIONAL)
        if with_payload:
            self.payload = bool(names) and names[0] not in ("query_params", "headers") and \
                params[names[0]].kind in positional
        else:
            self.payload = "payload" in params
        self.query = "query_params" in params or var_kw
        self.headers = "headers" in params or var_kw
        self.simple = self.payload and not self.query and not self.headers


def _construct(cls, config):
    try:
        params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    except (TypeError, ValueError):
        return cls(config)
    required = [p.name for p in params
                if p.default is inspect.Parameter.empty and p.name != "config"
                and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY,
                               inspect.Parameter.POSITIONAL_ONLY)]
    if params and params[0].name != "config" and params[0].kind != inspect.Parameter.KEYWORD_ONLY:
        required = required[1:]  # the first positional parameter receives config
    if required:
        raise TypeError(
            "%s.__init__ requires %s; mlserve passes only config (Cortex's python_client, "
            "tensorflow_client, job_spec and similar are not supported)"
            % (cls.__name__, ", ".join(required)))
    if any(p.name == "config" for p in params):
        return cls(config=config)
    if params and params[0].kind in (inspect.Parameter.POSITIONAL_ONLY,
                                     inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                     inspect.Parameter.VAR_POSITIONAL):
        return cls(config)
    return cls()


_HANDLER_METHODS = (("POST", "handle_post"), ("GET", "handle_get"), ("PUT", "handle_put"),
                    ("PATCH", "handle_patch"), ("DELETE", "handle_delete"))


def load_predictor(project_dir, predictor_path, config):
    """Import the predictor file and construct its class; returns {METHOD(bytes): _Invoker}."""
    path = predictor_path if os.path.isabs(predictor_path) else os.path.join(project_dir, predictor_path)
    mod_name = os.path.splitext(os.path.basename(path))[0] or "predictor"
    if mod_name in sys.modules or not mod_name.isidentifier():
        mod_name = "mlserve_predictor"
    if not os.path.isfile(path):
        raise FileNotFoundError("predictor file %s does not exist" % path)
    spec = importlib.util.spec_from_file_location(mod_name, path)
    if spec is None or spec.loader is None:
        raise ImportError("cannot load predictor file %s (not a .py file?)" % path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    spec.loader.exec_module(module)

    methods = {}
    if hasattr(module, "PythonPredictor"):
        cls = module.PythonPredictor
        if not callable(getattr(cls, "predict", None)):
            raise TypeError("class PythonPredictor in %s has no predict(self, payload) method" % path)
        instance = _construct(cls, config)
        methods[b"POST"] = _Invoker(instance.predict, True)
    elif hasattr(module, "Handler"):
        cls = module.Handler
        instance = _construct(cls, config)
        for method, attr in _HANDLER_METHODS:
            fn = getattr(instance, attr, None)
            if callable(fn):
                methods[method.encode()] = _Invoker(fn, method != "GET")
        if not methods:
            raise TypeError("class Handler in %s defines none of handle_post, handle_get, handle_put, "
                            "handle_patch, handle_delete" % path)
    else:
        raise AttributeError("%s defines neither class PythonPredictor (with predict) nor class Handler "
                             "(with handle_post)" % path)
    return methods


# ---------------------------------------------------------------------------
# HTTP


class _HttpError(Exception):
    def __init__(self, status, message):
        Exception.__init__(self, message)
        self.status = status
        self.message = message


_PEEK = socket.MSG_PEEK | socket.MSG_DONTWAIT


def _peer_gone(conn):
    """True when the client has closed or reset the connection.

    A gateway that gave up on a request (504) closes its connection; a request
    that waited in the backlog meanwhile is then read from the kernel's buffer
    with the end of file behind it. Like nginx, a client that half-closes after
    its request counts as gone."""
    try:
        return conn.recv(1, _PEEK) == b""
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True


def _json_default(obj):
    tolist = getattr(obj, "tolist", None)  # numpy arrays and scalars
    if tolist is not None:
        return tolist()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if isinstance(obj, (bytes, bytearray)):
        return obj.decode("utf-8", "replace")
    raise TypeError("Object of type %s is not JSON serializable" % type(obj).__name__)


_ENCODER = json.JSONEncoder(separators=(",", ":"), default=_json_default)
_encode_json = _ENCODER.encode

CT_JSON = b"Content-Type: application/json\r\n"
CT_TEXT = b"Content-Type: text/plain; charset=utf-8\r\n"
CT_BYTES = b"Content-Type: application/octet-stream\r\n"
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
HDR_CLOSE = b"Connection: close\r\n"
READY_BODY = b'{"status":"ready"}'
_TIMEVAL = struct.pack("ll", READ_TIMEOUT_S, 0)
_WHITESPACE = (b" ", b"\t")
_HEXDIGITS = b"0123456789abcdefABCDEF"
# Headers that frame the body: a second one could be read differently by a proxy
# in front (request smuggling), so RFC 9112 says reject, even when the values agree.
_SINGLE_HEADERS = {b"content-length": "Content-Length", b"transfer-encoding": "Transfer-Encoding"}


def _status_line(status):
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    return ("HTTP/1.1 %d %s\r\nServer: mlserve\r\n" % (status, reason)).encode("latin-1")


def _error_body(message, error_id=None):
    obj = {"error": message}
    if error_id is not None:
        obj["error_id"] = error_id
    return _encode_json(obj).encode()


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

    def __init__(self, server, invoker, max_size, interval_s):
        self.server = server
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
            error_id = self.server.report_exception(exc, "batch of %d" % len(batch))
            for item in batch:
                item.error = (exc, error_id)
        for item in batch:
            item.event.set()


class Server:
    """The HTTP side of one worker process: T threads over one shared listening socket."""

    def __init__(self, opts, index, lsock, slots, kick_r, kick_w, methods):
        self.name = opts.name
        self.index = index
        self.threads_per_process = opts.threads
        self.lsock = lsock
        self.lfd = lsock.fileno()
        self.slots = slots
        self.kick_r = kick_r
        self.kick_w = kick_w
        self.methods = methods
        self.max_body = opts.max_body_bytes
        self.keepalive_s = opts.keepalive_s
        ka = max(1, int(round(opts.keepalive_s)))
        self.hdr_keepalive = ("Connection: keep-alive\r\nKeep-Alive: timeout=%d\r\n" % ka).encode()
        self.idle_close_s = opts.keepalive_s + 0.5  # a little after what clients were told
        self.stop_r, self.stop_w = _pipe_nonblocking()
        self.stopping = False
        self.predict_paths = {b"/", b"/predict"}
        if opts.name:
            self.predict_paths.add(("/" + opts.name).encode())
        allowed = sorted(m.decode() for m in methods)
        self.allow_predict = ("Allow: %s\r\n" % ", ".join(allowed)).encode()
        self.post = methods.get(b"POST")
        self.batcher = None
        if opts.batch_max_size and self.post is not None:
            self.batcher = Batcher(self, self.post, opts.batch_max_size, opts.batch_interval_ms / 1000.0)
        self._prefix_cache = {}
        self._date_sec = 0
        self._date_hdr = b""

    # ---- lifecycle

    def start_threads(self):
        threads = []
        for t in range(self.threads_per_process):
            th = threading.Thread(target=self._thread_main, args=(t,),
                                  name="mlserve-w%d-t%d" % (self.index, t), daemon=True)
            th.start()
            threads.append(th)
        return threads

    def request_stop(self):
        self.stopping = True
        try:
            os.write(self.stop_w, b"x")
        except OSError:
            pass

    def report_exception(self, exc, what):
        error_id = os.urandom(4).hex()
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        _log(self.name, "error_id=%s worker %d (pid %d): predict failed for %s:\n%s"
             % (error_id, self.index, os.getpid(), what, tb.rstrip()))
        return error_id

    # ---- accepting

    def _thread_main(self, tidx):
        slot = self.index * self.threads_per_process + tidx
        while not self.stopping:
            try:
                self._thread_loop(slot)
                break
            except BaseException:  # noqa: BLE001 - never lose a thread to a bug
                _log(self.name, "worker %d thread %d crashed, restarting it:\n%s"
                     % (self.index, tidx, traceback.format_exc().rstrip()))
                time.sleep(0.1)
            finally:
                self.slots[slot] = 0

    def _thread_loop(self, slot):
        lfd, stop_r, kick_r = self.lfd, self.stop_r, self.kick_r
        slots = self.slots
        # "free" poller: waiting for a connection. EPOLLEXCLUSIVE: one waiter per arrival.
        fep = _new_poller()
        # "busy" poller: holding a keep-alive connection; the listening socket is
        # armed one-shot so that an idle connection can yield to a pending one.
        bep = _new_poller()
        burst = select.poll()
        try:
            fep.register(stop_r, EV_IN)
            _register_exclusive(fep, lfd)
            _register_exclusive(fep, kick_r)
            bep.register(stop_r, EV_IN)
            bep.register(lfd, EV_IN | EV_ONESHOT)
            burst.register(lfd, select.POLLIN)
            conn = None
            while True:
                if conn is None:
                    if self.stopping:
                        return
                    slots[slot] = 1
                    events = fep.poll(-1)
                    stop = False
                    for fd, _ in events:
                        if fd == stop_r:
                            stop = True
                        elif fd == kick_r:
                            try:
                                os.read(kick_r, 1)
                            except OSError:
                                pass
                    if stop or self.stopping:
                        return
                    try:
                        conn, _ = self.lsock.accept()
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError as exc:
                        self._accept_failed(exc)
                        continue
                    slots[slot] = 0
                    # Wake-one can coalesce arrivals on some kernels: if more connections
                    # are pending and another thread is free, pass the baton.
                    if burst.poll(0) and slots.find(b"\x01") >= 0:
                        try:
                            os.write(self.kick_w, b"k")
                        except OSError:
                            pass
                conn = self._serve_connection(conn, bep, burst.poll)
        finally:
            fep.close()
            bep.close()

    def _accept_failed(self, exc):
        if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
            _log(self.name, "worker %d: accept failed: %s" % (self.index, exc))
            time.sleep(0.1)
        # ECONNABORTED and the like: the peer gave up; just go on.

    def _serve_connection(self, conn, bep, pending_poll):
        """Serve one connection until it closes; returns a connection taken over from the backlog, or None."""
        fd = conn.fileno()
        nxt = None
        try:
            conn.setblocking(True)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _TIMEVAL)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, _TIMEVAL)
        except OSError:
            pass
        try:
            bep.register(fd, EV_IN)
            bep.modify(self.lfd, EV_IN | EV_ONESHOT)
            try:
                nxt = self._connection_loop(conn, fd, bep, pending_poll)
            finally:
                bep.unregister(fd)
        except OSError:
            nxt = None
        finally:
            try:
                conn.close()
            except OSError:
                pass
        return nxt

    def _idle_wait(self, fd, bep):
        """Wait for the next request on an idle keep-alive connection.

        Returns True when data arrived, None to close, or a new socket when this
        thread took over a connection waiting in the backlog (the idle one is closed).

        Yielding: when a connection is pending and no thread is free, a connection
        that has been idle for YIELD_GRACE_S (a fresh one included) is closed and
        the pending one served instead. While another thread is free, the pending
        connection is left to it (it was woken for it) for a few short rounds."""
        now = time.monotonic()
        idle_since = now
        deadline = now + self.idle_close_s
        rearm_at = 0.0
        defers = 0
        lfd, stop_r = self.lfd, self.stop_r
        while True:
            timeout = deadline - now
            if timeout <= 0:
                return None
            if rearm_at:
                if now >= rearm_at:
                    bep.modify(lfd, EV_IN | EV_ONESHOT)
                    rearm_at = 0.0
                elif rearm_at - now < timeout:
                    timeout = rearm_at - now
            events = bep.poll(timeout)
            now = time.monotonic()
            if not events:
                continue
            pending = stop = False
            for efd, _ in events:
                if efd == fd:
                    return True
                if efd == lfd:
                    pending = True
                elif efd == stop_r:
                    stop = True
            if stop or self.stopping:
                return None
            if not pending:
                continue
            if defers < YIELD_MAX_DEFERS and self.slots.find(b"\x01") >= 0:
                # A free thread was woken for it; leave it to that one.
                defers += 1
                rearm_at = now + YIELD_DEFER_S
            elif now - idle_since < YIELD_GRACE_S:
                # Give the client its chance to send the next (or first) request.
                rearm_at = idle_since + YIELD_GRACE_S
            elif self._has_data(fd):
                bep.modify(lfd, EV_IN | EV_ONESHOT)
                return True
            else:
                try:
                    new, _ = self.lsock.accept()
                except OSError:
                    bep.modify(lfd, EV_IN | EV_ONESHOT)
                else:
                    return new

    @staticmethod
    def _has_data(fd):
        try:
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            return bool(poller.poll(0))
        except (OSError, ValueError):
            return False

    def _connection_loop(self, conn, fd, bep, pending_poll):
        recv = conn.recv
        sendall = conn.sendall
        max_body = self.max_body
        buf = b""
        peer = select.poll()  # poll(0) finds nothing to read in the common case, and costs less than a peek
        peer.register(fd, select.POLLIN)
        readable = peer.poll
        while True:
            # ---- request head
            if not buf:
                ready = self._idle_wait(fd, bep)
                if ready is not True:
                    return ready
                try:
                    buf = recv(65536)
                except OSError:
                    return None
                if not buf:
                    return None
            idx = buf.find(b"\r\n\r\n")
            while idx < 0:
                if len(buf) > MAX_HEAD_BYTES:
                    self._send_error(sendall, 431, "request line and headers exceed 64 KiB")
                    return None
                try:
                    more = recv(65536)
                except OSError:
                    return None
                if not more:
                    return None
                start = len(buf) - 3
                buf += more
                idx = buf.find(b"\r\n\r\n", start if start > 0 else 0)
            try:
                if idx > MAX_HEAD_BYTES:
                    raise _HttpError(431, "request line and headers exceed 64 KiB")
                lines = buf[:idx].split(b"\r\n")
                parts = lines[0].split(b" ")
                if len(parts) != 3:
                    raise _HttpError(400, "malformed request line")
                method, target, version = parts
                if version != b"HTTP/1.1" and version != b"HTTP/1.0":
                    raise _HttpError(400 if not version.startswith(b"HTTP/") else 505,
                                     "unsupported HTTP version")
                headers = {}
                for line in lines[1:]:
                    if line[:1] in _WHITESPACE:
                        raise _HttpError(400, "a header line starts with whitespace (obs-fold is not accepted)")
                    key, sep, value = line.partition(b":")
                    if not sep or not key or key[-1] in (32, 9):
                        raise _HttpError(400, "malformed header line")
                    key = key.lower()
                    if key in _SINGLE_HEADERS and key in headers:
                        raise _HttpError(400, "more than one %s header" % _SINGLE_HEADERS[key])
                    headers[key] = value.strip()
                pos = idx + 4
                # ---- body
                te = headers.get(b"transfer-encoding")
                cl = headers.get(b"content-length")
                if te is not None:
                    if cl is not None:
                        raise _HttpError(400, "both Transfer-Encoding and Content-Length")
                    if te.lower() != b"chunked":
                        raise _HttpError(400, "unsupported Transfer-Encoding")
                    body, buf = self._read_chunked(conn, buf, pos, headers, version)
                elif cl is not None:
                    if not cl.isdigit():
                        raise _HttpError(400, "invalid Content-Length: one decimal number is expected")
                    n = int(cl)
                    if n > max_body:
                        raise _HttpError(413, "request body exceeds %d bytes" % max_body)
                    end = pos + n
                    if len(buf) >= end:
                        body = buf[pos:end]
                        buf = buf[end:]
                    else:
                        if len(buf) == pos and version == b"HTTP/1.1" and \
                                headers.get(b"expect", b"").lower() == b"100-continue":
                            sendall(CONTINUE)
                        body = self._read_exact(recv, conn, buf[pos:], n)
                        buf = b""
                else:
                    body = b""
                    buf = buf[pos:]
            except _HttpError as err:
                self._send_error(sendall, err.status, err.message)
                return None
            except OSError:
                return None

            # ---- keep-alive decision
            connection = headers.get(b"connection")
            if version == b"HTTP/1.1":
                keep = connection is None or b"close" not in connection.lower()
            else:
                keep = connection is not None and b"keep-alive" in connection.lower()

            # ---- route
            q = target.find(b"?")
            if q >= 0:
                path = target[:q]
                query = target[q + 1:]
            else:
                path = target
                query = b""
            extra = b""
            if path in self.predict_paths:
                invoker = self.methods.get(method)
                if invoker is not None:
                    if not buf and readable(0) and _peer_gone(conn):
                        return None  # nobody would read the answer: don't spend a prediction on it
                    status, ctype, out = self._predict(invoker, headers, body, query, method)
                else:
                    status, ctype, out = 405, CT_JSON, _error_body("method %s not allowed on %s" % (
                        method.decode("latin-1"), path.decode("latin-1")))
                    extra = self.allow_predict
            elif path == b"/healthz":
                if method == b"GET" or method == b"HEAD":
                    status, ctype, out = 200, CT_JSON, READY_BODY
                else:
                    status, ctype, out = 405, CT_JSON, _error_body("method %s not allowed on /healthz"
                                                                   % method.decode("latin-1"))
                    extra = b"Allow: GET, HEAD\r\n"
            else:
                status, ctype, out = 404, CT_JSON, _error_body("no route for %s %s" % (
                    method.decode("latin-1"), path.decode("latin-1")))

            if keep and (self.stopping or (self.slots.find(b"\x01") < 0 and pending_poll(0))):
                # Stopping, or a connection waits in the backlog and no thread is
                # free: end this one cleanly (Connection: close) and take the next.
                keep = False
            rid = headers.get(b"x-request-id")
            if rid is not None:
                extra += b"X-Request-ID: " + rid + b"\r\n"
            if method == b"HEAD":
                response = self._head(status, ctype, keep, extra, len(out))
            else:
                response = self._head(status, ctype, keep, extra, len(out)) + out
            try:
                sendall(response)
            except OSError:
                return None
            if not keep:
                return None

    def _head(self, status, ctype, keep, extra, length):
        key = (status, ctype, keep)
        prefix = self._prefix_cache.get(key)
        if prefix is None:
            prefix = _status_line(status) + ctype + (self.hdr_keepalive if keep else HDR_CLOSE)
            self._prefix_cache[key] = prefix
        sec = int(time.time())
        if sec != self._date_sec:
            self._date_hdr = ("Date: %s\r\n" % formatdate(sec, usegmt=True)).encode()
            self._date_sec = sec
        return b"%s%s%sContent-Length: %d\r\n\r\n" % (prefix, self._date_hdr, extra, length)

    def _send_error(self, sendall, status, message):
        body = _error_body(message)
        try:
            sendall(self._head(status, CT_JSON, False, b"", len(body)) + body)
        except OSError:
            pass

    def _read_exact(self, recv, conn, have, n):
        body = bytearray(n)
        body[:len(have)] = have
        view = memoryview(body)
        got = len(have)
        recv_into = conn.recv_into
        while got < n:
            k = recv_into(view[got:], n - got)
            if k == 0:
                raise OSError("connection closed in the middle of the body")
            got += k
        return body

    def _read_chunked(self, conn, buf, pos, headers, version):
        recv = conn.recv
        if len(buf) == pos and version == b"HTTP/1.1" and \
                headers.get(b"expect", b"").lower() == b"100-continue":
            conn.sendall(CONTINUE)
        body = bytearray()
        max_body = self.max_body
        while True:
            eol = buf.find(b"\r\n", pos)
            while eol < 0:
                if len(buf) - pos > 4096:
                    raise _HttpError(400, "chunk size line too long")
                more = recv(65536)
                if not more:
                    raise OSError("connection closed in a chunked body")
                buf += more
                eol = buf.find(b"\r\n", pos)
            size_text, semi, _ = buf[pos:eol].partition(b";")
            if semi:  # whitespace may come before a chunk extension, nowhere else
                size_text = size_text.rstrip(b" \t")
            if not size_text or len(size_text) > 16 or size_text.strip(_HEXDIGITS):
                raise _HttpError(400, "invalid chunk size %r: it must be hexadecimal digits only"
                                 % size_text.decode("latin-1"))
            size = int(size_text, 16)
            pos = eol + 2
            if size == 0:
                # trailers (ignored), up to an empty line
                while True:
                    eol = buf.find(b"\r\n", pos)
                    while eol < 0:
                        if len(buf) - pos > MAX_HEAD_BYTES:
                            raise _HttpError(431, "trailers exceed 64 KiB")
                        more = recv(65536)
                        if not more:
                            raise OSError("connection closed in chunked trailers")
                        buf += more
                        eol = buf.find(b"\r\n", pos)
                    line_empty = eol == pos
                    pos = eol + 2
                    if line_empty:
                        return body, buf[pos:]
            if len(body) + size > max_body:
                raise _HttpError(413, "request body exceeds %d bytes" % max_body)
            if len(buf) >= pos + size + 2:
                if buf[pos + size:pos + size + 2] != b"\r\n":
                    raise _HttpError(400, "malformed chunk")
                body += buf[pos:pos + size]
                buf = buf[pos + size + 2:]
            else:  # the rest of the chunk and its CRLF, straight into one buffer
                chunk = self._read_exact(recv, conn, buf[pos:], size + 2)
                if chunk[size:] != b"\r\n":
                    raise _HttpError(400, "malformed chunk")
                del chunk[size:]
                body += chunk
                buf = b""
            pos = 0

    # ---- predictor calls

    def _predict(self, invoker, headers, body, query, method):
        ctype = headers.get(b"content-type")
        if ctype is None:
            if body:
                try:
                    payload = json.loads(body)
                except ValueError:
                    payload = bytes(body)
            else:
                payload = None
        else:
            mime = ctype.split(b";", 1)[0].strip().lower()
            if mime == b"application/json" or mime.endswith(b"+json"):
                if body:
                    try:
                        payload = json.loads(body)
                    except ValueError as exc:
                        return 400, CT_JSON, _error_body("invalid JSON body: %s" % exc)
                else:
                    payload = None
            elif mime == b"text/plain":
                charset = "utf-8"
                for param in ctype.split(b";")[1:]:
                    k, _, v = param.strip().partition(b"=")
                    if k.lower() == b"charset" and v:
                        charset = v.strip(b"\"'").decode("latin-1")
                try:
                    payload = bytes(body).decode(charset)
                except (LookupError, UnicodeDecodeError) as exc:
                    return 400, CT_JSON, _error_body("cannot decode text/plain body: %s" % exc)
            else:
                payload = bytes(body)

        if self.batcher is not None and invoker is self.post:
            item = self.batcher.submit(payload)
            if item.error is not None:
                exc, error_id = item.error
                return 500, CT_JSON, _error_body("%s: %s" % (type(exc).__name__, exc), error_id)
            result = item.result
        else:
            try:
                if invoker.simple:
                    result = invoker.fn(payload)
                else:
                    kwargs = {}
                    if invoker.query:
                        kwargs["query_params"] = dict(parse_qsl(query.decode("latin-1"), keep_blank_values=True))
                    if invoker.headers:
                        kwargs["headers"] = {k.decode("latin-1"): v.decode("latin-1") for k, v in headers.items()}
                    if invoker.payload:
                        result = invoker.fn(payload, **kwargs)
                    else:
                        result = invoker.fn(**kwargs)
            except BaseException as exc:  # noqa: BLE001 - the process keeps serving (SystemExit too)
                error_id = self.report_exception(exc, "%s request" % method.decode("latin-1"))
                return 500, CT_JSON, _error_body("%s: %s" % (type(exc).__name__, exc), error_id)
        return self._encode_result(result)

    def _encode_result(self, result):
        try:
            t = type(result)
            if t is dict or t is list:
                return 200, CT_JSON, _encode_json(result).encode()
            if t is str:
                return 200, CT_TEXT, result.encode("utf-8")
            if t is bytes:
                return 200, CT_BYTES, result
            if isinstance(result, (bytearray, memoryview)):
                return 200, CT_BYTES, bytes(result)
            if isinstance(result, str):
                return 200, CT_TEXT, str(result).encode("utf-8")
            if hasattr(result, "status_code") and hasattr(result, "body"):
                return self._response_object(result)
            return 200, CT_JSON, _encode_json(result).encode()
        except Exception as exc:  # noqa: BLE001
            error_id = self.report_exception(exc, "encoding the response")
            return 500, CT_JSON, _error_body("%s: %s" % (type(exc).__name__, exc), error_id)

    def _response_object(self, result):
        """A Starlette-like Response (status_code, body, media_type / headers)."""
        status = int(result.status_code)
        body = result.body
        if isinstance(body, str):
            body = body.encode("utf-8")
        body = bytes(body or b"")
        ctype = None
        hdrs = getattr(result, "headers", None)
        if hdrs is not None:
            try:
                ctype = hdrs.get("content-type")
            except Exception:  # noqa: BLE001
                ctype = None
        if not ctype:
            ctype = getattr(result, "media_type", None) or "application/octet-stream"
        return status, ("Content-Type: %s\r\n" % ctype).encode("latin-1"), body


# ---------------------------------------------------------------------------
# Worker process


def worker_main(opts, index, lsock, slots, kick_r, kick_w, report_w, master_pid):
    """Runs in a forked child; never returns."""
    name = opts.name
    code = EXIT_ERROR
    try:
        _set_pdeathsig(signal.SIGKILL)
        if os.getppid() != master_pid:
            os._exit(EXIT_ERROR)
        try:
            sys.stdout.reconfigure(line_buffering=True)
        except Exception:  # noqa: BLE001
            pass
        os.chdir(opts.project_dir)
        if sys.path[:1] != [opts.project_dir]:
            sys.path.insert(0, opts.project_dir)
        try:
            methods = load_predictor(opts.project_dir, opts.predictor, opts.config)
        except BaseException:  # noqa: BLE001 - report any failure, SystemExit included
            tb = traceback.format_exc()
            _log(name, "worker %d (pid %d) failed to load the predictor %s:\n%s"
                 % (index, os.getpid(), opts.predictor, tb.rstrip()))
            _write_all(report_w, (json.dumps({"type": "load_failed", "traceback": tb}) + "\n").encode())
            code = EXIT_LOAD_FAILED
            return
        server = Server(opts, index, lsock, slots, kick_r, kick_w, methods)
        signal.signal(signal.SIGTERM, lambda signum, frame: server.request_stop())
        threads = server.start_threads()
        _write_all(report_w, b'{"type":"ready"}\n')
        while True:
            alive = [t for t in threads if t.is_alive()]
            if not alive:
                break
            alive[0].join(1.0)
            if os.getppid() != master_pid:  # orphaned (no PDEATHSIG on this OS)
                code = EXIT_ERROR
                return
        code = EXIT_OK
    except BaseException:  # noqa: BLE001
        _log(name, "worker %d (pid %d) failed:\n%s" % (index, os.getpid(), traceback.format_exc().rstrip()))
        code = EXIT_ERROR
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:  # noqa: BLE001
            pass
        os._exit(code)


# ---------------------------------------------------------------------------
# Master process


class _Worker:
    __slots__ = ("index", "pid", "report_r", "rbuf", "started", "ready", "failures", "restart_at",
                 "restart_delay", "load_failed_tb")

    def __init__(self, index):
        self.index = index
        self.pid = 0
        self.report_r = -1
        self.rbuf = b""
        self.started = 0.0
        self.ready = False
        self.failures = 0
        self.restart_at = 0.0
        self.restart_delay = 0.0
        self.load_failed_tb = None


EVENT_LINE_MARKER = "@mlserve-event "


class Events:
    def __init__(self, fd):
        self.fd = fd
        # On standard output or error (a container has no fd 3), events share the
        # stream with log lines: a marker tells them apart.
        self.marker = EVENT_LINE_MARKER if fd in (1, 2) else ""

    def emit(self, event, **fields):
        if self.fd is None:
            return
        obj = {"event": event}
        obj.update(fields)
        try:
            _write_all(self.fd, (self.marker + json.dumps(obj) + "\n").encode())
        except OSError:
            self.fd = None  # the reader went away; keep serving


class Master:
    def __init__(self, opts, lsock, port, events):
        self.opts = opts
        self.name = opts.name
        self.lsock = lsock
        self.port = port
        self.events = events
        self.workers = [_Worker(i) for i in range(opts.processes)]
        self.slots = mmap.mmap(-1, opts.processes * opts.threads)
        self.kick_r, self.kick_w = _pipe_nonblocking()
        self.wake_r, self.wake_w = _pipe_nonblocking()
        self.replica_ready = False
        self.stopping = False
        self.signals_seen = 0
        self.drain_deadline = 0.0
        self.stdin_watched = False
        self.sel = None

    # ---- signals

    def _on_stop_signal(self, signum, frame):
        self.signals_seen += 1

    def _install_signals(self):
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGTERM, self._on_stop_signal)
        signal.signal(signal.SIGINT, self._on_stop_signal)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)

    # ---- workers

    def _fork(self, w):
        report_r, report_w = os.pipe()
        # Block the master's signals across fork so that the child resets its
        # handlers before any can reach it; the parent unblocks right after.
        sigs = {signal.SIGTERM, signal.SIGINT, signal.SIGCHLD}
        signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
        try:
            pid = os.fork()
        except BaseException:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, sigs)
            raise
        if pid == 0:  # child
            try:
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)  # dies at once while loading
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # the master forwards SIGTERM
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                signal.pthread_sigmask(signal.SIG_UNBLOCK, sigs)
                os.close(report_r)
                for fd in (self.wake_r, self.wake_w):
                    os.close(fd)
                for other in self.workers:
                    if other.report_r >= 0:
                        os.close(other.report_r)
                if self.sel is not None:
                    self.sel.close()
                if self.events.fd is not None and self.events.fd > 2:
                    os.close(self.events.fd)
                devnull = os.open(os.devnull, os.O_RDONLY)
                os.dup2(devnull, 0)
                os.close(devnull)
            except BaseException:  # noqa: BLE001
                os._exit(EXIT_ERROR)
            worker_main(self.opts, w.index, self.lsock, self.slots, self.kick_r, self.kick_w, report_w,
                        self.master_pid)
            os._exit(EXIT_ERROR)  # not reached
        signal.pthread_sigmask(signal.SIG_UNBLOCK, sigs)
        os.close(report_w)
        os.set_blocking(report_r, False)
        w.pid = pid
        w.report_r = report_r
        w.rbuf = b""
        w.started = time.monotonic()
        w.ready = False
        w.load_failed_tb = None
        w.restart_at = 0.0
        self.sel.register(report_r, selectors.EVENT_READ, ("worker", w))
        return pid

    def _read_reports(self, w, final=False):
        if w.report_r < 0:
            return
        while True:
            try:
                chunk = os.read(w.report_r, 65536)
            except BlockingIOError:
                chunk = None
            except OSError:
                chunk = b""
            if chunk:
                w.rbuf += chunk
                continue
            break
        while b"\n" in w.rbuf:
            line, w.rbuf = w.rbuf.split(b"\n", 1)
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            self._on_report(w, msg)
        if chunk == b"" or final:
            try:
                self.sel.unregister(w.report_r)
            except (KeyError, ValueError):
                pass
            os.close(w.report_r)
            w.report_r = -1

    def _on_report(self, w, msg):
        kind = msg.get("type")
        if kind == "ready" and not w.ready:
            w.ready = True
            self.events.emit("worker_ready", worker=w.index, pid=w.pid)
            if self.replica_ready and not self.stopping:
                self._write_status([x.pid for x in self.workers])  # a restarted worker: new pids
            if not self.replica_ready and not self.stopping and all(x.ready for x in self.workers):
                self.replica_ready = True
                pids = [x.pid for x in self.workers]
                self._write_status(pids)
                _log(self.name, "ready on http://%s:%d (%d process%s x %d thread%s, pids %s)" % (
                    self.opts.host, self.port, self.opts.processes, "es" if self.opts.processes != 1 else "",
                    self.opts.threads, "s" if self.opts.threads != 1 else "", ", ".join(map(str, pids))))
                self.events.emit("ready", port=self.port, pid=os.getpid(), pids=pids)
        elif kind == "load_failed":
            w.load_failed_tb = msg.get("traceback") or ""
            if not self.replica_ready and not self.stopping:
                self._fail_startup(w, w.load_failed_tb, w.pid)

    def _fail_startup(self, w, tb, pid):
        self.events.emit("load_failed", worker=w.index, pid=pid, traceback=tb)
        _log(self.name, "the predictor failed to load in worker %d; stopping the replica (exit code %d)"
             % (w.index, EXIT_LOAD_FAILED))
        for other in self.workers:
            if other.pid:
                try:
                    os.kill(other.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for other in self.workers:
            if other.pid:
                try:
                    os.waitpid(other.pid, 0)
                except ChildProcessError:
                    pass
                other.pid = 0
        self._remove_status()
        raise SystemExit(EXIT_LOAD_FAILED)

    def _reap(self):
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            w = next((x for x in self.workers if x.pid == pid), None)
            if w is None:
                continue
            self._on_exit(w, status)

    def _on_exit(self, w, status):
        code, sig = _exit_description(status)
        pid = w.pid
        self._read_reports(w, final=True)
        w.pid = 0
        w.ready = False
        base = w.index * self.opts.threads
        self.slots[base:base + self.opts.threads] = b"\x00" * self.opts.threads
        if not self.replica_ready and not self.stopping:
            tb = w.load_failed_tb
            if tb is None:
                tb = "worker %d (pid %d) exited with %s before the replica was ready\n" % (
                    w.index, pid, ("signal %s" % sig) if sig else ("code %d" % code))
                _log(self.name, tb.rstrip())
            self._fail_startup(w, tb, pid)
        self.events.emit("worker_exit", worker=w.index, pid=pid, code=code, signal=sig)
        if self.stopping:
            return
        now = time.monotonic()
        if now - w.started >= BACKOFF_RESET_AFTER_S:
            w.failures = 0
        delay = min(BACKOFF_FIRST_S * (2 ** w.failures), BACKOFF_MAX_S)
        w.failures += 1
        w.restart_delay = delay
        w.restart_at = now + delay
        _log(self.name, "worker %d (pid %d) exited with code %d; restarting in %gs" % (w.index, pid, code, delay))

    def _restart_due(self):
        now = time.monotonic()
        for w in self.workers:
            if w.pid == 0 and w.restart_at and now >= w.restart_at:
                pid = self._fork(w)
                self.events.emit("worker_restart", worker=w.index, pid=pid, delay_s=w.restart_delay)

    # ---- status file

    def _write_status(self, pids):
        path = self.opts.status_file
        if not path:
            return
        data = json.dumps({"status": "ready", "pid": os.getpid(), "port": self.port, "pids": pids,
                           "name": self.name, "time": time.time()})
        tmp = "%s.tmp.%d" % (path, os.getpid())
        try:
            with open(tmp, "w") as f:
                f.write(data)
            os.replace(tmp, path)
        except OSError as exc:
            _log(self.name, "cannot write the status file %s: %s" % (path, exc))

    def _remove_status(self):
        if self.opts.status_file:
            try:
                os.unlink(self.opts.status_file)
            except OSError:
                pass

    # ---- main loop

    def _begin_drain(self, why):
        if self.stopping:
            return
        self.stopping = True
        self.drain_deadline = time.monotonic() + self.opts.drain_timeout_s
        _log(self.name, "stopping (%s); draining requests in flight" % why)
        self._remove_status()
        for w in self.workers:
            w.restart_at = 0.0
            if w.pid:
                try:
                    os.kill(w.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        try:
            self.lsock.close()
        except OSError:
            pass

    def _kill_all(self):
        for w in self.workers:
            if w.pid:
                try:
                    os.kill(w.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def run(self):
        self.master_pid = os.getpid()
        self.sel = selectors.DefaultSelector()
        self._install_signals()
        self.sel.register(self.wake_r, selectors.EVENT_READ, ("wake", None))
        if self.opts.watch_stdin:
            try:
                mode = os.fstat(0).st_mode
                if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
                    self.sel.register(0, selectors.EVENT_READ, ("stdin", None))
                    self.stdin_watched = True
            except (OSError, ValueError):
                pass
        try:
            for w in self.workers:
                self._fork(w)
            handled_signals = 0
            while True:
                if self.signals_seen > handled_signals:
                    # Only a second *signal* kills. The driver stops a replica by closing
                    # stdin and sending SIGTERM together; that is one stop, and drains.
                    first = handled_signals == 0
                    handled_signals = self.signals_seen
                    if first and handled_signals == 1:
                        self._begin_drain("signal")
                    else:
                        _log(self.name, "second stop signal: killing workers")
                        self._begin_drain("signal")
                        self._kill_all()
                if self.stopping and not any(w.pid for w in self.workers):
                    break
                now = time.monotonic()
                timeout = 1.0
                for w in self.workers:
                    if w.pid == 0 and w.restart_at:
                        timeout = min(timeout, max(0.0, w.restart_at - now))
                if self.stopping:
                    if now >= self.drain_deadline:
                        _log(self.name, "drain timed out after %gs; killing workers" % self.opts.drain_timeout_s)
                        self._kill_all()
                        self.drain_deadline = now + 3600
                    timeout = min(timeout, max(0.0, self.drain_deadline - now))
                for key, _ in self.sel.select(timeout):
                    kind, w = key.data
                    if kind == "wake":
                        try:
                            while os.read(self.wake_r, 4096):
                                pass
                        except OSError:
                            pass
                    elif kind == "stdin":
                        try:
                            data = os.read(0, 65536)
                        except OSError:
                            data = b""
                        if not data:
                            self.sel.unregister(0)
                            self.stdin_watched = False
                            self._begin_drain("stdin closed")
                    else:
                        self._read_reports(w)
                self._reap()
                if not self.stopping:
                    self._restart_due()
            self.events.emit("stopped")
            _log(self.name, "stopped")
            return EXIT_OK
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else EXIT_ERROR
        except BaseException:
            _log(self.name, "master failed:\n%s" % traceback.format_exc().rstrip())
            self._kill_all()
            return EXIT_ERROR
        finally:
            self._kill_all()
            for w in self.workers:
                if w.pid:
                    try:
                        os.waitpid(w.pid, 0)
                    except ChildProcessError:
                        pass


# ---------------------------------------------------------------------------
# Command line


def _bind(host, port):
    infos = socket.getaddrinfo(host, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_PASSIVE)
    last = None
    for family, socktype, proto, _, addr in infos:
        sock = socket.socket(family, socktype, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(addr)
            sock.listen(2048)
            sock.setblocking(False)
            return sock
        except OSError as exc:
            last = exc
            sock.close()
    raise last if last else OSError("cannot resolve %s" % host)


def _build_parser():
    parser = argparse.ArgumentParser(prog="mlserve_harness.py",
                                     description="mlserve replica harness (see docs/replica-contract.md)")
    sub = parser.add_subparsers(dest="command")
    s = sub.add_parser("serve", help="serve a predictor")
    s.add_argument("--host", default=_env("MLSERVE_HOST", default="127.0.0.1"))
    s.add_argument("--port", type=int, default=_env("MLSERVE_PORT", "PORT", default="8080"))
    s.add_argument("--processes", type=int, default=_env("MLSERVE_PROCESSES", default="1"))
    s.add_argument("--threads", type=int, default=_env("MLSERVE_THREADS", default="1"))
    s.add_argument("--project-dir", default=_env("MLSERVE_PROJECT_DIR", default="."))
    s.add_argument("--predictor", default=_env("MLSERVE_PREDICTOR", default="predictor.py"))
    s.add_argument("--config-json", default=_env("MLSERVE_CONFIG_JSON", default=None))
    s.add_argument("--batch-max-size", type=int, default=_env("MLSERVE_BATCH_MAX_SIZE", default=None))
    s.add_argument("--batch-interval-ms", type=float, default=_env("MLSERVE_BATCH_INTERVAL_MS", default=None))
    s.add_argument("--events-fd", type=int, default=_env("MLSERVE_EVENTS_FD", default=None))
    s.add_argument("--keepalive-s", type=float, default=_env("MLSERVE_KEEPALIVE_S", default="5"))
    s.add_argument("--max-body-bytes", type=int,
                   default=_env("MLSERVE_MAX_BODY_BYTES", default=str(DEFAULT_MAX_BODY)))
    s.add_argument("--name", default=_env("MLSERVE_NAME", "MLSERVE_API_NAME", default=None))
    s.add_argument("--status-file", default=_env("MLSERVE_STATUS_FILE", default=None))
    s.add_argument("--drain-timeout-s", type=float,
                   default=_env("MLSERVE_DRAIN_TIMEOUT_S", default=str(DRAIN_TIMEOUT_S)))
    s.add_argument("--no-stdin-watch", dest="watch_stdin", action="store_false",
                   default=_env("MLSERVE_WATCH_STDIN", default="1") not in ("0", "false", "no"),
                   help="do not stop when standard input (a pipe) reaches end of file")
    c = sub.add_parser("check", help="exit 0 if the replica is ready (Docker HEALTHCHECK)")
    c.add_argument("--status-file", default=_env("MLSERVE_STATUS_FILE", default=None))
    la = sub.add_parser("launch", help="run a command that stops when the process --parent-pid dies")
    la.add_argument("--parent-pid", type=int, required=True)
    la.add_argument("argv", nargs=argparse.REMAINDER, help="-- COMMAND [ARG...]")
    return parser


def _validate(parser, opts):
    if opts.processes < 1 or opts.threads < 1:
        parser.error("--processes and --threads must be at least 1")
    if not 0 <= opts.port <= 65535:
        parser.error("--port must be 0-65535")
    if opts.keepalive_s <= 0:
        parser.error("--keepalive-s must be positive")
    if opts.max_body_bytes < 0:
        parser.error("--max-body-bytes must not be negative")
    if (opts.batch_max_size is None) != (opts.batch_interval_ms is None):
        parser.error("--batch-max-size and --batch-interval-ms go together")
    if opts.batch_max_size is not None and (opts.batch_max_size < 1 or opts.batch_interval_ms < 0):
        parser.error("--batch-max-size must be at least 1 and --batch-interval-ms not negative")
    try:
        opts.config = json.loads(opts.config_json) if opts.config_json else {}
    except ValueError as exc:
        parser.error("--config-json is not valid JSON: %s" % exc)
    if opts.events_fd is not None:
        try:
            os.fstat(opts.events_fd)
        except OSError:
            parser.error("--events-fd %d is not an open file descriptor" % opts.events_fd)
    opts.project_dir = os.path.abspath(opts.project_dir)
    if not os.path.isdir(opts.project_dir):
        parser.error("--project-dir %s is not a directory" % opts.project_dir)
    if opts.status_file:
        opts.status_file = os.path.abspath(opts.status_file)
    if not opts.name:
        opts.name = os.path.basename(opts.project_dir.rstrip("/")) or "api"


def cmd_serve(parser, opts):
    _validate(parser, opts)
    events = Events(opts.events_fd)
    if opts.status_file:
        try:
            os.unlink(opts.status_file)  # never report a previous run as ready
        except OSError:
            pass
    if _env("MLSERVE_PDEATHSIG", default="1") not in ("0", "false", "no"):
        _set_pdeathsig(signal.SIGTERM)
    try:
        lsock = _bind(opts.host, opts.port)
    except OSError as exc:
        _log(opts.name, "cannot listen on %s:%d: %s" % (opts.host, opts.port, exc))
        events.emit("error", message="cannot listen on %s:%d: %s" % (opts.host, opts.port, exc))
        return EXIT_BIND_FAILED
    port = lsock.getsockname()[1]
    if opts.batch_max_size and opts.threads < opts.batch_max_size:
        _log(opts.name, "note: --threads %d is below --batch-max-size %d, so a process never holds a full "
             "batch; batches will run on the interval" % (opts.threads, opts.batch_max_size))
    events.emit("listening", port=port, pid=os.getpid())
    return Master(opts, lsock, port, events).run()


def cmd_check(opts):
    if not opts.status_file:
        print("no status file (--status-file or MLSERVE_STATUS_FILE)")
        return 1
    try:
        with open(opts.status_file) as f:
            status = json.load(f)
    except (OSError, ValueError) as exc:
        print("not ready: %s" % exc)
        return 1
    if status.get("status") != "ready":
        print("not ready: status %r" % status.get("status"))
        return 1
    pid = status.get("pid")
    if isinstance(pid, int) and pid > 0:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            print("not ready: the replica (pid %d) is gone" % pid)
            return 1
        except PermissionError:
            pass
    print("ready")
    return 0


def cmd_launch(parser, opts):
    """Runs a command-kind server so that it stops when mlserve dies, without setpriv.

    Linux's parent-death signal, armed here and kept across exec, is the kernel's
    own guarantee: the server keeps this pid, gets SIGTERM the moment mlserve
    dies (SIGKILL included), and nothing stays in between. Without prctl (not
    Linux, or a Python without ctypes), a watchdog child stays beside the server
    and stops the process group when standard input, mlserve's pipe, reaches end
    of file: the kernel closes that pipe however mlserve ends."""
    argv = opts.argv[1:] if opts.argv[:1] == ["--"] else opts.argv
    if not argv:
        parser.error("launch needs a command after --")
    if _env("MLSERVE_NO_PRCTL", default="0") != "1" and _set_pdeathsig(signal.SIGTERM):
        if os.getppid() != opts.parent_pid:
            return EXIT_ERROR  # mlserve died before the signal was armed
        return _exec(argv)
    server = os.getpid()
    try:
        watchdog = os.fork()
    except OSError as exc:
        sys.stderr.write("mlserve: cannot start the watchdog for %s: %s\n" % (argv[0], exc))
        return _exec(argv)
    if watchdog == 0:
        _watch_stdin(server)
    return _exec(argv, watchdog)


def _exec(argv, watchdog=0):
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        sys.stderr.write("mlserve: cannot run %s: %s\n" % (argv[0], exc))
        if watchdog:
            try:
                os.kill(watchdog, signal.SIGKILL)
            except OSError:
                pass
        return 127


def _watch_stdin(server):
    """The watchdog: never returns. Stops the group at end of standard input; leaves when the server is gone."""
    code = 0
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        while os.getppid() == server:
            readable, _, _ = select.select([0], [], [], 1.0)
            if readable and not os.read(0, 65536):
                os.killpg(os.getpgid(0), signal.SIGTERM)
                break
    except BaseException:  # noqa: BLE001 - a watchdog must not linger on an error
        code = 1
    os._exit(code)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        argv = ["serve"]
    parser = _build_parser()
    opts = parser.parse_args(argv)
    if opts.command == "check":
        return cmd_check(opts)
    if opts.command == "launch":
        return cmd_launch(parser, opts)
    if opts.command == "serve":
        return cmd_serve(parser, opts)
    parser.print_help()
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
