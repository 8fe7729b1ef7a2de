"""The HTTP/1.1 side of one worker process: its threads accept from the shared
listening socket, each owning one connection at a time; RFC 9112 framing,
keep-alive and pipelining, routing, and the call into the predictor."""

import errno
import os
import select
import socket
import struct
import threading
import time
import traceback
from email.utils import formatdate
from http import HTTPStatus
from urllib.parse import parse_qsl

from .batch_route import BatchRoute
from .batcher import Batcher
from .payloads import CT_JSON, decode_payload, encode_result, error_body
from .system import log, pipe_nonblocking

MAX_HEAD_BYTES = 64 * 1024
READ_TIMEOUT_S = 30  # a started request (head or body) must keep arriving
YIELD_DEFER_S = 0.02  # an idle thread leaves a pending connection to a free thread this long
YIELD_MAX_DEFERS = 3
YIELD_GRACE_S = 0.05  # an idle connection is closed for a pending one only after this much idleness
PROBE_PEEK_S = 0.05  # how long a pending connection may take to show its request before it is served as any other
PROBE_HEAD_BYTES = 1024
HEALTH_PATH = b"/healthz"

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


class HttpError(Exception):
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


CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
HDR_CLOSE = b"Connection: close\r\n"
READY_BODY = b'{"status":"ready"}'
BATCH_PATH = b"/predict-batch"  # the gateway's batch endpoint calls it (batch_route.py)
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
        self.stop_r, self.stop_w = pipe_nonblocking()
        self.stopping = False
        self.predict_paths = {b"/", b"/predict"}
        if opts.name:
            self.predict_paths.add(("/" + opts.name).encode())
        allowed = sorted(m.decode() for m in methods)
        self.allow_predict = ("Allow: %s\r\n" % ", ".join(allowed)).encode()
        self.post = methods.get(b"POST")
        self.batcher = None
        if opts.batch_max_size and self.post is not None:
            self.batcher = Batcher(self.report_exception, self.post, opts.batch_max_size, opts.batch_interval_ms / 1000.0)
        self.batch_route = BatchRoute(self.report_exception, self._invoke, getattr(methods, "batch", None), self.post,
                                      self.batcher, opts.threads)
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
        log(self.name, "error_id=%s worker %d (pid %d): predict failed for %s:\n%s"
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
                log(self.name, "worker %d thread %d crashed, restarting it:\n%s"
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
            log(self.name, "worker %d: accept failed: %s" % (self.index, exc))
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
                    if not self._answer_probe(new):
                        return new
                    # A health check, answered on the side: the idle connection stays its client's.
                    bep.modify(lfd, EV_IN | EV_ONESHOT)
                    now = time.monotonic()

    def _answer_probe(self, conn):
        """Answers a pending connection whose request is a health check (GET or
        HEAD /healthz) here, with Connection: close, and closes it; False, having
        read nothing, for any other request.

        Why: closing an idle keep-alive connection races with the request its
        client may be sending on it that moment, which then fails with no
        answer (a gateway's 502). The gateway holds one connection per thread,
        so without this every probe of a busy replica (the gateway's own
        readiness checks of a Swarm task, a kubelet's) would close one of them."""
        try:
            conn.settimeout(PROBE_PEEK_S)
            head = conn.recv(PROBE_HEAD_BYTES, socket.MSG_PEEK)
        except OSError:  # socket.timeout included: nothing arrived in time
            head = b""
        finally:
            try:
                conn.setblocking(True)
            except OSError:
                pass
        end = head.find(b"\r\n\r\n")
        method, _, rest = head.partition(b" ")
        target = rest.partition(b" ")[0].partition(b"?")[0]
        if end < 0 or method not in (b"GET", b"HEAD") or target != HEALTH_PATH:
            return False
        try:
            conn.recv(end + 4)
            response = self._head(200, CT_JSON, False, b"", len(READY_BODY))
            conn.sendall(response if method == b"HEAD" else response + READY_BODY)
        except OSError:
            pass  # the prober went away
        try:
            conn.close()
        except OSError:
            pass
        return True

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
                    raise HttpError(431, "request line and headers exceed 64 KiB")
                lines = buf[:idx].split(b"\r\n")
                parts = lines[0].split(b" ")
                if len(parts) != 3:
                    raise HttpError(400, "malformed request line")
                method, target, version = parts
                if version != b"HTTP/1.1" and version != b"HTTP/1.0":
                    raise HttpError(400 if not version.startswith(b"HTTP/") else 505,
                                     "unsupported HTTP version")
                headers = {}
                for line in lines[1:]:
                    if line[:1] in _WHITESPACE:
                        raise HttpError(400, "a header line starts with whitespace (obs-fold is not accepted)")
                    key, sep, value = line.partition(b":")
                    if not sep or not key or key[-1] in (32, 9):
                        raise HttpError(400, "malformed header line")
                    key = key.lower()
                    if key in _SINGLE_HEADERS and key in headers:
                        raise HttpError(400, "more than one %s header" % _SINGLE_HEADERS[key])
                    headers[key] = value.strip()
                pos = idx + 4
                # ---- body
                te = headers.get(b"transfer-encoding")
                cl = headers.get(b"content-length")
                if te is not None:
                    if cl is not None:
                        raise HttpError(400, "both Transfer-Encoding and Content-Length")
                    if te.lower() != b"chunked":
                        raise HttpError(400, "unsupported Transfer-Encoding")
                    body, buf = self._read_chunked(conn, buf, pos, headers, version)
                elif cl is not None:
                    if not cl.isdigit():
                        raise HttpError(400, "invalid Content-Length: one decimal number is expected")
                    n = int(cl)
                    if n > max_body:
                        raise HttpError(413, "request body exceeds %d bytes" % max_body)
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
            except HttpError as err:
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
            if path == BATCH_PATH and method == b"POST":
                if not buf and readable(0) and _peer_gone(conn):
                    return None
                status, ctype, out, extra = self.batch_route.answer(headers, body, query)
            elif path in self.predict_paths:
                invoker = self.methods.get(method)
                if invoker is not None:
                    if not buf and readable(0) and _peer_gone(conn):
                        return None  # nobody would read the answer: don't spend a prediction on it
                    status, ctype, out = self._predict(invoker, headers, body, query, method)
                else:
                    status, ctype, out = 405, CT_JSON, error_body("method %s not allowed on %s" % (
                        method.decode("latin-1"), path.decode("latin-1")))
                    extra = self.allow_predict
            elif path == HEALTH_PATH:
                if method == b"GET" or method == b"HEAD":
                    status, ctype, out = 200, CT_JSON, READY_BODY
                else:
                    status, ctype, out = 405, CT_JSON, error_body("method %s not allowed on /healthz"
                                                                   % method.decode("latin-1"))
                    extra = b"Allow: GET, HEAD\r\n"
            else:
                status, ctype, out = 404, CT_JSON, error_body("no route for %s %s" % (
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
        body = error_body(message)
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
                    raise HttpError(400, "chunk size line too long")
                more = recv(65536)
                if not more:
                    raise OSError("connection closed in a chunked body")
                buf += more
                eol = buf.find(b"\r\n", pos)
            size_text, semi, _ = buf[pos:eol].partition(b";")
            if semi:  # whitespace may come before a chunk extension, nowhere else
                size_text = size_text.rstrip(b" \t")
            if not size_text or len(size_text) > 16 or size_text.strip(_HEXDIGITS):
                raise HttpError(400, "invalid chunk size %r: it must be hexadecimal digits only"
                                 % size_text.decode("latin-1"))
            size = int(size_text, 16)
            pos = eol + 2
            if size == 0:
                # trailers (ignored), up to an empty line
                while True:
                    eol = buf.find(b"\r\n", pos)
                    while eol < 0:
                        if len(buf) - pos > MAX_HEAD_BYTES:
                            raise HttpError(431, "trailers exceed 64 KiB")
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
                raise HttpError(413, "request body exceeds %d bytes" % max_body)
            if len(buf) >= pos + size + 2:
                if buf[pos + size:pos + size + 2] != b"\r\n":
                    raise HttpError(400, "malformed chunk")
                body += buf[pos:pos + size]
                buf = buf[pos + size + 2:]
            else:  # the rest of the chunk and its CRLF, straight into one buffer
                chunk = self._read_exact(recv, conn, buf[pos:], size + 2)
                if chunk[size:] != b"\r\n":
                    raise HttpError(400, "malformed chunk")
                del chunk[size:]
                body += chunk
                buf = b""
            pos = 0

    # ---- predictor calls

    def _predict(self, invoker, headers, body, query, method):
        payload, problem = decode_payload(headers, body)
        if problem is not None:
            return problem
        if self.batcher is not None and invoker is self.post:
            item = self.batcher.submit(payload)
            if item.error is not None:
                exc, error_id = item.error
                return 500, CT_JSON, error_body("%s: %s" % (type(exc).__name__, exc), error_id)
            result = item.result
        else:
            try:
                result = invoker.fn(payload) if invoker.simple else self._invoke(invoker, payload, headers, query)
            except BaseException as exc:  # noqa: BLE001 - the process keeps serving (SystemExit too)
                error_id = self.report_exception(exc, "%s request" % method.decode("latin-1"))
                return 500, CT_JSON, error_body("%s: %s" % (type(exc).__name__, exc), error_id)
        return encode_result(result, self.report_exception)

    @staticmethod
    def _invoke(invoker, payload, headers, query):
        """Calls a predictor method with the arguments its signature asks for; raises what it raises."""
        if invoker.simple:
            return invoker.fn(payload)
        kwargs = {}
        if invoker.query:
            kwargs["query_params"] = dict(parse_qsl(query.decode("latin-1"), keep_blank_values=True))
        if invoker.headers:
            kwargs["headers"] = {k.decode("latin-1"): v.decode("latin-1") for k, v in headers.items()}
        if invoker.payload:
            return invoker.fn(payload, **kwargs)
        return invoker.fn(**kwargs)
