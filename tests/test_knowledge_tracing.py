"""mlbd_utils.knowledge_tracing: splits, attempt features, learning curves, BKT, AFM and PFA.

pymer4/rpy2 run in a subprocess only: importing rpy2 in the pytest process changes LD_LIBRARY_PATH,
which breaks the subprocesses of later tests (nbgrader, notebooks).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from scipy import stats  # noqa: E402

from mlbd_utils import knowledge_tracing as kt  # noqa: E402
from mlbd_utils.data import assistments, registry  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import kt_models  # noqa: E402  (the benchmark's BKT / AFM / PFA: instructor material, not in mlbd_utils)


def tiny() -> pd.DataFrame:
    """Two students, two interleaved skills, rows deliberately NOT in time order."""
    rows = [  # user, order, skill, correct
        (1, 10, "A", 0), (1, 11, "B", 1), (1, 12, "A", 1), (1, 13, "A", 1), (1, 14, "B", 0),
        (2, 20, "A", 1), (2, 21, "A", 0), (2, 22, "A", 0), (2, 23, "B", 1),
    ]
    df = pd.DataFrame(rows, columns=["user_id", "order_id", "skill_name", "correct"])
    return df.sample(frac=1.0, random_state=3).set_index(pd.Index(np.arange(100, 109)[::-1]))


# --- splits ---------------------------------------------------------------------------------------

def test_create_iterator_groups_students():
    df = pd.DataFrame({"user_id": np.repeat(np.arange(50), 3), "correct": 1})
    (train, test), = list(kt.create_iterator(df))
    assert len(train) + len(test) == len(df) and not set(train) & set(test)
    u_train, u_test = set(df.user_id.iloc[train]), set(df.user_id.iloc[test])
    assert not u_train & u_test and len(u_test) == 10  # 20 % of 50 students
    again, = list(kt.create_iterator(df))
    assert np.array_equal(again[1], test)  # seeded
    other, = list(kt.create_iterator(df, random_state=1))
    assert not np.array_equal(other[1], test)
    folds = list(kt.create_iterator(df, n_splits=5, kfold=True))
    seen = np.concatenate([f[1] for f in folds])
    assert len(folds) == 5 and sorted(seen) == list(range(len(df)))
    for tr, te in folds:
        assert not set(df.user_id.iloc[tr]) & set(df.user_id.iloc[te])
    with pytest.raises(KeyError, match="user_id"):
        kt.create_iterator(df.drop(columns="user_id"))


def split_by_student(df, train_size=0.8, random_state=0):
    """(train, test) frames of the first split of create_iterator (the package itself has no such helper:
    splitting by student is lecture 08's task 1)."""
    train_idx, test_idx = next(kt.create_iterator(df, train_size=train_size, random_state=random_state))
    return df.iloc[train_idx].copy(), df.iloc[test_idx].copy()


# --- practice counts of AFM/PFA --------------------------------------------------------------------

def test_attempt_features_exact_counts():
    """The models compute prev_attempts / before_correct_num / before_wrong_num themselves, per student and
    skill in order_id order, from earlier attempts only (rows in any order)."""
    df = tiny()
    afm, pfa = kt_models.AFM()._frame(df), kt_models.PFA()._frame(df)
    assert len(afm) == len(df) and (afm["correct"].to_numpy() == df["correct"].to_numpy()).all()  # row order kept
    order = np.argsort(df["order_id"].to_numpy())
    got = np.c_[afm["prev_attempts"].to_numpy()[order], pfa[["before_correct_num", "before_wrong_num"]].to_numpy()[order]]
    assert got.tolist() == [
        # student 1: A0, B1, A1, A1, B0
        [0, 0, 0], [0, 0, 0], [1, 0, 1], [2, 1, 1], [1, 1, 0],
        # student 2: A1, A0, A0, B1
        [0, 0, 0], [1, 1, 0], [2, 1, 1], [0, 0, 0],
    ]
    assert not {"prev_attempts"} & set(df.columns)  # the input is not modified


def test_no_public_reference_of_graded_tasks():
    """Lecture 07 grades the learning-curve table, the practice counts, PFA and per-skill BKT; lecture 08 the
    split by student."""
    for name in ("add_attempt_features", "learning_curve", "opportunity", "split_by_student", "BKT", "AFM", "PFA"):
        assert not hasattr(kt, name), name


# --- learning curves --------------------------------------------------------------------------------

def _curve(fig):
    """(x, observed error, band low, band high, [predicted lines], counts) read back from a drawn curve."""
    top = fig.axes[0]
    verts = top.collections[0].get_paths()[0].vertices
    obs = top.lines[0]
    x = obs.get_xdata()
    lo = np.array([verts[np.isclose(verts[:, 0], v), 1].min() for v in x])
    hi = np.array([verts[np.isclose(verts[:, 0], v), 1].max() for v in x])
    return x, obs.get_ydata(), lo, hi, [ln.get_ydata() for ln in top.lines[1:]], [p.get_height() for p in fig.axes[1].patches]


def test_learning_curve_counts_and_jeffreys_intervals():
    import matplotlib.pyplot as plt

    df = tiny()
    df["p"] = np.linspace(0.1, 0.9, len(df))
    fig = kt.plot_learning_curve(df, predicted="p", title="tiny")
    x, obs, lo, hi, preds, n = _curve(fig)
    assert fig.axes[0].get_title() == "tiny" and len(preds) == 1
    # opportunities: 0 -> 4 rows (1A,1B,2A,2B), 1 -> 3 rows, 2 -> 2 rows
    assert list(x) == [0, 1, 2] and n == [4, 3, 2]
    ordered = df.sort_values("order_id")
    opp = ordered.groupby(["user_id", "skill_name"]).cumcount()
    for k in range(3):
        rows = ordered[opp == k]
        wrong = int((rows.correct == 0).sum())
        assert obs[k] == pytest.approx(wrong / len(rows))
        a, b = stats.beta.interval(0.95, wrong + 0.5, len(rows) - wrong + 0.5)
        assert lo[k] == pytest.approx(a) and hi[k] == pytest.approx(b)
        assert preds[0][k] == pytest.approx(1 - rows["p"].mean())
    plt.close(fig)
    fig = kt.plot_learning_curve(df, level=0.5, max_opportunity=1)
    x2, _, lo2, hi2, _, _ = _curve(fig)
    assert list(x2) == [0, 1] and ((hi2 - lo2) < (hi - lo)[:2]).all()
    plt.close(fig)


def test_learning_curve_labels_and_given_opportunity():
    import matplotlib.pyplot as plt

    df = tiny()
    df["m1"], df["m2"], df["opp"] = 0.5, 0.8, 0
    fig = kt.plot_learning_curve(df, predicted={"BKT": "m1", "AFM": "m2"}, opportunity_col="opp")
    labels = [ln.get_label() for ln in fig.axes[0].lines]
    assert labels == ["observed", "BKT", "AFM"] and np.allclose(fig.axes[0].lines[2].get_ydata(), 0.2)
    assert len(fig.axes[1].patches) == 1
    plt.close(fig)
    with pytest.raises(KeyError, match="nope"):
        kt.plot_learning_curve(df, predicted="nope")


# --- BKT (pyBKT) ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small():
    """A small synthetic ASSISTments log (300 students)."""
    return assistments.generate(5, n_students=300).frames["assistments.csv"]


def test_bkt_predictions_follow_the_input_rows(small):
    df = small[small.skill_name.isin(kt.LECTURE_SKILLS[:2])]
    train, test = split_by_student(df)
    model = kt_models.BKT(num_fits=1).fit(train)
    p = model.predict_proba(test)
    assert p.shape == (len(test),) and ((p > 0) & (p < 1)).all()
    shuffled = test.sample(frac=1.0, random_state=0)
    before = shuffled.copy()
    q = pd.Series(model.predict_proba(shuffled), index=shuffled.index)
    pd.testing.assert_frame_equal(shuffled, before)  # pyBKT must not sort the caller's frame
    assert np.allclose(q.loc[test.index].to_numpy(), p)
    params = model.params()
    assert list(params.columns) == ["prior", "learn", "guess", "slip", "forget"]
    assert set(params.index) == set(kt.LECTURE_SKILLS[:2])


def test_bkt_unseen_skill_and_regex_characters(small):
    df = small[small.skill_name == "Mode"].copy()
    df["skill_name"] = "Order of Operations +,-,/,* () positive reals"
    train, test = split_by_student(df)
    model = kt_models.BKT(num_fits=1).fit(train)
    assert list(model.models_) == [df.skill_name.iloc[0]]
    other = test.assign(skill_name="never seen")
    assert np.allclose(model.predict_proba(other), train.correct.mean())
    assert not np.allclose(model.predict_proba(test), train.correct.mean())


def test_bkt_recovers_the_generating_parameters():
    """Tolerances of tests/test_data_assistments.py: prior, learn, guess within 0.10, slip within 0.03."""
    gen = assistments.generate(registry.DEFAULT_SEED)
    df, truth = gen.frames["assistments.csv"], gen.truth["skills"]
    data = df[df.skill_name.isin(kt.LECTURE_SKILLS)]
    params = kt_models.BKT(seed=0, num_fits=5).fit(data).params()
    assert set(params.index) == set(kt.LECTURE_SKILLS)
    errors = []
    for skill in kt.LECTURE_SKILLS:
        for q, tol in (("prior", 0.10), ("learn", 0.10), ("guess", 0.10), ("slip", 0.03)):
            err = params.loc[skill, q] - truth[skill][q]
            assert abs(err) <= tol, f"{skill} {q}: {params.loc[skill, q]:.3f} vs {truth[skill][q]:.3f}"
            errors.append(abs(err))
    assert np.mean(errors) < 0.04
    assert (params["forget"] == 0).all()


# --- AFM / PFA (pymer4, in a subprocess) -------------------------------------------------------------

LMER_SCRIPT = r"""
import json, sys
import numpy as np
from sklearn.metrics import roc_auc_score
from mlbd_utils import knowledge_tracing as kt
from mlbd_utils.data import assistments
sys.path.insert(0, "benchmarks")
import kt_models

df = assistments.generate(5, n_students=300).frames["assistments.csv"]
df = df[df.skill_name.isin(kt.LECTURE_SKILLS)]
tr, te = next(kt.create_iterator(df))
train, test = df.iloc[tr], df.iloc[te]
out = {}
for cls in (kt_models.AFM, kt_models.PFA):
    m = cls().fit(train)                      # features added automatically
    p = m.predict_proba(test)
    shuffled = test.sample(frac=1.0, random_state=0)
    q = m.predict_proba(shuffled)
    order = np.argsort(shuffled.index.to_numpy())
    aligned = bool(np.allclose(q[order], m.predict_proba(test.sort_index())))
    before = p.copy()
    m.predict_proba(train)
    import rpy2.robjects as ro
    ro.r("gc()")
    stable = bool(np.array_equal(p, before))  # a copy, not a view on memory R frees and reuses
    out[cls.__name__] = dict(formula=m.formula, n_train=m.n_train_, shape=list(p.shape), stable=stable,
                             lo=float(p.min()), hi=float(p.max()), auc=float(roc_auc_score(test.correct, p)),
                             aligned=aligned, ranef=m.variance_components()["Name"].tolist())
out["no_user"] = kt_models.AFM(user_intercept=False).formula
print("RESULT " + json.dumps(out))
"""


@pytest.mark.slow
def test_afm_pfa_fit_and_predict_in_subprocess():
    run = subprocess.run([sys.executable, "-c", LMER_SCRIPT], capture_output=True, text=True, cwd=ROOT,
                         timeout=600)
    lines = [ln for ln in run.stdout.splitlines() if ln.startswith("RESULT ")]
    assert run.returncode == 0 and lines, run.stderr[-2000:]
    res = json.loads(lines[-1][len("RESULT "):])
    afm, pfa = res["AFM"], res["PFA"]
    assert afm["formula"] == kt_models.AFM_FORMULA and pfa["formula"] == kt_models.PFA_FORMULA
    assert res["no_user"] == "correct ~ (1|skill_name) + (0 + prev_attempts|skill_name)"
    for r in (afm, pfa):
        assert 0 < r["lo"] < r["hi"] < 1 and r["aligned"] and r["stable"]
        assert r["auc"] > 0.6  # students differ (user intercept) and skills differ
    assert afm["ranef"] == ["(Intercept)", "(Intercept)", "prev_attempts"]
    assert pfa["ranef"] == ["(Intercept)", "(Intercept)", "before_correct_num", "before_wrong_num"]
    assert afm["n_train"] == pfa["n_train"] and afm["shape"] == pfa["shape"]


# --- the benchmark script ---------------------------------------------------------------------------

def _benchmark_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("kt_benchmark", ROOT / "benchmarks" / "knowledge_tracing.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_benchmark_subsamples_whole_students():
    bench = _benchmark_module()
    df = pd.DataFrame({"user_id": np.repeat(np.arange(20), np.arange(1, 21)), "correct": 1})
    sub = bench.subsample_students(df, 60, seed=0)
    assert 0 < len(sub) <= 60
    sizes = df.groupby("user_id").size()
    assert (sub.groupby("user_id").size() == sizes.loc[sub.user_id.unique()]).all()  # whole students
    assert sub.equals(bench.subsample_students(df, 60, seed=0))


@pytest.mark.slow
def test_benchmark_prints_one_json_line(tmp_path):
    path = tmp_path / "assistments.csv"
    assistments.generate(5, n_students=200).frames["assistments.csv"].to_csv(path, index=False)
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "knowledge_tracing.py"), str(path),
                          "--models", "BKT", "--bkt-fits", "1"], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stdout.strip().splitlines()
    assert len(lines) == 1
    res = json.loads(lines[0])
    assert res["students"] == 200 and res["peak_mb"] > 0
    for scope in ("all", "subset"):
        r = res["models"]["BKT"][scope]
        assert 0 < r["rmse"] < 0.5 and 0.5 < r["auc"] < 1 and r["fit_seconds"] >= 0
        assert r["train_rows"] + r["test_rows"] <= res["rows"]


def test_benchmark_skips_the_subset_without_the_lecture_skills(tmp_path):
    """A file without the six lecture skills: the 'subset' scope is skipped with a message, not a NumPy error."""
    path = tmp_path / "other_skills.csv"
    df = assistments.generate(5, n_students=60).frames["assistments.csv"]
    df["skill_name"] = "other " + df["skill_name"].astype(str)
    df.to_csv(path, index=False)
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "knowledge_tracing.py"), str(path),
                          "--models", "BKT", "--bkt-fits", "1"], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    res = json.loads(run.stdout.strip().splitlines()[-1])
    assert res["scopes"] == ["all"] and set(res["models"]["BKT"]) == {"all"}
    assert "skipping the 'subset' scope" in run.stderr
