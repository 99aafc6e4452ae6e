"""``mlbd feedback``: per-student HTML feedback that shows failing tests' messages, not hidden tests."""
from __future__ import annotations

import json
from pathlib import Path

from nbgrader.preprocessors import ClearHiddenTests

from .course import CourseError, Lab, nbgrader
from .execute import is_test_cell


class HideHiddenTests(ClearHiddenTests):
    """Remove the hidden tests from test cells, and the tracebacks (which quote the failing line) from
    their errors: the student sees the error type and message only."""

    def preprocess_cell(self, cell, resources, cell_index):
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if is_test_cell(cell):
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    out["traceback"] = [f"{out.get('ename')}: {out.get('evalue')}"]
        return cell, resources


def feedback(root: Path, lab: Lab, show_hidden: bool = False, students: list[str] | None = None,
             db_url: str | None = None) -> list[Path]:
    """Run ``nbgrader generate_feedback`` for ``lab`` (scores from the gradebook ``db_url``, default the
    course's); return the HTML files written."""
    pre = ["nbgrader.preprocessors.GetGrades", "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor"]
    if not show_hidden:
        pre.insert(1, "mlbd_course.grading.feedback.HideHiddenTests")
    args = ["generate_feedback", lab.name, "--force", "--GenerateFeedback.preprocessors=" + json.dumps(pre)]
    if db_url:
        args.append(f"--CourseDirectory.db_url={db_url}")
    if students:
        args.append("--CourseDirectory.student_id=" + (students[0] if len(students) == 1 else "*"))
    run = nbgrader(args, root, timeout=1800)
    if run.returncode != 0:
        raise CourseError(f"nbgrader generate_feedback {lab.name} failed:\n{run.output[-2000:]}")
    out = sorted((root / "feedback").glob(f"*/{lab.name}/*.html"))
    if students:
        out = [p for p in out if p.parts[-3] in students]
    return out
