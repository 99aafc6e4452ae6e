"""mlbd_utils.imbalance: GMC-SMOTE and SEDG samplers (imbalanced-learn API) and the imbalance metrics."""
from __future__ import annotations

import subprocess
import sys
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from imblearn.pipeline import make_pipeline
from imblearn.utils.estimator_checks import parametrize_with_checks
from sklearn.base import clone
from sklearn.linear_model import BayesianRidge
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

from mlbd_utils.imbalance import GMCSMOTE, SEDG, class_auc, imbalance_weights, percent_improvement

SET1 = {2: 10, 3: 1, 4: 17, 5: 17, 6: 110, 7: 135, 8: 687, 9: 334, 10: 316, 11: 109, 12: 47}  # ASAP set 1


def _data(counts, n_features=3, seed=0):
    y = np.repeat(list(counts), list(counts.values()))
    X = np.random.default_rng(seed).normal(size=(len(y), n_features)) + y[:, None] * 0.1
    return X, y


@parametrize_with_checks([GMCSMOTE(random_state=0), SEDG(random_state=0)])
def test_imblearn_estimator_checks(estimator, check):
    check(estimator)


# ----- GMC-SMOTE -----------------------------------------------------------------------------

def test_gmc_targets_asap_set1():
    X, y = _data(SET1)
    s = GMCSMOTE(random_state=0)
    X_res, y_res = s.fit_resample(X, y)
    # 1/distance from the mode (8: 687), capped at 2.5 x count, never below the count; score 3 replicated to 6
    assert s.mode_ == 8
    assert s.target_counts_ == {2: 25, 3: 6, 4: 42, 5: 42, 6: 275, 7: 337, 8: 687, 9: 687, 10: 343, 11: 229, 12: 117}
    assert dict(Counter(y_res.tolist())) == s.target_counts_
    assert s.class_counts_ == SET1
    assert s.sampling_strategy_ == {c: s.target_counts_[c] - n for c, n in SET1.items() if s.target_counts_[c] > n}
    assert s.n_synthetic_ == len(y_res) - len(y) - 5  # the 5 replicated rows of score 3 are not SMOTE samples
    np.testing.assert_array_equal(X_res[:len(y)], X)  # originals first, unchanged
    np.testing.assert_array_equal(y_res[:len(y)], y)


def test_gmc_smote_samples_interpolate_within_class():
    X, y = _data({0: 30, 1: 100, 2: 60})
    X_res, y_res = GMCSMOTE(random_state=1).fit_resample(X, y)
    for c in (0, 2):
        new = X_res[len(y):][y_res[len(y):] == c]
        lo, hi = X[y == c].min(axis=0), X[y == c].max(axis=0)
        assert len(new) > 0 and ((new >= lo - 1e-12) & (new <= hi + 1e-12)).all()  # inside the class's box


def test_gmc_options():
    X, y = _data(SET1)
    cap = GMCSMOTE(cap=1.5, random_state=0).fit(X, y).sampling_strategy_
    assert cap[2] == 15 - 10 and cap[9] == 501 - 334
    lit = GMCSMOTE(rule="literal", random_state=0)
    lit.fit_resample(X, y)
    # as printed: 10/6 -> 1 for score 2 (floored at its count), 334/1 > 2.5 -> 835, 316/2 > 2.5 -> 790;
    # the mode (687) is no longer the largest class
    assert lit.target_counts_[2] == 10 and lit.target_counts_[9] == 835 and lit.target_counts_[10] == 790
    # a gap in the scale: score distance vs rank distance
    gap = {1: 20, 2: 100, 5: 20}
    Xg, yg = _data(gap)
    assert GMCSMOTE(distance="score").fit(Xg, yg).sampling_strategy_[5] == 33 - 20
    assert GMCSMOTE(distance="rank").fit(Xg, yg).sampling_strategy_[5] == 50 - 20
    # a tie between two modes (ASAP set 2)
    tie = {1: 24, 2: 153, 3: 778, 4: 778, 5: 75, 6: 7}
    Xt, yt = _data(tie)
    s = GMCSMOTE(random_state=0)
    s.fit_resample(Xt, yt)
    assert s.mode_ == 3 and s.target_counts_[1] == 60 and s.target_counts_[5] == 187
    s = GMCSMOTE(mode_ties="highest", random_state=0)
    s.fit_resample(Xt, yt)
    assert s.mode_ == 4 and s.target_counts_[3] == 778 and s.target_counts_[5] == 187
    # with a loose cap the choice matters: score 5 is 2 or 1 point from the mode
    assert GMCSMOTE(cap=10).fit(Xt, yt).sampling_strategy_[5] == 389 - 75
    assert GMCSMOTE(cap=10, mode_ties="highest").fit(Xt, yt).sampling_strategy_[5] == 750 - 75


def test_gmc_uniform_and_dict_strategies():
    X, y = _data(SET1)
    _, y_u = GMCSMOTE("not majority", random_state=0).fit_resample(X, y)
    assert set(Counter(y_u.tolist()).values()) == {687}
    s = GMCSMOTE({2: 30, 9: 400}, random_state=0)
    _, y_d = s.fit_resample(X, y)
    c = Counter(y_d.tolist())
    assert c[2] == 30 and c[9] == 400 and c[3] == 6 and c[8] == 687 and c[10] == 316
    assert s.mode_ is None


def test_gmc_deterministic_and_clonable():
    X, y = _data(SET1)
    a = GMCSMOTE(random_state=3).fit_resample(X, y)[0]
    b = clone(GMCSMOTE(random_state=3)).fit_resample(X, y)[0]
    c = GMCSMOTE(random_state=4).fit_resample(X, y)[0]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_gmc_in_imblearn_pipeline_with_regressor():
    X, y = _data(SET1)
    pipe = make_pipeline(StandardScaler(), GMCSMOTE(random_state=0), BayesianRidge()).fit(X, y)
    assert pipe.predict(X).shape == (len(y),)  # resampling happens in fit only


def test_gmc_errors():
    X, y = _data({0: 10, 1: 20})
    with pytest.raises(ValueError, match="distance"):
        GMCSMOTE(distance="euclid").fit_resample(X, y)
    with pytest.raises(ValueError, match="rule"):
        GMCSMOTE(rule="gauss").fit_resample(X, y)
    with pytest.raises(ValueError, match="cap"):
        GMCSMOTE(cap=0.5).fit_resample(X, y)
    with pytest.raises(ValueError, match="numeric"):
        GMCSMOTE().fit_resample(X, np.where(y == 0, "low", "high"))
    Xs, ys = _data({0: 1, 1: 20, 2: 30})
    with pytest.raises(ValueError, match="min_class_size"):
        GMCSMOTE(min_class_size=1, random_state=0).fit_resample(Xs, ys)
    with pytest.raises(ValueError, match="1 class"):
        GMCSMOTE().fit_resample(X[:5], np.zeros(5, dtype=int))


# ----- SEDG ----------------------------------------------------------------------------------

def _discrete(n=400, seed=0):
    """Integer features; feature 0 determines the class, feature 1 is binary and imbalanced, 2 is noise."""
    rng = np.random.default_rng(seed)
    y = rng.choice([0, 1, 2], size=n, p=[0.7, 0.2, 0.1])
    f0 = y * 2 + rng.integers(0, 2, n)  # values {0,1} -> class 0, {2,3} -> class 1, {4,5} -> class 2
    f1 = (rng.random(n) < 0.1).astype(int)
    f2 = rng.integers(0, 4, n)
    f3 = np.full(n, 7)  # constant
    return np.column_stack([f0, f1, f2, f3]), y


def test_sedg_basic_contract():
    X, y = _discrete()
    s = SEDG(n_samples=100, n_features=2, random_state=0)
    X_res, y_res = s.fit_resample(X, y)
    assert X_res.shape == (500, 4) and len(y_res) == 500
    np.testing.assert_array_equal(X_res[:400], X)
    new, src = X_res[400:], s.source_index_
    np.testing.assert_array_equal(y_res[400:], y[src])  # the source's label
    changed = (new != X[src])
    assert (changed.sum(axis=1) <= 2).all() and (changed.sum(axis=1) >= 1).all()
    for r, feats in enumerate(s.modified_features_):
        assert set(np.flatnonzero(changed[r])) <= set(feats.tolist())
    for j in range(4):
        assert set(np.unique(new[:, j])) <= set(np.unique(X[:, j]))  # only observed values
    assert not changed[:, 3].any() and s.feature_weights_[3] == 0  # a constant feature is never chosen
    assert s.sampling_strategy_ == dict(Counter(y[src].tolist()))


def test_sedg_most_similar_value_keeps_class_profile():
    X, y = _discrete()
    s = SEDG(n_samples=300, n_features=1, feature_selection="random", random_state=1)
    X_res, _ = s.fit_resample(X, y)
    new, src = X_res[400:], s.source_index_
    mod0 = np.array([0 in f for f in s.modified_features_])
    assert mod0.sum() > 30
    # the other value with the most similar class mix of feature 0 is its twin of the same class
    twin = X[src, 0] ^ 1
    np.testing.assert_array_equal(new[mod0, 0], twin[mod0])


def test_sedg_sample_selection_weighting():
    X, y = _discrete(n=1000)
    counts = np.bincount(y)
    inv = SEDG(n_samples=3000, random_state=0)
    inv.fit_resample(X, y)
    share = np.bincount(y[inv.source_index_], minlength=3) / 3000
    # inverse weighting: a class is drawn with probability proportional to 1 / its size
    assert np.allclose(share, (1 / counts) / (1 / counts).sum(), atol=0.04)
    assert share[2] > share[1] > share[0]
    assert inv.class_weights_ == pytest.approx({c: (1 / counts[c]) / (1 / counts).sum() for c in range(3)})
    prop = SEDG(n_samples=3000, class_weighting="proportional", random_state=0)
    prop.fit_resample(X, y)
    share = np.bincount(y[prop.source_index_], minlength=3) / 3000
    assert np.allclose(share, counts / counts.sum(), atol=0.04)  # the literal rule = random selection
    own = SEDG(n_samples=200, class_weights={2: 1.0}, random_state=0)
    own.fit_resample(X, y)
    assert (y[own.source_index_] == 2).all()
    fixed = SEDG({0: 700, 1: 250, 2: 130}, random_state=0)
    _, y_f = fixed.fit_resample(X, y)
    assert Counter(y_f.tolist()) == {0: 700, 1: 250, 2: 130}


def test_sedg_singleton_classes_are_fine():
    X, y = _discrete(n=60)
    y = y.copy()
    y[0] = 9  # a class of one student: SMOTE cannot use it, SEDG can
    s = SEDG(n_samples=50, class_weights={9: 1.0}, random_state=0)
    X_res, y_res = s.fit_resample(X, y)
    assert (y_res[60:] == 9).all() and (s.source_index_ == 0).all()


def test_imbalance_weights():
    X = np.column_stack([[0] * 8 + [1] * 2, [0] * 5 + [1] * 5, [3] * 10, [0, 1, 2, 3, 4] * 2])
    w = imbalance_weights(X)
    # binary 8/2: 1 - 2/8 = 0.75; balanced binary, constant and uniform 5-valued: 0
    np.testing.assert_allclose(w, [1, 0, 0, 0])
    X2 = np.column_stack([[0] * 6 + [1] * 2, [0] * 4 + [1] * 4, [0] * 7 + [1]])
    np.testing.assert_allclose(imbalance_weights(X2), np.array([4 / 6, 0, 6 / 7]) / (4 / 6 + 6 / 7))
    np.testing.assert_allclose(imbalance_weights(np.array([[1, 2]] * 4)), [0.5, 0.5])


def test_sedg_errors_and_custom_embedder():
    X, y = _discrete()
    with pytest.raises(ValueError, match="sample_selection"):
        SEDG(sample_selection="loss").fit_resample(X, y)
    with pytest.raises(ValueError, match="embedding"):
        SEDG(embedding="word2vec").fit_resample(X, y)

    class Flipped:  # an embedding where value codes 0/1 of feature 0 are opposite
        def fit(self, codes, y):
            self.feature_embeddings_ = [np.eye(int(codes[:, j].max()) + 1) for j in range(codes.shape[1])]
            self.feature_embeddings_[0] = np.array([[1, 0], [-1, 0], [0.9, 0.1], [0, 1], [0, 1], [0, 1]])
            return self

    s = SEDG(n_samples=200, n_features=1, class_weights={0: 1.0}, embedding=Flipped(), random_state=0)
    X_res, _ = s.fit_resample(X, y)
    mod0 = np.array([0 in f for f in s.modified_features_])
    src0 = X[s.source_index_, 0]
    assert (X_res[400:][mod0 & (src0 == 0), 0] == 2).all()  # code 0 -> the most similar other code, 2


def test_import_does_not_load_tensorflow():
    code = "import sys, mlbd_utils.imbalance; assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.slow
def test_sedg_neural_embedding():
    X, y = _discrete(n=200)
    s = SEDG(n_samples=20, embedding="neural", random_state=0)
    s.set_params(embedding=__import__("mlbd_utils.imbalance_neural", fromlist=["EmbeddingNet"]).EmbeddingNet(
        epochs=5, random_state=0))
    X_res, y_res = s.fit_resample(X, y)
    assert X_res.shape == (220, 4)
    assert [e.shape for e in s.embeddings_] == [(6, 4), (2, 4), (4, 4), (1, 4)]


# ----- metrics -------------------------------------------------------------------------------

def test_class_auc():
    rng = np.random.default_rng(0)
    y = np.array([0, 0, 1, 1, 1, 2, 2, 0, 1, 2])
    proba = rng.dirichlet(np.ones(4), size=10)  # class 3 has a column but no member
    out = class_auc(y, proba, [0, 1, 2, 3])
    assert set(out) == {0, 1, 2}
    for k in range(3):
        assert out[k] == pytest.approx(roc_auc_score(y == k, proba[:, k]))
    assert class_auc(np.zeros(3), np.ones((3, 1)), [0]) == {}
    with pytest.raises(ValueError, match="shape"):
        class_auc(y, proba[:, :3], [0, 1, 2, 3])


def test_percent_improvement():
    assert percent_improvement(0.30, 0.33) == pytest.approx(3.0)
    assert percent_improvement(0.655, 0.693, relative=True) == pytest.approx(5.8, abs=0.01)
    assert percent_improvement(0.5, 0.6, scale=1) == pytest.approx(0.1)
    assert percent_improvement({"a": 0.5, "b": 0.7}, pd.Series({"a": 0.6, "c": 1.0})) == pytest.approx({"a": 10.0})
