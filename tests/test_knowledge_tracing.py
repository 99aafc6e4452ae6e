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
    for protocol in ("skill_rows", "attempt"):  # protocols -> model -> scores on all skills (+ "subset")
        r = res["protocols"][protocol]["BKT"]
        assert {"auc", "rmse", "fit_seconds", "subset"} <= set(r) and {"auc", "rmse"} <= set(r["subset"])
    assert res["protocols"]["skill_rows"]["BKT"]["auc"] == res["models"]["BKT"]["all"]["auc"]


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
    assert res["skipped"]["subset"].startswith("skipping the 'subset' scope: the file lacks lecture skill(s)")
    assert "subset" not in res["protocols"]["attempt"]["BKT"] and "Traceback" not in run.stderr


# --- the benchmark's two protocols (skill rows / attempts) and Best-LR --------------------------------------

def _bench_args(**kw):
    from types import SimpleNamespace

    base = dict(seed=0, bkt_fits=1, dkt_epochs=1, lr_max_iter=1000, max_rows_lmer=None)
    base.update(kw)
    return SimpleNamespace(**base)


def _long_file(path, rows):
    """A file in the corrected long release's format from (user, problem, skill, correct) rows in time order."""
    df = pd.DataFrame(rows, columns=["user_id", "problem_id", "skill_name", "correct"])
    df.insert(1, "seq_index", df.groupby("user_id").cumcount())
    df["skill_index"] = pd.factorize(df["skill_name"])[0]
    df[["user_id", "seq_index", "problem_id", "skill_index", "skill_name", "correct"]].to_csv(path, index=False)
    return path


def _leaky_long_file(path, n_students=150, n_attempts=30, seed=0):
    """Every attempt is a problem with two skills (one row each, same answer); answers are coin flips that
    no history can predict, so only the other row of the same attempt tells the answer."""
    rng = np.random.default_rng(seed)
    skills = [f"skill {k}" for k in range(6)]
    rows = []
    for u in range(n_students):
        for t in range(n_attempts):
            pair = rng.choice(6, size=2, replace=False)
            item, ans = 100 + t, int(rng.random() < 0.5)
            rows += [(u, item, skills[pair[0]], ans), (u, item, skills[pair[1]], ans)]
    return _long_file(path, rows)


def test_benchmark_groups_the_rows_of_an_attempt(tmp_path):
    """Long release: an attempt is a run of rows of one problem, split where the answer changes or a skill
    repeats; the original export and the course's file group by order_id."""
    bench = _benchmark_module()
    rows = [(1, 10, "A", 1), (1, 10, "B", 1),            # one attempt, two skills
            (1, 11, "A", 0),                             # another problem
            (1, 12, "A", 1), (1, 12, "A", 0),            # same problem twice: answer changes
            (1, 13, "B", 1), (1, 13, "C", 1), (1, 13, "B", 1), (1, 13, "C", 1),  # skill repeats: two attempts
            (1, 10, "A", 1),                             # problem 10 again, later: a new attempt
            (2, 10, "A", 1), (2, 10, "B", 1)]            # another student
    df = bench.read_interactions(_long_file(tmp_path / "long.csv", rows))
    assert df["attempt_id"].tolist() == [0, 0, 1, 2, 3, 4, 4, 5, 5, 6, 7, 7]
    assert df["item_id"].tolist() == [str(r[1]) for r in rows]
    assert bench.attempt_summary(df) == {"attempts": 8, "multi_skill_attempts": 4, "rows_in_multi_skill_attempts": 8}
    orig = tmp_path / "orig.csv"
    pd.DataFrame({"user_id": [1, 1, 1, 2], "order_id": [5, 5, 6, 7], "problem_id": [9, 9, 8, 9],
                  "skill_name": ["A", "B", "A", "A"], "correct": [1, 1, 0, 1]}).to_csv(orig, index=False)
    assert bench.read_interactions(orig)["attempt_id"].tolist() == [0, 0, 1, 2]
    course = tmp_path / "assistments.csv"
    tiny().to_csv(course, index=False)
    assert bench.attempt_summary(bench.read_interactions(course))["multi_skill_attempts"] == 0


def test_benchmark_scores_the_mean_of_an_attempt():
    bench = _benchmark_module()
    test = pd.DataFrame({"attempt_id": [3, 3, 4, 5, 5, 5], "correct": [1, 1, 0, 0, 0, 0]})
    pred = np.array([0.9, 0.5, 0.6, 0.2, 0.3, 0.4])
    rows, att = bench.score(pred, test, "skill_rows"), bench.score(pred, test, "attempt")
    assert rows["test_units"] == 6 and att["test_units"] == 3
    assert att["rmse"] == pytest.approx(np.sqrt(((0.7 - 1) ** 2 + 0.6 ** 2 + 0.3 ** 2) / 3), abs=1e-4)
    assert att["auc"] == 1.0 and rows["auc"] == 0.875  # row pairs: 7 of 8 (positive, negative) ranked right


def test_per_skill_histories_end_at_the_previous_attempt(tmp_path):
    """Why BKT/AFM/PFA are fitted once for both protocols: an attempt holds each skill once, so the per-skill
    practice counts of a row (AFM/PFA's features; BKT's per-skill sequences) only hold earlier attempts."""
    bench = _benchmark_module()
    df = bench.read_interactions(_leaky_long_file(tmp_path / "leaky.csv", n_students=20, n_attempts=15))
    assert not df.duplicated(["attempt_id", "skill_name"]).any()
    feats = kt_models.PFA()._frame(df)
    for (u, s), g in df.groupby(["user_id", "skill_name"]):
        for i in g.index:
            earlier = g[g["attempt_id"] < g.at[i, "attempt_id"]]
            assert feats.at[i, "before_correct_num"] == earlier["correct"].sum()
            assert feats.at[i, "before_wrong_num"] == len(earlier) - earlier["correct"].sum()


def test_bestlr_features_come_from_previous_attempts_only():
    rows = [  # user, order, attempt, item, skill, correct
        (1, 0, 0, "p1", "A", 1),
        (1, 1, 1, "p2", "A", 0), (1, 2, 1, "p2", "B", 0),
        (1, 3, 2, "p1", "B", 1),
        (2, 0, 3, "p2", "B", 1),
    ]
    df = pd.DataFrame(rows, columns=["user_id", "order_id", "attempt_id", "item_id", "skill_name", "correct"])
    model = kt_models.BestLR().fit(df)
    X, y, lay = model.transform(df)
    X = X.toarray()
    phi = np.log1p
    # columns: skills A, B | skill attempts A, B | skill wins A, B | total attempts, wins | item attempts, wins | items
    expect = np.array([
        [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0],
        [1, 1, phi(1), 0, phi(1), 0, phi(1), phi(1), 0, 0, 0, 1],
        [0, 1, 0, phi(1), 0, 0, phi(2), phi(1), phi(1), phi(1), 1, 0],
        [0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    ])
    assert np.allclose(X, expect) and y.tolist() == [1, 0, 1, 1]
    # changing the answers of attempt k and later leaves the features of attempts <= k unchanged
    flipped = df.assign(correct=np.where(df["attempt_id"] >= 1, 1 - df["correct"], df["correct"]))
    X2 = model.transform(flipped)[0].toarray()
    assert np.allclose(X2[:2], X[:2]) and not np.allclose(X2[2], X[2])
    # one row per attempt (skill-rows protocol): the second row of attempt 1 sees the first one's answer
    rows_model = kt_models.BestLR(attempt_col=None).fit(df)
    Xr = rows_model.transform(df)[0].toarray()
    assert Xr.shape[0] == 5 and np.isclose(Xr[2, 6], phi(2))  # total attempts: the 2 rows before it
    assert np.isclose(Xr[2, 8], phi(1)) and X[1, 8] == 0  # item p2 "already attempted": by its own first row
    p = model.predict_proba(df)
    assert p[1] == p[2] and p.shape == (5,)


def test_attempt_protocol_cannot_read_the_answers_of_the_same_attempt(tmp_path):
    """A file whose answers are coin flips repeated on the two rows of each attempt: the skill-rows protocol
    lets BestLR read the first row's answer (item counts) and score far above chance; the attempt protocol
    does not."""
    bench = _benchmark_module()
    df = bench.read_interactions(_leaky_long_file(tmp_path / "leaky.csv"))
    train, test = split_by_student(df)
    res = bench.evaluate("BestLR", train, test, _bench_args(), ("skill_rows", "attempt"))
    assert res["skill_rows"]["auc"] > 0.7, res
    assert abs(res["attempt"]["auc"] - 0.5) < 0.05, res
    assert res["attempt"]["test_units"] == len(test) // 2
    bkt = bench.evaluate("BKT", train, test, _bench_args(), ("skill_rows", "attempt"))
    assert abs(bkt["attempt"]["auc"] - 0.5) < 0.05 and bkt["attempt"]["fit_shared"]


@pytest.mark.slow
def test_attempt_dkt_predicts_an_attempt_before_its_answers(tmp_path):
    """DKT on rows reads the first row of an attempt (and its answer) before predicting the second; AttemptDKT
    predicts every row of attempt k from attempts < k: flipping the answers of attempt k and later changes
    no prediction of attempt k."""
    from mlbd_utils.dkt import DKT

    bench = _benchmark_module()
    df = bench.read_interactions(_leaky_long_file(tmp_path / "leaky.csv", n_students=40, n_attempts=12))
    train, test = split_by_student(df)
    test = test.reset_index(drop=True)
    k = 5
    flip = test.assign(correct=np.where(test.groupby("user_id")["attempt_id"].rank(method="dense") > k,
                                        1 - test["correct"], test["correct"]))
    kth = (test.groupby("user_id")["attempt_id"].rank(method="dense") == k + 1).to_numpy()
    cols = ["user_id", "order_id", "skill_name", "correct"]
    att = kt_models.AttemptDKT(epochs=1, units=8, max_len=5, random_state=0).fit(train)
    p, q = att.predict_proba(test), att.predict_proba(flip)
    assert np.allclose(p[kth], q[kth], atol=1e-6)  # attempt k: its own answers unread (chunks of 5 included)
    assert not np.allclose(p, q)
    rows = DKT(epochs=1, units=8, max_len=5, random_state=0).fit(train[cols])
    r, s = rows.predict_proba(test[cols]), rows.predict_proba(flip[cols])
    second = kth & (test.groupby("attempt_id").cumcount() == 1).to_numpy()
    assert not np.allclose(r[second], s[second], atol=1e-6)  # the skill-rows DKT reads the first row's answer


@pytest.mark.slow
def test_attempt_dkt_is_dkt_without_multi_skill_attempts(small):
    """One row per attempt: AttemptDKT trains and predicts exactly like mlbd_utils.dkt.DKT."""
    from mlbd_utils.dkt import DKT

    df = small[small.skill_name.isin(kt.LECTURE_SKILLS)]
    train, test = split_by_student(df)
    a = DKT(epochs=2, units=8, max_len=20, random_state=0).fit(train)
    b = kt_models.AttemptDKT(epochs=2, units=8, max_len=20, random_state=0).fit(
        train.assign(attempt_id=np.arange(len(train))))
    assert np.allclose(a.history_["val_auc"], b.history_["val_auc"], atol=1e-6)
    assert np.allclose(a.history_["loss"], b.history_["loss"], atol=1e-6)
    assert np.allclose(a.predict_proba(test), b.predict_proba(test.assign(attempt_id=np.arange(len(test)))), atol=1e-6)


@pytest.mark.slow
def test_benchmark_protocols_agree_without_multi_skill_attempts(tmp_path):
    """The course's synthetic file has one row per attempt: both protocols give the same numbers."""
    path = tmp_path / "assistments.csv"
    assistments.generate(5, n_students=80).frames["assistments.csv"].to_csv(path, index=False)
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "knowledge_tracing.py"), str(path),
                          "--models", "BKT,BestLR,DKT", "--bkt-fits", "1", "--dkt-epochs", "2", "--scopes", "all"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    res = json.loads(run.stdout.strip().splitlines()[-1])
    assert res["multi_skill_attempts"] == 0 and res["attempts"] == res["rows"]
    rows, atts = res["protocols"]["skill_rows"], res["protocols"]["attempt"]
    for m in ("BKT", "BestLR", "DKT"):
        assert {"auc", "rmse", "fit_seconds"} <= set(rows[m]) and 0.5 < rows[m]["auc"] < 1
        assert (rows[m]["auc"], rows[m]["rmse"]) == (atts[m]["auc"], atts[m]["rmse"]), m
        assert rows[m]["test_units"] == atts[m]["test_units"] == rows[m]["test_rows"]
    assert res["models"]["BKT"]["all"]["auc"] == rows["BKT"]["auc"]  # the old key: the skill-rows protocol
