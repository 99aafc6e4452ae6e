"""The nbgrader fork server: every run is a fresh process with the command line's behaviour."""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from mlbd_course.grading import forkserver
from mlbd_course.grading.course import nbgrader, nbgrader_command, run_measured

# nbgrader reads nbgrader_config.py from the working directory: a configuration that reports what the
# run sees (its pid, environment, folder), then optionally hangs
CONFIG = '''import os, pathlib, time
out = pathlib.Path(os.environ["PROBE_OUT"])
out.write_text(f"{os.getpid()} {os.getcwd()} {os.environ.get('PROBE_VALUE')}")
time.sleep(float(os.environ.get("PROBE_SLEEP", "0")))
'''


@pytest.fixture()
def course(tmp_path):
    (tmp_path / "source").mkdir()
    (tmp_path / "nbgrader_config.py").write_text(CONFIG)
    return tmp_path


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in state


def test_a_run_is_a_fresh_process_with_the_command_lines_result(course, monkeypatch):
    monkeypatch.setenv("PROBE_OUT", str(course / "probe"))
    pids = set()
    for value in ("a", "b"):
        monkeypatch.setenv("PROBE_VALUE", value)
        res = nbgrader(["db", "student", "list"], course, timeout=120)
        pid, cwd, seen = (course / "probe").read_text().split()
        assert res.returncode == 0 and not res.timed_out, res.output
        assert (seen, Path(cwd)) == (value, course)     # this call's environment and folder
        assert int(pid) != os.getpid()
        pids.add(pid)
    assert len(pids) == 2                                # one process per run
    # a failing command: same exit code and message as the command line
    args = ["autograde", "no_such_lab", "--student=nobody"]
    forked = nbgrader(args, course, timeout=120)
    plain = run_measured(nbgrader_command(args, course), course, timeout=120)
    assert forked.returncode == plain.returncode != 0
    assert "No notebooks were matched" in forked.output and "No notebooks were matched" in plain.output


def test_concurrent_runs_from_threads(course, monkeypatch):
    monkeypatch.setenv("PROBE_OUT", str(course / "probe"))
    results = {}

    def one(i):
        results[i] = nbgrader(["autograde", f"lab{i}", "--student=x"], course, timeout=120)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, res in results.items():      # each output is its own run's
        assert res.returncode != 0 and f"lab{i}" in res.output and f"lab{(i + 1) % 6}'" not in res.output


def test_a_run_past_its_timeout_is_killed(course, monkeypatch):
    monkeypatch.setenv("PROBE_OUT", str(course / "probe"))
    monkeypatch.setenv("PROBE_SLEEP", "120")
    t0 = time.perf_counter()
    res = nbgrader(["db", "student", "list"], course, timeout=3)
    assert res.timed_out and time.perf_counter() - t0 < 30
    pid = int((course / "probe").read_text().split()[0])
    deadline = time.time() + 10
    while _alive(pid) and time.time() < deadline:
        time.sleep(0.1)
    assert not _alive(pid)


def test_stopping_the_server_ends_its_runs_and_the_next_run_starts_a_new_one(course, monkeypatch):
    monkeypatch.setenv("PROBE_OUT", str(course / "probe"))
    monkeypatch.setenv("PROBE_SLEEP", "120")
    result = {}
    t = threading.Thread(target=lambda: result.update(res=nbgrader(["db", "student", "list"], course)))
    t.start()
    deadline = time.time() + 60
    while not (course / "probe").exists() and time.time() < deadline:
        time.sleep(0.1)
    pid = int((course / "probe").read_text().split()[0])
    forkserver.stop()                  # as when the grader process ends
    t.join(30)
    assert not t.is_alive()
    assert result["res"].returncode != 0 and "fork server ended" in result["res"].output
    assert not _alive(pid)
    monkeypatch.setenv("PROBE_SLEEP", "0")
    assert nbgrader(["db", "student", "list"], course, timeout=120).returncode == 0
