"""The whole assignment loop through a local nbgrader exchange, as on a course's JupyterHub.

The instructor releases ``lecture04_trees_knn`` into an exchange in a temporary folder (course id
``mlbd``); two students, each with their own home folder, fetch it: alice answers it (with the reference
solution), validates and submits it, bob submits the untouched release. The instructor collects,
autogrades with ``mlbd autograde``, generates and releases feedback; each student fetches theirs.
Asserts the grades, and that each student receives exactly their own feedback.
"""
from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from mlbd_course.grading.mutants import solution_submission

ROOT = Path(__file__).resolve().parents[1]
LAB = "lecture04_trees_knn"
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.slow


def _run(args: list[str], cwd: Path, home: Path, timeout: float = 600) -> str:
    env = dict(os.environ, HOME=str(home), PATH=str(BIN) + os.pathsep + os.environ.get("PATH", ""),
               MPLBACKEND="Agg", TF_CPP_MIN_LOG_LEVEL="3")
    res = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    out = res.stdout + res.stderr
    assert res.returncode == 0, f"{' '.join(args)} failed ({res.returncode}):\n{out[-3000:]}"
    return out


def _nbgrader(*args: str, cwd: Path, home: Path, exchange: Path) -> str:
    return _run([str(BIN / "nbgrader"), *args, f"--Exchange.root={exchange}"], cwd, home)


def test_release_fetch_submit_collect_grade_feedback(tmp_path, built_data):
    exchange = tmp_path / "exchange"
    exchange.mkdir()
    exchange.chmod(0o777)
    # the instructor's course directory: the course config and the lab's source
    course = tmp_path / "course"
    (course / "source").mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    shutil.copytree(ROOT / "source" / LAB, course / "source" / LAB)
    instructor = tmp_path / "instructor-home"
    instructor.mkdir()
    _nbgrader("generate_assignment", LAB, "--force", cwd=course, home=instructor, exchange=exchange)
    _nbgrader("release_assignment", LAB, "--course=mlbd", cwd=course, home=instructor, exchange=exchange)
    assert (exchange / "mlbd" / "outbound" / LAB / f"{LAB}.ipynb").exists()

    homes = {}
    for student in ("alice", "bob"):
        home = homes[student] = tmp_path / f"{student}-home"
        home.mkdir()
        _nbgrader("fetch_assignment", LAB, "--course=mlbd", cwd=home, home=home, exchange=exchange)
        fetched = home / LAB / f"{LAB}.ipynb"
        assert fetched.exists(), f"{student} did not receive the assignment"
        if student == "alice":  # a complete, correct answer: the reference solution typed into the release
            source = nbformat.read(str(ROOT / "source" / LAB / f"{LAB}.ipynb"), as_version=4)
            nbformat.write(solution_submission(source, nbformat.read(str(fetched), as_version=4)), str(fetched))
            out = _run([str(BIN / "nbgrader"), "validate", str(fetched)], home, home)
            assert "Success! Your notebook passes all the tests." in out, out[-2000:]
        _nbgrader("submit", LAB, "--course=mlbd", f"--student={student}", cwd=home, home=home,
                  exchange=exchange)

    _nbgrader("collect", LAB, "--course=mlbd", cwd=course, home=instructor, exchange=exchange)
    assert sorted(p.name for p in (course / "submitted").iterdir()) == ["alice", "bob"]
    _run([str(BIN / "mlbd"), "--course-dir", str(course), "autograde", LAB,
          "--submissions", str(course / "submitted")], course, instructor)
    with open(course / "grades" / f"{LAB}.csv", newline="") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    assert float(rows["alice"]["autograded_score"]) == float(rows["alice"]["autograded_max"]) == 10
    assert float(rows["bob"]["autograded_score"]) == 0

    _nbgrader("generate_feedback", LAB, cwd=course, home=instructor, exchange=exchange)
    _nbgrader("release_feedback", LAB, "--course=mlbd", cwd=course, home=instructor, exchange=exchange)
    seen = {}
    for student, home in homes.items():
        _nbgrader("fetch_feedback", LAB, "--course=mlbd", f"--student={student}", cwd=home, home=home,
                  exchange=exchange)
        files = list((home / LAB / "feedback").rglob("*.html"))
        assert len(files) == 1, f"{student} should receive exactly one feedback file, got {files}"
        seen[student] = files[0].read_text()
    assert "Score: 10.0 / 12.0" in seen["alice"] or "10.0 / 12.0" in seen["alice"], seen["alice"][:2000]
    assert "0.0 / 12.0" in seen["bob"], seen["bob"][:2000]
    assert seen["alice"] != seen["bob"]
