"""mlbd_utils.explain: LIME scaffolding, grouped permutation importance, the LIME plot (no TensorFlow needed).

A logistic "black box" on toy data with two informative columns stands in for the lab's BiLSTM.
"""
from __future__ import annotations

import subprocess
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from lime import lime_tabular  # noqa: E402

from mlbd_utils import explain  # noqa: E402
from mlbd_utils.data.explainability import FEATURE_NAMES  # noqa: E402

N_COLS = 6
NAMES = [f"F{j}_InWeek{w}" for w in (1, 2) for j in range(3)]  # week-major, 3 features x 2 weeks


def _toy(seed=0, n=400):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, N_COLS))
    return X


def _predict_fn(X):
    """P(fail) grows with column 0 (F0 week 1) and falls with column 4 (F1 week 2); the rest is ignored."""
    z = 2.0 * X[:, 0] - 1.5 * X[:, 4]
    p = 1 / (1 + np.exp(-z))
    return np.column_stack([1 - p, p])


@pytest.fixture(scope="module")
def explainer():
    return lime_tabular.LimeTabularExplainer(_toy(), feature_names=NAMES, class_names=["pass", "fail"],
                                             mode="classification", discretize_continuous=True, random_state=0)


def test_import_is_light():
    code = ("import sys, mlbd_utils.explain; "
            "heavy = [m for m in ('tensorflow', 'keras', 'lime', 'matplotlib') if m in sys.modules]; "
            "print(heavy); sys.exit(1 if heavy else 0)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_feature_descriptions_cover_the_file():
    assert list(explain.FEATURE_DESCRIPTIONS) == list(FEATURE_NAMES)
    assert "518394" in explain.FEATURE_DESCRIPTIONS["DelayLecture"]
    assert all(v.endswith("]") for v in explain.FEATURE_DESCRIPTIONS.values())  # unit in brackets


def test_explain_rows_long_table(explainer):
    X = _toy(1, 5)
    out = explain.explain_rows(explainer, X, _predict_fn, ids=[10, 11, 12, 13, 14], num_features=3,
                               num_samples=300)
    assert list(out.columns) == ["learner", "rank", "column", "condition", "weight", "proba", "score"]
    assert len(out) == 15 and out.groupby("learner").size().eq(3).all()
    assert set(out["learner"]) == {10, 11, 12, 13, 14}
    # the condition text names the column it belongs to, ranks follow |weight|
    assert all(c in cond for c, cond in zip(out["column"], out["condition"]))
    for _, g in out.groupby("learner"):
        assert list(g["rank"]) == [1, 2, 3]
        assert np.all(np.diff(g["weight"].abs().to_numpy()) <= 1e-12)
    # the informative columns dominate, with the right signs for class 'fail'
    top = out[out["rank"] == 1]["column"]
    assert set(top) <= {"F0_InWeek1", "F1_InWeek2"}
    for col, sign in [("F0_InWeek1", 1), ("F1_InWeek2", -1)]:  # P(fail) rises with F0, falls with F1
        rows = out[out["column"] == col]
        high = rows["condition"].str.startswith(f"{col} >")
        low = rows["condition"].str.startswith(f"{col} <=")
        assert (np.sign(rows["weight"][high]) == sign).all() and (np.sign(rows["weight"][low]) == -sign).all()
        assert (high | low).any()
    assert np.allclose(out.groupby("learner")["proba"].first().to_numpy(), _predict_fn(X)[:, 1])


def test_explain_rows_is_reproducible_and_checks_inputs():
    def fresh():
        return lime_tabular.LimeTabularExplainer(_toy(), feature_names=NAMES, class_names=["pass", "fail"],
                                                 discretize_continuous=True, random_state=3)
    a = explain.explain_rows(fresh(), _toy(2, 3), _predict_fn, num_samples=200, num_features=4)
    b = explain.explain_rows(fresh(), _toy(2, 3), _predict_fn, num_samples=200, num_features=4)
    pd.testing.assert_frame_equal(a, b)
    assert list(a["learner"].unique()) == [0, 1, 2]
    one = explain.explain_rows(fresh(), _toy(2, 1)[0], _predict_fn, num_samples=200, num_features=2)  # 1-D row
    assert len(one) == 2
    with pytest.raises(ValueError, match="ids has 2 entries for 3 rows"):
        explain.explain_rows(fresh(), _toy(2, 3), _predict_fn, ids=[1, 2])
    with pytest.raises(ValueError, match="rows have 4 columns"):
        explain.explain_rows(fresh(), np.zeros((2, 4)), _predict_fn)


def test_explain_with_seeds_restores_the_state(explainer):
    row = _toy(5, 1)[0]
    state = explainer.random_state.get_state()[1].copy()
    out = explain.explain_with_seeds(explainer, row, _predict_fn, seeds=[0, 1, 0], num_features=6,
                                     num_samples=150)
    assert np.array_equal(explainer.random_state.get_state()[1], state)
    assert list(out["seed"].unique()) == [0, 1]
    first, again = out.iloc[:6], out.iloc[12:]
    assert np.allclose(first["weight"].to_numpy(), again["weight"].to_numpy())  # same seed, same explanation
    assert not np.allclose(out.iloc[:6]["weight"].to_numpy(), out.iloc[6:12]["weight"].to_numpy())
    with pytest.raises(ValueError, match="seeds is empty"):
        explain.explain_with_seeds(explainer, row, _predict_fn, seeds=[])


def test_top_overlap():
    assert explain.top_overlap(["a", "b"], ["b", "a"]) == 1.0
    assert explain.top_overlap(["a", "b"], ["b", "c"]) == pytest.approx(1 / 3)
    assert explain.top_overlap([], []) == 1.0


def test_grouped_permutation_importance():
    rng = np.random.default_rng(0)
    X = _toy(7, 800)
    y = (rng.random(800) < _predict_fn(X)[:, 1]).astype(int)
    groups = {f"F{j}": [j, j + 3] for j in range(3)}
    imp = explain.grouped_permutation_importance(_predict_fn, X, y, groups, n_repeats=3, random_state=0)
    assert list(imp.columns) == ["importance", "std", "baseline"]
    assert imp.index[0] == "F0" and imp.index[1] == "F1"       # the two informative features, F0 stronger
    assert abs(imp.loc["F2", "importance"]) < 1e-12                # ignored by the model: exactly no drop
    assert imp["importance"].is_monotonic_decreasing
    again = explain.grouped_permutation_importance(_predict_fn, X, y, groups, n_repeats=3, random_state=0)
    pd.testing.assert_frame_equal(imp, again)
    acc = explain.grouped_permutation_importance(_predict_fn, X, y, groups, scoring="accuracy")
    assert acc.loc["F0", "importance"] > 0.1
    with pytest.raises(ValueError, match="unknown scoring"):
        explain.grouped_permutation_importance(_predict_fn, X, y, groups, scoring="f2")
    with pytest.raises(ValueError, match="group 'bad'"):
        explain.grouped_permutation_importance(_predict_fn, X, y, {"bad": [9]})
    with pytest.raises(ValueError, match="800 rows but y has 3"):
        explain.grouped_permutation_importance(_predict_fn, X, y[:3], groups)


def test_plot_lime_colours_follow_the_explained_class(explainer):
    row = np.array([2.0, 0, 0, 0, -2.0, 0])  # both informative columns push towards fail
    exp = explainer.explain_instance(row, _predict_fn, labels=(1,), num_features=4, num_samples=300)
    ax = explain.plot_lime(exp, title="Toy")
    bars = ax.patches[:4]
    weights = [w for _, w in exp.as_list(label=1)][::-1]
    red, green = matplotlib.colors.to_rgba("tab:red"), matplotlib.colors.to_rgba("tab:green")
    for bar, w in zip(bars, weights):
        assert bar.get_facecolor() == (red if w > 0 else green)
        assert np.isclose(bar.get_width(), w)
    assert "'fail'" in ax.get_title() and ax.get_title().startswith("Toy")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["towards fail", "towards pass"]
    plt.close("all")
    # explaining 'pass' swaps the colours' meaning
    exp0 = explainer.explain_instance(row, _predict_fn, labels=(0,), num_features=4, num_samples=300)
    ax0 = explain.plot_lime(exp0)
    w0 = [w for _, w in exp0.as_list(label=0)][::-1]
    assert all(b.get_facecolor() == (green if w > 0 else red) for b, w in zip(ax0.patches[:4], w0))
    assert "'pass'" in ax0.get_title()
    plt.close("all")
    with pytest.raises(ValueError, match="label 1 was not explained"):
        explain.plot_lime(exp0, label=1)
