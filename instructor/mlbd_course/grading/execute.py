"""nbgrader preprocessors of the MLBD autograde pipeline.

``SandboxedExecute`` replaces nbgrader's ``Execute``: it runs the notebook in a :class:`Sandbox` (scratch
folder outside the course, no network, limits), cell by cell, so that a submission is graded on what
ran: a cell that reaches the time limit is interrupted and the next cells still run; when the kernel
dies (``os._exit``, out of memory...) or the total time is spent, every cell that did not run gets an
error output (so that its test scores 0 instead of nbgrader's "no output = full points"). Before each
autograder test cell it restores what the tests rely on (:mod:`mlbd_course.grading.guard`); a test cell
that needed a restore gets an error output (points withheld) and the submission is flagged ``tampered``.
With ``stop_after`` (``mlbd check`` of a mutant) it stops at the first failing test cell after that cell;
``skip_cells`` (``mlbd check`` of a mutant in a later part of a lab) leaves the cells of earlier parts out.

``GradeByAssertion`` runs after it: stderr outputs of autograder test cells become stdout (kept
visible), so that a test cell is scored by its assertions only, never by a library warning.
``autograde_args`` gives the nbgrader command-line options that install both.
"""
from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.client import NotebookClient
from nbformat.notebooknode import NotebookNode
from traitlets import Bool, Float, Integer, Unicode

from nbgrader.preprocessors import Execute, NbGraderPreprocessor

from .guard import install_code, parse_reply, restore_code
from .sandbox import Limits, Sandbox

# statuses, most important first (a submission's status is the first that applies)
STATUS_ORDER = ["out-of-memory", "timeout", "process-limit", "kernel-died", "output-limit", "tampered",
                "graded"]


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def is_test_cell(cell) -> bool:
    m = _meta(cell)
    return cell.get("cell_type") == "code" and bool(m.get("grade")) and not m.get("solution")


def _error(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue,
                        traceback=[f"\x1b[0;31m{ename}\x1b[0m: {evalue}"])


def has_error(cell) -> bool:
    return any(o.get("output_type") == "error" for o in cell.get("outputs", []))


class SandboxedExecute(Execute):
    """nbgrader's Execute, in a sandbox, graded on what ran (see the module docstring)."""

    total_timeout = Float(1800, help="wall seconds for the whole notebook").tag(config=True)
    memory_mb = Integer(2048, help="resident memory of the kernel and its children (MiB)").tag(config=True)
    max_processes = Integer(512, help="processes and threads in the sandbox").tag(config=True)
    output_mb = Float(10, help="notebook output kept (MiB)").tag(config=True)
    disk_mb = Integer(1024, help="size of the private folders and of the largest file (MiB)").tag(config=True)
    network = Bool(False, help="give the kernel the network").tag(config=True)
    unsafe = Bool(False, help="run without the sandbox (only where isolation is impossible)").tag(config=True)
    guard = Bool(True, help="restore what the tests rely on before each test cell").tag(config=True)
    data_dir = Unicode("", help="course data folder (MLBD_DATA_DIR), mounted read-only").tag(config=True)
    report_dir = Unicode("", help="folder for one JSON report per notebook").tag(config=True)
    scratch_base = Unicode("", help="where scratch folders are made (default: the system's)").tag(config=True)
    stop_after = Unicode("", help="grade_id: stop at the first failing test cell after it").tag(config=True)
    skip_cells = Unicode("", help="comma-separated cell ids not to execute (their tests score 0)").tag(config=True)

    def output(self, outs, msg, display_id, cell_index):
        try:
            size = len(json.dumps(msg.get("content", {})))
        except (TypeError, ValueError):
            size = 1024
        self._out_bytes += size
        if self._out_bytes > self.output_mb * 1024 * 1024:
            if not self._out_truncated:
                self._out_truncated = True
                outs.append(NotebookNode(output_type="stream", name="stdout",
                                         text=f"\n[grader: output limit of {self.output_mb:g} MiB reached; "
                                              "further output dropped]\n"))
            return None
        return super().output(outs, msg, display_id, cell_index)

    # ------------------------------------------------------------------ helpers
    def _silent(self, code: str, expressions: dict | None = None, timeout: float = 60) -> dict | None:
        saved = self.timeout
        self.timeout = int(timeout)
        try:
            msg_id = self.kc.execute(code, silent=True, store_history=False, user_expressions=expressions or {})
            return self.wait_for_reply(msg_id)
        finally:
            self.timeout = saved

    def _responsive(self, timeout: float = 10) -> bool:
        try:
            msg_id = self.kc.kernel_info()
            saved, self.timeout = self.timeout, int(timeout)
            try:
                self.interrupt_on_timeout, saved_int = False, self.interrupt_on_timeout
                return self.wait_for_reply(msg_id) is not None
            finally:
                self.timeout, self.interrupt_on_timeout = saved, saved_int
        except Exception:
            return False

    def _flag(self, status: str, reason: str) -> None:
        self._statuses.add(status)
        if reason not in self._reasons:
            self._reasons.append(reason)

    # ------------------------------------------------------------------ the run
    def preprocess(self, nb, resources=None, km=None):
        NotebookClient.__init__(self, nb, None)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        self._out_bytes, self._out_truncated = 0, False
        self._statuses, self._reasons = set(), []
        tampered: dict[str, list[str]] = {}
        caught_by, not_run, peak = None, 0, 0.0
        path = Path((self.resources.get("metadata") or {}).get("path") or ".").resolve()
        cell_limit = float(self.timeout or 300)
        limits = Limits(cell_seconds=cell_limit, total_seconds=self.total_timeout, memory_mb=self.memory_mb,
                        processes=self.max_processes, output_mb=self.output_mb, disk_mb=self.disk_mb,
                        network=self.network)
        t0 = time.monotonic()
        deadline = t0 + self.total_timeout
        executed: set[int] = set()
        stop_reason = ""
        notes: list[str] = []
        token = "_mlbd_" + secrets.token_hex(12)
        # autograded/<student>/<lab> -> submitted/<student>/<lab>/<notebook>.ipynb: the student's own copy
        name = Path(self.resources.get("unique_key") or "notebook").name
        submitted = path.parents[2] / "submitted" / path.parent.name / path.name / f"{name}.ipynb" \
            if len(path.parents) > 2 else None
        with Sandbox(path, path.name, limits, data_dir=self.data_dir or None, unsafe=self.unsafe,
                     base=self.scratch_base or None, notebooks=[submitted] if submitted else []) as sb:
            notes += sb.notes
            self.create_kernel_manager = lambda: self._make_km(sb)
            try:
                with self.setup_kernel():
                    info = self.wait_for_reply(self.kc.kernel_info())
                    self.nb.metadata["language_info"] = info["content"]["language_info"]
                    guard_on = False
                    if self.guard:
                        reply = self._silent(install_code(token), timeout=120)
                        guard_on = bool(reply and reply["content"].get("status") == "ok")
                        if not guard_on:
                            notes.append("grader guard could not be installed: " +
                                         str((reply or {}).get("content", {}).get("evalue", "no reply"))[:200])
                    mutated_seen = not self.stop_after
                    skip = set(filter(None, self.skip_cells.split(",")))
                    for index, cell in enumerate(self.nb.cells):
                        if cell.cell_type != "code" or not cell.source.strip():
                            continue
                        if cell.get("id") in skip:
                            executed.add(index)
                            cell.outputs = [_error("CellSkipped", "not executed: mlbd check ran a later part of "
                                                   "the lab on its own")] if is_test_cell(cell) else []
                            continue
                        gid = _meta(cell).get("grade_id", cell.get("id", index))
                        if stop_reason:
                            break
                        remaining = deadline - time.monotonic()
                        if remaining < 1:
                            stop_reason = f"total time limit of {self.total_timeout:g} s reached"
                            self._flag("timeout", stop_reason)
                            break
                        self.timeout = max(1, int(min(cell_limit, remaining)))
                        test = is_test_cell(cell)
                        restored: list[str] | None = []
                        if test and guard_on:
                            try:
                                reply = self._silent("", {"r": restore_code(token)}, timeout=60)
                                restored = parse_reply(reply)
                            except DeadKernelError:
                                raise
                            except Exception:
                                restored = None
                            if restored is None:
                                restored = ["the grader's guard was removed or does not answer"]
                        try:
                            self.execute_cell(cell, index, store_history=True)
                        except CellTimeoutError as exc:
                            cell.outputs.append(_error("CellTimeoutError", str(exc).splitlines()[0][:300]))
                        executed.add(index)
                        timed_out = any(o.get("ename") == "CellTimeoutError" for o in cell.outputs
                                        if o.get("output_type") == "error")
                        if timed_out:
                            self._flag("timeout", f"cell {gid} reached the time limit "
                                                  f"({self.timeout} s) and was interrupted")
                            if not self._responsive():
                                sb.kill_all()
                                stop_reason = f"cell {gid} did not stop when interrupted"
                                self._flag("timeout", stop_reason)
                        if test and restored:
                            tampered[gid] = restored
                            cell.outputs.append(_error(
                                "GraderTamperingDetected",
                                "the submission changed what the tests rely on (" + ", ".join(restored[:8]) +
                                "); points withheld for manual review"))
                            self._flag("tampered", f"{gid}: " + ", ".join(restored[:5]))
                        if not mutated_seen and gid == self.stop_after:
                            mutated_seen = True
                        elif self.stop_after and mutated_seen and test and has_error(cell):
                            caught_by = gid
                            stop_reason = f"mutant caught by test cell {gid}"
                            break
            except DeadKernelError:
                pass
            except Exception as exc:  # the kernel could not start, or the notebook could not run
                if not stop_reason:
                    stop_reason = f"execution failed: {type(exc).__name__}: {str(exc)[:300]}"
                    self._flag("kernel-died", stop_reason)
            peak = sb.peak_mb()
            if sb.oom_killed():
                self._flag("out-of-memory", f"memory limit of {self.memory_mb} MiB reached; the kernel was killed")
            if sb.pids_exhausted():
                self._flag("process-limit", f"process limit of {self.max_processes} reached")
        if self._out_truncated:
            self._flag("output-limit", f"output limit of {self.output_mb:g} MiB reached")
        # cells that did not run (kernel died, time limit, mutant caught): an error, so their tests score 0
        for index, cell in enumerate(self.nb.cells):
            if cell.cell_type != "code" or not cell.source.strip():
                continue
            if index in executed:
                continue
            if not stop_reason:
                # the kernel died in the cell being executed (the last one we started)
                stop_reason = "the kernel died"
                self._flag("kernel-died", "the kernel died (os._exit, crash or a resource limit)")
                if sb.oom_killed():
                    stop_reason = "out of memory"
                cell.outputs.append(_error("DeadKernelError", f"the kernel died while running this cell ({stop_reason})"))
                executed.add(index)
                continue
            cell.outputs = [_error("CellNotExecuted", f"not executed: {stop_reason}")]
            not_run += 1
        status = next(s for s in STATUS_ORDER if s in self._statuses or s == "graded")
        if caught_by:
            status = "graded"
        report = dict(status=status, reasons=self._reasons, tampered=tampered, caught_by=caught_by,
                      not_run=not_run, peak_mb=round(peak, 1), seconds=round(time.monotonic() - t0, 2),
                      notes=notes, isolated=not self.unsafe)
        if self.report_dir:
            out = Path(self.report_dir)
            out.mkdir(parents=True, exist_ok=True)
            (out / f"{name}.json").write_text(json.dumps(report, indent=1))
        self.set_widgets_metadata()
        return self.nb, self.resources

    def _make_km(self, sb: Sandbox):
        self.km = sb.kernel_manager(self.kernel_name or self.nb.metadata.get("kernelspec", {}).get("name")
                                    or "python3", config=self.config)
        return self.km


class GradeByAssertion(NbGraderPreprocessor):
    """Autograder test cells are scored by their assertions only: stderr outputs become stdout."""

    def preprocess_cell(self, cell, resources, index):
        if is_test_cell(cell):
            for out in cell.get("outputs", []):
                if out.get("output_type") == "stream" and out.get("name") == "stderr":
                    out["name"] = "stdout"
        return cell, resources


PIPELINE = [
    "mlbd_course.grading.execute.SandboxedExecute",
    "mlbd_course.grading.execute.GradeByAssertion",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]


def autograde_args(limits: Limits, data_dir: str | None, report_dir: Path, unsafe: bool = False,
                   stop_after: str = "", scratch_base: str | None = None, guard: bool = True,
                   skip_cells: tuple[str, ...] = ()) -> list[str]:
    """nbgrader command-line options that install this pipeline with these limits."""
    args = ["--Autograde.autograde_preprocessors=" + json.dumps(PIPELINE),
            f"--Execute.timeout={int(limits.cell_seconds)}",
            f"--SandboxedExecute.timeout={int(limits.cell_seconds)}",
            f"--SandboxedExecute.total_timeout={limits.total_seconds}",
            f"--SandboxedExecute.memory_mb={limits.memory_mb}",
            f"--SandboxedExecute.max_processes={limits.processes}",
            f"--SandboxedExecute.output_mb={limits.output_mb}",
            f"--SandboxedExecute.disk_mb={limits.disk_mb}",
            f"--SandboxedExecute.network={limits.network}",
            f"--SandboxedExecute.unsafe={unsafe}",
            f"--SandboxedExecute.guard={guard}",
            f"--SandboxedExecute.report_dir={report_dir}"]
    if data_dir:
        args.append(f"--SandboxedExecute.data_dir={data_dir}")
    if stop_after:
        args.append(f"--SandboxedExecute.stop_after={stop_after}")
    if skip_cells:
        args.append("--SandboxedExecute.skip_cells=" + ",".join(skip_cells))
    if scratch_base:
        args.append(f"--SandboxedExecute.scratch_base={scratch_base}")
    return args
