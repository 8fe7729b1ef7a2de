"""The command line: serve, check and launch (docs/replica-contract.md)."""

import argparse
import json
import os
import signal
import socket
import sys

from .launch import cmd_launch
from .system import EXIT_BIND_FAILED, EXIT_USAGE, env, log, set_pdeathsig

DEFAULT_MAX_BODY = 10 * 1024 * 1024
DRAIN_TIMEOUT_S = 30.0


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
    parser = argparse.ArgumentParser(prog="mlserve_harness",
                                     description="mlserve replica harness (see docs/replica-contract.md)")
    sub = parser.add_subparsers(dest="command")
    s = sub.add_parser("serve", help="serve a predictor")
    s.add_argument("--host", default=env("MLSERVE_HOST", default="127.0.0.1"))
    s.add_argument("--port", type=int, default=env("MLSERVE_PORT", "PORT", default="8080"))
    s.add_argument("--processes", type=int, default=env("MLSERVE_PROCESSES", default="1"))
    s.add_argument("--threads", type=int, default=env("MLSERVE_THREADS", default="1"))
    s.add_argument("--project-dir", default=env("MLSERVE_PROJECT_DIR", default="."))
    s.add_argument("--predictor", default=env("MLSERVE_PREDICTOR", default="predictor.py"))
    s.add_argument("--config-json", default=env("MLSERVE_CONFIG_JSON", default=None))
    s.add_argument("--batch-max-size", type=int, default=env("MLSERVE_BATCH_MAX_SIZE", default=None))
    s.add_argument("--batch-interval-ms", type=float, default=env("MLSERVE_BATCH_INTERVAL_MS", default=None))
    s.add_argument("--events-fd", type=int, default=env("MLSERVE_EVENTS_FD", default=None))
    s.add_argument("--keepalive-s", type=float, default=env("MLSERVE_KEEPALIVE_S", default="5"))
    s.add_argument("--max-body-bytes", type=int,
                   default=env("MLSERVE_MAX_BODY_BYTES", default=str(DEFAULT_MAX_BODY)))
    s.add_argument("--name", default=env("MLSERVE_NAME", "MLSERVE_API_NAME", default=None))
    s.add_argument("--status-file", default=env("MLSERVE_STATUS_FILE", default=None))
    s.add_argument("--drain-timeout-s", type=float,
                   default=env("MLSERVE_DRAIN_TIMEOUT_S", default=str(DRAIN_TIMEOUT_S)))
    s.add_argument("--stop-delay-s", type=float, default=env("MLSERVE_STOP_DELAY_S", default="0"),
                   help="on the first stop signal, keep serving this long before draining, so that a "
                        "load balancer that finds replicas by DNS (a Swarm gateway) stops sending first")
    s.add_argument("--no-stdin-watch", dest="watch_stdin", action="store_false",
                   default=env("MLSERVE_WATCH_STDIN", default="1") not in ("0", "false", "no"),
                   help="do not stop when standard input (a pipe) reaches end of file")
    c = sub.add_parser("check", help="exit 0 if the replica is ready (Docker HEALTHCHECK)")
    c.add_argument("--status-file", default=env("MLSERVE_STATUS_FILE", default=None))
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
    from .supervisor import Events, Master  # only serve needs them; `check` (a HEALTHCHECK) stays light

    events = Events(opts.events_fd)
    if opts.status_file:
        try:
            os.unlink(opts.status_file)  # never report a previous run as ready
        except OSError:
            pass
    if env("MLSERVE_PDEATHSIG", default="1") not in ("0", "false", "no"):
        set_pdeathsig(signal.SIGTERM)
    try:
        lsock = _bind(opts.host, opts.port)
    except OSError as exc:
        log(opts.name, "cannot listen on %s:%d: %s" % (opts.host, opts.port, exc))
        events.emit("error", message="cannot listen on %s:%d: %s" % (opts.host, opts.port, exc))
        return EXIT_BIND_FAILED
    port = lsock.getsockname()[1]
    if opts.batch_max_size and opts.threads < opts.batch_max_size:
        log(opts.name, "note: --threads %d is below --batch-max-size %d, so a process never holds a full "
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
