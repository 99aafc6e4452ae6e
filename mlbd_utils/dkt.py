"""Deep Knowledge Tracing and recurrent models of weekly behaviour (lecture 08), with Keras 3.

Knowledge tracing (ASSISTments-style interactions ``user_id, order_id, skill_name, correct``):

* :func:`prepare_sequences` turns an interactions frame into one sequence per student (split into
  chunks of at most ``max_len`` steps). At step ``t`` the input is the previous interaction of the
  student, encoded as one id per (skill, answer) pair, ``2 * skill + correct`` (a *start* token at
  the student's first row), and the target is the skill and the answer of row ``t``. The first row
  of a student is therefore predicted from no history, and every row gets a prediction.
* :func:`pad_sequences` builds the padded batch arrays: one-hot inputs ``X`` (``mask_value`` on
  every feature of a padded step, which ``keras.layers.Masking`` skips), targets ``Y`` with two
  channels ``[skill, correct]`` (``mask_value`` on padded steps) and the boolean ``mask`` of real
  steps.
* :func:`build_dkt_model` builds the LSTM/GRU model; its loss (:class:`MaskedBinaryCrossentropy`)
  and metrics (:class:`MaskedAUC`, :class:`MaskedRMSE`, :class:`MaskedBinaryAccuracy`) read the
  predicted probability of the target skill and count the **real steps only**.
  :func:`seed_style_auc` reproduces the bug of the original notebook, whose padded steps became
  (label 0, prediction 0) pairs that inflate the AUC (about 0.84 for random predictions on typical
  padding instead of 0.5).
* :class:`DKT` is a scikit-learn-style estimator: ``DKT(...).fit(df).predict_proba(df)`` returns,
  for every row, the probability that the answer is correct given the student's previous rows.

MOOC weekly data (``mooc_feat``, ``mooc_quizzes``, ``mooc_lab``): :func:`minmax_scale_sequences`
scales ``(learners, weeks, features)`` arrays with statistics of the training learners only, and
:func:`build_sequence_regressor` builds a masked regression of a weekly value (metric :class:`MaskedRMSE`
with ``targets="regression"``).

What lecture 08 grades is deliberately **not** here (the student package holds no reference answer, see
``tests/test_student_package.py``): the AUC and the RMSE on real steps / observed weeks in NumPy, the
masked weekly quiz targets, the first weeks of the arrays and the early-warning classifier are the
students' tasks; the hidden tests compute their references inline.

Importing this module imports Keras (TensorFlow backend). Unless already set, it quietens TensorFlow's C++
logging (``TF_CPP_MIN_LOG_LEVEL=3``) and turns oneDNN off (``TF_ENABLE_ONEDNN_OPTS=0``: no start-up notice on
stderr, reproducible CPU results); both only take effect if TensorFlow was not imported before. TensorFlow's
Python warnings (e.g. tf.function retracing notices) are limited to errors.
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import logging  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from keras import ops  # noqa: E402
from sklearn.base import BaseEstimator  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

logging.getLogger("tensorflow").setLevel(logging.ERROR)

MASK_VALUE = -1.0
UNKNOWN_INPUT = -2  # input id of an interaction with a skill unseen in training: an all-zero input vector
COLUMNS = ("user_id", "order_id", "skill_name", "correct")

__all__ = [
    "MASK_VALUE", "Sequences", "prepare_sequences", "pad_sequences", "seed_style_auc", "per_skill_mean",
    "dkt_targets", "regression_targets", "MaskedBinaryCrossentropy", "MaskedMeanSquaredError", "MaskedAUC",
    "MaskedRMSE", "MaskedBinaryAccuracy", "build_dkt_model", "DKT", "minmax_scale_sequences",
    "build_sequence_regressor",
]


# --------------------------------------------------------------------------------------------------
# Sequence preparation
# --------------------------------------------------------------------------------------------------
@dataclass
class Sequences:
    """Per-student (chunked) sequences of a knowledge-tracing frame; see :func:`prepare_sequences`.

    Attributes
    ----------
    inputs : list of int arrays
        Input id of each step: ``2 * skill + correct`` of the *previous* interaction of the student,
        ``start_token`` at the student's first row, ``UNKNOWN_INPUT`` (-2) if the previous skill is
        unknown.
    skills, labels : list of int arrays
        Target skill index (-1: unknown skill) and answer (0/1) of each step.
    rows : list of int arrays
        Position (0-based, ``iloc``) in the original frame of the row each step predicts.
    users : ndarray
        ``user_id`` of each chunk.
    skill_names : pandas.Index
        The skill vocabulary: skill index ``k`` is ``skill_names[k]``.
    """

    inputs: list
    skills: list
    labels: list
    rows: list
    users: np.ndarray
    skill_names: pd.Index

    @property
    def n_skills(self) -> int:
        """Number of skills of the vocabulary (width of the model output)."""
        return len(self.skill_names)

    @property
    def n_features(self) -> int:
        """Width of the one-hot inputs: two per skill (wrong, right) plus the start token."""
        return 2 * self.n_skills + 1

    @property
    def start_token(self) -> int:
        """Input id of a student's first step (no previous interaction)."""
        return 2 * self.n_skills

    @property
    def lengths(self) -> np.ndarray:
        """Number of steps of each chunk."""
        return np.array([len(a) for a in self.inputs], dtype=int)

    def __len__(self) -> int:
        return len(self.inputs)

    def subset(self, idx) -> "Sequences":
        """The chunks at positions ``idx`` (same vocabulary)."""
        idx = np.asarray(idx, dtype=int)
        pick = lambda lst: [lst[i] for i in idx]  # noqa: E731
        return Sequences(pick(self.inputs), pick(self.skills), pick(self.labels), pick(self.rows),
                         self.users[idx], self.skill_names)


def _check_frame(df: pd.DataFrame) -> None:
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise KeyError(f"interactions frame lacks column(s) {missing}; expected {list(COLUMNS)}")
    bad = ~pd.Series(df["correct"]).isin([0, 1])
    if bad.any():
        raise ValueError(f"column 'correct' must hold 0/1; found {pd.unique(df['correct'][bad])[:5].tolist()}")


def prepare_sequences(df: pd.DataFrame, skills=None, max_len: int | None = None) -> Sequences:
    """One sequence per student, split into chunks of at most ``max_len`` steps.

    Parameters
    ----------
    df : DataFrame
        Interactions with columns ``user_id``, ``order_id``, ``skill_name``, ``correct`` (any row
        order: rows are ordered by student, then ``order_id``; ties keep the frame's order).
    skills : sequence of str, optional
        Skill vocabulary (default: the sorted skills of ``df``). Skills of ``df`` outside it get index
        -1: as input they give an all-zero vector, as targets they are masked.
    max_len : int, optional
        Maximum chunk length (default: no splitting). A chunk after the first starts with the
        student's previous interaction as input, so no answer is lost at the cut (the recurrent
        state, however, starts afresh).

    Returns
    -------
    Sequences
        Step ``t`` of a student has as input ``2 * skill + correct`` of row ``t - 1`` (the start token
        for ``t = 0``) and as target the skill and answer of row ``t``.
    """
    _check_frame(df)
    if max_len is not None and max_len < 1:
        raise ValueError("max_len must be a positive integer")
    skill_names = pd.Index(sorted(pd.unique(df["skill_name"].astype(str)))) if skills is None \
        else pd.Index([str(s) for s in skills])
    if skill_names.has_duplicates:
        raise ValueError("the skill vocabulary has duplicates")
    user = df["user_id"].to_numpy()
    order = np.lexsort((df["order_id"].to_numpy(), user))  # stable: ties keep the frame's order
    user = user[order]
    skill = skill_names.get_indexer(df["skill_name"].astype(str).to_numpy()[order]).astype(np.int64)
    correct = df["correct"].to_numpy().astype(np.int64)[order]
    start = 2 * len(skill_names)
    n = len(order)
    if n == 0:
        return Sequences([], [], [], [], np.array([], dtype=user.dtype), skill_names)
    inter = np.where(skill >= 0, 2 * skill + correct, UNKNOWN_INPUT)
    first = np.r_[True, user[1:] != user[:-1]]
    inputs = np.r_[start, inter[:-1]]
    inputs[first] = start
    labels = np.where(skill >= 0, correct, -1)  # unknown target skill: masked
    user_start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    pos = np.arange(n) - user_start
    cut = first | ((pos % max_len) == 0) if max_len else first
    bounds = np.flatnonzero(cut)[1:]
    split = lambda a: np.split(a, bounds)  # noqa: E731
    return Sequences(split(inputs), split(skill), split(labels), split(order.astype(np.int64)),
                     user[np.flatnonzero(cut)], skill_names)


def pad_sequences(seqs: Sequences, length: int | None = None, mask_value: float = MASK_VALUE):
    """Padded arrays of the chunks ``seqs`` (all of them, in order).

    Parameters
    ----------
    seqs : Sequences
    length : int, optional
        Number of time steps ``T`` (default: the longest chunk). Longer chunks raise an error.
    mask_value : float
        Value of every input feature and target channel of a padded step.

    Returns
    -------
    X : float32 array (n, T, n_features)
        One-hot inputs (``mask_value`` on all features of padded steps).
    Y : float32 array (n, T, 2)
        Targets: channel 0 is the skill index, channel 1 the answer; ``mask_value`` on padded steps
        and on targets of unknown skills.
    mask : bool array (n, T)
        True on the real (scored) steps.
    """
    lens = seqs.lengths
    T = int(lens.max()) if length is None else int(length)
    if len(lens) and lens.max() > T:
        raise ValueError(f"a chunk has {lens.max()} steps, more than length={T}")
    n, F = len(seqs), seqs.n_features
    X = np.zeros((n, T, F), dtype=np.float32)
    Y = np.full((n, T, 2), mask_value, dtype=np.float32)
    if n == 0:
        return X, Y, np.zeros((0, T), dtype=bool)
    step = np.arange(T)[None, :]
    real = step < lens[:, None]
    X[~real] = mask_value
    ii = np.repeat(np.arange(n), lens)
    tt = np.concatenate([np.arange(k) for k in lens])
    inp = np.concatenate(seqs.inputs)
    ok = inp >= 0
    X[ii[ok], tt[ok], inp[ok]] = 1.0
    sk, lab = np.concatenate(seqs.skills), np.concatenate(seqs.labels)
    known = lab >= 0
    Y[ii[known], tt[known], 0] = sk[known]
    Y[ii[known], tt[known], 1] = lab[known]
    return X, Y, Y[..., 1] >= 0


# --------------------------------------------------------------------------------------------------
# NumPy / scikit-learn metrics
# --------------------------------------------------------------------------------------------------
def seed_style_auc(Y, P, mask_value: float = MASK_VALUE) -> float:
    """The AUC of the original lecture notebook, **wrong on purpose** (for demonstrations and tests).

    Its ``get_target`` multiplied the targets by ``1 - (y_true == mask_value)``: a padded step then
    has an all-zero skill vector, hence the prediction ``sum(P * 0) = 0`` and the label 0. Those
    (label 0, prediction 0) pairs are counted: every padded step is a perfectly ranked negative, so
    the AUC grows with the amount of padding even for random predictions.
    """
    Y, P = np.asarray(Y), np.asarray(P)
    mask = Y[..., 1] != mask_value
    skill = np.where(mask, Y[..., 0], 0).astype(int)
    p = np.where(mask, np.take_along_axis(P, skill[..., None], axis=-1)[..., 0], 0.0)
    y = np.where(mask, Y[..., 1], 0.0)
    return float(roc_auc_score(y.ravel().astype(int), p.ravel()))


def per_skill_mean(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    """Trivial baseline: for each row of ``test``, the mean correctness of its skill in ``train``
    (the overall training mean for a skill absent from ``train``); ignores the student's history."""
    means = train.groupby("skill_name")["correct"].mean()
    return test["skill_name"].map(means).fillna(train["correct"].mean()).to_numpy(dtype=float)


# --------------------------------------------------------------------------------------------------
# Keras losses and metrics on real steps only
# --------------------------------------------------------------------------------------------------
def dkt_targets(y_true, y_pred):
    """Flattened ``(label, probability of the target skill, mask)`` tensors of a DKT batch.

    ``y_true`` (batch, T, 2) holds ``[skill, correct]`` (``MASK_VALUE`` on padded steps), ``y_pred``
    (batch, T, n_skills) the predicted probability of each skill. Padded steps get mask 0.
    """
    y_true = ops.convert_to_tensor(y_true)
    label = y_true[..., 1]
    mask = ops.cast(ops.greater_equal(label, 0.0), y_pred.dtype)
    skill = ops.cast(ops.maximum(y_true[..., 0], 0.0), "int32")
    p = ops.take_along_axis(y_pred, ops.expand_dims(skill, -1), axis=-1)[..., 0]
    flat = lambda t: ops.reshape(ops.cast(t, y_pred.dtype), (-1,))  # noqa: E731
    return flat(ops.maximum(label, 0.0)), flat(p), flat(mask)


def regression_targets(y_true, y_pred, mask_value: float = MASK_VALUE):
    """Flattened ``(target, prediction, mask)`` tensors; mask 0 where ``y_true == mask_value``."""
    y_true = ops.cast(ops.convert_to_tensor(y_true), y_pred.dtype)
    mask = ops.cast(ops.not_equal(y_true, mask_value), y_pred.dtype)
    flat = lambda t: ops.reshape(t, (-1,))  # noqa: E731
    return flat(ops.where(mask > 0, y_true, 0.0)), flat(y_pred), flat(mask)


_TARGETS = {"dkt": dkt_targets, "regression": regression_targets}


def _masked_mean(values, mask):
    return ops.sum(values * mask) / ops.maximum(ops.sum(mask), 1.0)


class MaskedBinaryCrossentropy(keras.losses.Loss):
    """Binary cross-entropy of the target skill's predicted probability, averaged over real steps.

    Padded steps contribute nothing, and the mean is over the real steps of the batch (not over
    all ``batch * T`` positions), so batches with much padding are not down-weighted.
    """

    def __init__(self, name: str = "masked_binary_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        label, p, mask = dkt_targets(y_true, y_pred)
        p = ops.clip(p, 1e-7, 1.0 - 1e-7)
        return -(label * ops.log(p) + (1.0 - label) * ops.log(1.0 - p)) * mask

    def __call__(self, y_true, y_pred, sample_weight=None):
        _, _, mask = dkt_targets(y_true, y_pred)
        if sample_weight is not None:
            mask = mask * ops.reshape(ops.cast(sample_weight, mask.dtype), (-1,))
        return _masked_mean(self.call(y_true, y_pred), mask)


class MaskedMeanSquaredError(keras.losses.Loss):
    """Mean squared error over the entries whose target is not ``mask_value`` (missing quizzes)."""

    def __init__(self, mask_value: float = MASK_VALUE, name: str = "masked_mse", **kwargs):
        super().__init__(name=name, **kwargs)
        self.mask_value = mask_value

    def call(self, y_true, y_pred):
        y, p, mask = regression_targets(y_true, y_pred, self.mask_value)
        return ops.square(y - p) * mask

    def __call__(self, y_true, y_pred, sample_weight=None):
        _, _, mask = regression_targets(y_true, y_pred, self.mask_value)
        if sample_weight is not None:
            mask = mask * ops.reshape(ops.cast(sample_weight, mask.dtype), (-1,))
        return _masked_mean(self.call(y_true, y_pred), mask)


def _masked_update(metric, parent, y_true, y_pred, sample_weight):
    y, p, mask = _TARGETS[metric.targets](y_true, y_pred)
    if sample_weight is not None:
        mask = mask * ops.reshape(ops.cast(sample_weight, mask.dtype), (-1,))
    return parent.update_state(metric, y, p, sample_weight=mask)


class MaskedAUC(keras.metrics.AUC):
    """ROC AUC over the real steps only (padded steps get sample weight 0).

    ``targets="dkt"`` reads the probability of the target skill (see :func:`dkt_targets`).
    """

    def __init__(self, targets: str = "dkt", name: str = "auc", num_thresholds: int = 200, **kwargs):
        super().__init__(name=name, num_thresholds=num_thresholds, **kwargs)
        self.targets = targets

    def update_state(self, y_true, y_pred, sample_weight=None):
        return _masked_update(self, keras.metrics.AUC, y_true, y_pred, sample_weight)


class MaskedRMSE(keras.metrics.RootMeanSquaredError):
    """Root mean squared error over real steps (``targets="dkt"``) or over the entries whose
    target is not ``MASK_VALUE`` (``targets="regression"``, e.g. weekly quiz scores)."""

    def __init__(self, targets: str = "dkt", name: str = "rmse", **kwargs):
        super().__init__(name=name, **kwargs)
        self.targets = targets

    def update_state(self, y_true, y_pred, sample_weight=None):
        return _masked_update(self, keras.metrics.RootMeanSquaredError, y_true, y_pred, sample_weight)


class MaskedBinaryAccuracy(keras.metrics.BinaryAccuracy):
    """Accuracy (threshold 0.5) of the target skill's prediction over real steps only."""

    def __init__(self, targets: str = "dkt", name: str = "binary_accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.targets = targets

    def update_state(self, y_true, y_pred, sample_weight=None):
        return _masked_update(self, keras.metrics.BinaryAccuracy, y_true, y_pred, sample_weight)


# --------------------------------------------------------------------------------------------------
# Model factories
# --------------------------------------------------------------------------------------------------
_CELLS = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "rnn": keras.layers.SimpleRNN}


def _cell(cell: str):
    try:
        return _CELLS[cell.lower()]
    except KeyError:
        raise ValueError(f"cell must be one of {sorted(_CELLS)}, not {cell!r}") from None


def build_dkt_model(n_skills: int, cell: str = "lstm", units: int = 64, dropout: float = 0.0,
                    learning_rate: float = 1e-3, n_features: int | None = None,
                    mask_value: float = MASK_VALUE) -> keras.Model:
    """Compiled DKT model: Masking -> LSTM/GRU (one output per step) -> Dense(n_skills, sigmoid).

    Inputs are one-hot interactions of width ``n_features`` (default ``2 * n_skills + 1``, as built
    by :func:`pad_sequences`); outputs the probability of answering each skill correctly at the next
    step. Loss :class:`MaskedBinaryCrossentropy`, metrics :class:`MaskedAUC` (``auc``),
    :class:`MaskedRMSE` (``rmse``) and :class:`MaskedBinaryAccuracy`, all on real steps only.
    """
    n_features = 2 * n_skills + 1 if n_features is None else n_features
    inputs = keras.Input(shape=(None, n_features), name="interactions")
    x = keras.layers.Masking(mask_value=mask_value, name="masking")(inputs)
    x = _cell(cell)(units, return_sequences=True, dropout=dropout, name=cell.lower())(x)
    outputs = keras.layers.Dense(n_skills, activation="sigmoid", name="p_correct")(x)
    model = keras.Model(inputs, outputs, name=f"dkt_{cell.lower()}")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=MaskedBinaryCrossentropy(),
                  metrics=[MaskedAUC(), MaskedRMSE(), MaskedBinaryAccuracy()])
    return model


def build_sequence_regressor(n_features: int, cell: str = "lstm", units: int = 32, dropout: float = 0.0,
                             learning_rate: float = 1e-3, mask_value: float = MASK_VALUE) -> keras.Model:
    """Compiled model predicting a value at every week (e.g. the weekly quiz score).

    Masking -> LSTM/GRU (one output per week) -> Dense(1, linear). Loss
    :class:`MaskedMeanSquaredError` and metric :class:`MaskedRMSE` (``targets="regression"``): weeks
    whose target is ``mask_value`` (no quiz taken) are ignored. Input steps whose features all equal
    ``mask_value`` are skipped by the recurrent layer.
    """
    inputs = keras.Input(shape=(None, n_features), name="weeks")
    x = keras.layers.Masking(mask_value=mask_value)(inputs)
    x = _cell(cell)(units, return_sequences=True, dropout=dropout)(x)
    outputs = keras.layers.Dense(1, activation="linear", name="score")(x)
    model = keras.Model(inputs, outputs, name=f"tracing_{cell.lower()}")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=MaskedMeanSquaredError(mask_value),
                  metrics=[MaskedRMSE(targets="regression")])
    return model


# --------------------------------------------------------------------------------------------------
# The DKT estimator
# --------------------------------------------------------------------------------------------------
def _batches(seqs: Sequences, batch_size: int, rng: np.random.Generator | None, multiple: int = 8):
    """Index groups of chunks of similar length (less padding); shuffled when ``rng`` is given."""
    lens = seqs.lengths
    if rng is None:
        order = np.argsort(lens, kind="stable")
    else:  # sort by length with random tie-breaking, then shuffle the batches
        order = np.lexsort((rng.random(len(lens)), lens))
    groups = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if rng is not None:
        groups = [groups[i] for i in rng.permutation(len(groups))]
    out = []
    for g in groups:
        T = int(lens[g].max())
        out.append((g, -(-T // multiple) * multiple))
    return out


def _dataset(seqs: Sequences, batch_size: int, seed: int | None):
    """A ``tf.data.Dataset`` of padded one-hot batches (one-hot built per batch to save memory)."""
    import tensorflow as tf

    rng = None if seed is None else np.random.default_rng(seed)
    n_batches = len(_batches(seqs, batch_size, None))

    def gen():
        for g, T in _batches(seqs, batch_size, rng):
            X, Y, _ = pad_sequences(seqs.subset(g), length=T)
            yield X, Y

    spec = (tf.TensorSpec((None, None, seqs.n_features), tf.float32), tf.TensorSpec((None, None, 2), tf.float32))
    ds = tf.data.Dataset.from_generator(gen, output_signature=spec)
    return ds.apply(tf.data.experimental.assert_cardinality(n_batches)).prefetch(2)


class DKT(BaseEstimator):
    """Deep Knowledge Tracing (Piech et al., 2015) as a scikit-learn-style estimator.

    Parameters
    ----------
    cell : {"lstm", "gru", "rnn"}
        Recurrent layer.
    units : int
        Size of the recurrent state.
    max_len : int
        Students' sequences are cut into chunks of at most ``max_len`` steps.
    epochs : int
        Maximum number of passes over the training chunks.
    batch_size : int
        Chunks per batch (batches group chunks of similar length and are padded to the longest).
    learning_rate : float
        Adam's learning rate.
    dropout : float
        Dropout on the recurrent layer's inputs.
    validation_split : float
        Share of the *students* held out to monitor the masked AUC; the weights of the best epoch are
        kept (early stopping with ``patience``). 0 trains on everything for ``epochs`` epochs.
    patience : int
        Epochs without validation improvement before stopping.
    random_state : int
        Seeds Keras (weights, dropout), the validation split and the batch order.
    verbose : int
        Passed to ``keras.Model.fit``.

    Attributes
    ----------
    model_ : keras.Model
    skills_ : pandas.Index
        Skill vocabulary of the training frame.
    history_ : dict
        ``keras`` training history (loss, auc, rmse, ... and their ``val_`` versions).
    mean_correct_ : float
        Training mean, predicted for rows whose skill was not seen in training.
    """

    def __init__(self, cell: str = "lstm", units: int = 64, max_len: int = 200, epochs: int = 10,
                 batch_size: int = 32, learning_rate: float = 3e-3, dropout: float = 0.0,
                 validation_split: float = 0.1, patience: int = 2, random_state: int = 0, verbose: int = 0):
        self.cell = cell
        self.units = units
        self.max_len = max_len
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.dropout = dropout
        self.validation_split = validation_split
        self.patience = patience
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, df: pd.DataFrame, y=None) -> "DKT":
        """Train on an interactions frame (``user_id, order_id, skill_name, correct``)."""
        _check_frame(df)
        keras.utils.set_random_seed(self.random_state)
        self.skills_ = pd.Index(sorted(pd.unique(df["skill_name"].astype(str))))
        self.mean_correct_ = float(df["correct"].mean())
        seqs = prepare_sequences(df, self.skills_, self.max_len)
        rng = np.random.default_rng(self.random_state)
        users = np.unique(seqs.users)
        n_val = int(round(self.validation_split * len(users))) if self.validation_split else 0
        n_val = min(n_val, len(users) - 1)  # keep at least one training student
        val_users = rng.choice(users, size=n_val, replace=False) if n_val else np.array([], dtype=users.dtype)
        is_val = np.isin(seqs.users, val_users)
        train, val = seqs.subset(np.flatnonzero(~is_val)), seqs.subset(np.flatnonzero(is_val))
        self.model_ = build_dkt_model(len(self.skills_), self.cell, self.units, self.dropout, self.learning_rate)
        callbacks = []
        val_ds = None
        if len(val):
            val_ds = _dataset(val, self.batch_size, None)
            callbacks.append(keras.callbacks.EarlyStopping(monitor="val_auc", mode="max", patience=self.patience,
                                                           restore_best_weights=True))
        hist = self.model_.fit(_dataset(train, self.batch_size, self.random_state), validation_data=val_ds,
                               epochs=self.epochs, callbacks=callbacks, verbose=self.verbose, shuffle=False)
        self.history_ = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
        return self

    def predict_proba(self, df: pd.DataFrame) -> np.ndarray:
        """Probability that each row's answer is correct given the student's previous rows.

        Returns a 1-D array aligned with the rows of ``df`` (a student's first row is predicted from
        no history; the answer of the row itself is never used for its prediction). Rows of skills
        unseen in training get the training mean.
        """
        if not hasattr(self, "model_"):
            raise RuntimeError("DKT: call fit before predict_proba")
        _check_frame(df)
        seqs = prepare_sequences(df, self.skills_, self.max_len)
        out = np.full(len(df), self.mean_correct_, dtype=float)
        predict = self._predict_function()
        for g, T in _batches(seqs, max(self.batch_size, 128), None):
            sub = seqs.subset(g)
            X, Y, mask = pad_sequences(sub, length=T)
            P = np.asarray(predict(X))
            skill = np.where(mask, Y[..., 0], 0).astype(int)
            p = np.take_along_axis(P, skill[..., None], axis=-1)[..., 0]
            rows = np.concatenate(sub.rows)
            real = np.concatenate([m[:k] for m, k in zip(mask, sub.lengths)])
            vals = np.concatenate([q[:k] for q, k in zip(p, sub.lengths)])
            out[rows[real]] = vals[real]
        return out

    def _predict_function(self):
        """The model's forward pass compiled once for any batch size and sequence length."""
        import tensorflow as tf

        if getattr(self, "_predict_fn", None) is None or self._predict_fn[0] is not self.model_:
            spec = tf.TensorSpec((None, None, 2 * len(self.skills_) + 1), tf.float32)
            fn = tf.function(lambda x: self.model_(x, training=False), input_signature=[spec])
            self._predict_fn = (self.model_, fn)
        return self._predict_fn[1]


# --------------------------------------------------------------------------------------------------
# MOOC weekly data
# --------------------------------------------------------------------------------------------------
def minmax_scale_sequences(X_train, *others):
    """Min-max scale (learners, weeks, features) arrays with the training learners' statistics.

    Each feature is mapped to [0, 1] on ``X_train`` (all its weeks); the same transformation is
    applied to ``others`` (validation, test), whose values may fall outside [0, 1].
    Returns the scaled arrays (a tuple when ``others`` are given).
    """
    X_train = np.asarray(X_train, dtype=np.float32)
    F = X_train.shape[-1]
    lo = X_train.reshape(-1, F).min(axis=0)
    span = X_train.reshape(-1, F).max(axis=0) - lo
    span[span == 0] = 1.0
    scaled = [((np.asarray(x, dtype=np.float32) - lo) / span).astype(np.float32) for x in (X_train, *others)]
    return scaled[0] if not others else tuple(scaled)
