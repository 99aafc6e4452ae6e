"""Running nbgrader without paying for its import each time: a fork server.

Importing nbgrader takes about 2 s of CPU, as much as grading a short notebook's hidden tests. Every
``nbgrader`` run of the grader (``mlbd autograde``, ``mlbd check``, releases) is still a fresh process,
with the exit code, output and effects of the ``nbgrader`` command line, but it is forked from a server
process that imported nbgrader and the MLBD pipeline once. The server starts on first use, with the
nbgrader environment; it serves every thread of the grader process and ends with it (its stdin closes),
killing the runs still going.

Protocol, JSON lines: the grader sends ``{"id", "argv", "cwd", "env", "log"}``; the server answers
``{"id", "pid"}`` once forked, then ``{"id", "code", "peak_mb"}`` when the run ends.
"""
from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import uuid

PRELOAD = ("nbgrader.apps.nbgraderapp", "nbgrader.api", "mlbd_course.grading.execute",
           "mlbd_course.grading.isolated")


# --------------------------------------------------------------------- the server process
def serve() -> None:
    """The server's loop: fork a child per request, report its pid, then its exit code and peak memory."""
    import importlib

    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is the grader's to handle; we end with it
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:   # each run then fails on its own, with the error in its output
            pass
    # the protocol on descriptors of its own; whatever else prints to stdout goes to stderr
    inp, out = os.dup(0), os.dup(1)
    os.dup2(2, 1)
    running: dict[int, str] = {}
    buf, client = b"", True
    while client or running:
        ready, _, _ = select.select([inp] if client else [], [], [], 0.05)
        if ready:
            chunk = os.read(inp, 1 << 16)
            if not chunk:          # the grader is gone: so are its runs
                client = False
                for pid in running:
                    _kill_group(pid)
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                req = json.loads(line)
                pid = os.fork()
                if pid == 0:
                    _child(req, (inp, out))    # never returns
                running[pid] = req["id"]
                _send(out, {"id": req["id"], "pid": pid})
        while running:
            pid, status, usage = os.wait4(-1, os.WNOHANG)
            if pid == 0:
                break
            rid = running.pop(pid, None)
            if rid is not None and client:
                _send(out, {"id": rid, "code": os.waitstatus_to_exitcode(status), "peak_mb": usage.ru_maxrss / 1024})


def _send(fd: int, msg: dict) -> None:
    data = (json.dumps(msg) + "\n").encode()
    while data:
        data = data[os.write(fd, data):]


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _child(req: dict, protocol: tuple[int, int]) -> None:
    """What the ``nbgrader`` script does, in its own session, output into ``req["log"]``, without the
    server's ``protocol`` descriptors."""
    code = 1
    try:
        os.setsid()
        for fd in protocol:
            os.close(fd)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.chdir(req["cwd"])
        os.environ.clear()
        os.environ.update(req["env"])
        null = os.open(os.devnull, os.O_RDONLY)
        log = os.open(req["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(null)
        os.close(log)
        sys.argv = ["nbgrader", *req["argv"]]
        code = 0
        from nbgrader.apps.nbgraderapp import NbGraderApp
        NbGraderApp.launch_instance(argv=req["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        import traceback
        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


# --------------------------------------------------------------------- the grader's side
class ServerDied(RuntimeError):
    pass


class ForkServer:
    """The grader's connection to the server; :meth:`run` may be called from any thread."""

    def __init__(self, env: dict):
        self.proc = subprocess.Popen([sys.executable, "-c", "from mlbd_course.grading.forkserver import serve; serve()"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self._lock = threading.Lock()
        self._slots: dict[str, dict] = {}
        self.alive = True
        threading.Thread(target=self._read, name="mlbd-forkserver-reader", daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            try:
                msg = json.loads(line)
                slot = self._slots.get(msg["id"])
            except (ValueError, KeyError, TypeError):
                continue
            if slot is None:
                continue
            slot.update(msg)
            slot["started"].set()
            if "code" in msg:
                slot["done"].set()
        with self._lock:
            self.alive = False
            for slot in self._slots.values():
                slot["started"].set()
                slot["done"].set()

    def run(self, argv: list[str], cwd: str, env: dict, log: str, timeout: float | None) -> tuple[int, float, bool]:
        """Run nbgrader with ``argv`` in ``cwd``; ``(exit code, peak MB, timed out)``."""
        rid = uuid.uuid4().hex
        slot = {"started": threading.Event(), "done": threading.Event()}
        with self._lock:
            if not self.alive:
                raise ServerDied("the nbgrader fork server has ended")
            self._slots[rid] = slot
            self.proc.stdin.write((json.dumps(dict(id=rid, argv=argv, cwd=cwd, env=env, log=log)) + "\n").encode())
            self.proc.stdin.flush()
        try:
            timed_out = not slot["done"].wait(timeout)
            if timed_out:
                slot["started"].wait(10)
                if "pid" in slot:
                    _kill_group(slot["pid"])
                slot["done"].wait()
            if "code" not in slot:
                raise ServerDied("the nbgrader fork server ended during the run")
            return slot["code"], slot["peak_mb"], timed_out
        finally:
            with self._lock:
                self._slots.pop(rid, None)


_server: ForkServer | None = None
_server_lock = threading.Lock()


def server(env: dict) -> ForkServer:
    """The running server (started on first use, restarted if it ended)."""
    global _server
    with _server_lock:
        if _server is None or not _server.alive or _server.proc.poll() is not None:
            _server = ForkServer(env)
        return _server


def stop() -> None:
    """End the server (the next run starts a new one); its runs still going are killed."""
    global _server
    with _server_lock:
        if _server is not None:
            _server.proc.stdin.close()
            _server.proc.wait()
            _server = None
