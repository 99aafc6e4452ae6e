"""The grading pipeline (releases, mutants, mlbd check, mlbd autograde) on a small toy course."""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import nbformat
import pytest

from mlbd_course.cli import main
from mlbd_course.grading.check import check_lab
from mlbd_course.grading.course import CourseError, all_labs, read_nb, select_labs, strip_markers
from mlbd_course.grading.mutants import Mutant, apply_mutant, load_mutants, solution_submission
from mlbd_course.grading.release import leaks

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = Path(__file__).parent / "fixtures" / "course"


@pytest.fixture
def toy_course(tmp_path) -> Path:
    """A course directory with the toy lab and the repository's nbgrader configuration."""
    shutil.copytree(FIXTURE / "source", tmp_path / "source")
    shutil.copy(ROOT / "nbgrader_config.py", tmp_path / "nbgrader_config.py")
    return tmp_path


def test_strip_markers_keeps_the_answer():
    text = "x = 1\n### BEGIN SOLUTION\ny = 2\n### END SOLUTION\nz = 3"
    assert strip_markers(text) == "x = 1\ny = 2\nz = 3"


def test_unknown_lab_is_a_clear_error(toy_course, capsys):
    with pytest.raises(CourseError, match="unknown lab.*nope.*toy_lab"):
        select_labs(toy_course, ["nope"])
    assert main(["--course-dir", str(toy_course), "check", "nope"]) == 2
    assert "unknown lab" in capsys.readouterr().out


@pytest.mark.parametrize("text,match", [
    ("- name: a\n  cell: q1\n", "missing key"),
    ("- name: a\n  cell: q1\n  replace: []\n", "non-empty list"),
    ("name: a", "expected a list"),
    ("- name: a\n  cell: q1\n  replace: [{old: x, new: y}]\n- name: a\n  cell: q1\n  replace: [{old: x, new: y}]\n",
     "duplicate"),
    ("- [unclosed", "not valid YAML"),
])
def test_bad_mutant_files_name_the_problem(tmp_path, text, match):
    path = tmp_path / "mutants.yml"
    path.write_text(text)
    with pytest.raises(CourseError, match=match):
        load_mutants(path)


def test_mutant_must_match_exactly_once(toy_course):
    lab = all_labs(toy_course)[0]
    src = read_nb(lab.notebook)
    solution = solution_submission(src, src)
    with pytest.raises(CourseError, match="occurs 0 times"):
        apply_mutant(solution, Mutant("m", "", "q1", (("not there", "x"),)))
    with pytest.raises(CourseError, match="no cell with grade_id"):
        apply_mutant(solution, Mutant("m", "", "q9", (("a", "b"),)))
    with pytest.raises(CourseError, match="not an answer cell"):
        apply_mutant(solution, Mutant("m", "", "test_q1", (("total", "x"),)))
    mutated = apply_mutant(solution, load_mutants(lab.mutants_file)[0])
    q1 = [c for c in mutated.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "q1"][0]
    assert "values % 2 == 1" in q1.source and "BEGIN SOLUTION" not in q1.source


def test_leaks_finds_solutions_hidden_tests_and_outputs(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("### BEGIN SOLUTION\nx = 1\n### END SOLUTION"),
        nbformat.v4.new_code_cell("### BEGIN HIDDEN TESTS\nassert x\n### END HIDDEN TESTS"),
        nbformat.v4.new_code_cell("print(1)", outputs=[nbformat.v4.new_output("stream", text="1")]),
    ])
    nbformat.write(nb, str(tmp_path / "lab.ipynb"))
    (tmp_path / "mutants.yml").write_text("[]")
    problems = "\n".join(leaks(tmp_path))
    for expected in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "has outputs", "instructor file"):
        assert expected in problems


@pytest.mark.slow
def test_check_reports_a_broken_solution(toy_course):
    lab = all_labs(toy_course)[0]
    nb = read_nb(lab.notebook)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "q1":
            cell.source = cell.source.replace("values % 2 == 0", "valuez % 2 == 0")
    nbformat.write(nb, str(lab.notebook))
    (lab.mutants_file).write_text("[]\n")
    res = check_lab(toy_course, lab, timeout=120)
    assert res.status == "FAIL"
    assert any("solution earns 1/3" in p and "NameError" in p for p in res.problems), res.problems


@pytest.mark.slow
def test_autograde_grades_everyone_despite_broken_submissions(toy_course, tmp_path):
    lab = all_labs(toy_course)[0]
    src = read_nb(lab.notebook)
    subs = tmp_path / "collected"
    release_nb = nbformat.v4.new_notebook()  # replaced below by the real release
    assert main(["--course-dir", str(toy_course), "release", "toy_lab"]) == 0
    release_nb = read_nb(toy_course / "release" / "toy_lab" / "toy_lab.ipynb")
    good = solution_submission(src, release_nb)
    notebooks = {"alice": nbformat.writes(good), "bob": nbformat.writes(release_nb),
                 "carol": nbformat.writes(good)[:200]}  # truncated upload
    dup = solution_submission(src, release_nb)
    dup.cells.append(dup.cells[1].copy())  # a copied cell: duplicated id
    notebooks["dave"] = json.dumps(dup)
    clash = solution_submission(src, release_nb)
    clash.cells.insert(3, clash.cells[3].copy())  # the answer cell pasted twice: a duplicated grade_id
    notebooks["frank"] = json.dumps(clash)
    notebooks["erin"] = nbformat.writes(good)
    for student, text in notebooks.items():
        folder = subs / student / "toy_lab"
        folder.mkdir(parents=True)
        (folder / "toy_lab.ipynb").write_text(text)
    before = {p: p.read_bytes() for p in subs.rglob("*.ipynb")}
    out = tmp_path / "grades.csv"
    assert main(["--course-dir", str(toy_course), "autograde", "toy_lab", "--submissions", str(subs),
                 "--output", str(out)]) == 0
    rows = {r["student"]: r for r in csv.DictReader(open(out))}
    assert set(rows) == set(notebooks)
    assert rows["alice"]["status"] == "graded" and float(rows["alice"]["autograded_score"]) == 3
    assert rows["erin"]["status"] == "graded" and float(rows["erin"]["autograded_score"]) == 3
    assert rows["bob"]["status"] == "graded" and float(rows["bob"]["autograded_score"]) == 0
    assert rows["carol"]["status"] == "invalid" and "unreadable" in rows["carol"]["detail"]
    # nbformat repairs duplicated ids: the submission is graded, and the repair is reported
    assert rows["dave"]["status"] == "graded" and float(rows["dave"]["autograded_score"]) == 3
    assert "duplicated cell id" in rows["dave"]["detail"]
    # nbgrader refuses a duplicated grade cell: reported for frank, nobody else affected
    assert rows["frank"]["status"] == "error" and float(rows["frank"]["autograded_score"]) == 0
    assert float(rows["alice"]["manual_max"]) == 1
    # the collected originals are untouched
    assert before == {p: p.read_bytes() for p in subs.rglob("*.ipynb")}
