"""Every lab: the committed release is current and clean, and `mlbd check` passes
(solution earns every autograded point, the untouched release none, every mutant loses points)."""
from __future__ import annotations

from pathlib import Path

import pytest

from mlbd_course.grading.check import check_lab
from mlbd_course.grading.course import all_labs, course_root
from mlbd_course.grading.release import release

ROOT = course_root(Path(__file__).resolve().parents[1])
LABS = all_labs(ROOT)


def test_there_are_labs():
    assert {"lecture02_exploration", "lecture04_trees_knn"} <= {lab.name for lab in LABS}


def test_source_notebooks_have_no_outputs():
    import nbformat

    for lab in LABS:
        nb = nbformat.read(str(lab.notebook), as_version=4)
        dirty = [c.get("id") for c in nb.cells if c.cell_type == "code" and (c.outputs or c.execution_count)]
        assert not dirty, f"{lab.notebook}: cells with outputs {dirty[:5]} (strip them)"


@pytest.mark.slow
def test_releases_are_current_and_leak_nothing():
    results = release(ROOT, LABS, check=True)
    problems = [f"{r.lab}: {p}" for r in results for p in r.problems]
    assert not problems, "\n".join(problems)


@pytest.mark.slow
@pytest.mark.parametrize("lab", LABS, ids=[lab.name for lab in LABS])
def test_mlbd_check(lab, built_data, tmp_path):
    # the solution shares the two workers with the blank and the mutants: CI time, not timing, matters here
    res = check_lab(ROOT, lab, timeout=600, keep=tmp_path, solution_alone=False)
    assert res.status == "ok", "\n".join(res.problems)
    assert res.solution_points == res.max_points > 0
    assert res.blank_points == 0
    assert res.mutants_total >= 3 and res.mutants_caught == res.mutants_total
