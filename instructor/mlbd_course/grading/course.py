"""The course directory, its labs, and running nbgrader on it."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

# an editable install (this repository's scripts/setup_env.sh) finds its course next to the package
PACKAGE_REPO = Path(__file__).resolve().parents[3]
SOLUTION_BEGIN, SOLUTION_END = "### BEGIN SOLUTION", "### END SOLUTION"
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"


class CourseError(RuntimeError):
    """A problem with the course layout or a lab, explained for the user."""


@dataclass(frozen=True)
class Lab:
    """One nbgrader assignment: ``source/<name>/<name>.ipynb`` (plus data files and ``mutants.yml``)."""

    name: str
    folder: Path

    @property
    def notebook(self) -> Path:
        return self.folder / f"{self.name}.ipynb"

    @property
    def mutants_file(self) -> Path:
        return self.folder / "mutants.yml"


def _is_course(path: Path) -> bool:
    return (path / "source").is_dir() and (path / "nbgrader_config.py").is_file()


def course_root(root: str | Path | None = None) -> Path:
    """The course directory: ``root``, else ``$MLBD_COURSE_ROOT``, else the first folder holding
    ``source/`` and ``nbgrader_config.py`` from the working directory upwards, else the repository of an
    editable install."""
    if root is None and os.environ.get("MLBD_COURSE_ROOT"):
        root = os.environ["MLBD_COURSE_ROOT"]
    if root is None:
        here = Path.cwd().resolve()
        root = next((p for p in (here, *here.parents) if _is_course(p)), PACKAGE_REPO)
    root = Path(root)
    if not (root / "source").is_dir():
        raise CourseError(f"{root}: not a course directory (no source/ folder)")
    return root.resolve()


def all_labs(root: Path) -> list[Lab]:
    labs = []
    for folder in sorted((root / "source").iterdir()):
        if folder.is_dir() and (folder / f"{folder.name}.ipynb").exists():
            labs.append(Lab(folder.name, folder))
    return labs


def select_labs(root: Path, names: list[str] | None) -> list[Lab]:
    """The labs named (all when ``names`` is empty); unknown names raise a clear error."""
    labs = all_labs(root)
    if not names:
        return labs
    by_name = {lab.name: lab for lab in labs}
    unknown = [n for n in names if n.rstrip("/").split("/")[-1] not in by_name]
    if unknown:
        raise CourseError(f"unknown lab(s) {unknown}; labs in {root / 'source'}: {sorted(by_name)}")
    return [by_name[n.rstrip("/").split("/")[-1]] for n in names]


def nbgrader_env() -> dict:
    """Environment for nbgrader subprocesses: this Python's bin first on PATH (nbgrader runs alembic)."""
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env.setdefault("MPLBACKEND", "Agg")
    env.setdefault("PYTHONHASHSEED", "0")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "MLBD_DATA_DIR" not in env:
        from mlbd_utils.data import data_dir
        env["MLBD_DATA_DIR"] = str(data_dir().resolve())
    return env


@dataclass
class RunResult:
    returncode: int
    seconds: float
    peak_mb: float
    output: str
    timed_out: bool = False


def run_measured(cmd: list[str], cwd: Path, timeout: float | None = None, env: dict | None = None) -> RunResult:
    """Run ``cmd``; return its exit code, wall seconds, output and peak resident memory in MB of the
    process tree (the largest of the process and its waited-for children, e.g. the notebook kernel)."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env or nbgrader_env(), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        timed_out = False
        deadline = None if timeout is None else t0 + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if deadline and time.perf_counter() > deadline:
                timed_out = True
                os.killpg(proc.pid, 9)
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    return RunResult(proc.returncode, time.perf_counter() - t0, usage.ru_maxrss / 1024, text, timed_out)


def nbgrader_command(args: list[str], course: Path) -> list[str]:
    """The nbgrader command line for ``args`` on the course directory ``course``."""
    exe = Path(sys.executable).parent / "nbgrader"
    return [str(exe) if exe.exists() else "nbgrader", *args, f"--CourseDirectory.root={course}"]


def nbgrader(args: list[str], course: Path, timeout: float | None = None) -> RunResult:
    """Run nbgrader with ``args`` on the course directory ``course``: a fresh process with the exit code,
    output and effects of the command line (:func:`nbgrader_command`), forked from a server that has
    nbgrader imported already (:mod:`mlbd_course.grading.forkserver`)."""
    from .forkserver import ServerDied, server

    env = nbgrader_env()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mlbd-nbgrader-") as tmp:
        log = os.path.join(tmp, "output")
        open(log, "w").close()
        try:
            code, peak, timed_out = server(env).run(nbgrader_command(args, course)[1:], str(course), env, log,
                                                    timeout)
        except ServerDied as exc:
            code, peak, timed_out = -1, 0.0, False
            with open(log, "a") as f:
                f.write(f"\nERROR: {exc}\n")
        with open(log, "rb") as f:
            text = f.read().decode("utf-8", "replace")
    return RunResult(code, time.perf_counter() - t0, peak, text, timed_out)


def scratch_course(root: Path, labs: list[Lab], base: Path | None = None) -> Path:
    """A throw-away course directory: config + the labs' sources, its own gradebook."""
    tmp = Path(tempfile.mkdtemp(prefix="mlbd-course-", dir=base))
    shutil.copy(root / "nbgrader_config.py", tmp / "nbgrader_config.py")
    (tmp / "source").mkdir()
    for lab in labs:
        shutil.copytree(lab.folder, tmp / "source" / lab.name,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    return tmp


def generate_release(course: Path, lab: Lab) -> Path:
    """``nbgrader generate_assignment`` for one lab in ``course``; returns the release folder."""
    res = nbgrader(["generate_assignment", lab.name, "--force"], course, timeout=600)
    out = course / "release" / lab.name
    if res.returncode != 0 or not (out / f"{lab.name}.ipynb").exists():
        raise CourseError(f"nbgrader generate_assignment {lab.name} failed:\n{res.output[-3000:]}")
    return out


def read_nb(path: Path):
    return nbformat.read(str(path), as_version=4)


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def autograded_cells(nb) -> dict[str, float]:
    """grade_id -> points of the autograder test cells (graded, not answers)."""
    out = {}
    for cell in nb.cells:
        m = nbgrader_meta(cell)
        if m.get("grade") and not m.get("solution") and cell.cell_type == "code":
            out[m["grade_id"]] = float(m.get("points", 0))
    return out


def strip_markers(text: str) -> str:
    """A solution cell's text as a student would have typed it (solution markers removed)."""
    keep = [ln for ln in text.split("\n") if ln.strip() not in (SOLUTION_BEGIN, SOLUTION_END)]
    return "\n".join(keep)


def json_dump(obj, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1, sort_keys=False) + "\n")
