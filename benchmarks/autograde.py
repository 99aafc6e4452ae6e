"""Benchmark: plain sequential ``nbgrader autograde`` vs isolated ``mlbd autograde --jobs N``.

Builds ``--n`` submissions of a lab (a cycle of: the solution, the blank release, each mutant), grades them
once with nbgrader's own command line, one student after another (``--baseline per-student``, what
``mlbd autograde`` used to do) or all in one ``nbgrader autograde LAB`` call (``--baseline one-call``), and
once through ``mlbd autograde``'s isolated path (sandbox, limits, guard) ``--jobs`` at a time, each in its
own scratch course. Prints the wall times, their ratio, the peak memory, whether the scores agree, and two
per-submission costs, each the median of 3 alternated pairs on one solution: the isolation overhead
(isolated minus plain ``nbgrader autograde``, both forked from the grader's nbgrader server) and what that
server saves (the command line minus the forked run). The last line is JSON: ``sequential_seconds,
parallel_seconds, ratio, identical_scores, isolation_overhead_seconds, launch_saving_seconds, peak_mb``.

    python benchmarks/autograde.py [--lab lecture04_trees_knn] [--n 40] [--jobs 2] [--baseline one-call]
"""
from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from mlbd_course.grading import forkserver
from mlbd_course.grading.autograde import grade_lab
from mlbd_course.grading.check import autograded_points
from mlbd_course.grading.course import (Lab, autograded_cells, course_root, generate_release,
                                        nbgrader, nbgrader_command, read_nb, run_measured, scratch_course, select_labs)
from mlbd_course.grading.isolated import grade_one
from mlbd_course.grading.mutants import apply_mutant, load_mutants, solution_submission
from mlbd_course.grading.sandbox import Limits


def build_submissions(course: Path, lab: Lab, n: int, dest: Path) -> dict[str, str]:
    release_dir = generate_release(course, lab)
    source_nb, release_nb = read_nb(lab.notebook), read_nb(release_dir / f"{lab.name}.ipynb")
    solution = solution_submission(source_nb, release_nb)
    kinds = [("solution", solution), ("blank", release_nb)]
    kinds += [(f"mutant-{m.name}", apply_mutant(solution, m)) for m in load_mutants(lab.mutants_file)]
    made = {}
    for i in range(n):
        kind, nb = kinds[i % len(kinds)]
        student = f"s{i:03d}"
        folder = dest / student / lab.name
        shutil.copytree(release_dir, folder)
        nbformat.write(nb, str(folder / f"{lab.name}.ipynb"))
        made[student] = kind
    return made


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lab", default="lecture04_trees_knn")
    p.add_argument("--n", type=int, default=40)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--baseline", choices=["per-student", "one-call"], default="per-student")
    args = p.parse_args(argv)
    root = course_root()
    lab = select_labs(root, [args.lab])[0]
    cells = autograded_cells(read_nb(lab.notebook))
    work = Path(tempfile.mkdtemp(prefix="mlbd-bench-"))
    try:
        seq_course = scratch_course(root, [lab], base=work)
        seq_lab = Lab(lab.name, seq_course / "source" / lab.name)
        subs = work / "submissions"
        kinds = build_submissions(seq_course, seq_lab, args.n, subs)
        print(f"{args.n} submissions of {lab.name}: " +
              ", ".join(f"{k}={list(kinds.values()).count(k)}" for k in sorted(set(kinds.values()))), flush=True)

        # 1. plain nbgrader command line, one student after another (or one call for all)
        t0 = time.perf_counter()
        seq_scores, peak = {}, 0.0

        def plain(args):
            return run_measured(nbgrader_command(args, seq_course), seq_course, timeout=3600)

        for student in kinds:
            shutil.copytree(subs / student, seq_course / "submitted" / student)
        if args.baseline == "one-call":
            run = plain(["autograde", lab.name, "--force"])
            peak = run.peak_mb
        for i, student in enumerate(kinds, 1):
            if args.baseline == "per-student":
                run = plain(["autograde", lab.name, f"--student={student}", "--force"])
                peak = max(peak, run.peak_mb)
            seq_scores[student] = autograded_points(seq_course, lab.name, lab.name, student, cells)
            if args.baseline == "per-student":
                print(f"{time.strftime('%H:%M:%S')} sequential [{i}/{len(kinds)}] {student} ({kinds[student]}): "
                      f"{seq_scores[student]:g} points, {run.seconds:.1f} s", file=sys.stderr, flush=True)
        sequential = time.perf_counter() - t0
        print(f"sequential nbgrader autograde ({args.baseline}): {sequential:.1f} s", flush=True)

        # 2. isolated, --jobs at a time (starting its own nbgrader server, as the command does)
        par_course = scratch_course(root, [lab], base=work)
        forkserver.stop()
        t0 = time.perf_counter()
        done = []

        def progress(g):
            done.append(g.student)
            print(f"{time.strftime('%H:%M:%S')} isolated [{len(done)}/{len(kinds)}] {g.student}: {g.status} "
                  f"{g.autograded_score:g} points", file=sys.stderr, flush=True)

        grades, _ = grade_lab(par_course, Lab(lab.name, par_course / "source" / lab.name), subs,
                              output=work / "grades.csv", jobs=args.jobs, plot=False, progress=progress)
        parallel = time.perf_counter() - t0
        par_scores = {g.student: g.autograded_score for g in grades}
        print(f"isolated mlbd autograde --jobs {args.jobs}: {parallel:.1f} s", flush=True)

        # 3. per-submission costs on one solution, alternated: command line, forked, isolated (forked)
        first = next(s for s, k in kinds.items() if k == "solution")
        par_lab = Lab(lab.name, par_course / "source" / lab.name)
        times: dict[str, list[float]] = {"command": [], "forked": [], "isolated": []}
        for rep in range(3):
            argv = ["autograde", lab.name, f"--student={first}", "--force"]
            times["command"].append(plain(argv).seconds)
            times["forked"].append(nbgrader(argv, seq_course, timeout=3600).seconds)
            iso = grade_one(par_course, par_lab, first, subs / first / lab.name, cells, work / "overhead", Limits(),
                            None)
            times["isolated"].append(iso.seconds)
            peak = max(peak, iso.peak_mb)
        med = {k: statistics.median(v) for k, v in times.items()}
        print("one solution, median of 3: " + ", ".join(f"{k} {v:.2f} s" for k, v in med.items()), flush=True)
        overhead, saving = med["isolated"] - med["forked"], med["command"] - med["forked"]
        peak = max(peak, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
        differ = {s: (seq_scores[s], par_scores.get(s)) for s in kinds if seq_scores[s] != par_scores.get(s)}
        if differ:
            print(f"scores differ for {len(differ)} submission(s): {dict(list(differ.items())[:5])}")
        out = dict(sequential_seconds=round(sequential, 1), parallel_seconds=round(parallel, 1),
                   ratio=round(sequential / parallel, 2), identical_scores=not differ,
                   isolation_overhead_seconds=round(overhead, 2), launch_saving_seconds=round(saving, 2),
                   peak_mb=round(peak, 1), n=args.n, jobs=args.jobs, lab=lab.name, baseline=args.baseline)
        print(json.dumps(out))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
