"""``mlbd``: one entry point for course operations.

    mlbd data [NAME ...] [--from PATH] [--seed N] [--out DIR]   build / convert the datasets
    mlbd release [LAB ...] [--check]                             generate (or check) student releases
    mlbd check [LAB ...]                                         run solutions, blanks and mutants
    mlbd autograde LAB --submissions DIR [--output CSV]          grade collected submissions
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


def _progress():
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                    TextColumn("{task.fields[item]}"), TimeElapsedColumn(), console=console, transient=False)


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
        with _progress() as prog:
            task = prog.add_task("building data", total=len(chosen), item="")
            for ds in chosen:
                prog.update(task, item=ds.name)
                rows += registry.build_one(ds, out, seed=args.seed)
                prog.advance(task)
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
    with _progress() as prog:
        task = prog.add_task("checking releases" if args.check else "generating releases", total=len(labs), item="")
        results = release(root, labs, check=args.check, progress=lambda name: prog.update(task, advance=1, item=name))
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
    with _progress() as prog:
        task = prog.add_task("checking labs", total=len(labs), item="")
        for lab in labs:
            res = check_lab(root, lab, timeout=args.timeout, keep=Path(args.keep) if args.keep else None,
                            progress=lambda s, lab=lab: prog.update(task, item=f"{lab.name}: {s}"), jobs=args.jobs)
            results.append(res)
            prog.advance(task)
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


def cmd_autograde(args) -> int:
    from .grading.autograde import autograde, find_submissions
    from .grading.course import course_root, select_labs

    root = course_root(args.course_dir)
    lab = select_labs(root, [args.lab])[0]
    n = len(find_submissions(Path(args.submissions).resolve(), lab.name))
    with _progress() as prog:
        task = prog.add_task(f"autograding {lab.name}", total=n, item="")
        grades, path = autograde(root, lab, Path(args.submissions), Path(args.output) if args.output else None,
                                 timeout=args.timeout, progress=lambda s: prog.update(task, advance=1, item=s))
    _table(f"grades: {lab.name}", ["student", "status", "autograded", "manual (to grade)", "detail"],
           [[g.student, g.status, f"{g.autograded_score:g}/{g.autograded_max:g}",
             f"{g.manual_max:g}" + (" pending" if g.needs_manual_grade else ""), g.detail[:80] or "-"]
            for g in grades])
    console.print(f"grades written to {path}")
    return 0


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

    c = sub.add_parser("check", help="grade each lab's solution, blank release and mutants")
    c.add_argument("labs", nargs="*", help="labs (default: all)")
    c.add_argument("--timeout", type=float, default=600, help="seconds allowed per notebook run (default 600)")
    c.add_argument("--jobs", type=int, default=2, help="blank/mutant submissions graded in parallel (default 2)")
    c.add_argument("--keep", help="copy the autograded notebooks into this folder (for debugging)")
    c.add_argument("--report", help="report path (default: autograded/check-report.json)")
    c.set_defaults(func=cmd_check)

    a = sub.add_parser("autograde", help="grade collected submissions and export a CSV")
    a.add_argument("lab")
    a.add_argument("--submissions", required=True, help="folder with <student>/<lab>/<lab>.ipynb")
    a.add_argument("--output", help="CSV path (default: grades/<lab>.csv)")
    a.add_argument("--timeout", type=float, default=900, help="seconds allowed per submission")
    a.set_defaults(func=cmd_autograde)
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


if __name__ == "__main__":
    sys.exit(main())
