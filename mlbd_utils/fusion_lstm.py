"""Static-fusion LSTM with multi-task heads (Wang et al.'s academic-performance LSTM), with Keras 3.

The paper feeds *static* features ``z`` (demographics) into an LSTM only through the input gate and the
candidate cell (its Eq. 1-3)::

    f_t  = sigmoid(W_f [h_{t-1}, x_t] + b_f)
    i_t  = sigmoid(W_i [h_{t-1}, x_t, z] + b_i)
    c~_t = tanh(W_c [h_{t-1}, x_t, z] + b_c)
    o_t  = sigmoid(W_o [h_{t-1}, x_t] + b_o)          (not written in the paper: the standard one)
    c_t  = f_t * c_{t-1} + i_t * c~_t,   h_t = o_t * tanh(c_t)

and reads three sigmoid heads off the last state: risk, grade ("GPA", scaled to [0, 1]) and engagement.

* ``StaticFusionLSTMCell`` (a Keras 3 layer, for ``keras.layers.RNN``): its input at every step is the
  concatenation ``[x_t, z]`` (the last ``n_static`` features are ``z``). Weights: ``kernel``
  ``(n_dynamic, 4 units)`` and ``recurrent_kernel`` ``(units, 4 units)`` in Keras's gate order
  ``i, f, c, o``, ``bias`` ``(4 units)``, and ``static_kernel`` ``(n_static, 2 units)`` for ``i`` and
  ``c~`` only. With ``static_kernel = 0`` it is exactly ``keras.layers.LSTMCell``.
* :func:`build_multitask_lstm` builds and compiles the model: ``fusion="gates"`` (the cell above),
  ``"concat"`` (a standard LSTM on ``[x_t, z]``: ``z`` enters every gate) or ``"none"`` (no static
  input); heads among ``("risk", "grade", "engagement")``; masked losses (targets equal to
  :data:`MASK_VALUE` are ignored); Adam with an exponentially decaying learning rate
  ``alpha0 * exp(-decay_k * epoch)`` (``keras.optimizers.schedules.ExponentialDecay``, applied per step).
* :class:`MultiTaskLSTM` is a scikit-learn-style estimator: ``fit(X, Z, Y)`` / ``predict_proba(X, Z)``
  returns a dict head -> probabilities.
* :func:`pad_steps` turns a long frame (one row per step) into padded arrays; :func:`sequence_aggregates`
  summarises padded sequences (mean, last value, last minus first, number of steps) for the regression
  and k-NN baselines; :func:`dtw_distances` gives the DTW distances of short padded sequences (for a DTW
  k-NN with ``KNeighborsClassifier(metric="precomputed")``).

Keras/TensorFlow are imported only when a model or the cell is first used, so ``import mlbd_utils``
stays light. At that point, unless already set, TensorFlow's C++ logging is quietened
(``TF_CPP_MIN_LOG_LEVEL=3``) and oneDNN is turned off (``TF_ENABLE_ONEDNN_OPTS=0``, reproducible CPU results).
"""
from __future__ import annotations

import math
import os
from typing import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

MASK_VALUE = -1.0
HEADS = ("risk", "grade", "engagement")
FUSIONS = ("gates", "concat", "none")

__all__ = ["MASK_VALUE", "HEADS", "FUSIONS", "StaticFusionLSTMCell", "masked_binary_crossentropy",
           "masked_mean_squared_error", "build_multitask_lstm", "MultiTaskLSTM", "pad_steps",
           "sequence_aggregates", "dtw_distances"]


def _keras():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    import logging

    import keras

    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    return keras


# --------------------------------------------------------------------------------------------------
# Arrays
# --------------------------------------------------------------------------------------------------
def pad_steps(steps: pd.DataFrame, keys: pd.DataFrame | Sequence, key_cols: Sequence[str],
              feature_cols: Sequence[str], order_col: str, max_len: int | None = None,
              mask_value: float = MASK_VALUE) -> tuple[np.ndarray, np.ndarray]:
    """Padded ``(n, max_len, n_features)`` array of the steps of each key, in the order of ``keys``.

    Parameters
    ----------
    steps : DataFrame
        One row per step, with the ``key_cols``, the ``feature_cols`` and ``order_col``.
    keys : DataFrame or sequence
        The sequences to build, one row per sequence (columns ``key_cols``); a key without steps gives
        an all-padded sequence.
    order_col : str
        Steps are ordered by it (ties keep the frame's order).
    max_len : int, optional
        Length of the output (the longest sequence when None); longer sequences keep their last steps.

    Returns
    -------
    X : float32 array ``(n, max_len, n_features)``, ``mask_value`` on padded steps (at the end).
    mask : bool array ``(n, max_len)``, True on real steps.
    """
    key_cols, feature_cols = list(key_cols), list(feature_cols)
    keys = pd.DataFrame(keys, columns=key_cols) if not isinstance(keys, pd.DataFrame) else keys[key_cols]
    missing = [c for c in key_cols + feature_cols + [order_col] if c not in steps.columns]
    if missing:
        raise KeyError(f"pad_steps: steps has no column(s) {missing}")
    pos = keys.reset_index(drop=True).reset_index().rename(columns={"index": "_seq"})
    s = steps.merge(pos, on=key_cols, how="inner").sort_values(["_seq", order_col], kind="stable")
    t = s.groupby("_seq").cumcount().to_numpy()
    lengths = s.groupby("_seq").size()
    n = len(keys)
    longest = int(lengths.max()) if len(lengths) else 1
    T = longest if max_len is None else int(max_len)
    if max_len is not None and longest > T:  # keep the last T steps
        t = t - (s["_seq"].map(lengths).to_numpy() - np.minimum(s["_seq"].map(lengths).to_numpy(), T))
    keep = t >= 0
    X = np.full((n, T, len(feature_cols)), mask_value, dtype=np.float32)
    X[s["_seq"].to_numpy()[keep], t[keep]] = s[feature_cols].to_numpy(dtype=np.float32)[keep]
    mask = np.zeros((n, T), dtype=bool)
    mask[s["_seq"].to_numpy()[keep], t[keep]] = True
    return X, mask


def sequence_aggregates(X: np.ndarray, mask: np.ndarray, names: Sequence[str] | None = None) -> pd.DataFrame:
    """Per sequence: mean, last value and last minus first of every feature over its real steps, and
    ``n_steps``. Sequences without a real step get 0 everywhere."""
    X = np.asarray(X, dtype=float)
    mask = np.asarray(mask, dtype=bool)
    n, T, F = X.shape
    names = list(names) if names is not None else [f"f{j}" for j in range(F)]
    n_steps = mask.sum(axis=1)
    w = mask[..., None].astype(float)
    mean = (np.where(mask[..., None], X, 0.0) * w).sum(axis=1) / np.maximum(n_steps, 1)[:, None]
    has = n_steps > 0
    last_idx = np.where(has, T - 1 - np.argmax(mask[:, ::-1], axis=1), 0)
    first_idx = np.argmax(mask, axis=1)
    rows = np.arange(n)
    last = np.where(has[:, None], X[rows, last_idx], 0.0)
    first = np.where(has[:, None], X[rows, first_idx], 0.0)
    out = {}
    for j, nm in enumerate(names):
        out[f"{nm}_mean"] = mean[:, j]
        out[f"{nm}_last"] = last[:, j]
        out[f"{nm}_change"] = last[:, j] - first[:, j]
    out["n_steps"] = n_steps.astype(float)
    return pd.DataFrame(out)


def dtw_distances(X_a: np.ndarray, mask_a: np.ndarray, X_b: np.ndarray, mask_b: np.ndarray,
                  block: int = 256) -> np.ndarray:
    """Dynamic-time-warping distances between the real steps of padded sequences, ``(n_a, n_b)``.

    The same distances as ``tslearn.metrics.cdist_dtw`` on the unpadded sequences (squared Euclidean
    step cost, square root of the total), computed by one dynamic programme over all pairs at once:
    for short sequences (a few steps, as at an early cutoff) it is much faster than a per-pair loop.
    Use it with ``sklearn.neighbors.KNeighborsClassifier(metric="precomputed")`` for a DTW k-NN.
    Sequences must have at least one real step, at the start (padding at the end).
    """
    X_a, X_b = np.asarray(X_a, dtype=float), np.asarray(X_b, dtype=float)
    la, lb = np.asarray(mask_a, bool).sum(1), np.asarray(mask_b, bool).sum(1)
    if (la == 0).any() or (lb == 0).any():
        raise ValueError("dtw_distances: every sequence needs at least one real step")
    X_a, X_b = np.where(np.asarray(mask_a, bool)[..., None], X_a, 0.0), np.where(np.asarray(mask_b, bool)[..., None], X_b, 0.0)
    T1, T2 = X_a.shape[1], X_b.shape[1]
    out = np.empty((len(X_a), len(X_b)))
    for start in range(0, len(X_a), block):
        A = X_a[start:start + block]
        C = ((A[:, None, :, None, :] - X_b[None, :, None, :, :]) ** 2).sum(-1)
        D = np.full((len(A), len(X_b), T1 + 1, T2 + 1), np.inf)
        D[:, :, 0, 0] = 0.0
        for i in range(1, T1 + 1):
            for j in range(1, T2 + 1):
                D[:, :, i, j] = C[:, :, i - 1, j - 1] + np.minimum(np.minimum(D[:, :, i - 1, j], D[:, :, i, j - 1]),
                                                                   D[:, :, i - 1, j - 1])
        rows = np.arange(len(A))[:, None]
        out[start:start + block] = np.sqrt(D[rows, np.arange(len(X_b))[None, :], la[start:start + block, None],
                                             lb[None, :]])
    return out


# --------------------------------------------------------------------------------------------------
# The cell (built on first use, so that Keras is imported lazily)
# --------------------------------------------------------------------------------------------------
_CELL_CLASS = None


def _cell_class():
    global _CELL_CLASS
    if _CELL_CLASS is not None:
        return _CELL_CLASS
    keras = _keras()
    from keras import ops

    @keras.saving.register_keras_serializable(package="mlbd_utils")
    class StaticFusionLSTMCell(keras.layers.Layer):
        """One LSTM step whose static inputs enter the input gate and the candidate only (Eq. 1-3).

        Parameters
        ----------
        units : int
            Size of ``h`` and ``c``.
        n_static : int
            The last ``n_static`` features of each step's input are the static features ``z``.
        unit_forget_bias : bool
            Initialise the forget-gate bias to 1 (as Keras's LSTM).
        """

        def __init__(self, units: int, n_static: int, unit_forget_bias: bool = True,
                     kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                     static_initializer="glorot_uniform", **kwargs):
            super().__init__(**kwargs)
            if units < 1 or n_static < 0:
                raise ValueError(f"units must be >= 1 and n_static >= 0, got {units}, {n_static}")
            self.units = int(units)
            self.n_static = int(n_static)
            self.unit_forget_bias = bool(unit_forget_bias)
            self.kernel_initializer = keras.initializers.get(kernel_initializer)
            self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
            self.static_initializer = keras.initializers.get(static_initializer)
            self.state_size = [self.units, self.units]
            self.output_size = self.units

        def build(self, input_shape):
            n_in = int(input_shape[-1])
            self.n_dynamic = n_in - self.n_static
            if self.n_dynamic < 1:
                raise ValueError(f"StaticFusionLSTMCell: {n_in} input features but n_static={self.n_static}")
            u = self.units
            self.kernel = self.add_weight(shape=(self.n_dynamic, 4 * u), name="kernel",
                                          initializer=self.kernel_initializer)
            self.recurrent_kernel = self.add_weight(shape=(u, 4 * u), name="recurrent_kernel",
                                                    initializer=self.recurrent_initializer)
            self.static_kernel = self.add_weight(shape=(max(self.n_static, 1), 2 * u), name="static_kernel",
                                                 initializer=self.static_initializer if self.n_static else "zeros",
                                                 trainable=self.n_static > 0)

            def bias_init(shape, dtype=None):
                b = np.zeros(shape, dtype="float32")
                if self.unit_forget_bias:
                    b[u:2 * u] = 1.0
                return ops.convert_to_tensor(b, dtype=dtype)
            self.bias = self.add_weight(shape=(4 * u,), name="bias", initializer=bias_init)
            super().build(input_shape)

        def call(self, inputs, states, training=False):
            h_prev, c_prev = states[0], states[1]
            x = inputs[:, :self.n_dynamic]
            g = ops.matmul(x, self.kernel) + ops.matmul(h_prev, self.recurrent_kernel) + self.bias
            g_i, g_f, g_c, g_o = ops.split(g, 4, axis=-1)
            if self.n_static:
                s_i, s_c = ops.split(ops.matmul(inputs[:, self.n_dynamic:], self.static_kernel), 2, axis=-1)
                g_i, g_c = g_i + s_i, g_c + s_c
            i = ops.sigmoid(g_i)
            f = ops.sigmoid(g_f)
            c_tilde = ops.tanh(g_c)
            o = ops.sigmoid(g_o)
            c = f * c_prev + i * c_tilde
            h = o * ops.tanh(c)
            return h, [h, c]

        def get_config(self):
            cfg = super().get_config()
            cfg.update(units=self.units, n_static=self.n_static, unit_forget_bias=self.unit_forget_bias,
                       kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
                       recurrent_initializer=keras.initializers.serialize(self.recurrent_initializer),
                       static_initializer=keras.initializers.serialize(self.static_initializer))
            return cfg

    _CELL_CLASS = StaticFusionLSTMCell
    return _CELL_CLASS


_FUSE_CLASS = None


def _fuse_class():
    """A layer ``[x (n, T, F), z (n, S)] -> [x, z repeated over T]`` that keeps the mask of ``x``."""
    global _FUSE_CLASS
    if _FUSE_CLASS is None:
        keras = _keras()
        from keras import ops

        class RepeatStatic(keras.layers.Layer):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.supports_masking = True

            def call(self, inputs, mask=None):
                x, z = inputs
                zt = ops.repeat(ops.expand_dims(z, 1), ops.shape(x)[1], axis=1)
                return ops.concatenate([x, ops.cast(zt, x.dtype)], axis=-1)

            def compute_mask(self, inputs, mask=None):
                return None if mask is None else mask[0]

            def compute_output_shape(self, input_shapes):
                xs, zs = input_shapes
                return tuple(xs[:-1]) + (xs[-1] + zs[-1],)

        _FUSE_CLASS = RepeatStatic
    return _FUSE_CLASS


def __getattr__(name):  # lazy: ``fusion_lstm.StaticFusionLSTMCell`` imports Keras on first access
    if name == "StaticFusionLSTMCell":
        return _cell_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --------------------------------------------------------------------------------------------------
# Losses
# --------------------------------------------------------------------------------------------------
def _masked_mean(values, y_true, mask_value):
    from keras import ops

    w = ops.cast(ops.not_equal(y_true, mask_value), values.dtype)
    return ops.sum(values * w) / ops.maximum(ops.sum(w), 1.0)


def masked_binary_crossentropy(y_true, y_pred, mask_value: float = MASK_VALUE):
    """Binary cross-entropy averaged over the targets that are not ``mask_value`` (0 if none)."""
    from keras import ops

    y_true = ops.reshape(ops.cast(y_true, "float32"), (-1,))
    y_pred = ops.clip(ops.reshape(ops.cast(y_pred, "float32"), (-1,)), 1e-7, 1 - 1e-7)
    t = ops.where(ops.equal(y_true, mask_value), 0.0, y_true)
    bce = -(t * ops.log(y_pred) + (1 - t) * ops.log(1 - y_pred))
    return _masked_mean(bce, y_true, mask_value)


def masked_mean_squared_error(y_true, y_pred, mask_value: float = MASK_VALUE):
    """Squared error averaged over the targets that are not ``mask_value`` (0 if none)."""
    from keras import ops

    y_true = ops.reshape(ops.cast(y_true, "float32"), (-1,))
    y_pred = ops.reshape(ops.cast(y_pred, "float32"), (-1,))
    err = ops.square(ops.where(ops.equal(y_true, mask_value), 0.0, y_true - y_pred))
    return _masked_mean(err, y_true, mask_value)


# --------------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------------
def build_multitask_lstm(n_dynamic: int, n_static: int, units: int = 32, heads: Sequence[str] = HEADS,
                         fusion: str = "gates", max_len: int | None = None, dropout: float = 0.0,
                         head_dropout: float = 0.0, learning_rate: float = 1e-3, decay_k: float = 0.0,
                         steps_per_epoch: int = 1, loss_weights: dict | None = None,
                         mask_value: float = MASK_VALUE):
    """Build and compile the static-fusion multi-task LSTM.

    Parameters
    ----------
    n_dynamic, n_static : int
        Features per step (``x_t``) and static features (``z``).
    heads : sequence of {"risk", "grade", "engagement"}
        One sigmoid output per head, read from the last real step's ``h``. ``risk`` uses the masked
        binary cross-entropy, ``grade`` and ``engagement`` the masked squared error.
    fusion : {"gates", "concat", "none"}
        ``z`` through the input gate and candidate only (:class:`StaticFusionLSTMCell`), into every gate
        (a standard LSTM on ``[x_t, z]``), or not at all (the model then has no static input).
    max_len : int, optional
        Fixed sequence length; when given (and at most 20) the recurrence is unrolled (faster on CPU).
    dropout : float
        Dropout on the step inputs (where Keras's ``LSTM(dropout=...)`` puts it).
    head_dropout : float
        Dropout on the last state, before the heads.
    learning_rate, decay_k, steps_per_epoch : float, float, int
        Adam's learning rate decays as ``learning_rate * exp(-decay_k * epoch)``, continuously per step.
    loss_weights : dict, optional
        Weight of each head's loss (1 each by default).

    Returns
    -------
    keras.Model
        Inputs ``{"dynamic": (None, max_len, n_dynamic), "static": (None, n_static)}`` (no ``"static"``
        when ``fusion="none"``); outputs a dict head -> ``(None, 1)``.
    """
    keras = _keras()
    heads = tuple(heads)
    if not heads or any(h not in HEADS for h in heads):
        raise ValueError(f"heads must be a non-empty subset of {HEADS}, got {heads}")
    if fusion not in FUSIONS:
        raise ValueError(f"fusion must be one of {FUSIONS}, got {fusion!r}")
    x_in = keras.Input(shape=(max_len, n_dynamic), name="dynamic")
    inputs = {"dynamic": x_in}
    x = keras.layers.Masking(mask_value=mask_value, name="masking")(x_in)
    if fusion != "none":
        z_in = keras.Input(shape=(n_static,), name="static")
        inputs["static"] = z_in
        x = _fuse_class()(name="repeat_static")([x, z_in])
    if dropout:
        x = keras.layers.Dropout(dropout, name="input_dropout")(x)
    unroll = max_len is not None and max_len <= 20
    if fusion == "gates":
        cell = _cell_class()(units, n_static, name="fusion_cell")
    else:
        cell = keras.layers.LSTMCell(units, name="lstm_cell")
    h = keras.layers.RNN(cell, unroll=unroll, name="lstm")(x)
    if head_dropout:
        h = keras.layers.Dropout(head_dropout, name="head_dropout")(h)
    outputs = {name: keras.layers.Dense(1, activation="sigmoid", name=name)(h) for name in heads}
    model = keras.Model(inputs, outputs, name=f"multitask_lstm_{fusion}")
    lr = learning_rate
    if decay_k:
        lr = keras.optimizers.schedules.ExponentialDecay(learning_rate, decay_steps=max(int(steps_per_epoch), 1),
                                                         decay_rate=math.exp(-decay_k))
    losses = {name: masked_binary_crossentropy if name == "risk" else masked_mean_squared_error for name in heads}
    weights = {name: float((loss_weights or {}).get(name, 1.0)) for name in heads}
    model.compile(optimizer=keras.optimizers.Adam(lr), loss=losses, loss_weights=weights)
    return model


class MultiTaskLSTM(BaseEstimator):
    """The multi-task LSTM as a scikit-learn-style estimator.

    Parameters
    ----------
    units, heads, fusion, dropout, head_dropout, loss_weights
        See :func:`build_multitask_lstm`.
    learning_rate, decay_k : float
        Adam's learning rate in epoch ``e`` (0, 1, ...) is ``learning_rate * exp(-decay_k * e)``
        (a ``keras.callbacks.LearningRateScheduler``; 0 = constant).
    epochs : int
        Maximum number of epochs.
    batch_size : int
    validation_fraction : float
        Share of the training *students* (``groups`` in :meth:`fit`, else rows) held out for early
        stopping on the validation loss (best weights kept); 0 trains for ``epochs`` epochs.
    patience : int
        Epochs without improvement of the validation loss before stopping.
    random_state : int
        Seeds Keras (weights, dropout, batch order) and the validation split.
    verbose : int
        Passed to ``keras.Model.fit``.

    Attributes
    ----------
    model_ : keras.Model
    history_ : dict
    n_epochs_ : int
        Epochs actually run.
    weights_ : list of arrays
        The trained values of ``model_.variables``. Estimators with the same configuration share one
        compiled ``model_`` (tracing it costs seconds, refitting a small one less); ``predict_proba``
        puts this estimator's weights back into it first.
    """

    def __init__(self, units: int = 32, heads: Sequence[str] = HEADS, fusion: str = "gates",
                 dropout: float = 0.0, head_dropout: float = 0.0, learning_rate: float = 1e-3,
                 decay_k: float = 0.0, loss_weights: dict | None = None, epochs: int = 10, batch_size: int = 64,
                 validation_fraction: float = 0.0, patience: int = 3, random_state: int = 0, verbose: int = 0):
        self.units = units
        self.heads = heads
        self.fusion = fusion
        self.dropout = dropout
        self.head_dropout = head_dropout
        self.learning_rate = learning_rate
        self.decay_k = decay_k
        self.loss_weights = loss_weights
        self.epochs = epochs
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.random_state = random_state
        self.verbose = verbose

    def _inputs(self, X, Z):
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 3:
            raise ValueError(f"X must be (n, steps, features), got shape {X.shape}")
        out = {"dynamic": X}
        if self.fusion != "none":
            if Z is None:
                raise ValueError(f"fusion={self.fusion!r} needs the static features Z")
            Z = np.asarray(Z, dtype=np.float32)
            if Z.ndim != 2 or len(Z) != len(X):
                raise ValueError(f"Z must be (n, static features) with n = {len(X)}, got shape {Z.shape}")
            out["static"] = Z
        return out

    def fit(self, X, Z, Y, groups=None) -> "MultiTaskLSTM":
        """Train. ``Y``: a dict head -> targets ``(n,)`` (``MASK_VALUE`` where unknown), or one array
        when there is a single head."""
        keras = _keras()
        heads = tuple(self.heads)
        if not isinstance(Y, dict):
            if len(heads) != 1:
                raise ValueError(f"Y must be a dict with the heads {heads}")
            Y = {heads[0]: Y}
        missing = [h for h in heads if h not in Y]
        if missing:
            raise ValueError(f"Y has no targets for head(s) {missing}")
        inputs = self._inputs(X, Z)
        n = len(inputs["dynamic"])
        targets = {h: np.asarray(Y[h], dtype=np.float32).reshape(-1, 1) for h in heads}
        for h, t in targets.items():
            if len(t) != n:
                raise ValueError(f"head {h!r}: {len(t)} targets for {n} sequences")
        val = None
        fit_idx = np.arange(n)
        if self.validation_fraction:
            rng = np.random.default_rng(self.random_state)
            g = np.asarray(groups) if groups is not None else np.arange(n)
            ug = np.unique(g)
            val_g = rng.choice(ug, size=max(1, int(round(self.validation_fraction * len(ug)))), replace=False)
            is_val = np.isin(g, val_g)
            fit_idx = np.flatnonzero(~is_val)
            val_idx = np.flatnonzero(is_val)
            val = ({k: v[val_idx] for k, v in inputs.items()}, {h: t[val_idx] for h, t in targets.items()})
        n_static = inputs["static"].shape[1] if "static" in inputs else 0
        key = (self.units, heads, self.fusion, float(self.dropout), float(self.head_dropout), float(self.learning_rate),
               tuple(sorted((self.loss_weights or {}).items())), inputs["dynamic"].shape[1:], n_static,
               self.random_state)
        self.model_ = _fresh_model(key, lambda: build_multitask_lstm(
            inputs["dynamic"].shape[2], n_static, self.units, heads, self.fusion, max_len=inputs["dynamic"].shape[1],
            dropout=self.dropout, head_dropout=self.head_dropout, learning_rate=self.learning_rate,
            loss_weights=self.loss_weights))
        keras.utils.set_random_seed(self.random_state)
        alpha0, k = float(self.learning_rate), float(self.decay_k)
        # the learning rate of epoch e (0, 1, ...) is alpha0 * exp(-k e); set at the start of every epoch
        callbacks = [keras.callbacks.LearningRateScheduler(lambda epoch, lr: alpha0 * math.exp(-k * epoch))]
        if val is not None:
            callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=self.patience,
                                                           restore_best_weights=True))
        hist = self.model_.fit({k: v[fit_idx] for k, v in inputs.items()},
                               {h: t[fit_idx] for h, t in targets.items()}, validation_data=val,
                               epochs=self.epochs, batch_size=self.batch_size, shuffle=True,
                               callbacks=callbacks, verbose=self.verbose)
        self.history_ = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
        self.n_epochs_ = len(hist.history.get("loss", []))
        self.weights_ = [np.array(v.numpy()) for v in self.model_.variables]
        self.model_._mlbd_owner = self
        return self

    def predict_proba(self, X, Z=None) -> dict:
        """A dict head -> predicted values ``(n,)`` in [0, 1]."""
        if not hasattr(self, "model_"):
            raise RuntimeError("MultiTaskLSTM: call fit before predict_proba")
        if getattr(self.model_, "_mlbd_owner", None) is not self:  # a later fit reused the compiled model
            for v, w in zip(self.model_.variables, self.weights_):
                v.assign(w)
            self.model_._mlbd_owner = self
        inputs = self._inputs(X, Z)
        n = len(inputs["dynamic"])
        parts = {h: [] for h in tuple(self.heads)}
        for start in range(0, n, 4096):  # eager calls: no tf.function tracing for a one-off prediction
            out = self.model_({k: v[start:start + 4096] for k, v in inputs.items()}, training=False)
            for h in parts:
                parts[h].append(np.asarray(out[h], dtype=float).reshape(-1))
        return {h: np.concatenate(p) if p else np.zeros(0) for h, p in parts.items()}


# Compiled models by configuration. Tracing a Keras model's training step costs seconds (far more than
# training on a few thousand short sequences), so a refit with the same configuration reuses the model:
# every variable is reset to its initial value (the weights Keras draws for this ``random_state``) and the
# optimizer's state (step counter, moments) to zero, which gives the same result as a fresh model.
_MODEL_CACHE: dict = {}
_CACHE_SIZE = 8


def _fresh_model(key, build):
    keras = _keras()
    if key in _MODEL_CACHE:
        model, init = _MODEL_CACHE[key]
        for v, w in zip(model.variables, init):
            v.assign(w)
        for v in model.optimizer.variables:
            if "learning_rate" not in v.path:
                v.assign(np.zeros(v.shape, dtype=v.dtype))
        return model
    keras.utils.set_random_seed(key[-1])
    model = build()
    if len(_MODEL_CACHE) >= _CACHE_SIZE:
        _MODEL_CACHE.pop(next(iter(_MODEL_CACHE)))
    _MODEL_CACHE[key] = (model, [np.array(v.numpy()) for v in model.variables])
    return model
