"""``mlbd autograde``: grade collected submissions one student at a time and export a CSV.

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

from .check import autograded_points, cell_errors
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


def autograde(root: Path, lab: Lab, submissions: Path, output: Path | None = None,
              timeout: float = 900, progress=None) -> tuple[list[StudentGrade], Path]:
    """Grade every submission of ``lab`` in ``submissions``; return the grades and the CSV path."""
    found = find_submissions(Path(submissions).resolve(), lab.name)
    cells = autograded_cells(read_nb(lab.notebook))
    auto_max = sum(cells.values())
    manual_max = sum(float(c.metadata["nbgrader"].get("points", 0)) for c in read_nb(lab.notebook).cells
                     if c.get("metadata", {}).get("nbgrader", {}).get("grade")
                     and c.metadata["nbgrader"].get("solution"))
    # register the assignment (and its hidden tests) in the gradebook without touching release/
    run = nbgrader(["generate_assignment", lab.name, "--force",
                    "--CourseDirectory.release_directory=.mlbd-tmp/release"], root, timeout=600)
    if run.returncode != 0:
        raise CourseError(f"nbgrader generate_assignment {lab.name} failed:\n{run.output[-2000:]}")
    grades = []
    for student, folder in found.items():
        if progress:
            progress(student)
        g = StudentGrade(student, lab.name, "graded", autograded_max=auto_max, manual_max=manual_max,
                         max_score=auto_max + manual_max)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            problem, note = validate_submission(folder / f"{lab.name}.ipynb")
        if problem:
            g.status, g.detail = "invalid", problem
            grades.append(g)
            continue
        dest = root / "submitted" / student / lab.name
        if dest.resolve() != folder.resolve():
            shutil.rmtree(dest, ignore_errors=True)
            shutil.copytree(folder, dest)
        run = nbgrader(["autograde", lab.name, f"--student={student}", "--force"], root, timeout=timeout)
        if run.timed_out or run.returncode != 0:
            g.status = "timeout" if run.timed_out else "error"
            g.detail = f"nbgrader autograde: {run.output.strip()[-300:]}"
            g.autograded_score = 0.0
            grades.append(g)
            continue
        g.autograded_score = autograded_points(root, lab.name, lab.name, student, cells)
        from nbgrader.api import Gradebook
        with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
            sub = gb.find_submission(lab.name, student)
            g.score, g.needs_manual_grade = float(sub.score), bool(sub.needs_manual_grade)
        errors = cell_errors(root / "autograded" / student / lab.name / f"{lab.name}.ipynb")
        g.detail = "; ".join(([note] if note else []) + errors)
        grades.append(g)
    output = Path(output) if output else root / "grades" / f"{lab.name}.csv"
    output.parent.mkdir(parents=True, exist_ok=True)
    with open(output, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(asdict(grades[0])))
        writer.writeheader()
        for g in grades:
            writer.writerow(asdict(g))
    return grades, output
