"""The operating-system pieces every part uses: exit codes, the log line, the
parent-death signal, non-blocking pipes and writes, and wait statuses."""

import os
import select
import signal
import sys

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_LOAD_FAILED = 3
EXIT_BIND_FAILED = 4


def env(*names, default=None):
    for name in names:
        value = os.environ.get(name)
        if value is not None and value != "":
            return value
    return default


def log(name, message):
    try:
        sys.stderr.write("[mlserve] api=%s %s\n" % (name, message))
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def set_pdeathsig(sig):
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


def pipe_nonblocking():
    r, w = os.pipe()
    os.set_blocking(r, False)
    os.set_blocking(w, False)
    return r, w


def write_all(fd, data):
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            select.select([], [fd], [], 1.0)
            continue
        view = view[n:]


def exit_description(status):
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
