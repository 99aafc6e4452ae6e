"""``mlbd``: one entry point for course operations.

    mlbd data [NAME ...] [--from PATH] [--seed N] [--out DIR]   build / convert the datasets
    mlbd release [LAB ...] [--check]                             generate (or check) student releases
    mlbd check [LAB ...] [--mutants]                             run solutions and blanks (and mutants)
    mlbd run LAB --data DIR                                      execute a solution on another data folder
    mlbd autograde LAB --submissions DIR [--jobs N] [--output CSV] [--db URL] [--scheduler tcp://HOST:PORT]
                                                                 grade collected submissions (isolated)
    mlbd feedback LAB [--show-hidden] [--db URL]                 per-student HTML feedback
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)


class Steps:
    """Progress of a long command: a live bar on a terminal; elsewhere (CI logs, ``| tee``) plain
    timestamped lines, one per finished item with its duration, and one per note.

    ``with Steps("building data", n) as steps: ...; steps.note("solution: 10/10"); steps.done("hours")``
    """

    def __init__(self, title: str, total: int | None):
        self.title, self.total, self.n = title, total, 0
        self.t0 = self.last = time.perf_counter()
        self.live = console.is_terminal
        self._prog = None

    def __enter__(self):
        if self.live:
            self._prog = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                                  TextColumn("{task.completed}/{task.total}"), TextColumn("{task.fields[item]}"),
                                  TimeElapsedColumn(), console=console, transient=False)
            self._prog.__enter__()
            self._task = self._prog.add_task(self.title, total=self.total, item="")
        return self

    def __exit__(self, *exc):
        if self._prog is not None:
            self._prog.__exit__(*exc)

    def _line(self, text: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {self.title}: {text}", flush=True)

    def note(self, text: str) -> None:
        if self.live:
            self._prog.update(self._task, item=text)
        else:
            self._line(text)

    def done(self, item: str, detail: str = "") -> None:
        now = time.perf_counter()
        self.n += 1
        if self.live:
            self._prog.update(self._task, advance=1, item=f"{item} {detail}".strip())
        else:
            total = f"/{self.total}" if self.total else ""
            self._line(f"[{self.n}{total}] {item} {detail} ({now - self.last:.1f} s, {now - self.t0:.0f} s in all)"
                       .replace("  ", " "))
        self.last = now


def _table(title: str, columns: list[str], rows: list[list]) -> None:
    table = Table(title=title)
    for c in columns:
        table.add_column(c)
    for r in rows:
        table.add_row(*[str(x) for x in r])
    console.print(table)


def cmd_data(args) -> int:
    from mlbd_utils.data import registry
    from mlbd_utils.data.docs import write_readme

    out = Path(args.out) if args.out else registry.data_dir()
    if args.docs:
        path = write_readme(out / "README.md" if args.out else registry.data_dir() / "README.md")
        console.print(f"wrote {path}")
        return 0
    all_ds = registry.datasets()
    names = args.names or list(all_ds)
    chosen = [registry.get(n) for n in names]
    if args.from_path:
        if len(chosen) != 1:
            console.print("[red]error:[/] --from converts one dataset: name it, e.g. `mlbd data assistments --from FILE`")
            return 2
        rows = registry.convert_real(chosen[0], Path(args.from_path), out)
    else:
        rows, t0 = [], time.perf_counter()
        with Steps("building data", len(chosen)) as steps:
            for ds in chosen:
                rows += registry.build_one(ds, out, seed=args.seed)
                steps.done(ds.name)
        console.print(f"built {len(chosen)} dataset(s) into {out} in {time.perf_counter() - t0:.1f} s")
        if args.update_checksums:
            sums = registry.expected_checksums()
            sums.update({r["file"]: r["sha256"] for r in rows})
            registry.CHECKSUMS.write_text(json.dumps(dict(sorted(sums.items())), indent=1) + "\n")
            console.print(f"updated {registry.CHECKSUMS}")
            for r in rows:
                r["checksum"] = "updated"
    _table("datasets", ["dataset", "file", "rows", "KB", "checksum", "seconds"],
           [[r["dataset"], r["file"], r["rows"], r["kb"], r["checksum"], r["seconds"]] for r in rows])
    bad = [r for r in rows if r["checksum"] == "MISMATCH"]
    if bad:
        console.print(f"[red]checksum mismatch[/] for {[r['file'] for r in bad]}: the generator's output changed "
                      "(library versions or code); if intended, run `mlbd data --update-checksums`")
        return 1
    return 0


def cmd_release(args) -> int:
    from .grading.course import course_root, select_labs
    from .grading.release import release

    root = course_root(args.course_dir)
    labs = select_labs(root, args.labs)
    with Steps("checking releases" if args.check else "generating releases", len(labs)) as steps:
        results = release(root, labs, check=args.check, progress=steps.done)
    _table("releases", ["lab", "status", "files", "problems"],
           [[r.lab, r.status, r.files, "\n".join(r.problems[:5]) or "-"] for r in results])
    return 0 if all(r.status == "ok" for r in results) else 1


def cmd_check(args) -> int:
    from mlbd_utils.data.registry import data_dir, file_index
    from .grading.check import check_lab
    from .grading.course import course_root, json_dump, select_labs

    root = course_root(args.course_dir)
    labs = select_labs(root, args.labs)
    missing = sorted({f for _, f in file_index().values() if not (data_dir() / f).exists()})
    if missing:
        console.print(f"[yellow]warning:[/] {len(missing)} data file(s) missing in {data_dir()} "
                      f"(e.g. {missing[0]}); run `mlbd data` first")
    results = []
    with Steps("checking labs" + (" (with mutants)" if args.mutants else ""), len(labs)) as steps:
        for lab in labs:
            res = check_lab(root, lab, timeout=args.timeout, keep=Path(args.keep) if args.keep else None,
                            progress=lambda msg, lab=lab: steps.note(f"{lab.name}: {msg}"), jobs=args.jobs,
                            limits=_limits(args), unsafe=args.unsafe, mutants=args.mutants,
                            full_mutants=args.full_mutants)
            results.append(res)
            mutants = f", mutants caught {res.mutants_caught}/{res.mutants_total}" if args.mutants else ""
            steps.done(lab.name, f"{res.status}: solution {res.solution_points:g}/{res.max_points:g}, "
                                 f"blank {res.blank_points:g}{mutants}")
            if steps.live:  # the verdict as soon as it is known (plain lines already say it)
                console.print(f"{lab.name}: [{'green' if res.status == 'ok' else 'red'}]{res.status}[/]")
    report_path = Path(args.report) if args.report else root / "autograded" / "check-report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else {"labs": {}}
    report.setdefault("labs", {}).update({r.lab: r.as_dict() for r in results})
    report["labs"] = dict(sorted(report["labs"].items()))
    json_dump(report, report_path)

    def pct(x, m):
        return "-" if x is None or not m else f"{100 * x / m:.0f}%"

    _table("mlbd check", ["lab", "status", "wall s", "peak MB", "solution", "blank", "mutants caught"],
           [[r.lab, r.status, f"{r.seconds:.1f}", f"{r.peak_mb:.0f}",
             f"{r.solution_points:g}/{r.max_points:g} ({pct(r.solution_points, r.max_points)})",
             pct(r.blank_points, r.max_points), f"{r.mutants_caught}/{r.mutants_total}"] for r in results])
    for r in results:
        for p in r.problems:
            console.print(f"[red]{r.lab}:[/] {p}")
    console.print(f"report: {report_path}")
    return 0 if all(r.status == "ok" for r in results) else 1


def _limits(args):
    from .grading.sandbox import Limits
    return Limits(cell_seconds=args.cell_timeout, total_seconds=args.timeout, memory_mb=args.memory_mb,
                  processes=args.max_processes, output_mb=args.output_mb, disk_mb=args.disk_mb,
                  network=args.network)


def cmd_autograde(args) -> int:
    from .grading.autograde import find_submissions, grade_lab, summary
    from .grading.course import course_root, select_labs

    root = course_root(args.course_dir)
    lab = select_labs(root, [args.lab])[0]
    n = len(find_submissions(Path(args.submissions).resolve(), lab.name))
    if args.unsafe:
        console.print("[yellow]warning:[/] --unsafe: submissions run WITHOUT isolation, with your rights")
    with Steps(f"autograding {lab.name}", n) as steps:
        grades, path = grade_lab(
            root, lab, Path(args.submissions), Path(args.output) if args.output else None, jobs=args.jobs,
            limits=_limits(args), unsafe=args.unsafe, db_url=args.db, scheduler=args.scheduler,
            progress=lambda g: steps.done(g.student, f"{g.status} {g.autograded_score:g}/{g.autograded_max:g}"))
    _table(f"grades: {lab.name}", ["student", "status", "autograded", "manual (to grade)", "detail"],
           [[g.student, g.status, f"{g.autograded_score:g}/{g.autograded_max:g}",
             f"{g.manual_max:g}" + (" pending" if g.needs_manual_grade else ""), g.detail[:80] or "-"]
            for g in grades])
    s = summary(grades)
    _table(f"summary: {lab.name} ({len(grades)} submissions)", ["status", "students"],
           [[k, v] for k, v in sorted(s["counts"].items())] +
           [["mean / median autograded", f"{s['mean']:.2f} / {s['median']:.2f}"]])
    if s["attention"]:
        _table("needs attention", ["student", "status", "why"], [list(a) for a in s["attention"]])
    console.print(f"grades written to {path} (histogram: {path.with_suffix('.png')})")
    return 0


def cmd_run(args) -> int:
    from .grading.course import course_root, select_labs
    from .run import run_lab

    root = course_root(args.course_dir)
    lab = select_labs(root, [args.lab])[0]
    with Steps(f"running {lab.name}", None) as steps:
        rep = run_lab(root, lab, Path(args.data), Path(args.output) if args.output else None,
                      cell_timeout=args.cell_timeout, progress=lambda n, total, msg: steps.done(f"code cell {n}/{total}", msg))
    _table(f"mlbd run {lab.name}", ["lab", "data", "status", "code cells", "executed", "skipped", "errors", "seconds"],
           [[rep.lab, rep.data, rep.status, rep.cells, rep.executed, len(rep.skipped), len(rep.errors),
             f"{rep.seconds:.1f}"]])
    for e in rep.errors:
        console.print(f"[red]{lab.name}:[/] {e}")
    console.print(f"executed notebook: {rep.output}")
    return 0 if rep.status == "ok" else 1


def cmd_feedback(args) -> int:
    from .grading.course import course_root, select_labs
    from .grading.feedback import feedback

    root = course_root(args.course_dir)
    lab = select_labs(root, [args.lab])[0]
    files = feedback(root, lab, show_hidden=args.show_hidden, students=args.students or None, db_url=args.db)
    console.print(f"{len(files)} feedback file(s) in {root / 'feedback'}" +
                  ("" if args.show_hidden else " (hidden tests and their tracebacks left out)"))
    return 0


def _db_option(p) -> None:
    import os
    p.add_argument("--db", metavar="URL", default=os.environ.get("MLBD_DB_URL") or None,
                   help="gradebook database (SQLAlchemy URL, e.g. postgresql+psycopg2://grader@HOST/mlbd; keep the "
                        "password in ~/.pgpass); default $MLBD_DB_URL, else the course's gradebook.db")


def _limit_options(p, total: float) -> None:
    from .grading.sandbox import Limits
    d = Limits()
    g = p.add_argument_group("isolation and limits (per submission)")
    g.add_argument("--timeout", type=float, default=total, help=f"wall seconds for the whole notebook (default {total:g})")
    g.add_argument("--cell-timeout", type=float, default=d.cell_seconds, help=f"wall seconds per cell (default {d.cell_seconds:g})")
    g.add_argument("--memory-mb", type=int, default=d.memory_mb, help=f"resident memory of the kernel and its children (default {d.memory_mb})")
    g.add_argument("--max-processes", type=int, default=d.processes, help=f"processes/threads (default {d.processes})")
    g.add_argument("--output-mb", type=float, default=d.output_mb, help=f"notebook output kept (default {d.output_mb:g})")
    g.add_argument("--disk-mb", type=int, default=d.disk_mb, help=f"private scratch space and largest file (default {d.disk_mb})")
    g.add_argument("--network", action="store_true", help="let submissions use the network (off by default)")
    g.add_argument("--unsafe", action="store_true", help="grade WITHOUT isolation where the machine cannot provide it")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mlbd", description="Course operations for MLBD (data, releases, checks, grading).")
    p.add_argument("--course-dir", help="course directory (default: this repository)")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("data", help="build the datasets into data/ (or convert a real file with --from)")
    d.add_argument("names", nargs="*", help="datasets to build (default: all)")
    d.add_argument("--from", dest="from_path", help="a real public file to convert into the course schema")
    d.add_argument("--seed", type=int, default=None, help="generator seed (default: the registry's; "
                   "checksums are verified only for it)")
    d.add_argument("--out", help="output folder (default: $MLBD_DATA_DIR or the repository's data/)")
    d.add_argument("--update-checksums", action="store_true", help="(maintainers) record the new checksums")
    d.add_argument("--docs", action="store_true", help="(maintainers) regenerate data/README.md from the registry")
    d.set_defaults(func=cmd_data)

    r = sub.add_parser("release", help="generate student versions into release/ with nbgrader")
    r.add_argument("labs", nargs="*", help="labs (default: all)")
    r.add_argument("--check", action="store_true", help="fail if release/ is out of date or leaks solutions")
    r.set_defaults(func=cmd_release)

    c = sub.add_parser("check", help="grade each lab's solution and blank release (and mutants with --mutants)")
    c.add_argument("labs", nargs="*", help="labs (default: all)")
    c.add_argument("--mutants", action="store_true",
                   help="also prove that every mutant of mutants.yml loses points (make test, CI)")
    c.add_argument("--jobs", type=int, default=2, help="blank/mutant submissions graded in parallel (default 2)")
    c.add_argument("--full-mutants", action="store_true",
                   help="grade every mutant in full (default: stop at the first test cell that catches it)")
    _limit_options(c, total=600)
    c.add_argument("--keep", help="copy the autograded notebooks into this folder (for debugging)")
    c.add_argument("--report", help="report path (default: autograded/check-report.json)")
    c.set_defaults(func=cmd_check)

    u = sub.add_parser("run", help="execute a lab's solution on another data folder (e.g. real data)")
    u.add_argument("lab")
    u.add_argument("--data", required=True, help="data folder (e.g. built by `mlbd data NAME --from FILE --out DIR`)")
    u.add_argument("--output", help="executed notebook (default: autograded/run/<lab>.ipynb)")
    u.add_argument("--cell-timeout", type=float, default=900, help="seconds allowed per cell (default 900)")
    u.set_defaults(func=cmd_run)

    a = sub.add_parser("autograde", help="grade collected submissions and export a CSV")
    a.add_argument("lab")
    a.add_argument("--submissions", required=True, help="folder with <student>/<lab>/<lab>.ipynb")
    a.add_argument("--output", help="CSV path (default: grades/<lab>.csv)")
    a.add_argument("--jobs", type=int, default=None, help="submissions graded at once (default: the number of cores)")
    _db_option(a)
    a.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="execute the submissions on this Dask distributed cluster (its workers need the course "
                        "environment, data and bubblewrap); the gradebook stays with this process")
    _limit_options(a, total=1800)
    a.set_defaults(func=cmd_autograde)

    f = sub.add_parser("feedback", help="per-student HTML feedback of an autograded lab (feedback/)")
    f.add_argument("lab")
    f.add_argument("--students", nargs="*", help="only these students (default: all autograded)")
    f.add_argument("--show-hidden", action="store_true", help="include the hidden tests' source and tracebacks")
    _db_option(f)
    f.set_defaults(func=cmd_feedback)
    return p


def main(argv: list[str] | None = None) -> int:
    from mlbd_utils.data.schema import DataError
    from .grading.course import CourseError

    args = build_parser().parse_args(argv)
    if getattr(args, "seed", "unset") is None:
        from mlbd_utils.data.registry import DEFAULT_SEED
        args.seed = DEFAULT_SEED
    try:
        return args.func(args)
    except (CourseError, DataError) as exc:
        console.print(f"[red]error:[/] {exc}")
        return 2
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]: the runs still going were stopped; what had finished is kept "
                      "(autograde: in the gradebook and autograded/; run the command again to grade the whole batch)")
        return 130


if __name__ == "__main__":
    sys.exit(main())
