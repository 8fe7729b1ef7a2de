"""A worker process, forked by the supervisor: loads the predictor, serves with
its threads, and stops when told to (SIGTERM) or when the supervisor dies."""

import json
import os
import signal
import sys
import traceback

from .http1 import Server
from .predictor import load_predictor
from .system import EXIT_ERROR, EXIT_LOAD_FAILED, EXIT_OK, log, set_pdeathsig, write_all


def worker_main(opts, index, lsock, slots, kick_r, kick_w, report_w, master_pid):
    """Runs in a forked child; never returns."""
    name = opts.name
    code = EXIT_ERROR
    try:
        set_pdeathsig(signal.SIGKILL)
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
            log(name, "worker %d (pid %d) failed to load the predictor %s:\n%s"
                 % (index, os.getpid(), opts.predictor, tb.rstrip()))
            write_all(report_w, (json.dumps({"type": "load_failed", "traceback": tb}) + "\n").encode())
            code = EXIT_LOAD_FAILED
            return
        server = Server(opts, index, lsock, slots, kick_r, kick_w, methods)
        signal.signal(signal.SIGTERM, lambda signum, frame: server.request_stop())
        threads = server.start_threads()
        write_all(report_w, b'{"type":"ready"}\n')
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
        log(name, "worker %d (pid %d) failed:\n%s" % (index, os.getpid(), traceback.format_exc().rstrip()))
        code = EXIT_ERROR
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:  # noqa: BLE001
            pass
        os._exit(code)
