"""``mlbd autograde``: grade collected submissions, isolated and in parallel, and export a CSV.

Submissions follow nbgrader's layout ``<DIR>/<student>/<lab>/<lab>.ipynb``. Each notebook is checked
before grading (readable, valid nbformat, unique cell ids); a broken one is reported with its reason
and 0 points, and never stops the grading of the others. Originals are never modified.
"""
from __future__ import annotations

import csv
import json
import shutil
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat

from .check import cell_errors
from .course import CourseError, Lab, autograded_cells, nbgrader, read_nb


@dataclass
class StudentGrade:
    student: str
    lab: str
    status: str
    autograded_score: float = 0.0
    autograded_max: float = 0.0
    manual_max: float = 0.0
    needs_manual_grade: bool = False
    score: float = 0.0
    max_score: float = 0.0
    detail: str = ""


def validate_submission(path: Path) -> tuple[str | None, str]:
    """``(problem, note)``: ``problem`` is None when the notebook can be graded, else why it cannot;
    ``note`` reports what nbformat repairs on reading (duplicated cell ids)."""
    if not path.exists():
        return f"missing {path.name}", ""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        nb = nbformat.reads(json.dumps(raw), as_version=4)
    except Exception as exc:  # truncated JSON, wrong format, not UTF-8...
        return f"unreadable notebook ({type(exc).__name__}: {str(exc)[:120]})", ""
    ids = [c.get("id") for c in raw.get("cells", []) if isinstance(c, dict) and c.get("id")]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    note = f"duplicated cell id(s) {dupes[:3]} repaired" if dupes else ""
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        return f"invalid notebook: {str(exc).splitlines()[0][:160]}", note
    return None, note


def find_submissions(submissions: Path, lab: str) -> dict[str, Path]:
    """student -> folder holding their ``<lab>`` submission."""
    if (submissions / "submitted").is_dir():
        submissions = submissions / "submitted"
    if not submissions.is_dir():
        raise CourseError(f"{submissions}: submissions folder not found")
    found = {p.name: p / lab for p in sorted(submissions.iterdir()) if (p / lab).is_dir()}
    if not found:
        raise CourseError(f"{submissions}: no submission of {lab!r} (expected <student>/{lab}/{lab}.ipynb)")
    return found


NEEDS_ATTENTION = ("invalid", "error", "timeout", "out-of-memory", "process-limit", "kernel-died",
                   "output-limit", "tampered")


def grade_lab(root: Path, lab: Lab, submissions: Path, output: Path | None = None, jobs: int | None = None,
              limits=None, unsafe: bool = False, progress=None, plot: bool = True, db_url: str | None = None,
              scheduler: str | None = None) -> tuple[list[StudentGrade], Path]:
    """Grade every submission of ``lab`` in isolation, ``jobs`` at a time (or on the Dask cluster at
    ``scheduler``); write the gradebook (``db_url``, default the course's ``gradebook.db``; grader
    process only), ``grades/<lab>.csv`` (or ``output``) and a histogram ``grades/<lab>.png``."""
    import os
    import tempfile

    from .course import nbgrader_env
    from .isolated import Recorder, grade_many
    from .sandbox import IsolationUnavailable, Limits, isolation_problem

    limits = limits or Limits()
    if not unsafe and isolation_problem():
        raise IsolationUnavailable(f"cannot isolate submissions on this machine: {isolation_problem()}; "
                                   "`--unsafe` grades without isolation (submissions then run with your rights)")
    if scheduler:
        _check_scheduler(scheduler)
    db_url = db_url or f"sqlite:///{root / 'gradebook.db'}"
    found = find_submissions(Path(submissions).resolve(), lab.name)
    src = read_nb(lab.notebook)
    cells = autograded_cells(src)
    auto_max = sum(cells.values())
    manual_max = sum(float(c.metadata["nbgrader"].get("points", 0)) for c in src.cells
                     if c.get("metadata", {}).get("nbgrader", {}).get("grade")
                     and c.metadata["nbgrader"].get("solution"))
    # the assignment in the course gradebook, and in an SQLite template copied into each private course
    template = root / ".mlbd-tmp" / "gradebook-template.db"
    template.parent.mkdir(parents=True, exist_ok=True)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:    # both at once, each with its own release folder
        runs = list(pool.map(lambda ur: (ur[0], nbgrader(
            ["generate_assignment", lab.name, "--force", f"--CourseDirectory.db_url={ur[0]}",
             f"--CourseDirectory.release_directory=.mlbd-tmp/{ur[1]}"], root, timeout=600)),
            [(db_url, "release-gradebook"), (f"sqlite:///{template}", "release-template")]))
    for url, run in runs:
        if run.returncode != 0:
            where = "the gradebook " + _safe_url(url)
            raise CourseError(f"nbgrader generate_assignment {lab.name} into {where} failed:\n{run.output[-2000:]}")
    grades: dict[str, StudentGrade] = {}
    valid: dict[str, Path] = {}
    notes: dict[str, str] = {}
    for student, folder in found.items():
        g = StudentGrade(student, lab.name, "graded", autograded_max=auto_max, manual_max=manual_max,
                         max_score=auto_max + manual_max)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            problem, note = validate_submission(folder / f"{lab.name}.ipynb")
        grades[student] = g
        if problem:
            g.status, g.detail = "invalid", problem
            if progress:
                progress(g)
        else:
            valid[student], notes[student] = folder, note
    base = Path(tempfile.mkdtemp(prefix="mlbd-grade-"))
    try:
        # the gradebook writer works while the others execute, on what they leave of this machine's cores
        recorder = Recorder(root, lab, valid, db_url=db_url, low_priority=not scheduler)

        def done(o, n, total):
            recorder.add(o)
            g = grades[o.student]
            g.status, g.autograded_score = o.status, o.points
            if progress:
                progress(g)

        try:
            outcomes = grade_many(root, lab, valid, cells, limits, jobs=jobs or os.cpu_count() or 1,
                                  data_dir=nbgrader_env().get("MLBD_DATA_DIR"), unsafe=unsafe, progress=done,
                                  base=base, template=template, scheduler=scheduler)
        finally:
            problems = recorder.close()
    finally:
        shutil.rmtree(base, ignore_errors=True)
    from nbgrader.api import Gradebook, MissingEntry
    with Gradebook(db_url) as gb:
        for student, o in outcomes.items():
            g = grades[student]
            g.status, g.autograded_score = o.status, o.points
            detail = [notes[student]] if notes.get(student) else []
            if o.tampered:
                detail.append("tampered: " + "; ".join(f"{k}: {', '.join(v[:3])}" for k, v in o.tampered.items()))
            detail += [d for d in o.detail.split("; ")
                       if d and not any(d.startswith(f"{gid}: ") for gid in o.tampered)]
            if student in problems:
                g.status = "error"
                detail.append(f"gradebook: {problems[student]}")
            try:
                sub = gb.find_submission(lab.name, student)
                g.score, g.needs_manual_grade = float(sub.score), bool(sub.needs_manual_grade)
            except MissingEntry:
                g.score = o.points
            if g.status in ("graded", "tampered", "timeout", "out-of-memory", "kernel-died"):
                errors = cell_errors(root / "autograded" / student / lab.name / f"{lab.name}.ipynb")
                detail += [e for e in errors if e not in detail]
            g.detail = "; ".join(dict.fromkeys(detail))
    ordered = [grades[s] for s in found]
    output = Path(output) if output else root / "grades" / f"{lab.name}.csv"
    output.parent.mkdir(parents=True, exist_ok=True)
    with open(output, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(asdict(ordered[0])))
        writer.writeheader()
        for g in ordered:
            writer.writerow(asdict(g))
    if plot:
        histogram(ordered, output.with_suffix(".png"), f"{lab.name}: autograded score")
    return ordered, output


def _check_scheduler(address: str) -> None:
    """Fail fast, with the address, when no Dask scheduler answers there."""
    import socket

    from distributed.comm import parse_address, parse_host_port
    try:
        protocol, loc = parse_address(address)
        host, port = parse_host_port(loc)
        if protocol != "tcp":
            raise ValueError(f"protocol {protocol!r} (expected tcp://HOST:PORT)")
        socket.create_connection((host, port), timeout=5).close()
    except (OSError, ValueError) as exc:
        raise CourseError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc


def _safe_url(url: str) -> str:
    """A database URL without its password, for messages."""
    from sqlalchemy.engine import make_url
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparsable URL)"


def histogram(grades: list[StudentGrade], path: Path, title: str) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scores = [g.autograded_score for g in grades]
    top = max([g.autograded_max for g in grades] + [1])
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(scores, bins=min(20, max(5, int(top) + 1)), range=(0, top), color="#4477aa", edgecolor="white")
    ax.set(xlabel=f"autograded points (max {top:g})", ylabel="students", title=f"{title} (n={len(scores)})")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def summary(grades: list[StudentGrade]) -> dict:
    """Status counts, mean/median autograded score, and who needs attention (and why)."""
    import statistics
    counts: dict[str, int] = {}
    for g in grades:
        counts[g.status] = counts.get(g.status, 0) + 1
    scores = [g.autograded_score for g in grades]
    attention = [(g.student, g.status, g.detail[:160]) for g in grades if g.status in NEEDS_ATTENTION]
    return dict(counts=counts, mean=statistics.fmean(scores) if scores else 0.0,
                median=statistics.median(scores) if scores else 0.0, attention=attention)
