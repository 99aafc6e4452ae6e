"""Benchmark of the imbalance samplers of the GMC-SMOTE and SEDG labs on the real public files.

Usage::

    python benchmarks/imbalance.py [--realdata DIR] [--seeds-gmc 10] [--seeds-sedg 20] [--only gmc|sedg]

``DIR`` (default ``$MLBD_REALDATA`` or ``../shared/realdata``) must hold ``asap_aes/training_set_rel3.tsv``
with ``asap_aes/nea_folds/`` (GMC-SMOTE part) and ``uci_student_performance/student-por.csv`` (SEDG part);
a part whose files are missing is skipped with a message (exit status 0).

**GMC-SMOTE** (Tan et al., EDM 2022) on ASAP essay sets 1, 2, 7, 8 with the NEA 5 folds (train + dev ids
= the paper's "four folds", test ids = the fifth): the course's 14 ``EssayFeatures`` (vocabulary fitted on
the training fold), ``StandardScaler`` fitted on the training fold, ``BayesianRidge()``, predictions
rounded and clipped to the set's scale, QWK over the full scale, mean over the five folds. Settings:
``default`` (no resampling), ``uniform`` (:class:`~mlbd_utils.imbalance.GMCSMOTE` with
``sampling_strategy="not majority"``: replicate classes to six, then SMOTE to the mode's count), ``gmc``
(``GMCSMOTE()``), ``ros`` (random duplicates to the same targets as ``gmc``) and ``stretch`` (no
resampling; predictions stretched to the training scores' mean and sd). The resampling settings are run
with ``--seeds-gmc`` seeds; ``default`` and ``stretch`` are deterministic (their per-seed lists repeat one
value).

**SEDG** (Huh & Rangwala) on UCI ``student-por.csv`` (649 students, 32 features incl. G1/G2 as integer
codes, ``G3`` as 17 observed classes): ``train_test_split(test_size=0.4, random_state=seed)`` (not
stratified: two classes have one student), ``RandomForestClassifier(200)``; samplers ``none``, ``smote``
(100 SMOTE samples spread over the classes with >= 2 training members in proportion to 1/count, integer
codes rounded back) and ``sedg`` (``SEDG(n_samples=100)``: inverse-frequency partition selection,
imbalance-based feature weights, 3 features per sample, class-profile embedding). Metrics on the 260 test
students: ``accuracy``, ``macro_auc`` (unweighted mean of the one-vs-rest AUC of every class present in
the test split and known to the model) and ``minority_auc`` (the same over the classes G3 <= 8 or >= 17).

Progress goes to stderr, a table to stderr at the end, and stdout gets ONE JSON line::

    {"gmc_smote": {"1": {"default": {"mean": .., "sd": .., "per_seed": [..]}, "uniform": .., "gmc": ..,
                         "ros": .., "stretch": ..}, "2": .., "7": .., "8": ..},
     "sedg": {"accuracy": {"none": {...}, "smote": {...}, "sedg": {...}}, "macro_auc": .., "minority_auc": ..},
     "seconds": .., "peak_mb": ..}

Measured (10 GMC seeds, 20 SEDG seeds; shared 2-core machine under heavy load, ``nice -n 10``: GMC part
29 minutes wall, SEDG part 6 minutes; peak memory 321 MB). Mean QWK over the 5 NEA folds (sd over
seeds); EASE + BLRR literature values for comparison:

===  =======  =======  ============  =====  =======  ===========  ==============  =========  ==========
set  default  uniform  gmc           ros    stretch  gmc-default  seeds gmc > def  EASE+BLRR  paper gain
===  =======  =======  ============  =====  =======  ===========  ==============  =========  ==========
1    0.8364   0.8381   0.8436 (.001) 0.8429 0.8446   +0.0072      10/10           0.761      +0.015
2    0.6808   0.6887   0.7007 (.003) 0.6970 0.7101   +0.0198      10/10           0.606      +0.038
7    0.7145   0.7267   0.7154 (.001) 0.7133 0.7498   +0.0009       8/10           -          > 0
8    0.7023   0.7014   0.7198 (.002) 0.7162 0.7339   +0.0175      10/10           0.617      +0.032
===  =======  =======  ============  =====  =======  ===========  ==============  =========  ==========

GMC-SMOTE beats default on sets 1, 2, 8 for every seed, at about half the paper's gains; uniform is best on
set 7 (as in the paper); random duplication to the same targets (``ros``) gets most of the gain, and
stretching the predictions without resampling beats every oversampler on all four sets.

SEDG (random forest, 20 splits; PI = method - none, mean; seeds with PI > 0): accuracy none 0.392 (sd
0.031), SMOTE-100 -0.006 (6/20), SEDG-100 -0.006 (7/20); macro AUC none 0.892, SMOTE +0.000 (9/20), SEDG
+0.004 (12/20); minority-class AUC none 0.921 (sd 0.040), SMOTE +0.003 (9/20), SEDG +0.010 (10/20). No
method improves accuracy; SEDG's AUC gains are far below their seed spread.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from imblearn.over_sampling import SMOTE, RandomOverSampler
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import BayesianRidge
from sklearn.metrics import accuracy_score, cohen_kappa_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mlbd_utils.data import essays as es  # noqa: E402
from mlbd_utils.data import student_performance as sp  # noqa: E402
from mlbd_utils.imbalance import GMCSMOTE, SEDG, class_auc  # noqa: E402

SETS = (1, 2, 7, 8)
GMC_SETTINGS = ("default", "uniform", "gmc", "ros", "stretch")
LITERATURE = {1: 0.761, 2: 0.606, 7: None, 8: 0.617}  # EASE + BLRR (Phandi et al. 2015), as quoted in the issue
PAPER_GAIN = {1: 0.015, 2: 0.038, 7: None, 8: 0.032}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def summary(values) -> dict:
    v = [float(x) for x in values]
    return {"mean": round(float(np.mean(v)), 5), "sd": round(float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, 5),
            "per_seed": [round(x, 5) for x in v]}


# --------------------------------------------------------------------------------------------
# GMC-SMOTE on ASAP
# --------------------------------------------------------------------------------------------

def gmc_folds(asap: pd.DataFrame, fold_dir: Path):
    """Per set and NEA fold: (scaled train X, train y, scaled test X, test y)."""
    nea = es.read_nea_folds(fold_dir)
    fold = asap["essay_id"].map(nea).to_numpy()
    out = {}
    for s in SETS:
        m = (asap["essay_set"] == s).to_numpy()
        text, y, f = asap.loc[m, "essay"], asap.loc[m, "domain1_score"].to_numpy(), fold[m]
        for k in range(es.N_FOLDS):
            tr, te = f != k, f == k
            fx = es.EssayFeatures().fit(text[tr])
            X_tr, X_te = fx.transform(text[tr]).to_numpy(float), fx.transform(text[te]).to_numpy(float)
            sc = StandardScaler().fit(X_tr)
            out[(s, k)] = (sc.transform(X_tr), y[tr], sc.transform(X_te), y[te])
        log(f"  features of set {s}: {m.sum()} essays, 5 NEA folds")
    return out


def gmc_fold_qwk(data, s, setting, seed) -> float:
    lo, hi = es.SCORE_RANGES[s]
    X_tr, y_tr, X_te, y_te = data
    if setting in ("uniform", "gmc"):
        sampler = GMCSMOTE("not majority" if setting == "uniform" else "gmc", random_state=seed)
        X_fit, y_fit = sampler.fit_resample(X_tr, y_tr)
    elif setting == "ros":
        add = GMCSMOTE().fit(X_tr, y_tr).sampling_strategy_  # GMC targets minus counts
        goal = {c: max(n + add.get(c, 0), 6) for c, n in Counter(y_tr.tolist()).items()}
        X_fit, y_fit = RandomOverSampler(sampling_strategy=goal, random_state=seed).fit_resample(X_tr, y_tr)
    else:
        X_fit, y_fit = X_tr, y_tr
    model = BayesianRidge().fit(X_fit, y_fit)
    pred = model.predict(X_te)
    if setting == "stretch":
        p_tr = model.predict(X_tr)
        pred = y_tr.mean() + y_tr.std() / p_tr.std() * (pred - p_tr.mean())
    pred = np.clip(np.rint(pred), lo, hi)
    return float(cohen_kappa_score(y_te, pred, weights="quadratic", labels=np.arange(lo, hi + 1)))


def run_gmc(realdata: Path, n_seeds: int) -> dict | None:
    tsv, folds = realdata / "asap_aes" / "training_set_rel3.tsv", realdata / "asap_aes" / "nea_folds"
    if not (tsv.exists() and folds.is_dir()):
        log(f"GMC-SMOTE part skipped: {tsv} or {folds} not found")
        return None
    t0 = time.time()
    asap = es.read_asap(tsv)
    asap = asap[asap["essay_set"].isin(SETS)].reset_index(drop=True)
    log(f"GMC-SMOTE: {len(asap)} essays of sets {SETS}")
    data = gmc_folds(asap, folds)
    out = {}
    for s in SETS:
        res = {}
        for setting in GMC_SETTINGS:
            seeds = range(n_seeds) if setting in ("uniform", "gmc", "ros") else [0]
            per = [np.mean([gmc_fold_qwk(data[(s, k)], s, setting, seed) for k in range(es.N_FOLDS)])
                   for seed in seeds]
            if len(per) == 1:
                per = per * n_seeds
            res[setting] = summary(per)
        out[str(s)] = res
        log(f"  set {s}: " + ", ".join(f"{k} {v['mean']:.4f}" for k, v in res.items())
            + f"  ({time.time() - t0:.0f} s)")
    return out


# --------------------------------------------------------------------------------------------
# SEDG on UCI student-por
# --------------------------------------------------------------------------------------------

def integer_codes(df: pd.DataFrame) -> np.ndarray:
    return np.column_stack([np.unique(df[c].to_numpy(), return_inverse=True)[1] for c in df.columns])


def smote_budget(X, y, n, seed):
    """n SMOTE samples over the classes with >= 2 members, in proportion to 1/count (integer codes)."""
    counts = Counter(y.tolist())
    ok = {c: m for c, m in counts.items() if m >= 2}
    w = np.array([1 / m for m in ok.values()])
    alloc = np.random.default_rng(seed).multinomial(n, w / w.sum())
    targets = {c: m + a for (c, m), a in zip(ok.items(), alloc) if a > 0}
    k = min(5, min(ok[c] for c in targets) - 1)
    X_res, y_res = SMOTE(sampling_strategy=targets, k_neighbors=k, random_state=seed).fit_resample(X.astype(float), y)
    return np.rint(X_res).astype(X.dtype), y_res


def sedg_scores(model, X_te, y_te, minority) -> dict:
    proba = model.predict_proba(X_te)
    auc = class_auc(y_te, proba, model.classes_)
    mino = [v for c, v in auc.items() if c in minority]
    return {"accuracy": accuracy_score(y_te, model.predict(X_te)), "macro_auc": float(np.mean(list(auc.values()))),
            "minority_auc": float(np.mean(mino)) if mino else float("nan")}


def run_sedg(realdata: Path, n_seeds: int) -> dict | None:
    path = realdata / "uci_student_performance" / "student-por.csv"
    if not path.exists():
        log(f"SEDG part skipped: {path} not found")
        return None
    t0 = time.time()
    df = sp.from_real(path)[sp.FILE]
    y = df["G3"].to_numpy()
    X = integer_codes(df.drop(columns="G3"))
    minority = {int(c) for c in np.unique(y) if c <= 8 or c >= 17}
    log(f"SEDG: {len(y)} students, {X.shape[1]} features, {len(np.unique(y))} classes; minority {sorted(minority)}")
    per = {m: {s: [] for s in ("none", "smote", "sedg")} for m in ("accuracy", "macro_auc", "minority_auc")}
    for seed in range(n_seeds):
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.4, random_state=seed)
        for name in ("none", "smote", "sedg"):
            if name == "none":
                Xf, yf = X_tr, y_tr
            elif name == "smote":
                Xf, yf = smote_budget(X_tr, y_tr, 100, seed)
            else:
                Xf, yf = SEDG(n_samples=100, random_state=seed).fit_resample(X_tr, y_tr)
            model = RandomForestClassifier(n_estimators=200, random_state=seed, n_jobs=1).fit(Xf, yf)
            for m, v in sedg_scores(model, X_te, y_te, minority).items():
                per[m][name].append(v)
        log(f"  seed {seed}: acc none {per['accuracy']['none'][-1]:.3f} smote {per['accuracy']['smote'][-1]:.3f} "
            f"sedg {per['accuracy']['sedg'][-1]:.3f}  ({time.time() - t0:.0f} s)")
    out = {m: {s: summary(v) for s, v in d.items()} for m, d in per.items()}
    for m, d in per.items():
        for s in ("smote", "sedg"):
            diff = np.array(d[s]) - np.array(d["none"])
            out[m][s]["pi_vs_none"] = summary(diff)
            out[m][s]["seeds_better_than_none"] = int((diff > 0).sum())
    return out


def table(gmc, sedg) -> str:
    lines = []
    if gmc:
        lines.append("GMC-SMOTE, ASAP, NEA 5 folds, mean QWK (sd over seeds); EASE+BLRR literature; paper's gain")
        lines.append(f"{'set':>4} " + " ".join(f"{s:>16}" for s in GMC_SETTINGS) + f" {'gmc-default':>12} "
                     f"{'seeds>0':>7} {'EASE+BLRR':>9} {'paper gain':>10}")
        for s in SETS:
            r = gmc[str(s)]
            diff = np.array(r["gmc"]["per_seed"]) - np.array(r["default"]["per_seed"])
            lit = LITERATURE[s]
            lines.append(f"{s:>4} " + " ".join(f"{r[k]['mean']:.4f} ({r[k]['sd']:.4f})".rjust(16) for k in GMC_SETTINGS)
                         + f" {diff.mean():+12.4f} {int((diff > 0).sum()):>4}/{len(diff):<2} "
                         f"{(f'{lit:.3f}' if lit else '-'):>9} {(f'+{PAPER_GAIN[s]:.3f}' if PAPER_GAIN[s] else '> 0'):>10}")
    if sedg:
        lines.append("SEDG, UCI student-por, 60/40 splits, random forest: mean (sd) over seeds; PI = method - none")
        for m, d in sedg.items():
            lines.append(f"  {m:13} " + "  ".join(
                f"{s} {d[s]['mean']:.4f} ({d[s]['sd']:.4f})" + (f" PI {d[s]['pi_vs_none']['mean']:+.4f}, "
                f"{d[s]['seeds_better_than_none']}/{len(d[s]['per_seed'])} seeds > 0" if s != "none" else "")
                for s in ("none", "smote", "sedg")))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--realdata", type=Path,
                        default=Path(os.environ.get("MLBD_REALDATA", ROOT.parent / "shared" / "realdata")))
    parser.add_argument("--seeds-gmc", type=int, default=10)
    parser.add_argument("--seeds-sedg", type=int, default=20)
    parser.add_argument("--only", choices=("gmc", "sedg"))
    args = parser.parse_args(argv)
    t0 = time.time()
    if not args.realdata.is_dir():
        log(f"real data folder {args.realdata} not found: nothing to benchmark")
        print(json.dumps({"gmc_smote": None, "sedg": None, "skipped": str(args.realdata)}))
        return 0
    gmc = run_gmc(args.realdata, args.seeds_gmc) if args.only != "sedg" else None
    sedg = run_sedg(args.realdata, args.seeds_sedg) if args.only != "gmc" else None
    log(table(gmc, sedg))
    print(json.dumps({"gmc_smote": gmc, "sedg": sedg, "seconds": round(time.time() - t0, 1), "peak_mb": peak_mb()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
