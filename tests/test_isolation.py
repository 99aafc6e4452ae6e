"""Grading that hostile submissions cannot subvert (issue 9) and that never gives a false zero (issue 8).

The notebook-executing tests grade one batch of hostile submissions of the toy lab through
``mlbd autograde --jobs 2`` (isolated path) and one ``mlbd check``; they need bubblewrap and user
namespaces and are skipped with the reason when the machine cannot isolate.
"""
from __future__ import annotations

import copy
import csv
import json
import os
import shutil
import sqlite3
from pathlib import Path

import nbformat
import pytest

from mlbd_course.cli import main
from mlbd_course.grading import sandbox
from mlbd_course.grading.course import all_labs, read_nb
from mlbd_course.grading.guard import parse_reply
from mlbd_course.grading.isolated import copy_regular_files
from mlbd_course.grading.mutants import solution_submission

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = Path(__file__).parent / "fixtures" / "course"
LIMITS = ["--cell-timeout", "15", "--timeout", "120", "--memory-mb", "512", "--max-processes", "64",
          "--output-mb", "1", "--disk-mb", "64"]
needs_isolation = pytest.mark.skipif(sandbox.isolation_problem() is not None,
                                     reason=f"no isolation here: {sandbox.isolation_problem()}")

WARNING_SQUARE = ("import sys, warnings\n"
                  "def square(x):\n"
                  "    warnings.warn('this API is deprecated', DeprecationWarning)\n"
                  "    warnings.warn('a library warning')\n"
                  "    print('progress: squaring', file=sys.stderr)\n"
                  "    return x * x")


@pytest.fixture
def toy_course(tmp_path) -> Path:
    course = tmp_path / "course"
    shutil.copytree(FIXTURE / "source", course / "source")
    shutil.copy(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    return course


def _with(nb, **sources):
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in sources:
            cell.source = sources[gid].replace("SOL", cell.source)
    return nb


def _hostile_submissions(course: Path, subs: Path) -> dict[str, object]:
    assert main(["--course-dir", str(course), "release", "toy_lab"]) == 0
    src = read_nb(course / "source" / "toy_lab" / "toy_lab.ipynb")
    rel = read_nb(course / "release" / "toy_lab" / "toy_lab.ipynb")
    sol = solution_submission(src, rel)
    secret = course / "source" / "toy_lab" / "toy_lab.ipynb"
    reader = (
        "SOL\nimport os, socket\nseen = []\n"
        f"for p in [{str(secret)!r}, {str(course / 'gradebook.db')!r}, 'leak.ipynb', '/root', '/etc/shadow',\n"
        f"          {str(ROOT / 'source')!r}, {str(ROOT / 'instructor')!r}]:\n"
        "    try:\n"
        "        seen.append((p, open(p).read(200) if os.path.isfile(p) else os.listdir(p)))\n"
        "    except Exception as e:\n"
        "        seen.append((p, type(e).__name__))\n"
        "print(seen)\n"
        "mine = open('toy_lab.ipynb').read()\n"
        "print('hidden tests visible' if 'square(-' + '2)' in mine or 'BEGIN ' + 'HIDDEN' in mine\n"
        "      else 'own notebook only')\n"
        f"for p in [{str(course / 'gradebook.db')!r}, {str(course.parent / 'next_to_course.txt')!r}, '/usr/x']:\n"
        "    try:\n"
        "        open(p, 'w').write('pwned'); print('WROTE', p)\n"
        "    except Exception as e:\n"
        "        print('cannot write', p, type(e).__name__)\n"
        "try:\n"
        "    import mlbd_course; print('IMPORTED mlbd_course')\n"
        "except ImportError as e:\n"
        "    print('no instructor package:', type(e).__name__)\n"
        "try:\n"
        "    socket.create_connection(('1.1.1.1', 53), timeout=3); print('NETWORK OK')\n"
        "except OSError as e:\n"
        "    print('no network:', e)")
    notebooks = {
        "alice": _with(sol, q2=WARNING_SQUARE),                   # correct, warns on stderr inside the test
        "blank": rel,
        "reader": _with(sol, q1=reader),                          # correct, tries to read/write everywhere
        # wrong answers + monkeypatched builtins/numpy + a custom exception handler swallowing AssertionError
        "cheater": _with(sol, q1="total = 7\nimport builtins, numpy as np\nbuiltins.sum = lambda *a, **k: 7\n"
                                 "np.isclose = lambda *a, **k: True",
                         q2="def square(x):\n    return x\n"
                            "get_ipython().set_custom_exc((AssertionError,), lambda *a, **k: None)\n"
                            "import sys, ast; sys.excepthook = lambda *a: None\n"
                            "class NoAssert(ast.NodeTransformer):\n"
                            "    def visit_Assert(self, node):\n        return ast.Pass()\n"
                            "get_ipython().ast_transformers.append(NoAssert())"),
        "membomb": _with(sol, q2="SOL\nhog = bytearray(3 * 1024**3)"),  # q1 done before: keeps its 2 points
        "forker": _with(sol, q2="SOL\nimport os, time\nkids = []\nfor i in range(500):\n    try:\n"
                                "        pid = os.fork()\n    except OSError:\n        break\n"
                                "    if pid == 0:\n        time.sleep(60)\n        os._exit(0)\n"
                                "    kids.append(pid)\nprint(len(kids), 'children')"),
        "looper": _with(sol, q2="SOL\nwhile True:\n    pass"),
        "shouter": _with(sol, q1="SOL\nfor i in range(40000):\n    print('x' * 100)"),
    }
    exiter = copy.deepcopy(sol)
    exiter.cells.append(nbformat.v4.new_code_cell("import os\nos._exit(1)"))  # after the graded cells
    notebooks["exiter"] = exiter
    markdowner = _with(sol, q2="def square(x):\n    return x")   # wrong, and its test made markdown
    for cell in markdowner.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "test_q2":
            cell.cell_type = "markdown"
            del cell["outputs"], cell["execution_count"]
    notebooks["markdowner"] = markdowner
    for student, nb in notebooks.items():
        folder = subs / student / "toy_lab"
        folder.mkdir(parents=True)
        nbformat.write(nb, str(folder / "toy_lab.ipynb"))
    (subs / "reader" / "toy_lab" / "leak.ipynb").symlink_to(secret)
    (subs / "truncated" / "toy_lab").mkdir(parents=True)
    (subs / "truncated" / "toy_lab" / "toy_lab.ipynb").write_text(nbformat.writes(sol)[:300])
    return notebooks


@pytest.mark.slow
@needs_isolation
def test_hostile_batch(toy_course, tmp_path, capsys):
    subs = tmp_path / "collected"
    _hostile_submissions(toy_course, subs)
    sentinel = tmp_path / "next_to_course.txt"
    sentinel.write_text("keep")
    before = {p: p.read_bytes() for p in subs.rglob("*.ipynb") if not p.is_symlink()}
    out = tmp_path / "grades.csv"
    assert main(["--course-dir", str(toy_course), "autograde", "toy_lab", "--submissions", str(subs),
                 "--output", str(out), "--jobs", "2", *LIMITS]) == 0
    printed = capsys.readouterr().out
    rows = {r["student"]: r for r in csv.DictReader(open(out))}
    score = {s: float(r["autograded_score"]) for s, r in rows.items()}
    status = {s: r["status"] for s, r in rows.items()}
    assert set(rows) == {"alice", "blank", "reader", "cheater", "membomb", "forker", "looper", "shouter",
                         "exiter", "markdowner", "truncated"}
    # no false zero: warnings and stderr inside a test cell cost nothing
    assert (status["alice"], score["alice"]) == ("graded", 3)
    assert score["blank"] == 0
    # no inflation: the wrong answers with patched builtins/numpy/exception handling earn nothing
    assert status["cheater"] == "tampered" and score["cheater"] == 0
    assert "builtins.sum" in rows["cheater"]["detail"] and "numpy.isclose" in rows["cheater"]["detail"]
    assert "custom_exceptions" in rows["cheater"]["detail"] or "set_custom_exc" in rows["cheater"]["detail"]
    assert "ast_transformers" in rows["cheater"]["detail"]
    # the patches were undone before the tests ran: the wrong answers fail their assertions
    cheater_nb = read_nb(toy_course / "autograded" / "cheater" / "toy_lab" / "toy_lab.ipynb")
    for cell in cheater_nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") in ("test_q1", "test_q2"):
            assert {o.get("ename") for o in cell.outputs} >= {"AssertionError", "GraderTamperingDetected"}
    # resource attacks are stopped, graded on what ran, and named
    assert status["membomb"] == "out-of-memory" and score["membomb"] == 2
    assert status["forker"] == "process-limit" and score["forker"] == 3
    assert status["looper"] == "timeout" and score["looper"] == 3
    assert status["shouter"] == "output-limit" and score["shouter"] == 3
    assert status["exiter"] == "kernel-died" and score["exiter"] == 3      # os._exit after the graded cells
    assert status["truncated"] == "invalid"
    assert score["markdowner"] == 2          # nbgrader restores the test cell: the wrong q2 is caught
    # the reader earned its points but saw nothing of the course, wrote nothing outside its sandbox
    assert (status["reader"], score["reader"]) == ("graded", 3)
    reader_nb = toy_course / "autograded" / "reader" / "toy_lab" / "toy_lab.ipynb"
    outputs = json.dumps([c.get("outputs", []) for c in read_nb(reader_nb).cells
                          if c.metadata.get("nbgrader", {}).get("grade_id") == "q1"])
    assert "BEGIN SOLUTION" not in outputs and "nbgrader" not in outputs and "SQLite" not in outputs
    assert "WROTE" not in outputs and "IMPORTED mlbd_course" not in outputs and "NETWORK OK" not in outputs
    assert "no instructor package" in outputs and "no network" in outputs and "own notebook only" in outputs
    assert "symbolic link" in rows["reader"]["detail"]
    assert sentinel.read_text() == "keep"
    # the gradebook is intact and holds everyone graded, written by the grader only
    with sqlite3.connect(toy_course / "gradebook.db") as db:
        graded = {r[0] for r in db.execute("select student_id from submitted_assignment")}
    assert graded >= set(rows) - {"truncated"}
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{toy_course / 'gradebook.db'}") as gb:
        assert gb.find_submission("toy_lab", "alice").score == 3
        assert gb.find_submission("toy_lab", "cheater").score == 0
    assert out.with_suffix(".png").stat().st_size > 1000          # the histogram, beside the CSV
    assert before == {p: p.read_bytes() for p in subs.rglob("*.ipynb") if not p.is_symlink()}
    assert "needs attention" in printed and "mean / median" in printed
    # feedback shows the failing tests' messages, not the hidden tests
    assert main(["--course-dir", str(toy_course), "feedback", "toy_lab", "--students", "cheater"]) == 0
    html = (toy_course / "feedback" / "cheater" / "toy_lab" / "toy_lab.html").read_text()
    assert "AssertionError" in html and "GraderTamperingDetected" in html
    assert "square(-2)" not in html and "HIDDEN TESTS" not in html


@pytest.mark.slow
@needs_isolation
def test_check_gives_no_false_zero_names_the_catching_cell_and_reports_a_weak_mutant(toy_course):
    from mlbd_course.grading.check import check_lab
    lab = all_labs(toy_course)[0]
    nb = read_nb(lab.notebook)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "q2":
            cell.source = WARNING_SQUARE.replace("return x * x", "### BEGIN SOLUTION\n    return x * x\n"
                                                 "    ### END SOLUTION")
    # Q2 is an independent part: its mutant runs the setup cell and Q2 only (Q1 is skipped)
    nb.cells[1].metadata["tags"] = ["mlbd-setup"]
    nb.cells[5].metadata["tags"] = ["mlbd-part"]
    nbformat.write(nb, str(lab.notebook))
    # a mutant that only rewrites the answer equivalently must be reported as not caught
    with open(lab.mutants_file, "a") as f:
        f.write('- name: equivalent\n  description: same answer\n  cell: q2\n'
                '  replace:\n    - old: "return x * x"\n      new: "return x ** 2"\n')
    res = check_lab(toy_course, lab, timeout=120)
    assert res.status == "FAIL" and len(res.problems) == 1 and "'equivalent'" in res.problems[0], res.problems
    assert (res.solution_points, res.max_points, res.blank_points) == (3, 3, 0)
    assert (res.mutants_caught, res.mutants_total) == (2, 3)
    assert res.seconds > 0 and res.peak_mb > 10
    assert {m["name"]: (m["caught_by"], m["part_alone"]) for m in res.mutants} == {
        "odd-numbers": ("test_q1", False), "abs-instead-of-square": ("test_q2", True),
        "equivalent": (None, True)}
    assert {m["name"]: m["points"] for m in res.mutants}["abs-instead-of-square"] == 0   # Q1 did not run


@pytest.mark.slow
@needs_isolation
def test_check_refuses_a_part_that_needs_earlier_cells(toy_course):
    from mlbd_course.grading.check import check_lab
    lab = all_labs(toy_course)[0]
    nb = read_nb(lab.notebook)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "test_q2":
            cell.source = "assert total == 20\n" + cell.source       # Q2's test uses Q1's answer
    nb.cells[5].metadata["tags"] = ["mlbd-part"]                     # ... and nothing is tagged mlbd-setup
    nbformat.write(nb, str(lab.notebook))
    res = check_lab(toy_course, lab, timeout=120)
    assert res.status == "FAIL"
    assert any("cannot run alone" in p and "NameError" in p for p in res.problems), res.problems


def test_grading_refuses_without_isolation_unless_unsafe(toy_course, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sandbox._ISOLATION_CACHE, "v", "bwrap is not installed (test)")
    (tmp_path / "subs" / "alice" / "toy_lab").mkdir(parents=True)
    assert main(["--course-dir", str(toy_course), "autograde", "toy_lab", "--submissions",
                 str(tmp_path / "subs")]) == 2
    out = capsys.readouterr().out
    assert "cannot isolate" in out and "--unsafe" in out


def test_submission_links_and_special_files_are_dropped(tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.csv").write_text("x")
    (src / "sub" / "b.txt").write_text("y")
    (src / "link").symlink_to("/etc/passwd")
    os.mkfifo(src / "fifo")
    dropped = copy_regular_files(src, tmp_path / "dest")
    assert sorted(p.name for p in (tmp_path / "dest").rglob("*")) == ["a.csv", "b.txt", "sub"]
    assert any("link" in d for d in dropped) and any("fifo" in d for d in dropped)


def test_guard_reply_is_never_evaluated():
    ok = {"content": {"user_expressions": {"r": {"status": "ok", "data": {"text/plain": repr('["numpy.isclose"]')}}}}}
    assert parse_reply(ok) == ["numpy.isclose"]
    evil = {"content": {"user_expressions": {"r": {"status": "ok", "data": {"text/plain": "__import__('os').getcwd()"}}}}}
    assert parse_reply(evil) is None
    assert parse_reply({"content": {"user_expressions": {"r": {"status": "error"}}}}) is None


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _running(pid: int) -> bool:
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


@needs_isolation
def test_ctrl_c_stops_the_batch_at_once_and_leaves_no_process(toy_course, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    assert main(["--course-dir", str(toy_course), "release", "toy_lab"]) == 0
    src = read_nb(toy_course / "source" / "toy_lab" / "toy_lab.ipynb")
    rel = read_nb(toy_course / "release" / "toy_lab" / "toy_lab.ipynb")
    sleeper = _with(solution_submission(src, rel), q1="import time\ntime.sleep(250)\nSOL")
    for student in ("ann", "bob", "cid"):
        folder = tmp_path / "subs" / student / "toy_lab"
        folder.mkdir(parents=True)
        nbformat.write(sleeper, str(folder / "toy_lab.ipynb"))
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from mlbd_course.cli import main; sys.exit(main())",
                             "--course-dir", str(toy_course), "autograde", "toy_lab", "--submissions",
                             str(tmp_path / "subs"), "--jobs", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    tree: set[int] = set()
    deadline = time.time() + 90
    while time.time() < deadline:      # until both kernels sleep in their sandboxes
        tree |= _descendants(proc.pid)
        kernels = [p for p in tree if _running(p) and "ipykernel_launcher" in
                   Path(f"/proc/{p}/cmdline").read_bytes().decode(errors="replace")] if tree else []
        if len(kernels) >= 2:
            break
        time.sleep(0.5)
    assert len(kernels) >= 2, "the two kernels never started"
    time.sleep(2)
    tree |= _descendants(proc.pid)
    t0 = time.time()
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)     # not the 250 s the cells would sleep
    assert proc.returncode == 130 and "interrupted" in out, out[-2000:]
    assert time.time() - t0 < 30
    time.sleep(1)
    assert not [p for p in tree if _running(p)], "processes of the batch outlived it"
