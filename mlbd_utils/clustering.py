"""Clustering helpers (lecture 10): k-means step by step, similarity graphs, spectral clustering.

* :class:`KMeansSteps` -- Lloyd's k-means from given initial centres, keeping every intermediate
  step so that it can be plotted; ``labels_[t]`` are the assignments *to* ``centers_[t]``.
* :func:`rbf_similarity` and :func:`similarity_graph` -- a Gaussian (RBF) similarity matrix and the
  fully connected or k-nearest-neighbour graph built from a similarity matrix.
* :class:`SpectralGraphClustering` -- spectral clustering of a precomputed graph (normalised Laplacian,
  symmetric eigensolver ``scipy.linalg.eigh``, k-means on the embedding); it exposes the labels, the
  embedding and the eigenvalues.
* :func:`k_selection_table` -- silhouette, Davies-Bouldin and cluster sizes of spectral clusterings for
  several k, as a tidy table; :func:`plot_kmeans_steps`, :func:`plot_k_selection` draw them.

Everything is deterministic for a given ``random_state``; k-means always runs with an explicit ``n_init``.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy.linalg import eigh
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans
from sklearn.metrics import davies_bouldin_score, silhouette_score
from sklearn.metrics.pairwise import rbf_kernel

__all__ = ["KMeansSteps", "plot_kmeans_steps", "rbf_similarity", "similarity_graph", "SpectralGraphClustering",
           "k_selection_table", "plot_k_selection"]


def _sq_dists(X: np.ndarray, C: np.ndarray) -> np.ndarray:
    return ((X[:, None, :] - C[None, :, :]) ** 2).sum(axis=2)


class KMeansSteps(BaseEstimator, ClusterMixin):
    """Lloyd's k-means from given initial centres, recording every step.

    Step ``t`` assigns every point to its nearest centre among ``centers_[t]`` (``labels_[t]``); the next
    centres ``centers_[t + 1]`` are the means of these clusters (a centre without points stays where it
    is). ``centers_[0]`` is ``init``. After convergence the steps repeat the same centres and labels.

    Parameters
    ----------
    init : array-like of shape (n_clusters, n_features)
        the initial centres (their number is the number of clusters).
    n_steps : int, default 10
        number of assignment steps recorded (``n_steps - 1`` centre updates).

    Attributes
    ----------
    centers_ : ndarray of shape (n_steps, n_clusters, n_features)
    labels_ : ndarray of shape (n_steps, n_samples), ``labels_[t]`` = nearest centre of ``centers_[t]``
    n_iter_ : int, number of updates before the centres stop moving (``n_steps - 1`` if they never stop)
    """

    def __init__(self, init, n_steps: int = 10):
        self.init = init
        self.n_steps = n_steps

    def fit(self, X, y=None):
        X = np.asarray(X, dtype=float)
        C = np.array(self.init, dtype=float)
        if C.ndim != 2 or C.shape[1] != X.shape[1]:
            raise ValueError(f"KMeansSteps: init must have shape (n_clusters, {X.shape[1]}), got {C.shape}")
        if self.n_steps < 1:
            raise ValueError("KMeansSteps: n_steps must be >= 1")
        centers, labels = [], []
        self.n_iter_ = self.n_steps - 1
        for t in range(self.n_steps):
            lab = _sq_dists(X, C).argmin(axis=1)
            centers.append(C.copy())
            labels.append(lab)
            new = np.array([X[lab == j].mean(axis=0) if np.any(lab == j) else C[j] for j in range(len(C))])
            if np.array_equal(new, C) and self.n_iter_ == self.n_steps - 1:
                self.n_iter_ = t
            C = new
        self.centers_, self.labels_ = np.array(centers), np.array(labels)
        return self

    def fit_predict(self, X, y=None):
        """The labels of the last recorded step."""
        return self.fit(X).labels_[-1]


def plot_kmeans_steps(X, runs: dict, steps=(0, 1, 2, 3, 5, 9), size: float = 2.6):
    """One row per run (name -> fitted :class:`KMeansSteps`), one column per step.

    The points of step ``t`` are coloured by ``labels_[t]`` and the stars are ``centers_[t]``, the centres
    these labels belong to. Returns the figure.
    """
    X = np.asarray(X)
    steps = [s for s in steps]
    fig, axes = plt.subplots(len(runs), len(steps), figsize=(size * len(steps), size * len(runs)),
                             squeeze=False, sharex=True, sharey=True)
    for row, (name, run) in zip(axes, runs.items()):
        for ax, t in zip(row, steps):
            if t >= len(run.labels_):
                raise ValueError(f"plot_kmeans_steps: run {name!r} has only {len(run.labels_)} steps (asked {t})")
            ax.scatter(X[:, 0], X[:, 1], c=run.labels_[t], s=8, cmap="tab10", vmin=0, vmax=9)
            C = run.centers_[t]
            ax.scatter(C[:, 0], C[:, 1], c=np.arange(len(C)), cmap="tab10", vmin=0, vmax=9, marker="*", s=260,
                       edgecolors="k", linewidths=1)
            ax.set_title(f"{name}: step {t}", fontsize=9)
    fig.tight_layout()
    return fig


def rbf_similarity(X, gamma: float = 1.0) -> np.ndarray:
    """Gaussian similarity ``exp(-gamma * ||x_i - x_j||^2)`` between all rows of ``X`` (all features at once).

    Small ``gamma`` (wide kernel): everyone is similar to everyone; large ``gamma``: only very close points.
    """
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    if gamma <= 0:
        raise ValueError("rbf_similarity: gamma must be > 0")
    return rbf_kernel(X, gamma=gamma)


def similarity_graph(S, kind: str = "full", n_neighbors: int = 10) -> np.ndarray:
    """Weighted adjacency matrix of a graph built from a similarity matrix ``S`` (no self-loops).

    Parameters
    ----------
    S : array of shape (n, n), symmetric, non-negative similarities
    kind : ``"full"`` (every pair connected with weight ``S[i, j]``) or ``"knn"`` (``i`` and ``j`` connected,
        with weight ``S[i, j]``, when ``j`` is among the ``n_neighbors`` most similar points of ``i`` *or* ``i``
        among those of ``j``; the graph is symmetric).

    Returns
    -------
    W : ndarray of shape (n, n), symmetric, zero diagonal
    """
    S = np.asarray(S, dtype=float)
    if S.ndim != 2 or S.shape[0] != S.shape[1]:
        raise ValueError(f"similarity_graph: S must be a square matrix, got shape {S.shape}")
    if not np.allclose(S, S.T):
        raise ValueError("similarity_graph: S must be symmetric")
    if (S < 0).any():
        raise ValueError("similarity_graph: similarities must be non-negative (a linear kernel is not a similarity)")
    W = S.copy()
    np.fill_diagonal(W, 0.0)
    if kind == "full":
        return W
    if kind == "knn":
        if not 0 < n_neighbors < len(S):
            raise ValueError(f"similarity_graph: n_neighbors must be in 1..{len(S) - 1}")
        order = np.argsort(-W, axis=1, kind="stable")[:, :n_neighbors]
        mask = np.zeros_like(W, dtype=bool)
        mask[np.arange(len(W))[:, None], order] = True
        mask |= mask.T
        np.fill_diagonal(mask, False)
        return np.where(mask, W, 0.0)
    raise ValueError(f"similarity_graph: unknown kind {kind!r} (use 'full' or 'knn')")


class SpectralGraphClustering(BaseEstimator, ClusterMixin):
    """Spectral clustering of a precomputed graph with the symmetric normalised Laplacian.

    ``L = I - D^{-1/2} W D^{-1/2}`` is diagonalised with ``scipy.linalg.eigh`` (real eigenvalues in
    ascending order); the eigenvectors of the ``n_clusters`` smallest eigenvalues, rows scaled to unit
    length (Ng, Jordan and Weiss, 2002), form the embedding, which k-means clusters.

    Parameters
    ----------
    n_clusters : int
    n_init : int, default 10, k-means restarts on the embedding
    random_state : int, default 0

    Attributes
    ----------
    labels_ : ndarray (n,)
    embedding_ : ndarray (n, n_clusters)
    eigenvalues_ : ndarray (n,), all eigenvalues of the normalised Laplacian, ascending (in [0, 2])
    """

    def __init__(self, n_clusters: int = 2, n_init: int = 10, random_state: int | None = 0):
        self.n_clusters = n_clusters
        self.n_init = n_init
        self.random_state = random_state

    def fit(self, W, y=None):
        vals, vecs = _normalised_laplacian_eigh(W)
        self.eigenvalues_ = vals
        self.embedding_, self.labels_ = _embed_and_cluster(vecs, self.n_clusters, self.n_init, self.random_state)
        return self


def _normalised_laplacian_eigh(W):
    W = np.array(W, dtype=float)
    if W.ndim != 2 or W.shape[0] != W.shape[1] or not np.allclose(W, W.T):
        raise ValueError("SpectralGraphClustering: W must be a symmetric square adjacency matrix")
    np.fill_diagonal(W, 0.0)
    deg = W.sum(axis=1)
    if (deg <= 0).any():
        raise ValueError(f"SpectralGraphClustering: {int((deg <= 0).sum())} node(s) without any edge; "
                         "use a wider kernel or more neighbours")
    d = 1.0 / np.sqrt(deg)
    return eigh(np.eye(len(W)) - d[:, None] * W * d[None, :])


def _embed_and_cluster(vecs, k, n_init, random_state):
    U = vecs[:, :k]
    U = U / np.maximum(np.linalg.norm(U, axis=1, keepdims=True), 1e-12)
    labels = KMeans(n_clusters=k, n_init=n_init, random_state=random_state).fit(U).labels_
    return U, labels


def k_selection_table(W, ks, X=None, random_state: int | None = 0, n_init: int = 10) -> pd.DataFrame:
    """Cluster the graph ``W`` with :class:`SpectralGraphClustering` for every k in ``ks``.

    Returns one row per k: ``silhouette`` and ``davies_bouldin`` (computed on ``X``, the features the graph
    was built from, so that different k are compared in the same space; when ``X`` is None they are
    computed on each k's own embedding, as the original lecture did, and are then *not* comparable across
    k), ``sizes`` (cluster sizes, largest first) and ``min_size``.
    """
    rows = []
    _, vecs = _normalised_laplacian_eigh(W)  # one eigendecomposition for every k
    for k in ks:
        emb, lab = _embed_and_cluster(vecs, k, n_init, random_state)
        space = emb if X is None else np.asarray(X, dtype=float)
        ok = len(np.unique(lab)) > 1
        sizes = sorted(np.bincount(lab).tolist(), reverse=True)
        rows.append({"k": int(k), "silhouette": silhouette_score(space, lab) if ok else np.nan,
                     "davies_bouldin": davies_bouldin_score(space, lab) if ok else np.nan,
                     "sizes": sizes, "min_size": min(sizes)})
    return pd.DataFrame(rows).set_index("k")


def plot_k_selection(eigenvalues, table: pd.DataFrame | None = None, n_eigenvalues: int = 12):
    """Left: the smallest eigenvalues of the Laplacian (the eigengap heuristic); right: the silhouette of
    a :func:`k_selection_table`. Returns the figure."""
    ev = np.sort(np.asarray(eigenvalues))[:n_eigenvalues]
    ncols = 1 if table is None else 2
    fig, axes = plt.subplots(1, ncols, figsize=(5.5 * ncols, 3.6), squeeze=False)
    ax = axes[0, 0]
    ax.plot(np.arange(1, len(ev) + 1), ev, "o")
    ax.set(xlabel="index i", ylabel="eigenvalue", title="Smallest eigenvalues of the normalised Laplacian",
           xticks=np.arange(1, len(ev) + 1))
    if table is not None:
        ax = axes[0, 1]
        ax.plot(table.index, table["silhouette"], "o-")
        ax.set(xlabel="number of clusters k", ylabel="silhouette", title="Silhouette by k", xticks=table.index)
    fig.tight_layout()
    return fig


# --- time series ---
# Lecture 11 (clustering time series). Owned by the lecture-11 lab; scaffolding only: the distances
# (tslearn's `cdist_dtw`, scipy's `pdist`), the clusterings and their validation are the students' tasks.

__all__ += ["affinity_from_distance", "plot_students", "plot_clusters"]


def affinity_from_distance(D, sigma: float | None = None) -> np.ndarray:
    """Gaussian affinity ``exp(-(D_ij / sigma)^2)`` from a distance matrix, for ``affinity="precomputed"``.

    Parameters
    ----------
    D : array of shape (n, n)
        symmetric, non-negative distances with a zero diagonal (Euclidean, DTW, ...).
    sigma : float, optional
        the distance at which the affinity has fallen to ``exp(-1)``. Default: half the median distance
        between two different rows, so that the same rule works whatever the unit of ``D`` (hours,
        distances between unit-norm series, DTW costs).

    Returns
    -------
    S : ndarray of shape (n, n), symmetric, ones on the diagonal, entries in (0, 1]
    """
    D = np.asarray(D, dtype=float)
    if D.ndim != 2 or D.shape[0] != D.shape[1]:
        raise ValueError(f"affinity_from_distance: D must be a square matrix, got shape {D.shape}")
    if not np.allclose(D, D.T) or (D < 0).any() or not np.allclose(np.diag(D), 0):
        raise ValueError("affinity_from_distance: D must be a distance matrix (symmetric, >= 0, zero diagonal); "
                         "did you pass a similarity?")
    if sigma is None:
        off = D[~np.eye(len(D), dtype=bool)]
        sigma = 0.5 * float(np.median(off)) if off.size else 1.0
    if not sigma > 0:
        raise ValueError("affinity_from_distance: sigma must be > 0 (are all the distances zero?)")
    return np.exp(-((D / sigma) ** 2))


def _time_axis(ax, n_steps: int, xlabel: str, ylabel: str | None):
    ax.set_xlim(-0.5, n_steps - 0.5)
    ax.set_xlabel(xlabel, fontsize=8)
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=8)
    ax.tick_params(labelsize=7)


def plot_students(data, labels=None, ncols: int = 6, names=None, xlabel: str = "biweek",
                  ylabel: str = "hours", size: tuple[float, float] = (2.6, 1.7)):
    """One small step (bar-like) chart per row of ``data`` (a student's series), on a common y axis.

    Parameters
    ----------
    data : array-like of shape (n_students, n_steps)
    labels : array-like of shape (n_students,), optional
        a group per student (expert type or cluster): colours the bars and is written in the title.
    ncols : int, panels per row
    names : list of str, optional, panel titles (default ``"student i"``)

    Returns the figure.
    """
    X = np.asarray(data, dtype=float)
    if X.ndim != 2:
        raise ValueError(f"plot_students: data must be 2-D (students x time steps), got shape {X.shape}")
    lab = None if labels is None else np.asarray(labels)
    if lab is not None and len(lab) != len(X):
        raise ValueError(f"plot_students: {len(lab)} labels for {len(X)} students")
    groups = [] if lab is None else list(pd.unique(lab))
    nrows = int(np.ceil(len(X) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows), sharex=True, sharey=True,
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= len(X):
            ax.set_visible(False)
            continue
        color = "tab:blue" if lab is None else plt.cm.tab10(groups.index(lab[i]) % 10)
        ax.stairs(X[i], np.arange(X.shape[1] + 1) - 0.5, fill=True, color=color)  # one artist: fast
        title = names[i] if names is not None else f"student {i}"
        ax.set_title(title if lab is None else f"{title} ({lab[i]})", fontsize=8)
        _time_axis(ax, X.shape[1], xlabel if i >= len(X) - ncols else "", ylabel if i % ncols == 0 else None)
    fig.subplots_adjust(hspace=0.55, wspace=0.08, left=0.05, right=0.99, bottom=0.08, top=0.95)
    return fig


def plot_clusters(data, labels, title: str | None = None, xlabel: str = "biweek", ylabel: str = "hours",
                  size: tuple[float, float] = (4.0, 2.8)):
    """One panel per cluster: every member's series (thin lines) and the cluster mean (thick line).

    Parameters
    ----------
    data : array-like of shape (n_students, n_steps)
    labels : array-like of shape (n_students,), the cluster of each row (any hashable values; a pandas
        Series is read by position)
    title : str, optional, title of the figure

    Returns the figure.
    """
    X = np.asarray(data, dtype=float)
    lab = np.asarray(labels)
    if X.ndim != 2 or len(lab) != len(X):
        raise ValueError(f"plot_clusters: need one label per row of a 2-D data array, got {len(lab)} labels "
                         f"for data of shape {X.shape}")
    groups = sorted(pd.unique(lab).tolist())
    fig, axes = plt.subplots(1, len(groups), figsize=(size[0] * len(groups), size[1]), sharey=True, squeeze=False)
    t = np.arange(X.shape[1])
    for j, (ax, g) in enumerate(zip(axes.flat, groups)):
        members = X[lab == g]
        color = plt.cm.tab10(j % 10)
        ax.plot(t, members.T, color=color, alpha=0.3, lw=0.8)
        ax.plot(t, members.mean(axis=0), color="k", lw=2, label="mean")
        ax.set_title(f"cluster {g}: {len(members)} students", fontsize=9)
        _time_axis(ax, X.shape[1], xlabel, ylabel if j == 0 else None)
    axes.flat[0].legend(fontsize=7, loc="upper right")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
