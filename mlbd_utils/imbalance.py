"""Over-samplers for imbalanced, ordinal or many-class targets, and the metrics of the imbalance labs.

Two samplers from the course's seed papers, both usable wherever an imbalanced-learn sampler is
(``fit_resample``, :class:`imblearn.pipeline.Pipeline`, ``random_state``):

* :class:`GMCSMOTE` -- Gaussian Multi-Class SMOTE (Tan, Tan, Soon & Ong, EDM 2022): oversample every
  score class towards a target that decays with the distance from the mode class, capped at 250 % of
  the class, after replicating tiny classes to six members; then SMOTE.
* :class:`SEDG` -- Synthetic Embedding-based Data Generation (Huh & Rangwala): pick source samples
  (favouring rare classes), pick a few of their discrete features (favouring imbalanced ones), and
  replace each by the most similar *other* value of that feature in an embedding space.

Both papers leave choices open; each open choice is a documented parameter whose default is the
reading of ``shared/notes/seed-papers.md`` (sections 1.2 and 2.1). The neural embedding of SEDG lives
in :mod:`mlbd_utils.imbalance_neural` (TensorFlow/Keras) and is imported only when asked for, so that
``import mlbd_utils.imbalance`` stays light.

Metrics: :func:`class_auc` (one-vs-rest AUC per class present) and :func:`percent_improvement`.
Quadratic weighted kappa is *not* here: the GMC-SMOTE lab asks the students to write it (use
``sklearn.metrics.cohen_kappa_score(y, p, weights="quadratic", labels=range(lo, hi + 1))``).
"""
from __future__ import annotations

import numbers
from collections import Counter

import numpy as np
from imblearn.base import BaseSampler
from imblearn.over_sampling import SMOTE, RandomOverSampler
from imblearn.utils import check_sampling_strategy
from scipy import sparse
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import label_binarize
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets

__all__ = ["GMCSMOTE", "SEDG", "class_auc", "percent_improvement", "imbalance_weights"]


# --------------------------------------------------------------------------------------------
# shared sampler plumbing
# --------------------------------------------------------------------------------------------

class _OverSampler(BaseSampler):
    """An over-sampler whose ``sampling_strategy`` may also be a method-specific keyword.

    imbalanced-learn's ``fit_resample`` validates ``sampling_strategy`` against its own list; the two
    samplers below add their own default (``"gmc"``, ``"budget"``), so ``fit_resample`` is the mixin's
    with that one substitution. Not a :class:`imblearn.over_sampling.base.BaseOverSampler` on purpose:
    neither method balances the classes by default, which imblearn's checks expect of those.
    """

    _sampling_type = "over-sampling"
    _own_strategy = ""

    def _strategy(self, y):
        if isinstance(self.sampling_strategy, str) and self.sampling_strategy == self._own_strategy:
            return check_sampling_strategy(self._default_targets, y, self._sampling_type)
        return check_sampling_strategy(self.sampling_strategy, y, self._sampling_type)

    def fit(self, X, y, **params):
        """Check the inputs and compute ``sampling_strategy_`` (use :meth:`fit_resample`)."""
        X, y, _ = self._check_X_y(X, y)
        self.sampling_strategy_ = self._strategy(y)
        return self

    def fit_resample(self, X, y, **params):
        """Resample ``X, y``: the originals first, the new samples after them.

        Returns ``X_resampled, y_resampled`` of the input's type (array, sparse matrix, DataFrame, list).
        """
        from imblearn.utils._validation import ArraysTransformer

        check_classification_targets(y)
        arrays_transformer = ArraysTransformer(X, y)
        X, y, binarize_y = self._check_X_y(X, y)
        self.sampling_strategy_ = self._strategy(y)
        X_res, y_res = self._fit_resample(X, y)
        if binarize_y:
            y_res = label_binarize(y_res, classes=np.unique(y))
        return arrays_transformer.transform(X_res, y_res)


def _stack(X, X_new):
    if sparse.issparse(X):
        return sparse.vstack([X, sparse.csr_matrix(X_new)], format=X.format)
    return np.vstack([X, np.asarray(X_new, dtype=X.dtype)])


# --------------------------------------------------------------------------------------------
# GMC-SMOTE
# --------------------------------------------------------------------------------------------

def _gmc_rule(counts: dict, cap: float, distance: str, rule: str, mode_ties: str) -> tuple[object, dict]:
    classes = sorted(counts)
    top = max(counts.values())
    tied = [c for c in classes if counts[c] == top]
    mode = tied[0] if mode_ties == "lowest" else tied[-1]
    rank = {c: i for i, c in enumerate(classes)}
    out = {}
    for c in classes:
        n = counts[c]
        if c == mode:
            out[c] = n
            continue
        d = (mode - c) if distance == "score" else (rank[mode] - rank[c])
        if rule == "harmonic":
            out[c] = max(n, int(min(top / abs(d), cap * n)))
        else:  # "literal": Algorithm 1 as printed, with posAway = |M - class|
            ratio = n / abs(d)
            out[c] = int(n * cap) if ratio > cap else int(ratio)
    return mode, out


class GMCSMOTE(_OverSampler):
    """Gaussian Multi-Class SMOTE for ordinal score classes (Tan et al., EDM 2022).

    1. Classes with fewer than ``min_class_size`` members are replicated (random duplicates) up to
       ``min_class_size`` -- SMOTE with 5 neighbours needs six members.
    2. Target counts (``sampling_strategy="gmc"``), from the class counts ``D_c`` *before* step 1 and the
       mode ``M`` (the most frequent class, count ``D_M``)::

           target(M) = D_M;   target(c) = max(D_c, min(D_M / |M - c|, cap * D_c))   (rule="harmonic")

       a 1/distance decay from the mode, capped at ``cap`` (250 %) of the class, never below the class.
       This is the coherent reading of the paper's Algorithm 1; as printed (``rule="literal"``),
       ``target(c) = D_c / |M - c|``, or ``cap * D_c`` when that ratio exceeds ``cap``, which is below
       ``D_c`` for most classes; an over-sampler cannot remove samples, so such classes stay as they are.
       Targets are floored at the counts after step 1.
    3. ``SMOTE(k_neighbors)`` creates the missing samples of each class, interpolating between a sample
       and one of its ``k_neighbors`` nearest neighbours *of the same class*.

    Classes must be numbers on an ordinal scale (scores). Scale the features first: SMOTE's neighbours
    are Euclidean.

    Parameters
    ----------
    sampling_strategy : "gmc", str, dict or callable, default="gmc"
        ``"gmc"``: the targets above. Anything imbalanced-learn's over-samplers accept (``"not majority"``
        = the paper's *Uniform* setting, a dict ``{class: target count}``, a callable ``y -> dict``)
        replaces step 2; steps 1 and 3 still apply.
    cap : float, default=2.5
        Largest target as a multiple of the class count (the paper's 250 %).
    distance : {"score", "rank"}, default="score"
        ``|M - c|`` in score points, or in ranks among the classes present (differs when some scores
        of the scale are absent, as in ASAP set 8).
    rule : {"harmonic", "literal"}, default="harmonic"
        See step 2.
    mode_ties : {"lowest", "highest"}, default="lowest"
        Which class is the mode when two classes share the largest count.
    min_class_size : int, default=6
        Step 1; ``0`` or ``1`` switches it off.
    k_neighbors : int, default=5
        SMOTE's neighbours; lowered to (smallest resampled class - 1) when a class is smaller.
    random_state : int, RandomState or None, default=None

    Attributes
    ----------
    class_counts_ : dict
        Class counts of the training data.
    mode_ : class label or None
        The mode class (``sampling_strategy="gmc"`` only).
    target_counts_ : dict
        Class counts after resampling.
    sampling_strategy_ : dict
        Samples added per class (imbalanced-learn's convention).
    n_synthetic_ : int
        Number of SMOTE samples (replicated rows of step 1 not included).
    """

    _own_strategy = "gmc"

    def __init__(self, sampling_strategy="gmc", *, cap=2.5, distance="score", rule="harmonic",
                 mode_ties="lowest", min_class_size=6, k_neighbors=5, random_state=None):
        self.sampling_strategy = sampling_strategy
        self.cap = cap
        self.distance = distance
        self.rule = rule
        self.mode_ties = mode_ties
        self.min_class_size = min_class_size
        self.k_neighbors = k_neighbors
        self.random_state = random_state

    def _validate(self):
        if self.distance not in ("score", "rank"):
            raise ValueError(f"GMCSMOTE: distance must be 'score' or 'rank', got {self.distance!r}")
        if self.rule not in ("harmonic", "literal"):
            raise ValueError(f"GMCSMOTE: rule must be 'harmonic' or 'literal', got {self.rule!r}")
        if self.mode_ties not in ("lowest", "highest"):
            raise ValueError(f"GMCSMOTE: mode_ties must be 'lowest' or 'highest', got {self.mode_ties!r}")
        if not (isinstance(self.cap, numbers.Real) and self.cap >= 1):
            raise ValueError(f"GMCSMOTE: cap must be a number >= 1, got {self.cap!r}")
        if not (isinstance(self.k_neighbors, numbers.Integral) and self.k_neighbors >= 1):
            raise ValueError(f"GMCSMOTE: k_neighbors must be an integer >= 1, got {self.k_neighbors!r}")

    def _default_targets(self, y):
        self._validate()
        counts = Counter(y.tolist())
        if self.distance == "score" and not all(isinstance(c, numbers.Real) for c in counts):
            raise ValueError("GMCSMOTE: sampling_strategy='gmc' with distance='score' needs numeric "
                             f"(ordinal) class labels, got {sorted(map(repr, counts))[:5]}")
        self.mode_, targets = _gmc_rule(counts, self.cap, self.distance, self.rule, self.mode_ties)
        return {c: max(t, counts[c]) for c, t in targets.items()}

    def _fit_resample(self, X, y):
        self._validate()
        counts = Counter(y.tolist())
        self.class_counts_ = dict(sorted(counts.items()))
        if not (isinstance(self.sampling_strategy, str) and self.sampling_strategy == "gmc"):
            self.mode_ = None
        # targets requested by the strategy (sampling_strategy_ holds the numbers to add)
        targets = {c: counts[c] + self.sampling_strategy_.get(c, 0) for c in counts}
        rs = check_random_state(self.random_state)
        seed_ros, seed_smote = rs.randint(np.iinfo(np.int32).max, size=2)
        # 1. replicate tiny classes
        floor = {c: max(n, self.min_class_size) for c, n in counts.items()}
        X_rep, y_rep = X, y
        if any(floor[c] > counts[c] for c in counts):
            ros = RandomOverSampler(sampling_strategy=floor, random_state=seed_ros)
            X_rep, y_rep = ros.fit_resample(X, y)
        # 3. SMOTE to the targets (never below the replicated counts)
        goal = {c: max(targets[c], floor[c]) for c in counts}
        grow = {c: t for c, t in goal.items() if t > floor[c]}
        self.n_synthetic_ = int(sum(goal[c] - floor[c] for c in grow))
        X_res, y_res = X_rep, y_rep
        if grow:
            k = min(self.k_neighbors, min(floor[c] for c in grow) - 1)
            if k < 1:
                raise ValueError("GMCSMOTE: a class to oversample has a single member; set "
                                 "min_class_size >= 2 (the paper uses 6)")
            smote = SMOTE(sampling_strategy=grow, k_neighbors=k, random_state=seed_smote)
            X_res, y_res = smote.fit_resample(X_rep, y_rep)
        self.target_counts_ = dict(sorted(Counter(np.asarray(y_res).tolist()).items()))
        self.sampling_strategy_ = {c: self.target_counts_[c] - counts[c] for c in counts
                                   if self.target_counts_[c] > counts[c]}
        return X_res, np.asarray(y_res, dtype=y.dtype)


# --------------------------------------------------------------------------------------------
# SEDG
# --------------------------------------------------------------------------------------------

def _two_means_gap(counts: np.ndarray) -> float:
    """|mu_1 - mu_2| of the optimal 2-means clustering of 1-D values (exact: best split of the sorted values)."""
    v = np.sort(np.asarray(counts, dtype=float))
    if len(v) < 2 or v[0] == v[-1]:
        return 0.0
    best, gap = np.inf, 0.0
    for i in range(1, len(v)):
        a, b = v[:i], v[i:]
        sse = ((a - a.mean()) ** 2).sum() + ((b - b.mean()) ** 2).sum()
        if sse < best - 1e-12:
            best, gap = sse, abs(b.mean() - a.mean())
    return float(gap)


def imbalance_weights(X) -> np.ndarray:
    """SEDG's imbalance-based feature weights (Sec. 3.2.2), normalised to sum to 1.

    For feature ``i``, the counts ``c_i`` of its distinct values are split into two clusters by
    2-means; ``r_i = |mu_1 - mu_2| / max(c_i)`` (for a binary feature ``1 - min/max``); a constant
    feature gets 0. All zero: uniform weights.
    """
    X = np.asarray(X)
    r = np.array([_two_means_gap(np.unique(X[:, j], return_counts=True)[1]) /
                  max(1, np.unique(X[:, j], return_counts=True)[1].max()) for j in range(X.shape[1])])
    if r.sum() == 0:
        r = np.array([float(len(np.unique(X[:, j])) > 1) for j in range(X.shape[1])])
        if r.sum() == 0:
            r = np.ones(X.shape[1])
    return r / r.sum()


def _class_profile_embeddings(X, y, classes, values, alpha=1.0):
    """Per feature: one row per value, the smoothed class distribution P(class | value)."""
    out = []
    yi = np.searchsorted(classes, y)
    for j, vals in enumerate(values):
        vi = np.searchsorted(vals, X[:, j])
        tab = np.zeros((len(vals), len(classes)))
        np.add.at(tab, (vi, yi), 1.0)
        tab += alpha
        out.append(tab / tab.sum(axis=1, keepdims=True))
    return out


class SEDG(_OverSampler):
    """Synthetic Embedding-based Data Generation for discrete tabular features (Huh & Rangwala).

    Each synthetic sample is a copy of a *selected* training sample in which ``n_features`` *selected*
    features take another value: the value whose embedding is the most similar (cosine) to the current
    value's. The synthetic sample keeps its source's class.

    * **Sample selection** (``sample_selection``): ``"random"``: sources uniform over the samples;
      ``"partition"``: a class is drawn with probability ``p_c`` (``class_weighting="inverse"``:
      ``p_c ∝ 1/|c|``, the reading that favours rare classes; ``"proportional"``: ``p_c ∝ |c|`` as
      printed, which equals random selection), then ``m`` samples of that class, until the budget is
      spent. ``class_weights`` (a dict ``class -> weight``) overrides ``p_c``, e.g. ``1 - class AUC``
      for the paper's partition-performance selection.
    * **Feature selection** (``feature_selection``): ``"imbalance"`` (:func:`imbalance_weights`) or
      ``"random"`` (uniform); ``n_features`` distinct features per sample, drawn with these weights among
      the features with at least two values.
    * **Embedding** (``embedding``): ``"class_profile"`` (default, no training): the embedding of value
      ``v`` of feature ``i`` is the smoothed class distribution ``P(class | x_i = v)`` of the training
      data, so "most similar value" = the value with the most similar class mix; ``"neural"``: the
      per-feature embedding matrices of a small network trained on the task (the paper's WTL,
      :class:`mlbd_utils.imbalance_neural.EmbeddingNet`, needs TensorFlow); or any object with
      ``fit(X_codes, y)`` and a ``feature_embeddings_`` list (one ``(n_values_i, d)`` matrix per feature).
    * ``max_candidates``: compare with at most this many other values (a seeded random subset), as the
      paper suggests for features with many values; ``None``: all of them.
    * ``chain``: with a per-feature embedding the choice does not depend on earlier modifications;
      kept for whole-sample embeddings (an object with ``similarity(x, X_candidates)``).

    Parameters
    ----------
    sampling_strategy : "budget", dict or callable, default="budget"
        ``"budget"``: ``n_samples`` sources chosen by ``sample_selection``. A dict ``{class: target
        count}`` (or imbalanced-learn's strings/callables) fixes how many samples each class gets
        (sources then uniform within the class).
    n_samples : int, default=100
        The budget of synthetic samples (the paper's 100).
    sample_selection, class_weighting, m, class_weights, feature_selection, n_features, embedding,
    max_candidates, chain : see above.
    random_state : int, RandomState or None, default=None

    Attributes
    ----------
    source_index_ : ndarray
        Row of the training data each synthetic sample was made from.
    modified_features_ : list of ndarray
        Columns changed in each synthetic sample.
    feature_weights_ : ndarray
        Feature-selection probabilities.
    class_weights_ : dict
        Class-selection probabilities (``"partition"``).
    embeddings_ : list of ndarray
        Per-feature embedding matrices (rows in the order of ``values_``).
    values_ : list of ndarray
        Sorted distinct values of each feature.
    sampling_strategy_ : dict
        Synthetic samples per class.
    """

    _own_strategy = "budget"

    def __init__(self, sampling_strategy="budget", *, n_samples=100, sample_selection="partition",
                 class_weighting="inverse", m=1, class_weights=None, feature_selection="imbalance",
                 n_features=3, embedding="class_profile", max_candidates=None, chain=True, random_state=None):
        self.sampling_strategy = sampling_strategy
        self.n_samples = n_samples
        self.sample_selection = sample_selection
        self.class_weighting = class_weighting
        self.m = m
        self.class_weights = class_weights
        self.feature_selection = feature_selection
        self.n_features = n_features
        self.embedding = embedding
        self.max_candidates = max_candidates
        self.chain = chain
        self.random_state = random_state

    def _default_targets(self, y):
        # The budget is allocated in _fit_resample (it needs the random state); here: nothing fixed.
        return {}

    def _validate(self):
        if self.sample_selection not in ("random", "partition"):
            raise ValueError(f"SEDG: sample_selection must be 'random' or 'partition', got {self.sample_selection!r}")
        if self.class_weighting not in ("inverse", "proportional"):
            raise ValueError(f"SEDG: class_weighting must be 'inverse' or 'proportional', got {self.class_weighting!r}")
        if self.feature_selection not in ("imbalance", "random"):
            raise ValueError(f"SEDG: feature_selection must be 'imbalance' or 'random', got {self.feature_selection!r}")
        for name in ("n_samples", "m", "n_features"):
            v = getattr(self, name)
            if not (isinstance(v, numbers.Integral) and v >= (0 if name == "n_samples" else 1)):
                raise ValueError(f"SEDG: {name} must be a positive integer, got {v!r}")

    def _select_sources(self, y, classes, counts, rs):
        if not (isinstance(self.sampling_strategy, str) and self.sampling_strategy == "budget"):
            src = []
            for c, n in self.sampling_strategy_.items():
                idx = np.flatnonzero(y == c)
                src.append(rs.choice(idx, size=n, replace=True))
            self.class_weights_ = {}
            return np.concatenate(src) if src else np.zeros(0, dtype=int)
        n = self.n_samples
        if self.sample_selection == "random":
            self.class_weights_ = {}
            return rs.choice(len(y), size=n, replace=True)
        if self.class_weights is not None:
            w = np.array([float(self.class_weights.get(c, 0.0)) for c in classes])
        elif self.class_weighting == "inverse":
            w = 1.0 / counts
        else:
            w = counts.astype(float)
        if w.sum() <= 0 or (w < 0).any():
            raise ValueError("SEDG: class weights must be non-negative and not all zero")
        w = w / w.sum()
        self.class_weights_ = {c: float(p) for c, p in zip(classes.tolist(), w)}
        members = {i: np.flatnonzero(y == c) for i, c in enumerate(classes)}
        src = []
        while len(src) < n:
            i = rs.choice(len(classes), p=w)
            take = min(self.m, n - len(src), len(members[i]))
            src.extend(rs.choice(members[i], size=take, replace=False).tolist())
        return np.asarray(src, dtype=int)

    def _embeddings(self, X, y, classes, values):
        emb = self.embedding
        if isinstance(emb, str):
            if emb == "class_profile":
                return _class_profile_embeddings(X, y, classes, values)
            if emb == "neural":
                from .imbalance_neural import EmbeddingNet  # lazy: TensorFlow
                emb = EmbeddingNet(random_state=self.random_state)
            else:
                raise ValueError(f"SEDG: embedding must be 'class_profile', 'neural' or an object, got {emb!r}")
        codes = np.column_stack([np.searchsorted(v, X[:, j]) for j, v in enumerate(values)])
        emb.fit(codes, np.searchsorted(classes, y))
        mats = [np.asarray(e, dtype=float) for e in emb.feature_embeddings_]
        if len(mats) != X.shape[1] or any(len(e) < len(v) for e, v in zip(mats, values)):
            raise ValueError("SEDG: the embedder's feature_embeddings_ must hold one matrix per feature "
                             "with one row per value code")
        return mats

    def _fit_resample(self, X, y):
        self._validate()
        is_sparse = sparse.issparse(X)
        Xd = X.toarray() if is_sparse else np.asarray(X)
        rs = check_random_state(self.random_state)
        classes, counts = np.unique(y, return_counts=True)
        self.values_ = [np.unique(Xd[:, j]) for j in range(Xd.shape[1])]
        self.embeddings_ = self._embeddings(Xd, y, classes, self.values_)
        if self.feature_selection == "imbalance":
            fw = imbalance_weights(Xd)
        else:
            fw = np.ones(Xd.shape[1]) / Xd.shape[1]
        varying = np.array([len(v) > 1 for v in self.values_])
        fw = np.where(varying, fw, 0.0)
        if fw.sum() == 0:
            fw = varying.astype(float)
        self.feature_weights_ = fw / fw.sum() if fw.sum() > 0 else fw
        src = self._select_sources(y, classes, counts, rs)
        X_new = Xd[src].copy()
        unit = [e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12) for e in self.embeddings_]
        k = int(min(self.n_features, varying.sum()))
        modified = []
        for r in range(len(src)):
            if k == 0:
                modified.append(np.zeros(0, dtype=int))
                continue
            feats = rs.choice(Xd.shape[1], size=k, replace=False, p=self.feature_weights_)
            for j in feats:
                vals = self.values_[j]
                cur = int(np.searchsorted(vals, X_new[r, j]))
                cand = np.delete(np.arange(len(vals)), cur)
                if self.max_candidates is not None and len(cand) > self.max_candidates:
                    cand = rs.choice(cand, size=self.max_candidates, replace=False)
                sims = unit[j][cand] @ unit[j][cur]
                X_new[r, j] = vals[cand[int(np.argmax(sims))]]
            modified.append(np.sort(feats))
        self.source_index_ = src
        self.modified_features_ = modified
        y_new = y[src]
        self.sampling_strategy_ = dict(sorted(Counter(y_new.tolist()).items()))
        X_res = _stack(X, X_new) if is_sparse else np.vstack([Xd, X_new]).astype(Xd.dtype, copy=False)
        return X_res, np.concatenate([y, y_new]).astype(y.dtype, copy=False)

    def _check_X_y(self, X, y, accept_sparse=None):
        return super()._check_X_y(X, y, accept_sparse=["csr", "csc"])


# --------------------------------------------------------------------------------------------
# metrics
# --------------------------------------------------------------------------------------------

def class_auc(y_true, proba, classes) -> dict:
    """One-vs-rest AUC of each class that has positives *and* negatives in ``y_true``.

    ``proba[:, k]`` is the score of ``classes[k]`` (``predict_proba`` with ``classes = model.classes_``).
    Classes absent from ``y_true`` (or the only class present) have no AUC and are left out.
    """
    y_true = np.asarray(y_true)
    proba = np.asarray(proba, dtype=float)
    classes = list(classes)
    if proba.ndim != 2 or proba.shape != (len(y_true), len(classes)):
        raise ValueError(f"class_auc: proba must have shape (n_samples, n_classes) = "
                         f"({len(y_true)}, {len(classes)}), got {proba.shape}")
    out = {}
    for k, c in enumerate(classes):
        pos = y_true == c
        if 0 < pos.sum() < len(y_true):
            out[c] = float(roc_auc_score(pos, proba[:, k]))
    return out


def percent_improvement(before, after, relative: bool = False, scale: float = 100.0):
    """Improvement of a score, as SEDG's Eq. 6 (``after - before``) times ``scale``.

    ``scale=100`` gives percentage points (the SEDG paper's Table 1: accuracy points); ``relative=True``
    divides by ``before`` first (the GMC-SMOTE abstract's "0.038 QWK (5.8 %)"). Dicts (or Series) are
    compared key by key over the keys present in both.
    """
    if isinstance(before, dict) or hasattr(before, "keys"):
        keys = [k for k in before.keys() if k in after]
        return {k: percent_improvement(before[k], after[k], relative, scale) for k in keys}
    b, a = float(before), float(after)
    d = (a - b) / b if relative else a - b
    return d * scale
