"""Mutants: plausible wrong answers kept beside a lab's source notebook (``mutants.yml``).

Format (a YAML list)::

    - name: week-filter-off-by-one          # unique slug
      description: keeps six weeks instead of five
      cell: ts_first_weeks                   # grade_id of the solution cell to change
      replace:                               # applied to the cell as a student would submit it
        - old: "ts[ts.week < 5]"             # must occur exactly once in that cell
          new: "ts[ts.week <= 5]"

``mlbd check`` grades each mutant as a student submission; the hidden tests must take points from it.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import yaml

from .course import CourseError, nbgrader_meta, strip_markers


@dataclass(frozen=True)
class Mutant:
    name: str
    description: str
    cell: str
    replace: tuple[tuple[str, str], ...]


def load_mutants(path: Path) -> list[Mutant]:
    """Read and validate a mutants file; errors name the file and the entry."""
    if not path.exists():
        return []
    try:
        raw = yaml.safe_load(path.read_text()) or []
    except yaml.YAMLError as exc:
        raise CourseError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, list):
        raise CourseError(f"{path}: expected a list of mutants")
    out, seen = [], set()
    for i, entry in enumerate(raw):
        where = f"{path} entry {i}"
        if not isinstance(entry, dict):
            raise CourseError(f"{where}: expected a mapping")
        missing = [k for k in ("name", "cell", "replace") if k not in entry]
        if missing:
            raise CourseError(f"{where}: missing key(s) {missing}")
        if entry["name"] in seen:
            raise CourseError(f"{where}: duplicate mutant name {entry['name']!r}")
        seen.add(entry["name"])
        reps = entry["replace"]
        if not isinstance(reps, list) or not reps or not all(isinstance(r, dict) and {"old", "new"} <= set(r) for r in reps):
            raise CourseError(f"{where} ({entry['name']}): replace must be a non-empty list of {{old, new}}")
        out.append(Mutant(str(entry["name"]), str(entry.get("description", "")), str(entry["cell"]),
                          tuple((str(r["old"]), str(r["new"])) for r in reps)))
    return out


def solution_submission(source_nb, release_nb):
    """The release notebook with every answer cell filled in with the instructor's solution."""
    answers = {nbgrader_meta(c).get("grade_id"): strip_markers(c.source)
               for c in source_nb.cells if nbgrader_meta(c).get("solution")}
    nb = copy.deepcopy(release_nb)
    for cell in nb.cells:
        gid = nbgrader_meta(cell).get("grade_id")
        if nbgrader_meta(cell).get("solution") and gid in answers:
            cell.source = answers[gid]
    return nb


def apply_mutant(solution_nb, mutant: Mutant, where: str = ""):
    """A copy of the solution submission with the mutant's replacements in its cell."""
    nb = copy.deepcopy(solution_nb)
    cells = [c for c in nb.cells if nbgrader_meta(c).get("grade_id") == mutant.cell]
    if not cells:
        raise CourseError(f"{where}mutant {mutant.name!r}: no cell with grade_id {mutant.cell!r}")
    cell = cells[0]
    if not nbgrader_meta(cell).get("solution"):
        raise CourseError(f"{where}mutant {mutant.name!r}: cell {mutant.cell!r} is not an answer cell")
    for old, new in mutant.replace:
        count = cell.source.count(old)
        if count != 1:
            raise CourseError(f"{where}mutant {mutant.name!r}: {old!r} occurs {count} times in cell "
                              f"{mutant.cell!r} (must be exactly once)")
        cell.source = cell.source.replace(old, new)
    return nb
