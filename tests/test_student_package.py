"""The student package ``mlbd_utils`` holds no graded answer, and stands on its own (issue 8).

Students import ``mlbd_utils``; if a graded task asks them to compute X, no public function of the package may
compute X in one call. This file enforces that rule structurally, for every lab of ``source/`` (including labs
added later: the tests iterate over the folder), in three parts.

(a) **No one-call shortcut** (``test_no_unguarded_shortcut``). Design, kept simple on purpose:

* *Graded names* of a lab: for every answer cell (nbgrader ``solution: true``, code), its ``grade_id`` and every
  name the cell binds at its top level (assignments, ``def``, ``class``), e.g. ``masked_auc_score``,
  ``auc_ci``, ``boot_aucs``, ``nested_cv``. Each name is cut into lower-case word tokens (snake and camel case,
  digits dropped, plurals singularised, ``cv`` read as ``cross validate``).
* *Public callables* of the package: every top-level ``def``/``class`` whose name does not start with ``_``, in
  every module of ``mlbd_utils`` (read with ``ast``: nothing is imported, so Keras or R never start here),
  except drawing helpers (``plot_*``: they return figures, not values).
* A callable **matches** a lab when its tokens, generic words removed (``compute``, ``get``, ``make``,
  ``build``, ``plot``, ``load``, ``score``...), are two or more and all occur among the graded tokens of one
  answer cell, or when its one token equals the tokens of a graded name (``pfa`` ~ ``pfa``).
  ``masked_auc`` therefore matches ``masked_auc_score`` (lecture 08), ``bootstrap_ci`` matches the bootstrap
  cell (``auc_ci`` + ``bootstrap``) of lecture 05, ``nested_cross_validate`` the cell ``nested_cv``.
* A matching callable is allowed only if (1) the lab's own solution cells call it (it is scaffolding the task
  builds on, e.g. ``split_users`` in lecture 03 or ``compute_scores`` in lecture 04), or (2) the lab's
  ``mutants.yml`` has a mutant named ``shortcut-*`` whose replacement calls it through its module
  (``dkt.masked_auc`` or ``from mlbd_utils.dkt import masked_auc``). ``mlbd check`` then proves that the
  shortcut loses the task's points; a helper that computes the reference would make that mutant survive.
  Otherwise the helper must not exist.

So adding ``mlbd_utils.metrics.masked_auc`` back fails here (it matches lecture 08's ``masked_auc_score`` and no
shortcut mutant calls ``metrics.masked_auc``), and so does any helper issue 8 removed, listed by name
(``test_known_shortcuts_stay_out``). Scaffolding that stays and matches, such as lecture 08's Keras metrics
``dkt.MaskedAUC`` / ``dkt.MaskedRMSE`` (needed to train the models), is guarded by ``shortcut-*`` mutants: if a
change made such a helper compute the graded value exactly, the mutant would survive and ``mlbd check`` fail. Limits: names are a proxy (a helper with an
unrelated name is not seen: reviewers still read new helpers), and private names (``_x``) are not student API.

(b) ``mlbd_utils`` imports neither nbgrader, nor the instructor package ``mlbd_course``, nor anything under
``instructor/`` (its imports are scanned with ``ast``).

(c) The root package builds on its own, without ``instructor/``: a wheel built from a copy of ``pyproject.toml``,
``README.md``, ``LICENSE`` and ``mlbd_utils/`` contains ``mlbd_utils`` and no ``mlbd_course``.
"""
from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "mlbd_utils"
LABS = sorted(p.parent for p in (ROOT / "source").glob("*/*.ipynb") if p.parent.name == p.stem)

#: words that say what a helper does, not what it computes
GENERIC = {"compute", "get", "make", "build", "create", "plot", "load", "score", "run", "fit", "to", "of", "by",
           "the", "a", "and", "per", "df", "data", "x", "y", "model", "value", "result", "from", "with", "is"}
ABBREVIATIONS = {"cv": ("cross", "validate")}

#: the one-call references found by issue 8 (and the audit that followed): they must stay out of the package
KNOWN_SHORTCUTS = {
    "masked_auc", "masked_rmse", "real_steps", "first_weeks", "build_sequence_classifier", "mooc_arrays",
    "nested_cross_validate", "bootstrap_ci", "add_attempt_features", "learning_curve", "opportunity",
    "aggregate_features", "prediction_scores", "score_model", "split_by_student", "make_cv", "BKT", "AFM", "PFA",
}


# ------------------------------------------------------------------------------------------------ helpers
def tokens(name: str) -> frozenset[str]:
    words = re.split(r"[_\W]+|(?<=[a-z0-9])(?=[A-Z])", name)
    out = set()
    for w in words:
        w = re.sub(r"\d+", "", w).lower()
        if not w:
            continue
        if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
            w = w[:-1]
        out.update(ABBREVIATIONS.get(w, (w,)))
    return frozenset(out)


def nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def answer_cells(lab: Path) -> list[dict]:
    nb = json.loads((lab / f"{lab.name}.ipynb").read_text())
    return [c for c in nb["cells"] if c["cell_type"] == "code" and nbgrader(c).get("solution")]


def source(cell) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def bound_names(code: str) -> set[str]:
    """Names bound at the top level of a cell: assignment targets (with unpacking), def and class names."""
    try:
        tree = ast.parse(code)
    except SyntaxError:  # IPython magics: keep the lines that parse
        tree = ast.parse("\n".join(ln for ln in code.splitlines() if not ln.lstrip().startswith(("%", "!"))))
    names = set()

    def targets(t):
        if isinstance(t, ast.Name):
            names.add(t.id)
        elif isinstance(t, (ast.Tuple, ast.List)):
            for e in t.elts:
                targets(e)
        elif isinstance(t, ast.Starred):
            targets(t.value)

    for node in tree.body:
        if isinstance(node, ast.Assign):
            for t in node.targets:
                targets(t)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets(node.target)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
    return names


def public_callables() -> list[tuple[str, str]]:
    """``(module, name)`` of every public top-level def/class of mlbd_utils, ``module`` dotted under it."""
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) \
                    and not node.name.startswith(("_", "plot_")):
                out.append((module, node.name))
    return out


def matches(helper: str, cells: list[set[str]]) -> bool:
    """Does ``helper`` name something that one answer cell computes? (see the module docstring)"""
    h = tokens(helper) - GENERIC
    if not h:
        return False
    for names in cells:
        if len(h) >= 2 and h <= frozenset().union(*(tokens(n) for n in names)):
            return True
        if len(h) == 1 and any(h == tokens(n) - GENERIC for n in names):
            return True
    return False


def shortcut_mutants(lab: Path) -> list[str]:
    path = lab / "mutants.yml"
    if not path.exists():
        return []
    entries = yaml.safe_load(path.read_text()) or []
    return ["\n".join(r["new"] for r in m.get("replace", [])) for m in entries
            if str(m.get("name", "")).startswith("shortcut-")]


def covered(module: str, name: str, texts: list[str]) -> bool:
    short = module.split(".")[-1]
    call = re.compile(rf"\b{re.escape(short)}\.{re.escape(name)}\b")
    imp = re.compile(rf"from\s+mlbd_utils\.{re.escape(module)}\s+import\s+[^\n]*\b{re.escape(name)}\b")
    return any(call.search(t) or imp.search(t) for t in texts)


def calls(name: str, code: str) -> bool:
    return re.search(rf"(?<![\w.])(?:\w+\.)?{re.escape(name)}\s*\(", code) is not None


# ------------------------------------------------------------------------------------------------ (a)
def test_there_are_labs_and_helpers():
    assert len(LABS) >= 7 and len(public_callables()) > 20


def test_tokens_and_matching():
    assert tokens("masked_auc_score") == {"masked", "auc", "score"} and tokens("boot_aucs") == {"boot", "auc"}
    assert tokens("nested_cv") == {"nested", "cross", "validate"} and tokens("rmse10") == {"rmse"}
    assert tokens("MaskedAUC") == {"masked", "auc"}
    assert matches("masked_auc", [{"masked_auc", "masked_auc_score"}])
    assert matches("bootstrap_ci", [{"bootstrap", "rng", "boot_aucs", "auc_ci"}])
    assert matches("nested_cross_validate", [{"nested_cv", "nested_scores"}])
    assert matches("PFA", [{"pfa", "pfa_model", "pfa_pred"}])
    assert not matches("DKT", [{"dkt_split", "split_by_student"}])  # one token: only an exact name
    assert not matches("compute_scores", [{"rf_ts_scores"}])  # generic words only
    assert not matches("class_auc", [{"bootstrap", "auc_ci"}])


def test_a_re_added_helper_is_caught():
    """The check itself: ``metrics.masked_auc`` would match lecture 08 and is covered by no shortcut mutant."""
    lab = ROOT / "source" / "lecture08_dkt"
    cells = [bound_names(source(c)) | {nbgrader(c).get("grade_id", "")} for c in answer_cells(lab)]
    assert matches("masked_auc", cells)
    assert not covered("metrics", "masked_auc", shortcut_mutants(lab)) and "masked_auc" in KNOWN_SHORTCUTS
    assert covered("dkt", "MaskedAUC", shortcut_mutants(lab))  # the Keras metric is guarded by a shortcut mutant


@pytest.mark.parametrize("lab", LABS, ids=[lab.name for lab in LABS])
def test_no_unguarded_shortcut(lab):
    cells = answer_cells(lab)
    graded = [bound_names(source(c)) | {nbgrader(c).get("grade_id", "")} for c in cells]
    solution = "\n".join(source(c) for c in cells)
    mutants = shortcut_mutants(lab)
    bad = []
    for module, name in public_callables():
        if not matches(name, graded):
            continue
        if calls(name, solution) or covered(module, name, mutants):
            continue
        bad.append(f"mlbd_utils.{module}.{name}")
    assert not bad, (
        f"{lab.name}: {bad} match(es) a graded answer of this lab. If it computes the graded value, remove it from "
        "mlbd_utils (compute the reference inside the hidden test); otherwise add to mutants.yml a mutant named "
        "shortcut-<...> that replaces the answer by that call, and let `mlbd check` prove it loses points.")


@pytest.mark.parametrize("lab", LABS, ids=[lab.name for lab in LABS])
def test_shortcut_mutants_are_one_call_into_the_package(lab):
    for text in shortcut_mutants(lab):
        assert "mlbd_utils" in text or re.search(r"\b(dkt|kt|mixed_models|model_selection|metrics|features)\.", text), \
            f"{lab.name}: a shortcut-* mutant must call into mlbd_utils:\n{text}"


def test_known_shortcuts_stay_out():
    public = {name: module for module, name in public_callables()}
    back = sorted(f"mlbd_utils.{public[n]}.{n}" for n in KNOWN_SHORTCUTS & set(public))
    assert not back, f"{back}: one-call references of graded tasks (issue 8) are back in the student package"


# ------------------------------------------------------------------------------------------------ (b)
def imported_modules(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
            out.add(str(node.args[0].value))
    return out


def test_student_package_does_not_import_instructor_code():
    instructor = {p.name for p in (ROOT / "instructor").iterdir() if p.is_dir() and (p / "__init__.py").exists()} \
        if (ROOT / "instructor").is_dir() else set()
    forbidden = {"nbgrader", "mlbd_course", "instructor"} | instructor
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for mod in imported_modules(path):
            if mod.split(".")[0] in forbidden:
                bad.append(f"{path.relative_to(ROOT)}: import {mod}")
    assert not bad, bad


# ------------------------------------------------------------------------------------------------ (c)
@pytest.mark.slow
def test_student_package_builds_without_instructor(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, src / name)
    shutil.copytree(PACKAGE, src / "mlbd_utils", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path / "wheels"
    run = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                          str(src), "-w", str(out)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    wheels = list(out.glob("*.whl"))
    assert len(wheels) == 1, wheels
    names = zipfile.ZipFile(wheels[0]).namelist()
    assert any(n.startswith("mlbd_utils/") for n in names) and "mlbd_utils/dkt.py" in names
    assert not any("mlbd_course" in n or n.startswith("instructor/") for n in names), \
        [n for n in names if "mlbd_course" in n]
