"""``mlbd check``: prove that each lab's hidden tests discriminate.

For every lab, in a scratch course directory with its own gradebook:

1. generate the student release with nbgrader;
2. autograde the instructor's solution as a student -> must earn every autograded point
   (this executes the notebook top to bottom; its wall time and peak memory are reported);
3. autograde the untouched release as another student -> must earn 0 autograded points;
4. with ``--mutants`` (``make test``, CI), autograde each mutant (``mutants.yml``) -> each must lose points.

A lab may be cut into independent *parts*: a cell tagged ``mlbd-part`` starts one, whose cells use
nothing computed before it except in cells tagged ``mlbd-setup`` (imports, constants). A mutant of a
cell in a later part then runs only the setup cells and its own part onwards, which saves re-running
the earlier parts' model fits for every mutant. The claim is checked, not trusted: the solution is also
graded that way once per such part and must pass every test cell from the part's start to the end,
otherwise the lab fails the check.

Every submission runs through the isolated path of ``mlbd autograde`` (:mod:`.isolated`).
"""
from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from .course import CourseError, Lab, autograded_cells, generate_release, read_nb, scratch_course
from .mutants import apply_mutant, load_mutants, solution_submission


PART_TAG, SETUP_TAG = "mlbd-part", "mlbd-setup"


def parts(nb) -> list[tuple[int, str, tuple[str, ...]]]:
    """The lab's later parts: ``(index of the part's first cell, its name, ids of the code cells before it
    that a run of the part skips)``; cells tagged ``mlbd-setup`` are never skipped."""
    out = []
    for i, cell in enumerate(nb.cells):
        if i > 0 and PART_TAG in cell.get("metadata", {}).get("tags", []):
            first = cell.source.strip().splitlines()[0].lstrip("# ").strip()[:60] if cell.source.strip() else ""
            skip = tuple(c.get("id") for c in nb.cells[:i] if c.cell_type == "code" and c.source.strip()
                         and SETUP_TAG not in c.get("metadata", {}).get("tags", []))
            if any(not cid for cid in skip):
                raise CourseError(f"{PART_TAG}: the notebook needs cell ids (nbformat 4.5) to run its parts alone")
            out.append((i, first or f"cell {i}", skip))
    return out


def part_of(nb, grade_id: str, lab_parts: list[tuple[int, str, tuple[str, ...]]]):
    """The part holding the cell ``grade_id`` (None: the first part, which runs from the top)."""
    index = next((i for i, c in enumerate(nb.cells)
                  if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id), None)
    if index is None:
        return None
    return next((p for p in reversed(lab_parts) if p[0] <= index), None)


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


def cell_errors(nb_path: Path, limit: int | None = 3, since: int = 0, tests_only: bool = False) -> list[str]:
    """The first errors recorded in an executed notebook, as 'cell <id>: Error: message' (from the cell at
    index ``since`` on; with ``tests_only``, the autograder test cells' errors only)."""
    from .execute import is_test_cell

    if not nb_path.exists():
        return [f"{nb_path.name}: no autograded notebook was written"]
    nb = read_nb(nb_path)
    out = []
    for cell in nb.cells[since:]:
        if tests_only and not is_test_cell(cell):
            continue
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


def check_lab(root: Path, lab: Lab, timeout: float = 600, keep: Path | None = None, progress=None,
              jobs: int = 2, limits=None, unsafe: bool = False, mutants: bool = True,
              full_mutants: bool = False, solution_alone: bool = True) -> LabCheck:
    """The checks above, through the isolated grading path of ``mlbd autograde``
    (:mod:`mlbd_course.grading.isolated`): the solution and the blank release are graded in full; with
    ``mutants``, each mutant runs until the first test cell after its mutated cell that fails (it is then
    *caught*, and that cell's grade_id is reported), or in full with ``full_mutants``. Never raises for a
    failing lab (see ``problems``). ``solution_alone`` runs the solution before the others, by itself,
    so that its wall time and memory are not disturbed; without it (the test suite) every submission
    shares the ``jobs`` workers, which keeps both cores busy."""
    import tempfile

    from .course import nbgrader_env
    from .isolated import grade_many
    from .sandbox import Limits, isolation_problem

    res = LabCheck(lab.name)
    limits = limits or Limits(total_seconds=timeout)
    step = progress or (lambda msg: None)
    if not unsafe and isolation_problem():
        res.problems.append(f"cannot isolate submissions on this machine: {isolation_problem()} "
                            "(`mlbd check --unsafe` runs them without isolation)")
        res.status = "FAIL"
        return res
    course = scratch_course(root, [lab])
    base = Path(tempfile.mkdtemp(prefix="mlbd-check-"))
    data_dir = nbgrader_env().get("MLBD_DATA_DIR")
    try:
        mutant_list = load_mutants(lab.mutants_file) if mutants else []
        res.mutants_total = len(mutant_list)
        step("release")
        release_dir = generate_release(course, lab)
        source_nb, release_nb = read_nb(lab.notebook), read_nb(release_dir / f"{lab.name}.ipynb")
        cells = autograded_cells(source_nb)
        res.max_points = sum(cells.values())
        if not cells:
            res.problems.append("the notebook has no autograded test cell")
        solution = solution_submission(source_nb, release_nb)
        students = {"solution": solution, "blank": release_nb}
        for m in mutant_list:
            students[f"mutant-{m.name}"] = apply_mutant(solution, m, where=f"{lab.mutants_file}: ")
        folders = {}
        for student, nb in students.items():
            folders[student] = base / "in" / student
            shutil.copytree(release_dir, folders[student])
            nbformat.write(nb, str(folders[student] / f"{lab.name}.ipynb"))
        stop_after = {} if full_mutants else {f"mutant-{m.name}": m.cell for m in mutant_list}
        # mutants in a later part run that part alone, after the solution has shown it can
        skip, part_runs = {}, {}
        lab_parts = [] if full_mutants else parts(source_nb)
        for m in mutant_list:
            part = part_of(source_nb, m.cell, lab_parts)
            if part is not None:
                skip[f"mutant-{m.name}"] = part[2]
                part_runs[f"part-{part[0]}"] = part
        for student, part in part_runs.items():
            skip[student] = part[2]
            folders[student] = base / "in" / student
            shutil.copytree(release_dir, folders[student])
            nbformat.write(solution, str(folders[student] / f"{lab.name}.ipynb"))
            students[student] = solution

        def report(o, n, total):
            step(f"{o.student}: {o.status} {o.points:g}/{res.max_points:g}")

        out = {}
        if solution_alone:  # so that its wall time and memory are not disturbed
            step("solution")
            out = grade_many(course, lab, {"solution": folders["solution"]}, cells, limits, jobs=1,
                             data_dir=data_dir, unsafe=unsafe, progress=report, base=base / "graded")
        others = [s for s in students if s not in out]
        out.update(grade_many(course, lab, {s: folders[s] for s in others}, cells, limits, jobs=jobs,
                              data_dir=data_dir, unsafe=unsafe, stop_after=stop_after, progress=report,
                              base=base / "graded", skip_cells=skip))
        sol = out["solution"]
        res.seconds, res.peak_mb, res.solution_points = sol.seconds, sol.peak_mb, sol.points
        if sol.status != "graded":
            res.problems.append(f"solution: {sol.status}: {sol.detail[:500]}")
        if sol.points < res.max_points:
            errors = cell_errors(sol.notebook) if sol.notebook else [sol.detail[:300]]
            res.problems.append(f"solution earns {sol.points:g}/{res.max_points:g}: " + "; ".join(errors))
        blank = out["blank"]
        res.blank_points = blank.points
        if blank.status in ("error",):
            res.problems.append(f"blank release: {blank.detail[:300]}")
        elif blank.points > 0:
            res.problems.append(f"untouched release earns {blank.points:g} points (must be 0)")
        for student, (index, name, _) in part_runs.items():
            o = out[student]
            failing = cell_errors(o.notebook, None, since=index, tests_only=True) if o.notebook else [o.detail[:300]]
            if o.status != "graded" or failing:
                res.problems.append(f"part {name!r} (cell {index}) cannot run alone: the solution without the "
                                    f"cells before it fails ({o.status}): " + "; ".join(failing[:3]) +
                                    f" (tag the cells it needs {SETUP_TAG!r}, or remove the {PART_TAG!r} tag)")
        for m in mutant_list:
            o = out[f"mutant-{m.name}"]
            # run alone, the earlier parts scored nothing: only a test cell that caught it counts
            lost = o.caught_by is not None if f"mutant-{m.name}" in skip else o.points < res.max_points
            caught = o.status != "error" and (lost or o.status in ("timeout", "out-of-memory"))
            res.mutants_caught += int(caught)
            res.mutants.append(dict(name=m.name, description=m.description, points=o.points, caught=caught,
                                    caught_by=o.caught_by, status=o.status, seconds=round(o.seconds, 1),
                                    part_alone=f"mutant-{m.name}" in skip))
            if o.status == "error":
                res.problems.append(f"mutant {m.name!r}: grading failed: {o.detail[:300]}")
            elif not caught:
                res.problems.append(f"mutant {m.name!r} ({m.description}) keeps all {res.max_points:g} points")
        if keep is not None:
            dest = keep / lab.name
            shutil.rmtree(dest, ignore_errors=True)
            for student, o in out.items():
                if o.notebook is not None and o.notebook.exists():
                    (dest / student / lab.name).mkdir(parents=True, exist_ok=True)
                    shutil.copy(o.notebook, dest / student / lab.name / o.notebook.name)
    except CourseError as exc:
        res.problems.append(str(exc))
    finally:
        shutil.rmtree(course, ignore_errors=True)
        shutil.rmtree(base, ignore_errors=True)
    res.status = "ok" if not res.problems else "FAIL"
    return res


