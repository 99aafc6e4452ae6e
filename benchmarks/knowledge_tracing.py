"""Benchmark of the knowledge-tracing models of lectures 06-08 (BKT, AFM, PFA, DKT) and of a logistic
knowledge-tracing model (Best-LR), under two evaluation protocols.

Usage::

    python benchmarks/knowledge_tracing.py [PATH] [--seed 0] [--max-rows-lmer N]
        [--models BKT,AFM,PFA,BestLR,DKT] [--protocols skill_rows,attempt] [--scopes all,subset]

``PATH`` is an interactions file in the course schema (``assistments.csv``: ``user_id, order_id,
skill_name, correct``; default: the course's ``data/assistments.csv``) or a real ASSISTments 2009 file
(the corrected long release ``assist2009_skill_builder_corrected_long.csv`` or the original
skill-builder export), read with the course's converter ``mlbd_utils.data.assistments.from_real``; the
problem id, when the file has one, is kept as ``item_id``.

**Attempts.** In the corrected long release a problem tagged with k skills is k consecutive rows (one per
skill, consecutive ``seq_index``) with the same ``problem_id`` and the same answer: 46,790 of its 274,590
attempts have several skills (97,837 of its 325,637 rows). :func:`read_interactions` groups the rows into
attempts (:func:`make_attempts`: a run of rows of one problem, split where the answer changes or a skill
repeats; in the original export the rows of one ``order_id``; in the course's file every row is one
attempt) and adds ``attempt_id``.

**Protocols.** The students are split 80 % / 20 % (``GroupShuffleSplit`` seeded with ``--seed``: no student
on both sides); each model is fitted on the training students and scored (AUC and RMSE of P(correct)) on
the test students:

* ``skill_rows`` (the only protocol of this script before; the usual one on this file): every row is
  predicted with every row before it, *including the rows of the same attempt*. For the second and later
  rows of a multi-skill attempt (51,047 rows, 16 %) the previous row holds the very answer to predict: a
  model that reads the previous answer (DKT; Best-LR's overall and item counts) partly reads the label.
* ``attempt`` (leak-free; pyKT's question-level evaluation, Liu et al. 2022): the rows of an attempt are
  all predicted with the student's history up to the *previous attempt*, none of the attempt's answers
  revealed; the attempt's prediction is the mean of its rows' predictions, scored once against its answer.

What each model does under ``attempt``: BKT, AFM and PFA only read the student's previous rows *of the
same skill*, and an attempt holds each skill once, so their prediction of a row is the same whether the
history stops at the previous row or at the previous attempt (``tests/test_knowledge_tracing.py`` checks
the practice counts): they are fitted once and the same row predictions are scored both ways (JSON
``"fit_shared": true``); only the scored units change (attempts, mean of their rows). Best-LR
(:class:`kt_models.BestLR`) is refitted with one sample per attempt (multi-hot skills, all counts up to the
previous attempt) instead of one per row. DKT becomes :class:`kt_models.AttemptDKT`: one step per attempt,
input = multi-hot of the previous attempt's (skill, correct) pairs, output a probability per skill, each row
of attempt t+1 predicted from the state after attempt t (for one row per attempt it is
``mlbd_utils.dkt.DKT`` exactly). A file without multi-skill attempts (the course's synthetic file) gives
the same numbers under both protocols (tested).

Scopes: ``all`` (every skill) and ``subset`` (the six skills of the lectures, fitted on those skills only; an
attempt then keeps its rows on those skills). A file that lacks one of the six skills skips ``subset`` with
a message on stderr and in the JSON (``"skipped": {"subset": "..."}``).

Progress and a table (both protocols side by side) go to stderr; stdout gets ONE JSON line::

    {"data": ..., "rows": ..., "students": ..., "skills": ..., "attempts": ..., "multi_skill_attempts": ...,
     "rows_in_multi_skill_attempts": ..., "seed": 0, "test_size": 0.2, "max_rows_lmer": ..., "scopes": [...],
     "models": {"BKT": {"all": {"rmse": .., "auc": .., "fit_seconds": .., "train_rows": .., "test_rows": ..,
                                "test_units": ..}, "subset": {...}}, "AFM": {...}, ...},
     "protocols": {"skill_rows": {"BKT": {"auc": .., "rmse": .., "fit_seconds": .., "train_rows": ..,
                                         "test_rows": .., "test_units": .., "subset": {...}}, ...},
                   "attempt": {...}},
     "skipped": {"subset": "..."}, "peak_mb": ..., "seconds": ...}

``models`` keeps its earlier keys and holds the ``skill_rows`` protocol per scope; ``protocols[P][MODEL]``
holds the scores of protocol ``P`` on all the skills, and under ``"subset"`` those on the six skills;
``test_units`` is the number of scored rows (``skill_rows``) or attempts (``attempt``). A model that fails
reports ``{"error": "..."}`` instead of its scores (per protocol; once for the model when it cannot be
imported).

AFM and PFA are ``lme4::glmer`` fits with a random intercept per student and per skill and random slopes per
skill (``AFM`` / ``PFA`` of ``benchmarks/kt_models.py``: reference models kept out of the student package).
On all the skills of the real data (about 260,000 training rows, 3,300 students, 110 skills) one fit takes
about 3 minutes on an idle 2-core machine and up to 4.7 minutes on a busy one. ``--max-rows-lmer N`` fits
them on a seeded random subset of the training *students* holding at most ``N`` rows (the test set is
unchanged); the JSON then says ``"subsampled": true`` and ``train_rows``. When ``glmer`` stops with "PIRLS
step-halvings failed", the fit is retried with a looser tolerance (``tolPwrss=1e-5``) and the JSON gives
``glmer_control`` and lme4's convergence warnings. Best-LR is scikit-learn's ``LogisticRegression``
(lbfgs, ``C=1``, at most ``--lr-max-iter`` 1000 iterations) on sparse features; DKT trains at most
``--dkt-epochs`` 10 epochs with early stopping.

Measured on the real corrected 2009 file (seed 0, ``nice -n 10``, shared 2-core machine; pyBKT 1.4.3, lme4
through pymer4 0.8.2, scikit-learn 1.7.2, Keras 3.15 / TensorFlow 2.21 on CPU), ``--max-rows-lmer
130000`` (AFM and PFA fitted on 129,491 training rows, every other model on all 260,708), the whole run 10.2
minutes, peak memory 1.6 GB; 64,929 test rows, 54,800 test attempts:

==========  ===========================  ===========================  =====================  ==============
model       skill_rows: AUC, RMSE        attempt: AUC, RMSE           6 skills: skill_rows   fit, all skills
                                                                      / attempt AUC
==========  ===========================  ===========================  =====================  ==============
BKT         0.718, 0.437                 0.720, 0.436                 0.759 / 0.757          21 s (shared)
AFM         0.615, 0.465                 0.614, 0.464                 0.648 / 0.646          111 s (shared)
PFA         0.679, 0.452                 0.679, 0.451                 0.715 / 0.709          117 s (shared)
Best-LR     0.836, 0.386                 **0.776**, 0.416             0.799 / 0.775          71 s / 55 s
DKT         0.806, 0.400                 **0.744**, 0.427             0.776 / 0.765          83 s / 89 s
==========  ===========================  ===========================  =====================  ==============

Without subsampling (the same command without the option) AFM gave AUC 0.615 / 0.615 in 183 s and PFA
0.681 / 0.681 in 282 s on the busy machine (3.0 minutes earlier on an idle one): above the 3-minute budget,
hence ``--max-rows-lmer 130000``; the subsample changes their AUC by at most 0.003.

Published numbers on ASSISTments 2009 at the level of the question (leak-free), for comparison: pyKT (Liu et
al. 2022, NeurIPS Datasets and Benchmarks), question-level evaluation: DKT 0.754, AKT 0.785 (as quoted in
issue 8); Gervet et al. 2020 (JEDM; README of their code, theophilegervet/learner-performance-prediction):
Best-LR 0.77, DKT 0.75 (and PFA 0.72, IRT 0.69). The leak-free Best-LR (0.776) and DKT (0.744) reproduce
them within 0.01 (their splits, preprocessing and tuning differ).

Reading. The skill-rows protocol inflates exactly the models that read the previous rows' answers on any
skill: DKT loses 0.062 AUC (0.806 -> 0.744) and Best-LR 0.060 (its item and overall counts on the second row
of an attempt count the first row's answer), while BKT, AFM and PFA, which only read the same skill's
history, do not move (<= 0.006). Leak-free, the logistic model beats DKT by 0.03 AUC, as in Gervet
et al.; both stay above per-skill BKT (0.720). AFM and PFA lose their main predictor, the student
intercept, on new students. The 0.865 of the original lab (BKT, six skills, original release) is not
reproduced on the corrected release (0.759).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
import traceback
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score, root_mean_squared_error
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mlbd_utils.data import assistments  # noqa: E402
from mlbd_utils.knowledge_tracing import LECTURE_SKILLS, create_iterator  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kt_models import AFM, BKT, PFA, AttemptDKT, BestLR  # noqa: E402  (reference models, not mlbd_utils)

MODELS = ("BKT", "AFM", "PFA", "BestLR", "DKT")
PROTOCOLS = ("skill_rows", "attempt")
COLUMNS = ["user_id", "order_id", "skill_name", "correct"]
SHARED_FIT = ("BKT", "AFM", "PFA")  # per-skill models: one fit, scored under both protocols


def log(msg: str) -> None:
    tqdm.write(msg, file=sys.stderr)


def make_attempts(user, group, skill, correct) -> np.ndarray:
    """Attempt ids (0, 1, ...) of rows sorted by student and ``order_id``.

    A new attempt starts at a row whose student or ``group`` (the problem id of the corrected release, the
    ``order_id`` otherwise) differs from the previous row's, whose answer differs, or whose skill already
    appeared in the current attempt. Every attempt therefore has one answer and each skill at most once.
    """
    ids = np.empty(len(user), dtype=np.int64)
    current, seen, prev = -1, set(), None
    for i, key in enumerate(zip(user.tolist(), group.tolist(), correct.tolist())):
        sk = skill[i]
        if key != prev or sk in seen:
            current, seen, prev = current + 1, set(), key
        seen.add(sk)
        ids[i] = current
    return ids


def read_interactions(path: Path) -> pd.DataFrame:
    """An interactions frame in the course schema (``mlbd_utils.data.assistments.from_real``) plus
    ``attempt_id`` (see :func:`make_attempts`) and, when the file has a problem id, ``item_id``.

    In the corrected long release a multi-skill problem is one row per skill, on consecutive ``seq_index``
    rows with the same ``problem_id`` and answer: an attempt is such a run. In the original export the rows
    of one attempt share the ``order_id``; in the course's file every row is an attempt.
    """
    df = assistments.from_real(path)["assistments.csv"]
    raw = assistments._read_any(Path(path))
    group = df["order_id"].to_numpy()
    if "problem_id" in raw.columns:
        pos = "seq_index" if "seq_index" in raw.columns and "order_id" not in raw.columns else "order_id"
        key = pd.DataFrame({"user_id": pd.to_numeric(raw["user_id"], errors="coerce"),
                            "order_id": pd.to_numeric(raw[pos], errors="coerce"),
                            "item_id": raw["problem_id"].astype(str)}).dropna(subset=["user_id", "order_id"])
        key = key.astype({"user_id": np.int64, "order_id": np.int64}).drop_duplicates(["user_id", "order_id"])
        df = df.merge(key, on=["user_id", "order_id"], how="left", validate="many_to_one")
        df["item_id"] = df["item_id"].fillna("")
        if pos == "seq_index":  # the long release: one seq_index per row, attempts are runs of one problem
            group = df["item_id"].to_numpy()
    df["attempt_id"] = make_attempts(df["user_id"].to_numpy(), group, df["skill_name"].to_numpy(),
                                     df["correct"].to_numpy())
    return df


def attempt_summary(df: pd.DataFrame) -> dict:
    sizes = df.groupby("attempt_id").size()
    return {"attempts": int(len(sizes)), "multi_skill_attempts": int((sizes > 1).sum()),
            "rows_in_multi_skill_attempts": int(sizes[sizes > 1].sum())}


def peak_mb() -> float:
    """Peak resident memory of this process (R runs inside it through rpy2) and of its children."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, children) / 1024, 1)


def subsample_students(train: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    """The rows of a seeded random subset of the training students, at most ``max_rows`` rows."""
    sizes = train.groupby("user_id").size()
    order = sizes.sample(frac=1.0, random_state=seed)
    keep = order.index[order.cumsum() <= max_rows]
    return train[train["user_id"].isin(keep)]


def score(pred: np.ndarray, test: pd.DataFrame, protocol: str) -> dict:
    """RMSE and AUC of row predictions ``pred`` on ``test``: per row (``skill_rows``) or per attempt
    (``attempt``: the mean of the attempt's row predictions against the attempt's answer)."""
    y = test["correct"].to_numpy()
    if protocol == "attempt":
        by = pd.DataFrame({"a": test["attempt_id"].to_numpy(), "p": pred, "y": y}).groupby("a", sort=False)
        pred, y = by["p"].mean().to_numpy(), by["y"].min().to_numpy()
    return {"rmse": round(float(root_mean_squared_error(y, pred)), 4), "auc": round(float(roc_auc_score(y, pred)), 4),
            "test_units": int(len(y))}


def make_model(name: str, protocol: str, args):
    if name == "BKT":
        return BKT(seed=args.seed, num_fits=args.bkt_fits)
    if name == "AFM":
        return AFM()
    if name == "PFA":
        return PFA()
    if name == "BestLR":
        return BestLR(max_iter=args.lr_max_iter, random_state=args.seed,
                      attempt_col="attempt_id" if protocol == "attempt" else None)
    if name == "DKT":
        if protocol == "attempt":
            return AttemptDKT(epochs=args.dkt_epochs, random_state=args.seed)
        from mlbd_utils.dkt import DKT

        return DKT(epochs=args.dkt_epochs, random_state=args.seed)
    raise ValueError(f"unknown model {name!r}; choose among {MODELS}")


def _fit_predict(name: str, protocol: str, train: pd.DataFrame, test: pd.DataFrame, args):
    """(fitted model, row predictions on ``test``, fit seconds)."""
    model = make_model(name, protocol, args)
    keep = COLUMNS + [c for c in ("item_id", "attempt_id") if name == "BestLR" and c in train.columns]
    if name == "DKT" and protocol == "attempt":
        keep = COLUMNS + ["attempt_id"]
    train, test = train[keep], test[keep]
    t0 = time.perf_counter()
    if name == "BKT":
        model.fit(train, progress=lambda it: tqdm(it, file=sys.stderr, leave=False, desc="BKT skills"))
    else:
        model.fit(train)
    fit_seconds = time.perf_counter() - t0
    pred = np.asarray(model.predict_proba(test), dtype=float)
    if pred.shape != (len(test),) or not np.isfinite(pred).all():
        raise ValueError(f"predict_proba returned shape {pred.shape} "
                         f"({int((~np.isfinite(pred)).sum())} non-finite values) for {len(test)} rows")
    return model, pred, fit_seconds


def evaluate(name: str, train: pd.DataFrame, test: pd.DataFrame, args, protocols=("skill_rows",)) -> dict:
    """Fit ``name`` on ``train`` and score it on ``test`` under each protocol: ``{protocol: scores}``
    (``{"error": ...}`` for a protocol that fails; ``{"error": ..., "unavailable": True}`` alone when the
    model cannot be imported).

    BKT, AFM and PFA only use the student's previous rows *of the same skill*; an attempt holds each skill
    once (:func:`make_attempts`), so their prediction of a row is the same with the history cut at the
    previous row or at the previous attempt: they are fitted once and their row predictions scored under
    both protocols. BestLR (overall and item counts) and DKT (previous answer on any skill) are fitted
    per protocol, on features or sequences built from previous attempts only in the ``attempt`` protocol.
    """
    extra: dict = {}
    if name in ("AFM", "PFA") and args.max_rows_lmer and len(train) > args.max_rows_lmer:
        train = subsample_students(train, args.max_rows_lmer, args.seed)
        extra["subsampled"] = True
    out: dict = {}
    shared = None
    for protocol in protocols:
        try:
            if name in SHARED_FIT and shared is not None:
                model, pred, fit_seconds = shared
            else:
                model, pred, fit_seconds = _fit_predict(name, protocol, train, test, args)
                if name in SHARED_FIT:
                    shared = (model, pred, fit_seconds)
            res = dict(extra)
            res.update(score(pred, test, protocol), fit_seconds=round(fit_seconds, 1), train_rows=int(len(train)),
                       test_rows=int(len(test)))
            if name in SHARED_FIT and len(protocols) > 1:
                res["fit_shared"] = True
            if getattr(model, "control_", ""):  # AFM/PFA refitted with other glmerControl options
                res["glmer_control"] = model.control_
            if getattr(model, "lme4_warnings_", None):
                res["lme4_warnings"] = [w[:80] for w in model.lme4_warnings_]
            if name == "BestLR":
                res.update(features=int(model.n_features_), lbfgs_iterations=model.n_iter_)
            out[protocol] = res
        except ImportError as exc:  # the model is not available at all
            return {"error": f"{type(exc).__name__}: {exc}"[:500], "unavailable": True}
        except Exception as exc:  # report, do not stop the other models
            log(traceback.format_exc())
            out[protocol] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
    return out


def table(out: dict) -> str:
    """Both protocols side by side, one line per model and scope."""
    lines = [f"{'model':8s} {'scope':7s} " + "  ".join(f"{p + ' AUC / RMSE / fit s':>34s}" for p in out["protocols"])]
    for name in out["models"]:
        for scope in out["scopes"]:
            cells = []
            for p in out["protocols"]:
                r = out["protocols"][p].get(name, {})
                r = r if scope == "all" else r.get(scope, {})
                cells.append(f"{r['auc']:.3f} / {r['rmse']:.3f} / {r['fit_seconds']:6.1f}" if "auc" in r
                             else (r.get("error", "-")[:34] if isinstance(r, dict) else "-"))
            lines.append(f"{name:8s} {scope:7s} " + "  ".join(f"{c:>34s}" for c in cells))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", nargs="?", help="interactions file (default: the course's assistments.csv)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the student split and of the models")
    parser.add_argument("--test-size", type=float, default=0.2, help="share of the students in the test set")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated subset of " + ",".join(MODELS))
    parser.add_argument("--scopes", default="all,subset", help="all (every skill) and/or subset (6 lecture skills)")
    parser.add_argument("--protocols", default=",".join(PROTOCOLS),
                        help="skill_rows (every row predicted from all rows before it) and/or attempt (leak-free)")
    parser.add_argument("--max-rows-lmer", type=int, default=None,
                        help="fit AFM/PFA on at most this many training rows (whole students, seeded)")
    parser.add_argument("--bkt-fits", type=int, default=5, help="EM restarts per skill for BKT")
    parser.add_argument("--dkt-epochs", type=int, default=10, help="maximum epochs of DKT")
    parser.add_argument("--lr-max-iter", type=int, default=1000, help="maximum lbfgs iterations of BestLR")
    args = parser.parse_args(argv)

    t_start = time.perf_counter()
    if args.path:
        path = Path(args.path)
    else:
        from mlbd_utils.data import data_dir

        path = data_dir() / "assistments.csv"
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {unknown}; choose among {list(MODELS)}")
    protocols = [p.strip() for p in args.protocols.split(",") if p.strip()]
    if not protocols or any(p not in PROTOCOLS for p in protocols):
        parser.error(f"--protocols: choose among {list(PROTOCOLS)}")
    scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]

    log(f"reading {path}")
    df = read_interactions(path)
    att = attempt_summary(df)
    train_idx, test_idx = next(create_iterator(df, train_size=1 - args.test_size, random_state=args.seed))
    train, test = df.iloc[train_idx].copy(), df.iloc[test_idx].copy()
    log(f"{len(df)} rows, {att['attempts']} attempts ({att['multi_skill_attempts']} with several skills, "
        f"{att['rows_in_multi_skill_attempts']} rows), {df.user_id.nunique()} students, "
        f"{df.skill_name.nunique()} skills; train {len(train)} rows, test {len(test)} rows")
    frames = {"all": (train, test)}
    skipped = {}
    if "subset" in scopes:
        sub = (train[train.skill_name.isin(LECTURE_SKILLS)], test[test.skill_name.isin(LECTURE_SKILLS)])
        missing = sorted(set(LECTURE_SKILLS) - set(df.skill_name))
        if missing or sub[0].empty or sub[1].empty:
            skipped["subset"] = (f"skipping the 'subset' scope: the file lacks lecture skill(s) "
                                 f"{missing or LECTURE_SKILLS} (or has no training or test row on them)")
            log(skipped["subset"])
            scopes = [s for s in scopes if s != "subset"]
        else:
            frames["subset"] = sub

    out = {"data": str(path), "rows": int(len(df)), "students": int(df.user_id.nunique()),
           "skills": int(df.skill_name.nunique()), **att, "seed": args.seed, "test_size": args.test_size,
           "max_rows_lmer": args.max_rows_lmer, "scopes": scopes, "models": {m: {} for m in models},
           "protocols": {p: {} for p in protocols}}
    if skipped:
        out["skipped"] = skipped
    jobs = [(m, s) for m in models for s in scopes]
    with tqdm(jobs, file=sys.stderr, desc="models") as bar:
        for name, scope in bar:
            bar.set_postfix_str(f"{name} / {scope}")
            if "error" in out["models"][name]:
                continue  # not available (import error): reported once
            tr, te = frames[scope]
            res = evaluate(name, tr, te, args, protocols)
            if res.pop("unavailable", False):
                out["models"][name] = res
                for p in protocols:
                    out["protocols"][p][name] = res
                log(f"{name:6s} unavailable: {res['error']}")
                continue
            if "skill_rows" in res:
                out["models"][name][scope] = res["skill_rows"]
            for p, r in res.items():
                entry = out["protocols"][p].setdefault(name, {})
                if scope == "all":
                    entry.update(r)
                else:
                    entry[scope] = r
                log(f"{name:6s} {scope:6s} {p:10s} {r}")
    out["peak_mb"] = peak_mb()
    out["seconds"] = round(time.perf_counter() - t_start, 1)
    log(table(out))
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.exit(main())
