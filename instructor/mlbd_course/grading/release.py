"""Student releases: generate them with nbgrader, and check that the committed ones are current and
leak nothing (no solutions, no hidden tests, no outputs)."""
from __future__ import annotations

import filecmp
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from .course import (HIDDEN_BEGIN, SOLUTION_BEGIN, Lab, generate_release, read_nb, scratch_course)

LEAK_MARKERS = (SOLUTION_BEGIN, "### END SOLUTION", HIDDEN_BEGIN, "### END HIDDEN TESTS")


@dataclass
class ReleaseResult:
    lab: str
    status: str = "ok"
    problems: list[str] = field(default_factory=list)
    files: int = 0


def leaks(release_dir: Path) -> list[str]:
    """Problems in a release folder: solution code, hidden tests, outputs, instructor files."""
    problems = []
    for path in sorted(release_dir.rglob("*")):
        rel = path.relative_to(release_dir)
        if path.name == "mutants.yml":
            problems.append(f"{rel}: instructor file in the release")
        if path.suffix != ".ipynb":
            continue
        nb = read_nb(path)
        for i, cell in enumerate(nb.cells):
            where = f"{rel} cell {i} ({cell.get('id', '?')})"
            for marker in LEAK_MARKERS:
                if marker in cell.source:
                    problems.append(f"{where}: contains {marker!r}")
            if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count")):
                problems.append(f"{where}: has outputs")
    return problems


def _diff(a: Path, b: Path) -> list[str]:
    """Files that differ between two folders (missing on either side included)."""
    cmp = filecmp.dircmp(a, b, ignore=[".ipynb_checkpoints", "__pycache__"])
    out = [f"only in generated: {x}" for x in cmp.left_only] + [f"only in committed: {x}" for x in cmp.right_only]
    out += [f"differs: {x}" for x in cmp.diff_files]
    # dircmp compares shallowly by stat; compare contents explicitly
    for name in cmp.same_files:
        if (a / name).read_bytes() != (b / name).read_bytes():
            out.append(f"differs: {name}")
    for sub, subcmp in cmp.subdirs.items():
        out += [f"{sub}/{x}" for x in _diff(a / sub, b / sub)]
    return out


def release(root: Path, labs: list[Lab], check: bool = False, progress=None) -> list[ReleaseResult]:
    """Generate each lab's student version. With ``check``, generate into a scratch folder and compare
    with the committed ``release/`` instead of writing it."""
    results = []
    course = scratch_course(root, labs)
    try:
        for lab in labs:
            res = ReleaseResult(lab.name)
            generated = generate_release(course, lab)
            res.files = sum(1 for p in generated.rglob("*") if p.is_file())
            res.problems += leaks(generated)
            committed = root / "release" / lab.name
            if check:
                if not committed.exists():
                    res.problems.append(f"release/{lab.name} is missing: run `mlbd release {lab.name}`")
                else:
                    res.problems += [f"release/{lab.name}: {d} (run `mlbd release {lab.name}`)"
                                     for d in _diff(generated, committed)]
                    res.problems += leaks(committed)
            elif not res.problems:
                if committed.exists():
                    shutil.rmtree(committed)
                shutil.copytree(generated, committed)
            res.status = "ok" if not res.problems else ("out of date" if check else "leak")
            results.append(res)
            if progress:
                progress(lab.name)
    finally:
        shutil.rmtree(course, ignore_errors=True)
    return results
