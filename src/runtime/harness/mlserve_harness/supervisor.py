"""The master process: forks the worker processes, reports events, restarts
workers that die (with backoff), and drains on a stop."""

import json
import mmap
import os
import selectors
import signal
import stat
import time
import traceback

from .system import EXIT_ERROR, EXIT_LOAD_FAILED, EXIT_OK, exit_description, log, pipe_nonblocking, write_all
from .worker import worker_main

BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0
BACKOFF_RESET_AFTER_S = 60.0


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
            write_all(self.fd, (self.marker + json.dumps(obj) + "\n").encode())
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
        self.kick_r, self.kick_w = pipe_nonblocking()
        self.wake_r, self.wake_w = pipe_nonblocking()
        self.replica_ready = False
        self.stopping = False
        self.signals_seen = 0
        self.drain_deadline = 0.0
        # Set by the first stop signal when --stop-delay-s > 0: the time the drain begins.
        self.leave_at = None
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
                log(self.name, "ready on http://%s:%d (%d process%s x %d thread%s, pids %s)" % (
                    self.opts.host, self.port, self.opts.processes, "es" if self.opts.processes != 1 else "",
                    self.opts.threads, "s" if self.opts.threads != 1 else "", ", ".join(map(str, pids))))
                self.events.emit("ready", port=self.port, pid=os.getpid(), pids=pids)
        elif kind == "load_failed":
            w.load_failed_tb = msg.get("traceback") or ""
            if not self.replica_ready and not self.stopping:
                self._fail_startup(w, w.load_failed_tb, w.pid)

    def _fail_startup(self, w, tb, pid):
        self.events.emit("load_failed", worker=w.index, pid=pid, traceback=tb)
        log(self.name, "the predictor failed to load in worker %d; stopping the replica (exit code %d)"
             % (w.index, EXIT_LOAD_FAILED))
        self._kill_all()
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
        code, sig = exit_description(status)
        pid = w.pid
        self._read_reports(w, final=True)
        was_ready = w.ready
        w.pid = 0
        w.ready = False
        base = w.index * self.opts.threads
        self.slots[base:base + self.opts.threads] = b"\x00" * self.opts.threads
        # A load failure is a worker that exits before it served. One that was
        # serving (other workers still loading) crashed at run time: it is
        # restarted like any crash, since requests may already reach it.
        if not self.replica_ready and not self.stopping and not was_ready:
            tb = w.load_failed_tb
            if tb is None:
                tb = "worker %d (pid %d) exited with %s before the replica was ready\n" % (
                    w.index, pid, ("signal %s" % sig) if sig else ("code %d" % code))
                log(self.name, tb.rstrip())
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
        log(self.name, "worker %d (pid %d) exited with code %d; restarting in %gs" % (w.index, pid, code, delay))

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
            log(self.name, "cannot write the status file %s: %s" % (path, exc))

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
        log(self.name, "stopping (%s); draining requests in flight" % why)
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
                        if getattr(self.opts, "stop_delay_s", 0) > 0 and not self.stopping:
                            # Serving on while whoever routes to us learns we are leaving: closing
                            # now would reset a request sent on a kept-alive connection meanwhile.
                            self.leave_at = time.monotonic() + self.opts.stop_delay_s
                            self._remove_status()
                            log(self.name, "stop signal: serving %gs more before draining" % self.opts.stop_delay_s)
                        else:
                            self._begin_drain("signal")
                    else:
                        log(self.name, "second stop signal: killing workers")
                        self._begin_drain("signal")
                        self._kill_all()
                if self.stopping and not any(w.pid for w in self.workers):
                    break
                now = time.monotonic()
                timeout = 1.0
                if self.leave_at is not None:
                    if now >= self.leave_at:
                        self.leave_at = None
                        self._begin_drain("signal")
                    else:
                        timeout = min(timeout, self.leave_at - now)
                for w in self.workers:
                    if w.pid == 0 and w.restart_at:
                        timeout = min(timeout, max(0.0, w.restart_at - now))
                if self.stopping:
                    if now >= self.drain_deadline:
                        log(self.name, "drain timed out after %gs; killing workers" % self.opts.drain_timeout_s)
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
            log(self.name, "stopped")
            return EXIT_OK
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else EXIT_ERROR
        except BaseException:
            log(self.name, "master failed:\n%s" % traceback.format_exc().rstrip())
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
