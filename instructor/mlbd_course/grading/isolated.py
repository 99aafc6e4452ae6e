"""Grading submissions in isolation, N at a time: the path shared by ``mlbd autograde`` and ``mlbd check``.

For each submission, in a worker thread:

1. a private course folder outside the course directory (``$TMPDIR/mlbd-grade-*/<student>``): the
   configuration, the lab's ``source/`` folder, a copy of the gradebook (with the assignment), and the
   submission's regular files (symbolic links and special files are dropped);
2. ``nbgrader autograde`` there, with :data:`mlbd_course.grading.execute.PIPELINE`: the kernel runs in a
   sandbox (:mod:`mlbd_course.grading.sandbox`) that sees only a copy of the student's folder and the
   release files; what it reports (status, limits hit, tampering) comes back as a JSON file;
3. the score of its test cells read from the private gradebook.

``mlbd autograde`` writes every result into the course's gradebook from one thread of the grader process,
one student after another (:class:`Recorder`): nbgrader's own autograde converter replays the executed notebook
(:class:`ReplayExecute`), so the gradebook rows are exactly those of a sequential ``nbgrader autograde``.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import stat
import tarfile
import tempfile
import threading
import uuid
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


def private_course(master: Path, lab: Lab, student: str, files: Path, base: Path,
                   template: Path | None = None) -> tuple[Path, list[str]]:
    """A course folder for one student, outside the course directory (see the module docstring).

    ``template`` is an SQLite gradebook that holds the assignment (default: ``master/gradebook.db``)."""
    root = base / student
    if root.exists():
        shutil.rmtree(root)
    (root / "source").mkdir(parents=True)
    shutil.copy(master / "nbgrader_config.py", root / "nbgrader_config.py")
    shutil.copytree(master / "source" / lab.name, root / "source" / lab.name,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    shutil.copy(template or master / "gradebook.db", root / "gradebook.db")
    dropped = copy_regular_files(files, root / "submitted" / student / lab.name)
    return root, dropped


def grade_one(master: Path, lab: Lab, student: str, files: Path, cells: dict[str, float], base: Path,
              limits: Limits, data_dir: str | None, unsafe: bool = False, stop_after: str = "",
              template: Path | None = None, skip_cells: tuple[str, ...] = ()) -> Outcome:
    """Autograde one submission folder (``files``, holding ``<lab>.ipynb``) in isolation."""
    root, dropped = private_course(master, lab, student, files, base, template)
    return run_private(root, lab.name, student, cells, limits, data_dir, unsafe, stop_after, dropped, skip_cells)


def run_private(root: Path, lab: str, student: str, cells: dict[str, float], limits: Limits,
                data_dir: str | None, unsafe: bool = False, stop_after: str = "",
                dropped: list[str] | None = None, skip_cells: tuple[str, ...] = ()) -> Outcome:
    """``nbgrader autograde`` of the one submission of the private course ``root`` (sandboxed kernel)."""
    from .check import autograded_points

    out = Outcome(student, private=root)
    report_dir = root / ".mlbd-report"
    # the private gradebook, whatever the course configuration says (it may name a shared database)
    db = f"--CourseDirectory.db_url=sqlite:///{root / 'gradebook.db'}"
    # the outer limit only catches a grader that hangs: the executor enforces the limits itself
    run = nbgrader(["autograde", lab, f"--student={student}", "--force", db,
                    *autograde_args(limits, data_dir, report_dir, unsafe=unsafe, stop_after=stop_after,
                                    skip_cells=skip_cells)],
                   root, timeout=limits.total_seconds + 600)
    out.seconds, out.output = run.seconds, run.output
    report_file = report_dir / f"{lab}.json"
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
    out.points = autograded_points(root, lab, lab, student, cells)
    out.notebook = root / "autograded" / student / lab / f"{lab}.ipynb"
    out.detail = "; ".join(notes + report.get("reasons", []) + report.get("notes", []))
    return out


# --------------------------------------------------------------------- executing on a Dask cluster
def _tar(folder: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(folder, arcname=".")
    return buf.getvalue()


def _untar(data: bytes, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        tar.extractall(dest, filter="data")   # refuses links out of dest, absolute paths, devices


def remote_grade(payload: bytes, lab: str, student: str, cells: dict[str, float], limits: Limits,
                 unsafe: bool = False, stop_after: str = "", dropped: list[str] | None = None) -> tuple[dict, bytes]:
    """Run on a Dask worker: unpack a private course (``payload``), grade it there with the worker's
    own environment and course data (``MLBD_DATA_DIR`` or ``mlbd_utils``' default), and return the
    outcome's fields and the ``autograded/`` folder as a tar.gz; nothing is left on the worker."""
    from .course import nbgrader_env

    with tempfile.TemporaryDirectory(prefix="mlbd-worker-") as tmp:
        root = Path(tmp) / student
        _untar(payload, root)
        o = run_private(root, lab, student, cells, limits, nbgrader_env().get("MLBD_DATA_DIR"), unsafe, stop_after,
                        dropped)
        done = root / "autograded" / student
        fields = {k: getattr(o, k) for k in ("status", "points", "seconds", "peak_mb", "detail", "caught_by",
                                              "tampered", "output")}
        return fields, _tar(done) if o.notebook is not None and done.is_dir() else b""


def _grade_on_cluster(scheduler: str, jobs_args: dict, submissions: dict[str, Path], base: Path,
                      record_done) -> None:
    """Send every private course to the Dask scheduler at ``scheduler``; unpack the results in ``base``."""
    from distributed import Client, as_completed

    master, lab, cells, limits = (jobs_args[k] for k in ("master", "lab", "cells", "limits"))
    try:
        client = Client(scheduler, timeout=10, set_as_default=False)
    except OSError as exc:
        raise CourseError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from exc
    with client:
        futures = {}
        for student, files in submissions.items():
            try:
                root, dropped = private_course(master, lab, student, files, base, jobs_args["template"])
                payload = _tar(root)
            except Exception as exc:
                record_done(Outcome(student, status="error", detail=f"grader error: {type(exc).__name__}: {exc}"))
                continue
            fut = client.submit(remote_grade, payload, lab.name, student, cells, limits, jobs_args["unsafe"],
                                jobs_args["stop_after"].get(student, ""), dropped, pure=False,
                                key=f"mlbd-grade-{lab.name}-{student}-{uuid.uuid4().hex[:8]}")
            futures[fut] = (student, root)
        for fut in as_completed(list(futures), loop=client.loop):   # this client, not a default one
            student, root = futures[fut]
            try:
                fields, autograded = fut.result()
                o = Outcome(student, private=root, **fields)
                if autograded:
                    _untar(autograded, root / "autograded" / student)
                    o.notebook = root / "autograded" / student / lab.name / f"{lab.name}.ipynb"
            except Exception as exc:   # a worker that died (KilledWorker), a lost connection...
                o = Outcome(student, status="error", private=root,
                            detail=f"Dask execution failed: {type(exc).__name__}: {str(exc)[:300]}")
            record_done(o)


def grade_many(master: Path, lab: Lab, submissions: dict[str, Path], cells: dict[str, float], limits: Limits,
               jobs: int = 1, data_dir: str | None = None, unsafe: bool = False,
               stop_after: dict[str, str] | None = None, progress=None, base: Path | None = None,
               template: Path | None = None, scheduler: str | None = None,
               skip_cells: dict[str, tuple[str, ...]] | None = None) -> dict[str, Outcome]:
    """Grade ``submissions`` (student -> folder with ``<lab>.ipynb``), ``jobs`` at a time on this machine,
    or on the Dask cluster whose scheduler is at ``scheduler`` (``tcp://HOST:PORT``; ``jobs`` is then
    the cluster's business: its workers' threads). ``stop_after`` and ``skip_cells`` (student -> value,
    from ``mlbd check``) are passed to the executor; ``skip_cells`` only on this machine.

    The private folders are kept in ``base`` (the caller removes it) so that the autograded notebooks
    can be recorded or copied afterwards."""
    base = Path(base or tempfile.mkdtemp(prefix="mlbd-grade-"))
    stop_after, skip_cells = stop_after or {}, skip_cells or {}
    lock = threading.Lock()
    done: dict[str, Outcome] = {}

    def finished(o: Outcome) -> None:
        with lock:
            done[o.student] = o
            if progress:
                progress(o, len(done), len(submissions))

    if scheduler:
        _grade_on_cluster(scheduler, dict(master=master, lab=lab, cells=cells, limits=limits, unsafe=unsafe,
                                          stop_after=stop_after, template=template), submissions, base, finished)
        return {s: done[s] for s in submissions}

    def work(student: str) -> None:
        try:
            o = grade_one(master, lab, student, submissions[student], cells, base, limits, data_dir,
                          unsafe=unsafe, stop_after=stop_after.get(student, ""), template=template,
                          skip_cells=skip_cells.get(student, ()))
        except Exception as exc:  # a grader bug must not stop the batch
            o = Outcome(student, status="error", detail=f"grader error: {type(exc).__name__}: {exc}")
        finished(o)

    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    try:
        list(pool.map(work, list(submissions)))
    except BaseException:      # Ctrl-C: drop the queue and end the runs still going, at once
        pool.shutdown(wait=False, cancel_futures=True)
        from .forkserver import stop
        stop()
        raise
    pool.shutdown()
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


class Recorder:
    """Writes executed notebooks into ``course``'s gradebook (``db_url``, default its ``gradebook.db``) and
    ``autograded/``, one submission at a time, from one thread of the grader process: ``add`` an outcome
    as soon as its execution ends, ``close`` when all are added. Recording starts at once, while the other
    submissions still execute. With ``low_priority`` (the executions share this machine's cores) the writer
    thread runs at the lowest CPU priority, so that it uses what the executions leave idle instead of
    competing with them, and finishes at full speed once they are done.

    ``close`` returns student -> problem for those that could not be recorded."""

    def __init__(self, course: Path, lab: Lab, submissions: dict[str, Path], db_url: str | None = None,
                 low_priority: bool = False):
        import queue

        self.course, self.lab, self.submissions = course, lab, submissions
        self.db_url = db_url or f"sqlite:///{course / 'gradebook.db'}"
        self.low_priority = low_priority
        self.problems: dict[str, str] = {}
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="mlbd-gradebook-writer", daemon=True)
        self._thread.start()

    def add(self, outcome: Outcome) -> None:
        if outcome.notebook is not None and outcome.notebook.exists():
            self._queue.put(outcome)

    def close(self) -> dict[str, str]:
        self._queue.put(None)
        self._thread.join()
        return self.problems

    def _run(self) -> None:
        from nbgrader.apps.api import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory
        from traitlets.config.loader import PyFileConfigLoader

        if self.low_priority:
            try:   # Linux: a thread's nice value is its own
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
            except OSError:
                pass
        replay = Path(tempfile.mkdtemp(prefix="mlbd-replay-"))
        api = None
        try:
            while (o := self._queue.get()) is not None:
                try:
                    if api is None:
                        config = PyFileConfigLoader("nbgrader_config.py", path=str(self.course)).load_config()
                        config.CourseDirectory.root = str(self.course)
                        config.CourseDirectory.db_url = self.db_url
                        config.Autograde.autograde_preprocessors = ["mlbd_course.grading.isolated.ReplayExecute",
                                                                    *PIPELINE[1:]]
                        config.ReplayExecute.replay_dir = str(replay)
                        api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
                    (replay / o.student).mkdir()
                    shutil.copy(o.notebook, replay / o.student / o.notebook.name)
                    # the collected files (minus links) become the submitted/ copy that nbgrader reads
                    dest = self.course / "submitted" / o.student / self.lab.name
                    if dest.resolve() != self.submissions[o.student].resolve():
                        shutil.rmtree(dest, ignore_errors=True)
                        copy_regular_files(self.submissions[o.student], dest)
                    with warnings.catch_warnings():   # SQLAlchemy's autoflush notes from nbgrader's own code
                        warnings.simplefilter("ignore")
                        res = api.autograde(self.lab.name, o.student, force=True, create=True)
                    if not res.get("success"):
                        self.problems[o.student] = (res.get("error") or res.get("log") or "")[-400:]
                except Exception as exc:   # one student's problem never stops the others
                    self.problems[o.student] = f"{type(exc).__name__}: {str(exc)[:300]}"
        finally:
            shutil.rmtree(replay, ignore_errors=True)
