"""mlbd_utils.dkt: sequence preparation, metrics on real steps only (the padded-step bug of the original
lecture 08 notebook), the DKT estimator and the MOOC helpers.

The fast tests need no training; the ``slow`` ones fit small models (a few seconds each on two cores).
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

from mlbd_utils import dkt  # noqa: E402
from mlbd_utils.data import assistments  # noqa: E402

M = dkt.MASK_VALUE


@pytest.fixture
def tiny():
    """Two students, two skills, rows deliberately out of order."""
    return pd.DataFrame({
        "user_id":    [2, 1, 1, 2, 1],
        "order_id":   [30, 20, 10, 40, 25],
        "skill_name": ["B", "A", "B", "A", "A"],
        "correct":    [1, 0, 1, 0, 1],
    })


def random_padded(rng, n=300, T=100, n_skills=10):
    """Random DKT targets with lengths uniform in 1..T (about half the steps padded) and random predictions."""
    lens = rng.integers(1, T + 1, n)
    Y = np.full((n, T, 2), M, dtype=np.float32)
    for i, k in enumerate(lens):
        Y[i, :k, 0] = rng.integers(0, n_skills, k)
        Y[i, :k, 1] = rng.integers(0, 2, k)
    P = rng.random((n, T, n_skills)).astype(np.float32)
    return Y, P


# ------------------------------------------------------------------------------------------------ sequences
def test_prepare_sequences_exact(tiny):
    seqs = dkt.prepare_sequences(tiny)
    assert list(seqs.skill_names) == ["A", "B"] and seqs.n_features == 5 and seqs.start_token == 4
    assert seqs.users.tolist() == [1, 2]
    # student 1 in time order: rows 2 (B, 1), 1 (A, 0), 4 (A, 1); input = previous answer, 2*skill+correct
    assert [a.tolist() for a in seqs.inputs] == [[4, 3, 0], [4, 3]]
    assert [a.tolist() for a in seqs.skills] == [[1, 0, 0], [1, 0]]
    assert [a.tolist() for a in seqs.labels] == [[1, 0, 1], [1, 0]]
    assert [a.tolist() for a in seqs.rows] == [[2, 1, 4], [0, 3]]


def test_chunks_and_padding_exact(tiny):
    seqs = dkt.prepare_sequences(tiny, max_len=2)
    assert seqs.users.tolist() == [1, 1, 2]
    # the second chunk of student 1 starts with the previous answer (A wrong = 0), not the start token
    assert [a.tolist() for a in seqs.inputs] == [[4, 3], [0], [4, 3]]
    assert [a.tolist() for a in seqs.rows] == [[2, 1], [4], [0, 3]]
    X, Y, mask = dkt.pad_sequences(seqs)
    assert X.shape == (3, 2, 5) and Y.shape == (3, 2, 2) and X.dtype == np.float32
    expected_X = np.array([
        [[0, 0, 0, 0, 1], [0, 0, 0, 1, 0]],
        [[1, 0, 0, 0, 0], [M, M, M, M, M]],
        [[0, 0, 0, 0, 1], [0, 0, 0, 1, 0]],
    ], dtype=np.float32)
    np.testing.assert_array_equal(X, expected_X)
    np.testing.assert_array_equal(Y, np.array([[[1, 1], [0, 0]], [[0, 1], [M, M]], [[1, 1], [0, 0]]], np.float32))
    np.testing.assert_array_equal(mask, [[True, True], [True, False], [True, True]])
    X5, Y5, mask5 = dkt.pad_sequences(seqs, length=5)
    assert X5.shape == (3, 5, 5) and (X5[:, 2:] == M).all() and mask5.sum() == 5
    with pytest.raises(ValueError):
        dkt.pad_sequences(seqs, length=1)


def test_unknown_skills_are_not_inputs_nor_targets(tiny):
    seqs = dkt.prepare_sequences(tiny, skills=["A"])  # B unknown
    assert seqs.start_token == 2
    assert [a.tolist() for a in seqs.inputs] == [[2, dkt.UNKNOWN_INPUT, 0], [2, dkt.UNKNOWN_INPUT]]
    assert [a.tolist() for a in seqs.labels] == [[-1, 0, 1], [-1, 0]]
    X, Y, mask = dkt.pad_sequences(seqs)
    assert (X[0, 1] == 0).all(), "an unknown previous skill gives an all-zero (not a masked) input"
    np.testing.assert_array_equal(mask, [[False, True, True], [False, True, False]])


def test_bad_frames(tiny):
    with pytest.raises(KeyError):
        dkt.prepare_sequences(tiny.drop(columns="order_id"))
    with pytest.raises(ValueError):
        dkt.prepare_sequences(tiny.assign(correct=[0, 1, 2, 0, 1]))


def real_steps(Y, P):
    """Labels and predicted probability of the target skill on the real steps (test-local reference:
    the student package deliberately has no such helper, it is lecture 08's task 2)."""
    Y, P = np.asarray(Y), np.asarray(P)
    mask = Y[..., 1] >= 0
    skill = np.where(mask, Y[..., 0], 0).astype(int)
    p = np.take_along_axis(P, skill[..., None], axis=-1)[..., 0]
    return Y[..., 1][mask].astype(int), p[mask]


def masked_auc(Y, P):
    y, p = real_steps(Y, P)
    return float(roc_auc_score(y, p))


# ------------------------------------------------------------------------------------ metrics and the bug
def test_padded_steps_cannot_inflate_the_auc():
    """Random predictions: AUC 0.5 on real steps; the original notebook's metric reads far more."""
    rng = np.random.default_rng(0)
    Y, P = random_padded(rng)
    assert abs(masked_auc(Y, P) - 0.5) < 0.03
    assert dkt.seed_style_auc(Y, P) > 0.75, "the seed-style AUC counts (0, 0) pairs on padded steps"

    metric = dkt.MaskedAUC()
    metric.update_state(Y, P)
    assert abs(float(metric.result()) - masked_auc(Y, P)) < 0.01
    # more padding changes nothing
    Y_more = np.concatenate([Y, np.full((len(Y), 50, 2), M, np.float32)], axis=1)
    P_more = np.concatenate([P, rng.random((len(P), 50, P.shape[-1])).astype(np.float32)], axis=1)
    assert masked_auc(Y_more, P_more) == pytest.approx(masked_auc(Y, P))
    assert dkt.seed_style_auc(Y_more, P_more) > dkt.seed_style_auc(Y, P)
    metric2 = dkt.MaskedAUC()
    metric2.update_state(Y_more, P_more)
    assert float(metric2.result()) == pytest.approx(float(metric.result()), abs=1e-6)


def test_masked_loss_and_metrics_on_real_steps():
    rng = np.random.default_rng(1)
    Y, P = random_padded(rng, n=50, T=30, n_skills=6)
    y, p = real_steps(Y, P)
    bce = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert float(dkt.MaskedBinaryCrossentropy()(Y, P)) == pytest.approx(bce, rel=1e-4)
    Y_more = np.concatenate([Y, np.full((len(Y), 20, 2), M, np.float32)], axis=1)
    P_more = np.concatenate([P, np.full((len(P), 20, 6), 0.999, np.float32)], axis=1)
    assert float(dkt.MaskedBinaryCrossentropy()(Y_more, P_more)) == pytest.approx(bce, rel=1e-4)
    rmse = dkt.MaskedRMSE()
    rmse.update_state(Y_more, P_more)
    assert float(rmse.result()) == pytest.approx(np.sqrt(np.mean((y - p) ** 2)), rel=1e-4)
    acc = dkt.MaskedBinaryAccuracy()
    acc.update_state(Y_more, P_more)
    assert float(acc.result()) == pytest.approx(np.mean((p > 0.5) == y), abs=1e-6)


def test_masked_regression_ignores_missing_targets():
    """Keras's plain RMSE compares predictions with the -1 of missing quizzes; the masked one does not."""
    rng = np.random.default_rng(2)
    y = rng.random((40, 10, 1)).astype(np.float32)
    y[rng.random(y.shape) < 0.4] = M
    pred = np.clip(y + rng.normal(0, 0.1, y.shape), 0, 1).astype(np.float32)
    pred[y == M] = rng.random(int((y == M).sum()))
    keep = y != M
    ref = float(np.sqrt(np.mean((y[keep] - pred[keep]) ** 2)))
    metric = dkt.MaskedRMSE(targets="regression")
    metric.update_state(y, pred)
    assert float(metric.result()) == pytest.approx(ref, rel=1e-4)
    assert float(dkt.MaskedMeanSquaredError()(y, pred)) == pytest.approx(ref ** 2, rel=1e-4)
    plain = keras.metrics.RootMeanSquaredError()
    plain.update_state(y, pred)
    assert float(plain.result()) > 3 * ref


def test_per_skill_mean():
    train = pd.DataFrame({"skill_name": ["A", "A", "B"], "correct": [1, 0, 1]})
    test = pd.DataFrame({"skill_name": ["B", "A", "C"]})
    np.testing.assert_allclose(dkt.per_skill_mean(train, test), [1.0, 0.5, 2 / 3])


# -------------------------------------------------------------------------------------------- estimator
@pytest.fixture(scope="module")
def synthetic():
    """Synthetic ASSISTments-style logs of 600 students, split 80/20 by student."""
    df = assistments.generate(seed=1, n_students=600).frames["assistments.csv"]
    users = np.random.default_rng(0).permutation(df["user_id"].unique())
    test_users = users[:120]
    return df[~df["user_id"].isin(test_users)], df[df["user_id"].isin(test_users)]


@pytest.fixture(scope="module")
def fitted(synthetic):
    train, _ = synthetic
    return dkt.DKT(units=32, max_len=100, epochs=4, batch_size=32, learning_rate=1e-2, validation_split=0.1,
                   random_state=0).fit(train)


@pytest.mark.slow
def test_dkt_beats_per_skill_mean(synthetic, fitted):
    train, test = synthetic
    p = fitted.predict_proba(test)
    assert p.shape == (len(test),) and np.isfinite(p).all() and ((p > 0) & (p < 1)).all()
    auc_dkt = roc_auc_score(test["correct"], p)
    auc_base = roc_auc_score(test["correct"], dkt.per_skill_mean(train, test))
    assert auc_dkt > auc_base + 0.05, (auc_dkt, auc_base)
    assert set(fitted.history_) >= {"loss", "auc", "val_auc", "val_loss"}


@pytest.mark.slow
def test_predictions_are_aligned_and_causal(synthetic, fitted):
    _, test = synthetic
    test = test[test["user_id"].isin(test["user_id"].unique()[:20])].reset_index(drop=True)
    p = fitted.predict_proba(test)
    shuffled = test.sample(frac=1.0, random_state=0)
    np.testing.assert_allclose(fitted.predict_proba(shuffled), p[shuffled.index], atol=1e-6)
    # a student's first row is predicted from no history: equal for equal skills
    first = test.groupby("user_id").head(1)
    by_skill = pd.Series(p[first.index], index=first["skill_name"]).groupby(level=0).agg(["min", "max"])
    np.testing.assert_allclose(by_skill["min"], by_skill["max"], atol=1e-6)
    # flipping answer r changes the predictions after r only, and only for that student
    user = test["user_id"].iloc[0]
    rows = np.flatnonzero(test["user_id"] == user)
    r = rows[len(rows) // 2]
    flipped = test.copy()
    flipped.loc[r, "correct"] = 1 - flipped.loc[r, "correct"]
    q = fitted.predict_proba(flipped)
    before, after = rows[rows <= r], rows[rows > r]
    np.testing.assert_allclose(q[before], p[before], atol=1e-6)
    others = np.setdiff1d(np.arange(len(test)), rows)
    np.testing.assert_allclose(q[others], p[others], atol=1e-6)
    if len(after):
        assert np.abs(q[after] - p[after]).max() > 1e-4
    # an unseen skill gets the training mean
    odd = test.head(3).assign(skill_name="Never Seen Skill")
    np.testing.assert_allclose(fitted.predict_proba(odd), fitted.mean_correct_)


@pytest.mark.slow
def test_dkt_is_deterministic(synthetic):
    train, test = synthetic
    small = train[train["user_id"].isin(train["user_id"].unique()[:100])]
    kw = dict(cell="gru", units=8, max_len=50, epochs=2, validation_split=0.0, learning_rate=1e-2)
    p0 = dkt.DKT(random_state=0, **kw).fit(small).predict_proba(test)
    p0_again = dkt.DKT(random_state=0, **kw).fit(small).predict_proba(test)
    p1 = dkt.DKT(random_state=1, **kw).fit(small).predict_proba(test)
    np.testing.assert_allclose(p0, p0_again, atol=1e-6)
    assert np.abs(p0 - p1).max() > 1e-3


def test_estimator_params():
    model = dkt.DKT(cell="gru", units=7)
    assert model.get_params()["units"] == 7 and model.get_params()["cell"] == "gru"
    with pytest.raises(RuntimeError):
        model.predict_proba(pd.DataFrame({"user_id": [1], "order_id": [1], "skill_name": ["A"], "correct": [1]}))
    with pytest.raises(ValueError):
        dkt.build_dkt_model(3, cell="transformer")


# ------------------------------------------------------------------------------------------------- MOOC
@pytest.fixture
def mooc_tiny():
    feat = pd.DataFrame({"user_id": np.repeat([5, 3, 9], 4), "week": np.tile(range(4), 3),
                         "f1": np.arange(12.0), "f2": np.arange(12.0) * 10})
    quizzes = feat[["user_id", "week"]].assign(quiz_correct=[0.5, np.nan, 1, 0.2, np.nan, np.nan, 0.3, 0.4,
                                                             1, 1, np.nan, 0.9])
    labels = pd.DataFrame({"user_id": [5, 3, 9], "label-pass-fail": [1, 0, 1]})
    return feat, quizzes, labels


def test_scaling_uses_training_statistics(mooc_tiny):
    feat = mooc_tiny[0]
    X = feat[["f1", "f2"]].to_numpy(dtype=np.float32).reshape(3, 4, 2)
    train, test = dkt.minmax_scale_sequences(X[:2], X[2:])
    assert train.min() == 0 and train.max() == 1
    assert test.max() > 1, "test values are scaled with the training range, not their own"


def test_sequence_model_shapes():
    reg = dkt.build_sequence_regressor(4, units=3)
    x = np.random.default_rng(0).normal(size=(2, 5, 4)).astype(np.float32)
    assert np.asarray(reg(x)).shape == (2, 5, 1)
    model = dkt.build_dkt_model(3, cell="lstm", units=4)
    assert tuple(model.output.shape) == (None, None, 3) and tuple(model.input.shape) == (None, None, 7)
