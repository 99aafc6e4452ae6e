"""mlbd_utils.fusion_lstm: the static-fusion LSTM cell, the multi-task model, padding, aggregates, DTW."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from mlbd_utils import fusion_lstm as fl


def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


def test_import_is_light():
    code = "import sys, mlbd_utils, mlbd_utils.fusion_lstm; print('keras' in sys.modules, 'tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


def test_pad_steps_orders_pads_and_truncates():
    steps = pd.DataFrame({"k": [2, 1, 1, 1, 2], "day": [5, 30, 10, 20, 1], "a": [1.0, 3.0, 1.0, 2.0, 0.5]})
    X, mask = fl.pad_steps(steps, pd.DataFrame({"k": [1, 2, 3]}), ["k"], ["a"], order_col="day")
    assert X.shape == (3, 3, 1) and X.dtype == np.float32
    assert X[0, :, 0].tolist() == [1.0, 2.0, 3.0] and X[1, :, 0].tolist() == [0.5, 1.0, fl.MASK_VALUE]
    assert (X[2] == fl.MASK_VALUE).all() and mask.tolist() == [[1, 1, 1], [1, 1, 0], [0, 0, 0]]
    X2, m2 = fl.pad_steps(steps, pd.DataFrame({"k": [1]}), ["k"], ["a"], order_col="day", max_len=2)
    assert X2[0, :, 0].tolist() == [2.0, 3.0] and m2.all(), "keeps the last steps"
    with pytest.raises(KeyError, match="nope"):
        fl.pad_steps(steps, pd.DataFrame({"k": [1]}), ["k"], ["nope"], order_col="day")


def test_sequence_aggregates():
    X = np.array([[[1.0], [3.0], [-1.0]], [[2.0], [-1.0], [-1.0]], [[-1.0], [-1.0], [-1.0]]])
    mask = X[..., 0] != -1
    agg = fl.sequence_aggregates(X, mask, ["s"])
    assert list(agg.columns) == ["s_mean", "s_last", "s_change", "n_steps"]
    assert agg.to_numpy().tolist() == [[2.0, 3.0, 2.0, 2.0], [2.0, 2.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0]]


def test_dtw_distances_equal_tslearn():
    from tslearn.metrics import cdist_dtw
    from tslearn.utils import to_time_series_dataset

    rng = np.random.default_rng(0)
    X = rng.random((25, 6, 3))
    mask = np.arange(6)[None, :] < rng.integers(1, 7, 25)[:, None]
    D = fl.dtw_distances(X, mask, X[:9], mask[:9], block=4)
    ref = cdist_dtw(to_time_series_dataset([x[m] for x, m in zip(X, mask)]),
                    to_time_series_dataset([x[m] for x, m in zip(X[:9], mask[:9])]))
    assert np.allclose(D, ref)
    assert np.allclose(np.diag(fl.dtw_distances(X, mask, X, mask)), 0)
    with pytest.raises(ValueError, match="at least one real step"):
        fl.dtw_distances(X, np.zeros_like(mask), X, mask)


def test_masked_losses_skip_the_mask():
    y = np.array([1.0, 0.0, fl.MASK_VALUE, 0.5], dtype="float32")
    p = np.array([0.8, 0.3, 0.9, 0.25], dtype="float32")
    bce = float(fl.masked_binary_crossentropy(y, p))
    ref = -np.mean([np.log(0.8), np.log(0.7), 0.5 * np.log(0.25) + 0.5 * np.log(0.75)])
    assert abs(bce - ref) < 1e-5
    assert abs(float(fl.masked_mean_squared_error(y, p)) - np.mean([0.04, 0.09, 0.0625])) < 1e-6
    all_masked = np.full(3, fl.MASK_VALUE, dtype="float32")
    assert float(fl.masked_mean_squared_error(all_masked, p[:3])) == 0.0


def _cell(units, n_static, n_dynamic):
    cell = fl.StaticFusionLSTMCell(units, n_static)
    cell.build((None, n_dynamic + n_static))
    return cell


def test_cell_with_zero_static_weights_is_a_keras_lstm_step():
    import keras

    rng = np.random.default_rng(1)
    nx, nz, u, n = 4, 3, 5, 6
    cell = _cell(u, nz, nx)
    W = [rng.normal(size=(nx, 4 * u)), rng.normal(size=(u, 4 * u)), np.zeros((nz, 2 * u)), rng.normal(size=4 * u)]
    cell.set_weights(W)
    std = keras.layers.LSTMCell(u)
    std.build((None, nx))
    std.set_weights([W[0], W[1], W[3]])
    x, z, h, c = (rng.normal(size=(n, k)).astype("float32") for k in (nx, nz, u, u))
    h1, (_, c1) = cell(np.hstack([x, z]), [h, c])
    h2, (_, c2) = std(x, [h, c])
    assert np.allclose(np.asarray(h1), np.asarray(h2), atol=1e-6)
    assert np.allclose(np.asarray(c1), np.asarray(c2), atol=1e-6)


def test_cell_equations_static_only_in_input_gate_and_candidate():
    rng = np.random.default_rng(2)
    nx, nz, u, n = 3, 2, 4, 5
    cell = _cell(u, nz, nx)
    Wx, Wh, Ws, b = rng.normal(size=(nx, 4 * u)), rng.normal(size=(u, 4 * u)), rng.normal(size=(nz, 2 * u)), \
        rng.normal(size=4 * u)
    cell.set_weights([Wx, Wh, Ws, b])
    x, z, h, c = (rng.normal(size=(n, k)) for k in (nx, nz, u, u))
    g = x @ Wx + h @ Wh + b
    s = z @ Ws
    i, f = _sigmoid(g[:, :u] + s[:, :u]), _sigmoid(g[:, u:2 * u])
    ct, o = np.tanh(g[:, 2 * u:3 * u] + s[:, u:]), _sigmoid(g[:, 3 * u:])
    c_ref = f * c + i * ct
    h_ref = o * np.tanh(c_ref)
    h1, (_, c1) = cell(np.hstack([x, z]).astype("float32"), [h.astype("float32"), c.astype("float32")])
    assert np.allclose(np.asarray(c1), c_ref, atol=1e-5) and np.allclose(np.asarray(h1), h_ref, atol=1e-5)
    # the forget-gate bias starts at 1, as in Keras's LSTM
    fresh = _cell(u, nz, nx)
    assert np.allclose(fresh.get_weights()[3][u:2 * u], 1) and np.allclose(fresh.get_weights()[3][:u], 0)


@pytest.mark.slow
def test_masked_sequence_with_zero_static_equals_keras_lstm():
    import keras

    rng = np.random.default_rng(3)
    n, T, nx, nz, u = 4, 5, 3, 2, 6
    X = rng.normal(size=(n, T, nx)).astype("float32")
    X[1, 3:] = fl.MASK_VALUE
    X[2, 1:] = fl.MASK_VALUE
    Z = rng.normal(size=(n, nz)).astype("float32")
    model = fl.build_multitask_lstm(nx, nz, units=u, heads=("risk",), fusion="gates", max_len=T)
    cell = model.get_layer("lstm").cell
    W = cell.get_weights()
    cell.set_weights([W[0], W[1], np.zeros_like(W[2]), W[3]])
    inp = keras.Input(shape=(T, nx))
    ref = keras.Model(inp, keras.layers.LSTM(u)(keras.layers.Masking(fl.MASK_VALUE)(inp)))
    ref.layers[-1].set_weights([W[0], W[1], W[3]])
    h_model = keras.Model(model.inputs, model.get_layer("lstm").output)
    got = np.asarray(h_model({"dynamic": X, "static": Z}))
    assert np.allclose(got, np.asarray(ref(X)), atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("fusion", fl.FUSIONS)
def test_build_multitask_lstm(fusion):
    model = fl.build_multitask_lstm(5, 4, units=8, fusion=fusion, max_len=6)
    names = sorted(i.name for i in model.inputs)
    assert names == (["dynamic"] if fusion == "none" else ["dynamic", "static"])
    feed = {"dynamic": np.zeros((3, 6, 5), "float32"), "static": np.zeros((3, 4), "float32")}
    if fusion == "none":
        feed.pop("static")
    out = model(feed)
    assert sorted(out) == sorted(fl.HEADS) and all(tuple(v.shape) == (3, 1) for v in out.values())


def test_build_rejects_bad_arguments():
    with pytest.raises(ValueError, match="heads"):
        fl.build_multitask_lstm(5, 4, heads=("gpa",))
    with pytest.raises(ValueError, match="fusion"):
        fl.build_multitask_lstm(5, 4, fusion="add")


def _toy(n=600, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, 4, 3)).astype("float32")
    lengths = rng.integers(2, 5, n)
    for i, k in enumerate(lengths):
        X[i, k:] = fl.MASK_VALUE
    last = X[np.arange(n), lengths - 1, 0]
    Z = rng.normal(size=(n, 3)).astype("float32")
    y = (last + 0.2 * Z[:, 0] + 0.1 * rng.normal(size=n) > 0.5).astype(float)
    grade = np.where(rng.random(n) < 0.3, fl.MASK_VALUE, last)
    return X, Z, {"risk": y, "grade": grade, "engagement": rng.random(n)}


@pytest.mark.slow
def test_multitask_lstm_learns_is_deterministic_and_keeps_its_weights():
    from sklearn.metrics import roc_auc_score

    X, Z, Y = _toy()
    params = dict(units=8, epochs=8, learning_rate=0.02, decay_k=0.1, batch_size=64, random_state=0)
    a = fl.MultiTaskLSTM(**params).fit(X[:400], Z[:400], {h: v[:400] for h, v in Y.items()})
    pa = a.predict_proba(X[400:], Z[400:])
    assert sorted(pa) == sorted(fl.HEADS) and all(((v >= 0) & (v <= 1)).all() for v in pa.values())
    assert roc_auc_score(Y["risk"][400:], pa["risk"]) > 0.8
    lr = float(np.asarray(a.model_.optimizer.learning_rate))
    assert abs(lr - 0.02 * np.exp(-0.1 * 7)) < 1e-6, "learning rate of the last epoch: alpha0 exp(-k (epochs - 1))"
    b = fl.MultiTaskLSTM(**params).fit(X[:400], Z[:400], {h: v[:400] for h, v in Y.items()})
    assert np.array_equal(b.predict_proba(X[400:], Z[400:])["risk"], pa["risk"]), "same seed, same model"
    c = fl.MultiTaskLSTM(**params).fit(X[200:], Z[200:], {h: v[200:] for h, v in Y.items()})
    assert c.model_ is a.model_  # the compiled model is reused ...
    assert np.array_equal(a.predict_proba(X[400:], Z[400:])["risk"], pa["risk"])  # ... without changing a
    single = fl.MultiTaskLSTM(**dict(params, heads=("risk",), fusion="none", epochs=2)).fit(X, None, Y["risk"])
    assert list(single.predict_proba(X)) == ["risk"]
    with pytest.raises(ValueError, match="static"):
        fl.MultiTaskLSTM(fusion="gates").fit(X, None, Y)


@pytest.mark.slow
def test_early_stopping_on_students():
    X, Z, Y = _toy(300, seed=1)
    m = fl.MultiTaskLSTM(units=4, epochs=30, learning_rate=0.05, validation_fraction=0.3, patience=1,
                         random_state=0).fit(X, Z, Y, groups=np.arange(300) // 3)
    assert 2 <= m.n_epochs_ <= 30 and "val_loss" in m.history_
