"""Isolated execution of one submission: a bubblewrap sandbox, cgroup limits, an ipc-only kernel.

Each submission's kernel runs in its own sandbox (``bwrap``):

* its own mount namespace: read-only ``/usr``, ``/etc`` (minus secrets), the Python environment, the
  student package and the course data (``MLBD_DATA_DIR``); a private, size-limited ``/home/student``
  (working folder ``/home/student/<lab>``, a copy of the student's notebook folder and the release
  files) and ``/tmp``; nothing of ``source/``, the gradebook, ``instructor/`` (so ``import
  mlbd_course`` fails), other submissions or the grader's home;
* its own network namespace (no network: only a loopback of its own), pid, ipc and uts namespaces, and
  a user namespace (uid 1000 inside, no capabilities); it dies with the grader;
* the kernel talks to the grader over ZMQ ``ipc`` sockets in a private run folder (the only folder it
  shares with the grader);
* limits: memory (cgroup memory controller: resident memory of the kernel and its children, tmpfs
  files included; ``RLIMIT_AS`` as a fallback), processes (cgroup pids controller), file size
  (``RLIMIT_FSIZE``) and the size of its private folders; wall time per cell and in total and the size
  of the output are enforced by the executor (:mod:`mlbd_course.grading.execute`).
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

from .course import CourseError

MiB = 1024 * 1024
# files under /etc that a kernel never needs and must not read
ETC_SECRETS = ["shadow", "shadow-", "gshadow", "gshadow-", "sudoers", "security/opasswd", "machine-id"]
ETC_SECRET_DIRS = ["ssh", "ssl/private", "sudoers.d", "credstore", "credstore.encrypted"]
ENV_KEEP_PREFIXES = ("LANG", "LC_", "TF_", "OMP_", "MKL_", "OPENBLAS_", "KERAS_", "R_", "PYTHONHASHSEED",
                     "MPLBACKEND", "TZ", "JOBLIB_", "CUDA_VISIBLE_DEVICES", "NUMBA_")


@dataclass
class Limits:
    """Per-submission limits (defaults: safe for every lab of the course on a 2-core machine)."""

    cell_seconds: float = 300          # wall time of one cell (then the kernel is interrupted)
    total_seconds: float = 1800        # wall time of the whole notebook (then it stops; graded on what ran)
    memory_mb: int = 2048              # resident memory of the kernel and its children
    processes: int = 512               # tasks (processes + threads) in the sandbox
    output_mb: float = 10              # notebook output kept (the rest is dropped, status output-limit)
    disk_mb: int = 1024                # private /home/student and /tmp; largest file written
    network: bool = False              # give the kernel the network (never by default)


class IsolationUnavailable(CourseError):
    """The machine cannot isolate submissions (no bwrap, no namespaces...)."""


def _bwrap() -> str | None:
    return shutil.which("bwrap")


_ISOLATION_CACHE: dict[str, str | None] = {}


def isolation_problem() -> str | None:
    """``None`` when submissions can be sandboxed here, else why not (cached)."""
    if "v" in _ISOLATION_CACHE:
        return _ISOLATION_CACHE["v"]
    exe = _bwrap()
    if exe is None:
        why = "bubblewrap (bwrap) is not installed (Debian: apt-get install bubblewrap)"
    else:
        cmd = [exe, "--unshare-all", "--unshare-user", "--uid", "1000", "--gid", "1000", "--die-with-parent",
               "--ro-bind", "/usr", "/usr", *_merged_usr_links(), "--proc", "/proc", "--dev", "/dev",
               "true"]
        try:
            run = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
            why = None if run.returncode == 0 else f"bwrap cannot create namespaces here: {run.stderr.strip()[:300]}"
        except (OSError, subprocess.TimeoutExpired) as exc:
            why = f"bwrap failed: {exc}"
    _ISOLATION_CACHE["v"] = why
    return why


def _merged_usr_links() -> list[str]:
    out = []
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        p = Path("/") / name
        if p.is_symlink():
            out += ["--symlink", os.readlink(p), f"/{name}"]
        elif p.is_dir():
            out += ["--ro-bind", str(p), f"/{name}"]
    return out


# ----------------------------------------------------------------------------------------- cgroups
def _own_cgroup(controller: str) -> str | None:
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, ctrls, path = line.split(":", 2)
            if controller in ctrls.split(","):
                return path
    except OSError:
        pass
    return None


class CgroupLimits:
    """Memory and process limits for one sandbox (cgroup v1 memory/pids controllers, or cgroup v2)."""

    def __init__(self, name: str, memory_bytes: int, processes: int):
        self.dirs: dict[str, Path] = {}
        self.problems: list[str] = []
        base = Path("/sys/fs/cgroup")
        if (base / "memory").is_dir() or (base / "pids").is_dir():          # cgroup v1
            for ctrl, files in (("memory", {"memory.limit_in_bytes": memory_bytes}),
                                ("pids", {"pids.max": processes})):
                own = _own_cgroup(ctrl)
                root = base / ctrl
                if own is None or not root.is_dir():
                    continue
                d = root / own.lstrip("/") / name
                try:
                    d.mkdir()
                    for f, v in files.items():
                        (d / f).write_text(str(v))
                    if ctrl == "memory" and (d / "memory.memsw.limit_in_bytes").exists():
                        try:
                            (d / "memory.memsw.limit_in_bytes").write_text(str(memory_bytes))
                        except OSError:
                            pass
                    self.dirs[ctrl] = d
                except OSError as exc:
                    self.problems.append(f"cgroup {ctrl}: {exc}")
                    _rmdir(d)
        elif (base / "cgroup.controllers").exists():                             # cgroup v2
            own = _own_cgroup("") or "/"
            d = base / own.lstrip("/") / name
            try:
                d.mkdir()
                (d / "memory.max").write_text(str(memory_bytes))
                (d / "memory.swap.max").write_text("0") if (d / "memory.swap.max").exists() else None
                (d / "pids.max").write_text(str(processes))
                self.dirs["memory"] = self.dirs["pids"] = d
            except OSError as exc:
                self.problems.append(f"cgroup v2: {exc}")
                _rmdir(d)

    @property
    def memory(self) -> bool:
        return "memory" in self.dirs

    @property
    def pids(self) -> bool:
        return "pids" in self.dirs

    def procs_files(self) -> list[str]:
        return sorted({str(d / "cgroup.procs") for d in self.dirs.values()})

    def _read(self, ctrl: str, name: str) -> str:
        try:
            return (self.dirs[ctrl] / name).read_text()
        except (KeyError, OSError):
            return ""

    def oom_killed(self) -> bool:
        for line in (self._read("memory", "memory.oom_control") + self._read("memory", "memory.events")).splitlines():
            key, _, val = line.partition(" ")
            if key in ("oom_kill", "oom") and val.strip().isdigit() and int(val) > 0:
                return True
        return False

    def peak_mb(self) -> float:
        for name in ("memory.max_usage_in_bytes", "memory.peak"):
            v = self._read("memory", name).strip()
            if v.isdigit():
                return int(v) / MiB
        return 0.0

    def pids_exhausted(self) -> bool:
        for line in self._read("pids", "pids.events").splitlines():
            key, _, val = line.partition(" ")
            if key == "max" and val.strip().isdigit() and int(val) > 0:
                return True
        return False

    def kill_all(self) -> None:
        for _ in range(50):
            pids = set()
            for f in self.procs_files():
                try:
                    pids |= {int(p) for p in Path(f).read_text().split()}
                except OSError:
                    pass
            if not pids:
                return
            for p in pids:
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.05)

    def remove(self) -> None:
        self.kill_all()
        for d in set(self.dirs.values()):
            for _ in range(40):
                if _rmdir(d):
                    break
                time.sleep(0.05)


def _rmdir(d: Path) -> bool:
    try:
        d.rmdir()
        return True
    except FileNotFoundError:
        return True
    except OSError:
        return False


# ----------------------------------------------------------------------------------------- sandbox
class Sandbox:
    """One submission's sandbox. Use as a context manager; ``kernel_manager()`` gives the kernel."""

    def __init__(self, files_dir: Path, lab: str, limits: Limits, data_dir: str | None = None,
                 unsafe: bool = False, base: str | None = None, notebooks: list[Path] | None = None):
        self.files_dir, self.lab, self.limits, self.unsafe = Path(files_dir), lab, limits, unsafe
        self.data_dir = data_dir
        self.base = base
        self.notebooks = [Path(p) for p in notebooks or [] if Path(p).is_file() and not Path(p).is_symlink()]
        self.cgroups: CgroupLimits | None = None
        self.notes: list[str] = []

    # the work folder inside the sandbox
    @property
    def home(self) -> str:
        return "/home/student"

    @property
    def workdir(self) -> str:
        return f"{self.home}/{self.lab}"

    def __enter__(self) -> "Sandbox":
        problem = None if self.unsafe else isolation_problem()
        if problem:
            raise IsolationUnavailable(f"cannot isolate submissions: {problem}; pass --unsafe to grade "
                                       "without isolation (submissions then run with your rights)")
        # the run folder (connection file, ipc sockets) lives on a tmpfs so that what a kernel writes
        # there is charged to its own memory limit; the input is a copy of the submission's files
        shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
        self.run_dir = Path(tempfile.mkdtemp(prefix="mlbd-run-", dir=self.base or shm))
        self.input_dir = Path(tempfile.mkdtemp(prefix="mlbd-in-", dir=self.base))
        for p in self.files_dir.iterdir():
            # notebooks are left out: the one being graded already holds the hidden tests
            if p.is_symlink() or p.name.startswith(".") or p.suffix == ".ipynb":
                continue
            if p.is_dir():
                shutil.copytree(p, self.input_dir / p.name, symlinks=True)
            elif p.is_file():
                shutil.copy2(p, self.input_dir / p.name)
        for nb in self.notebooks:     # the student's own notebook, as submitted
            shutil.copyfile(nb, self.input_dir / nb.name)
        os.chmod(self.input_dir, 0o755)
        if not self.unsafe:
            self.cgroups = CgroupLimits(f"mlbd-{uuid.uuid4().hex[:12]}", self.limits.memory_mb * MiB,
                                        self.limits.processes)
            if not self.cgroups.memory:
                self.notes.append("no memory cgroup: memory capped with RLIMIT_AS (virtual memory)")
            if not self.cgroups.pids:
                self.notes.append("no pids cgroup: processes not capped")
        return self

    def __exit__(self, *exc) -> None:
        if self.cgroups is not None:
            self.cgroups.remove()
        shutil.rmtree(self.run_dir, ignore_errors=True)
        shutil.rmtree(self.input_dir, ignore_errors=True)

    # ------------------------------------------------------------------ status after the run
    def oom_killed(self) -> bool:
        return bool(self.cgroups and self.cgroups.oom_killed())

    def pids_exhausted(self) -> bool:
        return bool(self.cgroups and self.cgroups.pids_exhausted())

    def peak_mb(self) -> float:
        return self.cgroups.peak_mb() if self.cgroups else 0.0

    def kill_all(self) -> None:
        if self.cgroups is not None:
            self.cgroups.kill_all()

    # ------------------------------------------------------------------ the kernel command
    def _ro_paths(self) -> list[str]:
        import mlbd_utils
        paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, str(Path(mlbd_utils.__file__).resolve().parent)}
        exe = Path(sys.executable)
        paths.add(str(exe.resolve().parent.parent))
        if self.data_dir:
            paths.add(str(Path(self.data_dir).resolve()))
        for p in sys.path:      # site-packages outside the prefix (user site, conda...), never a course
            if p and Path(p).is_dir() and "site-packages" in p:
                paths.add(str(Path(p).resolve()))
        # a path inside another one is already visible
        out = []
        for p in sorted(paths, key=len):
            if not any(p == q or p.startswith(q.rstrip("/") + "/") for q in out):
                out.append(p)
        return [p for p in out if p not in ("/", "/usr") and not p.startswith("/usr/")]

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k.startswith(ENV_KEEP_PREFIXES)}
        bindir = str(Path(sys.executable).parent)
        env.update(PATH=f"{bindir}:/usr/local/bin:/usr/bin:/bin", HOME=self.home, USER="student",
                   TMPDIR="/tmp", JUPYTER_RUNTIME_DIR="/tmp/jupyter", MPLCONFIGDIR="/tmp/matplotlib",
                   PYTHONNOUSERSITE="1", PYTHONDONTWRITEBYTECODE="1")
        env.setdefault("MPLBACKEND", "Agg")
        env.setdefault("PYTHONHASHSEED", "0")
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        if self.data_dir:
            env["MLBD_DATA_DIR"] = str(Path(self.data_dir).resolve())
        return env

    def wrap(self, cmd: list[str]) -> list[str]:
        """The kernel command ``cmd`` run inside the sandbox with the limits."""
        lim = self.limits
        disk = lim.disk_mb * MiB
        if self.unsafe:   # no sandbox: at least the rlimits (virtual memory, file size)
            if shutil.which("prlimit"):
                return ["prlimit", f"--as={lim.memory_mb * MiB * 4}", f"--fsize={disk}", "--core=0", "--", *cmd]
            return cmd
        b = [_bwrap(), "--unshare-all", "--unshare-user", "--uid", "1000", "--gid", "1000",
             "--hostname", "sandbox", "--die-with-parent", "--clearenv"]
        if lim.network:
            b.append("--share-net")
        b += ["--ro-bind", "/usr", "/usr", *_merged_usr_links()]
        b += ["--ro-bind", "/etc", "/etc"]
        for name in ETC_SECRETS:
            if Path("/etc", name).is_file():
                b += ["--ro-bind", "/dev/null", f"/etc/{name}"]
        for name in ETC_SECRET_DIRS:
            if Path("/etc", name).is_dir():
                b += ["--tmpfs", f"/etc/{name}"]
        b += ["--proc", "/proc", "--dev", "/dev", "--size", str(disk), "--tmpfs", "/tmp",
              "--size", str(min(disk, 256 * MiB)), "--tmpfs", "/dev/shm",
              "--ro-bind-try", "/sys/devices/system/cpu", "/sys/devices/system/cpu",
              "--size", str(disk), "--tmpfs", self.home]
        for p in self._ro_paths():
            b += ["--ro-bind", p, p]
        b += ["--ro-bind", str(self.input_dir), "/mlbd/input", "--bind", str(self.run_dir), str(self.run_dir),
              "--chdir", self.home]
        for k, v in self.env().items():
            b += ["--setenv", k, v]
        # copy the submission's files into the private work folder, then start the kernel there
        inner = ["/bin/sh", "-c", 'mkdir -p "$0" && cp -R /mlbd/input/. "$0"/ && cd "$0" && exec "$@"',
                 self.workdir, *cmd]
        limits = ["prlimit", f"--fsize={disk}", "--core=0", "--nofile=4096"]
        if self.cgroups is None or not self.cgroups.memory:
            limits.append(f"--as={lim.memory_mb * MiB * 4}")   # virtual memory is larger than resident
        limits.append("--")
        # join the cgroups first (from outside the sandbox), then limits, then the sandbox
        procs = self.cgroups.procs_files() if self.cgroups else []
        # SIGINT is ignored by bwrap (an interrupt must stop the cell, not kill the sandbox); the kernel
        # installs its own handler while it executes
        join = ["/bin/sh", "-c", 'trap "" INT; for f; do [ "$f" = -- ] && break; echo $$ > "$f" || exit 97; '
                'shift; done; shift; exec "$@"', "sh", *procs, "--"]
        return join + limits + b + inner

    def kernel_manager(self, kernel_name: str = "python3", **kw) -> "SandboxKernelManager":
        km = SandboxKernelManager(kernel_name=kernel_name or "python3", **kw)
        km.sandbox = self
        if not self.unsafe:
            km.transport = "ipc"
            km.ip = str(self.run_dir / "k")
        km.connection_file = str(self.run_dir / "kernel.json")
        return km


class SandboxKernelManager(AsyncKernelManager):
    """A kernel manager that starts the kernel inside its :class:`Sandbox`."""

    sandbox: Sandbox | None = None

    def format_kernel_cmd(self, extra_arguments=None):
        if self.sandbox is not None and not self.sandbox.unsafe:
            # interrupts travel as messages on the control channel: the kernel signals itself
            self.kernel_spec.interrupt_mode = "message"
        cmd = super().format_kernel_cmd(extra_arguments)
        return self.sandbox.wrap(cmd) if self.sandbox is not None else cmd

    async def _async_pre_start_kernel(self, **kw):
        if self.sandbox is not None and not self.sandbox.unsafe:
            kw["cwd"] = str(self.sandbox.run_dir)
            kw["env"] = dict(os.environ)
        elif self.sandbox is not None:
            kw["cwd"] = str(self.sandbox.input_dir)
        return await super()._async_pre_start_kernel(**kw)
