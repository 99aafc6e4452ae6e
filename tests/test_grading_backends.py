"""Grading into a shared PostgreSQL gradebook (``--db``) and on a Dask distributed cluster (``--scheduler``).

Both tests grade the toy lab's submissions (a correct one, the blank release, a wrong one, a broken file)
through ``mlbd autograde`` and compare with what the local SQLite path gives. The PostgreSQL test starts a
real server from Debian's ``postgresql`` binaries (``initdb``/``pg_ctl``) in a temporary folder, listening
on loopback only; the Dask test starts a ``LocalCluster`` of two worker processes.
"""
from __future__ import annotations

import csv
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import nbformat
import pytest

from mlbd_course.cli import main
from mlbd_course.grading import sandbox
from mlbd_course.grading.course import read_nb
from mlbd_course.grading.mutants import apply_mutant, load_mutants, solution_submission

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = Path(__file__).parent / "fixtures" / "course"
LIMITS = ["--cell-timeout", "15", "--timeout", "120", "--memory-mb", "512", "--max-processes", "64"]
EXPECTED = {"alice": 3.0, "blank": 0.0, "bob": 1.0, "broken": 0.0}
needs_isolation = pytest.mark.skipif(sandbox.isolation_problem() is not None,
                                     reason=f"no isolation here: {sandbox.isolation_problem()}")
pytestmark = [pytest.mark.slow, needs_isolation]


@pytest.fixture
def course_and_submissions(tmp_path) -> tuple[Path, Path]:
    course = tmp_path / "course"
    shutil.copytree(FIXTURE / "source", course / "source")
    shutil.copy(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    assert main(["--course-dir", str(course), "release", "toy_lab"]) == 0
    src = read_nb(course / "source" / "toy_lab" / "toy_lab.ipynb")
    rel = read_nb(course / "release" / "toy_lab" / "toy_lab.ipynb")
    sol = solution_submission(src, rel)
    odd = next(m for m in load_mutants(course / "source" / "toy_lab" / "mutants.yml") if m.name == "odd-numbers")
    subs = tmp_path / "collected"
    for student, nb in {"alice": sol, "blank": rel, "bob": apply_mutant(sol, odd)}.items():
        (subs / student / "toy_lab").mkdir(parents=True)
        nbformat.write(nb, str(subs / student / "toy_lab" / "toy_lab.ipynb"))
    (subs / "broken" / "toy_lab").mkdir(parents=True)
    (subs / "broken" / "toy_lab" / "toy_lab.ipynb").write_text(nbformat.writes(sol)[:200])
    return course, subs


def _scores(csv_path: Path) -> dict[str, tuple[str, float]]:
    return {r["student"]: (r["status"], float(r["autograded_score"])) for r in csv.DictReader(open(csv_path))}


# ------------------------------------------------------------------------------------------ PostgreSQL
def _pg_bin(name: str) -> str | None:
    return shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)),
                                      None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def postgres_url():
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql")
    run_as: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="mlbd-pg-"))       # not under pytest's private tmp: the server reads it
    if os.geteuid() == 0:                                    # the server refuses to run as root
        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run the server")
        os.chown(folder, pw.pw_uid, pw.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", _free_port()
    try:
        subprocess.run([*run_as, initdb, "-D", str(data), "-U", "grader", "--auth=trust", "-E", "UTF8"],
                       check=True, capture_output=True, timeout=120)
        subprocess.run([*run_as, pg_ctl, "-D", str(data), "-l", str(folder / "server.log"), "-w", "-t", "60",
                        "-o", f"-c listen_addresses=127.0.0.1 -p {port} -k {folder}", "start"],
                       check=True, capture_output=True, timeout=120)
        import psycopg2
        conn = psycopg2.connect(host="127.0.0.1", port=port, user="grader", dbname="postgres")
        conn.autocommit = True
        conn.cursor().execute("CREATE DATABASE mlbd_gradebook")
        conn.close()
        yield f"postgresql+psycopg2://grader@127.0.0.1:{port}/mlbd_gradebook"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run([*run_as, pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"], capture_output=True,
                           timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


def test_autograde_into_a_postgresql_gradebook(course_and_submissions, postgres_url, tmp_path, capsys):
    course, subs = course_and_submissions
    out = tmp_path / "grades.csv"
    assert main(["--course-dir", str(course), "autograde", "toy_lab", "--submissions", str(subs),
                 "--output", str(out), "--jobs", "2", "--db", postgres_url, *LIMITS]) == 0
    scores = _scores(out)
    assert {s: p for s, (_, p) in scores.items()} == EXPECTED
    assert scores["broken"][0] == "invalid"
    assert not (course / "gradebook.db").exists()            # nothing went to a local SQLite gradebook
    from nbgrader.api import Gradebook
    with Gradebook(postgres_url) as gb:
        assert {s.id for s in gb.students} == {"alice", "blank", "bob"}
        assert gb.find_submission("toy_lab", "alice").score == 3
        assert gb.find_submission("toy_lab", "bob").score == 1
        assert gb.find_submission("toy_lab", "blank").score == 0
    # feedback reads its scores from the same database
    assert main(["--course-dir", str(course), "feedback", "toy_lab", "--students", "bob", "--db", postgres_url]) == 0
    html = (course / "feedback" / "bob" / "toy_lab" / "toy_lab.html").read_text()
    assert "AssertionError" in html, html[:2000]


# ------------------------------------------------------------------------------------------------ Dask
def test_autograde_on_a_dask_cluster(course_and_submissions, tmp_path):
    from distributed import Client, LocalCluster, get_task_stream

    course, subs = course_and_submissions
    out = tmp_path / "dask.csv"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      host="127.0.0.1") as cluster, \
            Client(cluster, set_as_default=False) as client:   # mlbd must not rely on a default client
        with get_task_stream(client) as stream:
            assert main(["--course-dir", str(course), "autograde", "toy_lab", "--submissions", str(subs),
                         "--output", str(out), "--scheduler", cluster.scheduler_address, *LIMITS]) == 0
        workers = set(cluster.workers[w].worker_address for w in cluster.workers)
    # every valid submission ran as one task on the cluster's worker processes (the broken one is not sent)
    tasks = [t for t in stream.data if str(t["key"]).startswith("mlbd-grade-toy_lab-")]
    assert sorted(str(t["key"]).split("-")[3] for t in tasks) == ["alice", "blank", "bob"], stream.data
    assert {t["worker"] for t in tasks} <= workers
    # same scores as the local path (tests/test_isolation.py), gradebook and notebooks with the grader
    scores = _scores(out)
    assert {s: p for s, (_, p) in scores.items()} == EXPECTED
    assert scores["broken"][0] == "invalid" and scores["bob"][0] == "graded"
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        assert gb.find_submission("toy_lab", "alice").score == 3
        assert gb.find_submission("toy_lab", "bob").score == 1
    assert (course / "autograded" / "bob" / "toy_lab" / "toy_lab.ipynb").exists()


def test_unreachable_scheduler_is_a_clear_error(course_and_submissions, capsys):
    course, subs = course_and_submissions
    port = _free_port()
    assert main(["--course-dir", str(course), "autograde", "toy_lab", "--submissions", str(subs),
                 "--scheduler", f"tcp://127.0.0.1:{port}", *LIMITS]) == 2
    assert f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}" in capsys.readouterr().out
