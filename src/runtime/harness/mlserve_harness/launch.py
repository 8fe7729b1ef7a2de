"""`launch`: runs a command-kind server so that it stops when mlserve dies, on
machines without util-linux's setpriv."""

import os
import select
import signal
import sys

from .system import EXIT_ERROR, env, set_pdeathsig


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
    if env("MLSERVE_NO_PRCTL", default="0") != "1" and set_pdeathsig(signal.SIGTERM):
        if os.getppid() != opts.parent_pid:  # mlserve died before the signal was armed
            sys.stderr.write("mlserve: process %d, the parent, is gone; not running %s\n" % (opts.parent_pid, argv[0]))
            return EXIT_ERROR
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
