"""Grading submissions in isolation, N at a time: the path shared by ``mlbd autograde`` and ``mlbd check``.

For each submission, in a worker thread:

1. a private course folder outside the course directory (``$TMPDIR/mlbd-grade-*/<student>``): the
   configuration, the lab's ``source/`` folder, a copy of the gradebook (with the assignment), and the
   submission's regular files (symbolic links and special files are dropped);
2. ``nbgrader autograde`` there, with :data:`mlbd_course.grading.execute.PIPELINE`: the kernel runs in a
   sandbox (:mod:`mlbd_course.grading.sandbox`) that sees only a copy of the student's folder and the
   release files; what it reports (status, limits hit, tampering) comes back as a JSON file;
3. the score of its test cells read from the private gradebook.

``mlbd autograde`` then writes every result into the course's gradebook from the grader process, one
student after another (:func:`record`): nbgrader's own autograde converter replays the executed notebook
(:class:`ReplayExecute`), so the gradebook rows are exactly those of a sequential ``nbgrader autograde``.
"""
from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from traitlets import Unicode

from nbgrader.preprocessors import NbGraderPreprocessor

from .course import CourseError, Lab, nbgrader, read_nb
from .execute import PIPELINE, autograde_args
from .sandbox import Limits


@dataclass
class Outcome:
    student: str
    status: str = "graded"
    points: float = 0.0
    seconds: float = 0.0
    peak_mb: float = 0.0
    detail: str = ""
    caught_by: str | None = None
    tampered: dict = field(default_factory=dict)
    notebook: Path | None = None      # the autograded notebook (in the private course)
    private: Path | None = None       # the private course folder
    output: str = ""


def copy_regular_files(src: Path, dest: Path) -> list[str]:
    """Copy the regular files and folders of ``src`` into ``dest``; return what was dropped (links...)."""
    dropped = []
    dest.mkdir(parents=True, exist_ok=True)
    for p in sorted(src.iterdir()):
        st = os.lstat(p)
        if stat.S_ISLNK(st.st_mode):
            dropped.append(f"{p.name} (symbolic link)")
        elif stat.S_ISDIR(st.st_mode):
            if p.name in (".ipynb_checkpoints", "__pycache__"):
                continue
            dropped += [f"{p.name}/{d}" for d in copy_regular_files(p, dest / p.name)]
        elif stat.S_ISREG(st.st_mode):
            shutil.copyfile(p, dest / p.name)
        else:
            dropped.append(f"{p.name} (not a regular file)")
    return dropped


def private_course(master: Path, lab: Lab, student: str, files: Path, base: Path) -> tuple[Path, list[str]]:
    """A course folder for one student, outside the course directory (see the module docstring)."""
    root = base / student
    if root.exists():
        shutil.rmtree(root)
    (root / "source").mkdir(parents=True)
    shutil.copy(master / "nbgrader_config.py", root / "nbgrader_config.py")
    shutil.copytree(master / "source" / lab.name, root / "source" / lab.name,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    shutil.copy(master / "gradebook.db", root / "gradebook.db")
    dropped = copy_regular_files(files, root / "submitted" / student / lab.name)
    return root, dropped


def grade_one(master: Path, lab: Lab, student: str, files: Path, cells: dict[str, float], base: Path,
              limits: Limits, data_dir: str | None, unsafe: bool = False, stop_after: str = "") -> Outcome:
    """Autograde one submission folder (``files``, holding ``<lab>.ipynb``) in isolation."""
    from .check import autograded_points

    out = Outcome(student)
    root, dropped = private_course(master, lab, student, files, base)
    out.private = root
    report_dir = root / ".mlbd-report"
    # the outer limit only catches a grader that hangs: the executor enforces the limits itself
    run = nbgrader(["autograde", lab.name, f"--student={student}", "--force",
                    *autograde_args(limits, data_dir, report_dir, unsafe=unsafe, stop_after=stop_after)],
                   root, timeout=limits.total_seconds + 600)
    out.seconds, out.output = run.seconds, run.output
    report_file = report_dir / f"{lab.name}.json"
    report = json.loads(report_file.read_text()) if report_file.exists() else None
    notes = [f"dropped {', '.join(dropped[:5])}"] if dropped else []
    if run.timed_out or run.returncode != 0 or report is None:
        out.status = "timeout" if run.timed_out else "error"
        tail = [ln for ln in run.output.strip().splitlines() if "ERROR" in ln or "Error" in ln][-3:]
        out.detail = "; ".join(notes + [f"nbgrader autograde failed: {' | '.join(tail)[-400:] or run.output[-300:]}"])
        return out
    out.status = report["status"]
    out.caught_by = report.get("caught_by")
    out.tampered = report.get("tampered") or {}
    out.peak_mb = max(float(report.get("peak_mb") or 0), run.peak_mb)
    out.points = autograded_points(root, lab.name, lab.name, student, cells)
    out.notebook = root / "autograded" / student / lab.name / f"{lab.name}.ipynb"
    out.detail = "; ".join(notes + report.get("reasons", []) + report.get("notes", []))
    return out


def grade_many(master: Path, lab: Lab, submissions: dict[str, Path], cells: dict[str, float], limits: Limits,
               jobs: int = 1, data_dir: str | None = None, unsafe: bool = False,
               stop_after: dict[str, str] | None = None, progress=None, base: Path | None = None) -> dict[str, Outcome]:
    """Grade ``submissions`` (student -> folder with ``<lab>.ipynb``), ``jobs`` at a time.

    The private folders are kept in ``base`` (the caller removes it) so that the autograded notebooks
    can be recorded or copied afterwards."""
    base = Path(base or tempfile.mkdtemp(prefix="mlbd-grade-"))
    stop_after = stop_after or {}
    lock = threading.Lock()
    done: dict[str, Outcome] = {}

    def work(student: str) -> Outcome:
        try:
            o = grade_one(master, lab, student, submissions[student], cells, base, limits, data_dir,
                          unsafe=unsafe, stop_after=stop_after.get(student, ""))
        except Exception as exc:  # a grader bug must not stop the batch
            o = Outcome(student, status="error", detail=f"grader error: {type(exc).__name__}: {exc}")
        with lock:
            done[student] = o
            if progress:
                progress(o, len(done), len(submissions))
        return o

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(work, list(submissions)))
    return {s: done[s] for s in submissions}


# --------------------------------------------------------------------- recording into the gradebook
class ReplayExecute(NbGraderPreprocessor):
    """Instead of executing, take the outputs of the notebook already executed in isolation
    (``<replay_dir>/<student>/<notebook>.ipynb``); cells are matched by position and source."""

    replay_dir = Unicode("").tag(config=True)

    def preprocess(self, nb, resources):
        student = resources["nbgrader"]["student"]
        name = resources["nbgrader"]["notebook"]
        done = read_nb(Path(self.replay_dir) / student / f"{name}.ipynb")
        if len(done.cells) != len(nb.cells):
            raise CourseError(f"{student}: executed notebook has {len(done.cells)} cells, expected {len(nb.cells)}")
        for cell, ran in zip(nb.cells, done.cells):
            if cell.source != ran.source:
                raise CourseError(f"{student}: executed notebook differs from the submission")
            if cell.cell_type == "code":
                cell.outputs = ran.get("outputs", [])
                cell.execution_count = ran.get("execution_count")
        nb.metadata["language_info"] = done.metadata.get("language_info", {})
        return nb, resources


def record(course: Path, lab: Lab, outcomes: dict[str, Outcome], submissions: dict[str, Path]) -> dict[str, str]:
    """Write the executed notebooks into ``course``'s gradebook and ``autograded/`` (grader process only).

    Returns student -> problem for those that could not be recorded."""
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    replay = Path(tempfile.mkdtemp(prefix="mlbd-replay-"))
    problems = {}
    try:
        config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
        config.CourseDirectory.root = str(course)
        config.Autograde.autograde_preprocessors = ["mlbd_course.grading.isolated.ReplayExecute", *PIPELINE[1:]]
        config.ReplayExecute.replay_dir = str(replay)
        # the collected files (minus links) become the submitted/ copy that nbgrader reads
        for student, o in outcomes.items():
            if o.notebook is None or not o.notebook.exists():
                continue
            (replay / student).mkdir()
            shutil.copy(o.notebook, replay / student / o.notebook.name)
            dest = course / "submitted" / student / lab.name
            if dest.resolve() != submissions[student].resolve():
                shutil.rmtree(dest, ignore_errors=True)
                copy_regular_files(submissions[student], dest)
        api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
        for student, o in outcomes.items():
            if not (replay / student).exists():
                continue
            with warnings.catch_warnings():   # SQLAlchemy's autoflush notes from nbgrader's own code
                warnings.simplefilter("ignore")
                res = api.autograde(lab.name, student, force=True, create=True)
            if not res.get("success"):
                problems[student] = (res.get("error") or res.get("log") or "")[-400:]
    finally:
        shutil.rmtree(replay, ignore_errors=True)
    return problems
