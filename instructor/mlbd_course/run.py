"""``mlbd run LAB --data DIR``: execute a lab's solution top to bottom on another data folder.

Typical use is real data: ``mlbd data assistments --from FILE --out DIR`` converts a public file into the
course schema (and marks it as real in ``DIR/real/``), then ``mlbd run lecture06_bkt --data DIR`` executes
the lab the way a student would see it (the release with the reference answers typed in; hidden tests are
not part of it) with ``MLBD_DATA_DIR=DIR``, and writes the executed notebook. Cells tagged
``synthetic-only`` (they compare with the generator's ground truth, which real data does not have) are
skipped with a message when the folder holds real data. Every other cell must run without an error.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .grading.course import CourseError, Lab, nbgrader_env, read_nb
from .grading.mutants import solution_submission

SYNTHETIC_ONLY = "synthetic-only"


@dataclass
class RunReport:
    lab: str
    data: str
    output: str = ""
    cells: int = 0
    executed: int = 0
    skipped: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def status(self) -> str:
        return "ok" if not self.errors else "errors"


def real_datasets(data: Path) -> list[str]:
    """Datasets of ``data`` converted from real files (``mlbd data NAME --from ...``)."""
    return sorted(p.stem for p in (data / "real").glob("*.json")) if (data / "real").is_dir() else []


def run_lab(root: Path, lab: Lab, data: Path, output: Path | None = None, cell_timeout: float = 900,
            progress=None) -> RunReport:
    """Execute ``lab``'s solution with ``MLBD_DATA_DIR=data``; ``progress(index, total, message)`` is called
    after each cell."""
    from nbclient import NotebookClient

    data = Path(data).resolve()
    if not data.is_dir():
        raise CourseError(f"{data}: data folder not found (build it with `mlbd data --out {data}` or "
                          f"`mlbd data NAME --from FILE --out {data}`)")
    release_nb = root / "release" / lab.name / f"{lab.name}.ipynb"
    if not release_nb.exists():
        raise CourseError(f"{release_nb}: no release; run `mlbd release {lab.name}` first")
    nb = solution_submission(read_nb(lab.notebook), read_nb(release_nb))
    real = real_datasets(data)
    output = Path(output) if output else root / "autograded" / "run" / f"{lab.name}.ipynb"
    output.parent.mkdir(parents=True, exist_ok=True)
    report = RunReport(lab.name, str(data), str(output), cells=sum(c.cell_type == "code" for c in nb.cells))
    env = nbgrader_env()
    env["MLBD_DATA_DIR"] = str(data)
    client = NotebookClient(nb, timeout=cell_timeout, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(lab.folder)}})
    t0 = time.perf_counter()
    code_cells = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    with client.setup_kernel(env=env):
        for n, (index, cell) in enumerate(code_cells, 1):
            c0 = time.perf_counter()
            if real and SYNTHETIC_ONLY in cell.get("metadata", {}).get("tags", []):
                cell.outputs = [nbformat.v4.new_output(
                    "stream", name="stdout",
                    text=f"[mlbd run] skipped: this cell needs the synthetic data's ground truth "
                         f"(real data here: {', '.join(real)})\n")]
                report.skipped.append(index)
                message = "skipped (synthetic-only)"
            else:
                client.execute_cell(cell, index)
                report.executed += 1
                errs = [o for o in cell.get("outputs", []) if o.output_type == "error"]
                if errs:
                    gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or cell.get("id", "?")
                    report.errors.append(f"cell {index} ({gid}): {errs[0].get('ename')}: "
                                         f"{str(errs[0].get('evalue'))[:200]}")
                message = "error" if errs else "ok"
            if progress:
                progress(n, len(code_cells), f"cell {index}: {message} ({time.perf_counter() - c0:.1f} s)")
    report.seconds = time.perf_counter() - t0
    nbformat.write(nb, str(output))
    return report
