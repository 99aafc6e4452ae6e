"""``mlbd check``: prove that each lab's hidden tests discriminate.

For every lab, in a scratch course directory with its own gradebook:

1. generate the student release with nbgrader;
2. autograde the instructor's solution as a student -> must earn every autograded point
   (this executes the notebook top to bottom; its wall time and peak memory are reported);
3. autograde the untouched release as another student -> must earn 0 autograded points;
4. autograde each mutant (``mutants.yml``) -> each must lose points.
"""
from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from .course import (CourseError, Lab, autograded_cells, generate_release, nbgrader, read_nb,
                     scratch_course)
from .mutants import apply_mutant, load_mutants, solution_submission


@dataclass
class LabCheck:
    lab: str
    status: str = "ok"
    seconds: float = 0.0
    peak_mb: float = 0.0
    solution_points: float = 0.0
    max_points: float = 0.0
    blank_points: float | None = None
    mutants_caught: int = 0
    mutants_total: int = 0
    problems: list[str] = field(default_factory=list)
    mutants: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["seconds"], d["peak_mb"] = round(self.seconds, 1), round(self.peak_mb, 1)
        return d


def cell_errors(nb_path: Path, limit: int = 3) -> list[str]:
    """The first errors recorded in an executed notebook, as 'cell <id>: Error: message'."""
    if not nb_path.exists():
        return [f"{nb_path.name}: no autograded notebook was written"]
    nb = read_nb(nb_path)
    out = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            if o.get("output_type") == "error":
                gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", cell.get("id"))
                out.append(f"cell {gid}: {o.get('ename')}: {str(o.get('evalue'))[:300]}")
            elif o.get("output_type") == "stream" and o.get("name") == "stderr" and \
                    cell.get("metadata", {}).get("nbgrader", {}).get("grade"):
                gid = cell["metadata"]["nbgrader"].get("grade_id")
                out.append(f"cell {gid}: wrote to stderr (nbgrader gives 0 points): {o.get('text', '')[:200]!r}")
    return out[:limit]


def autograded_points(course: Path, lab: str, notebook: str, student: str, cells: dict[str, float]) -> float:
    """Sum of the auto scores of the autograder test cells for one student."""
    from nbgrader.api import Gradebook, MissingEntry

    total = 0.0
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for gid in cells:
            try:
                g = gb.find_grade(gid, notebook, lab, student)
            except MissingEntry:
                continue
            total += g.auto_score or 0.0
    return total


def submit(course: Path, lab: Lab, release_dir: Path, student: str, nb) -> None:
    dest = course / "submitted" / student / lab.name
    shutil.copytree(release_dir, dest, dirs_exist_ok=True)
    nbformat.write(nb, str(dest / f"{lab.name}.ipynb"))


def check_lab(root: Path, lab: Lab, timeout: float = 600, keep: Path | None = None, progress=None,
              jobs: int = 2) -> LabCheck:
    """Run the four checks above for ``lab``; never raises for a failing lab (see ``problems``).

    The blank release and the mutants are graded ``jobs`` at a time (after the solution, which runs
    alone so that its time and memory are measured undisturbed).
    """
    res = LabCheck(lab.name)
    course = scratch_course(root, [lab])
    step = progress or (lambda msg: None)
    try:
        mutants = load_mutants(lab.mutants_file)
        res.mutants_total = len(mutants)
        step("release")
        release_dir = generate_release(course, lab)
        source_nb, release_nb = read_nb(lab.notebook), read_nb(release_dir / f"{lab.name}.ipynb")
        cells = autograded_cells(source_nb)
        res.max_points = sum(cells.values())
        if not cells:
            res.problems.append("the notebook has no autograded test cell")
        solution = solution_submission(source_nb, release_nb)
        students = {"solution": solution, "blank": release_nb}
        for m in mutants:
            students[f"mutant-{m.name}"] = apply_mutant(solution, m, where=f"{lab.mutants_file}: ")
        for student, nb in students.items():
            submit(course, lab, release_dir, student, nb)

        def grade(student: str, where: Path):
            step(student)
            run = nbgrader(["autograde", lab.name, f"--student={student}", "--force"], where, timeout=timeout)
            if run.timed_out:
                return run, None
            if run.returncode != 0:
                res.problems.append(f"{student}: nbgrader autograde failed: {run.output.strip()[-500:]}")
                return run, None
            return run, autograded_points(where, lab.name, lab.name, student, cells)

        # the solution runs alone, so that its wall time and memory are not disturbed
        run, pts = grade("solution", course)
        res.seconds, res.peak_mb = run.seconds, run.peak_mb
        autograded_nb = course / "autograded" / "solution" / lab.name / f"{lab.name}.ipynb"
        if run.timed_out:
            res.problems.append(f"solution: did not finish within {timeout:.0f} s")
        elif pts is not None:
            res.solution_points = pts
            if pts < res.max_points:
                res.problems.append(f"solution earns {pts:g}/{res.max_points:g}: " +
                                    "; ".join(cell_errors(autograded_nb)))
        # the others run `jobs` at a time, each in its own copy of the course (own gradebook)
        others = [s for s in students if s != "solution"]
        copies = {}
        for student in others:
            copies[student] = course.with_name(f"{course.name}-{student}")
            shutil.copytree(course, copies[student], symlinks=True,
                            ignore=shutil.ignore_patterns("autograded"))
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            graded = dict(zip(others, pool.map(lambda s: grade(s, copies[s]), others)))
        if keep is not None:
            for student, where in copies.items():
                if (where / "autograded" / student).exists():
                    shutil.copytree(where / "autograded" / student, course / "autograded" / student)
        for where in copies.values():
            shutil.rmtree(where, ignore_errors=True)
        run, pts = graded["blank"]
        res.blank_points = pts
        if run.timed_out:
            res.problems.append(f"blank release: did not finish within {timeout:.0f} s")
        elif pts is not None and pts > 0:
            res.problems.append(f"untouched release earns {pts:g} points (must be 0)")
        for m in mutants:
            run, pts = graded[f"mutant-{m.name}"]
            caught = run.timed_out or (pts is not None and pts < res.max_points)
            res.mutants_caught += int(caught)
            res.mutants.append(dict(name=m.name, description=m.description, points=pts, caught=caught))
            if not caught:
                res.problems.append(f"mutant {m.name!r} ({m.description}) keeps all {res.max_points:g} points")
    except CourseError as exc:
        res.problems.append(str(exc))
    finally:
        if keep is not None:
            dest = keep / lab.name
            shutil.rmtree(dest, ignore_errors=True)
            if (course / "autograded").exists():
                shutil.copytree(course / "autograded", dest)
        shutil.rmtree(course, ignore_errors=True)
    res.status = "ok" if not res.problems else "FAIL"
    return res
