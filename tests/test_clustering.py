"""mlbd_utils.clustering: k-means steps, similarity graphs, spectral clustering, k selection."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from scipy.sparse.csgraph import laplacian
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs, make_moons
from sklearn.metrics import adjusted_rand_score, silhouette_score

from mlbd_utils.clustering import (KMeansSteps, SpectralGraphClustering, k_selection_table, plot_k_selection,
                                   plot_kmeans_steps, rbf_similarity, similarity_graph)

X_BLOBS, Y_BLOBS = make_blobs(n_samples=300, centers=5, cluster_std=1.2, random_state=2010)
C3 = np.array([[-9, -2], [-7, 5], [-6, 5], [0, 10], [2, -10]])


def test_kmeans_steps_labels_belong_to_their_centres_and_converge_like_sklearn():
    run = KMeansSteps(C3, n_steps=10).fit(X_BLOBS)
    assert run.centers_.shape == (10, 5, 2) and run.labels_.shape == (10, 300)
    assert np.array_equal(run.centers_[0], C3)
    for t in range(10):
        d = ((X_BLOBS[:, None, :] - run.centers_[t][None]) ** 2).sum(axis=2)
        assert np.array_equal(run.labels_[t], d.argmin(axis=1)), "labels_[t] must be the assignment to centers_[t]"
    for t in range(9):  # update step: the next centres are the means of the clusters
        for j in range(5):
            assert np.allclose(run.centers_[t + 1][j], X_BLOBS[run.labels_[t] == j].mean(axis=0))
    km = KMeans(n_clusters=5, init=C3.astype(float), n_init=1).fit(X_BLOBS)
    assert np.allclose(run.centers_[-1], km.cluster_centers_)
    assert adjusted_rand_score(km.labels_, run.labels_[-1]) == 1.0
    assert run.n_iter_ == 5  # the centres of c3 stop moving after 5 updates
    assert np.array_equal(KMeansSteps(C3, n_steps=10).fit_predict(X_BLOBS), run.labels_[-1])


def test_kmeans_steps_keeps_an_empty_cluster_and_checks_its_input():
    X = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0]])
    run = KMeansSteps([[0, 0], [5, 5], [100, 100]], n_steps=3).fit(X)
    assert np.array_equal(run.centers_[-1][2], [100, 100])
    with pytest.raises(ValueError, match="init must have shape"):
        KMeansSteps([[0, 0, 0]]).fit(X)
    with pytest.raises(ValueError, match="n_steps"):
        KMeansSteps([[0, 0]], n_steps=0).fit(X)


def test_rbf_similarity_and_graphs():
    X = np.array([[0.0], [1.0], [3.0], [3.5]])
    S = rbf_similarity(X, gamma=0.5)
    assert np.allclose(S, np.exp(-0.5 * (X - X.T) ** 2))
    assert np.allclose(rbf_similarity(X[:, 0], 0.5), S)
    with pytest.raises(ValueError, match="gamma"):
        rbf_similarity(X, gamma=0)
    W = similarity_graph(S, "full")
    assert np.allclose(np.diag(W), 0) and np.allclose(W + np.diag(np.diag(S)), S)
    Wk = similarity_graph(S, "knn", n_neighbors=1)
    assert np.allclose(Wk, Wk.T)
    # 1-NN: 0<->1, 2<->3 (and 1's nearest is 0): two components
    assert (Wk > 0).sum() == 4 and Wk[0, 1] > 0 and Wk[2, 3] > 0 and Wk[1, 2] == 0
    with pytest.raises(ValueError, match="unknown kind"):
        similarity_graph(S, "epsilon")
    with pytest.raises(ValueError, match="non-negative"):
        similarity_graph(X @ X.T - 5, "full")
    with pytest.raises(ValueError, match="symmetric"):
        similarity_graph(np.triu(S), "full")
    with pytest.raises(ValueError, match="n_neighbors"):
        similarity_graph(S, "knn", n_neighbors=4)


def test_spectral_clustering_eigenvalues_embedding_and_labels():
    X, y = make_moons(n_samples=200, noise=0.05, random_state=0)
    W = similarity_graph(rbf_similarity(X, 20), "full")
    sc = SpectralGraphClustering(2, random_state=0).fit(W)
    ref = np.linalg.eigvalsh(laplacian(W, normed=True))
    assert np.allclose(sc.eigenvalues_, ref, atol=1e-8)
    assert np.all(np.diff(sc.eigenvalues_) >= -1e-12) and abs(sc.eigenvalues_[0]) < 1e-8
    assert sc.embedding_.shape == (200, 2) and np.allclose(np.linalg.norm(sc.embedding_, axis=1), 1)
    assert adjusted_rand_score(y, sc.labels_) > 0.95
    again = SpectralGraphClustering(2, random_state=0).fit(W)
    assert np.array_equal(again.labels_, sc.labels_)  # deterministic
    # a disconnected node is reported, not silently clustered
    W0 = W.copy()
    W0[0, :] = W0[:, 0] = 0
    with pytest.raises(ValueError, match="without any edge"):
        SpectralGraphClustering(2).fit(W0)


def test_k_selection_table_compares_k_in_the_feature_space():
    W = similarity_graph(rbf_similarity(X_BLOBS, 0.5), "full")
    table = k_selection_table(W, range(2, 8), X=X_BLOBS)
    assert list(table.index) == list(range(2, 8))
    assert {"silhouette", "davies_bouldin", "sizes", "min_size"} <= set(table.columns)
    assert table["silhouette"].idxmax() == 5  # five blobs
    assert all(sum(s) == 300 for s in table["sizes"]) and (table["min_size"] > 0).all()
    labels = SpectralGraphClustering(4).fit(W).labels_
    assert np.isclose(table.loc[4, "silhouette"], silhouette_score(X_BLOBS, labels))
    emb = k_selection_table(W, [3], X=None)
    sc = SpectralGraphClustering(3).fit(W)
    assert np.isclose(emb.loc[3, "silhouette"], silhouette_score(sc.embedding_, sc.labels_))


def test_plots_return_figures():
    runs = {"c3": KMeansSteps(C3, n_steps=4).fit(X_BLOBS)}
    fig = plot_kmeans_steps(X_BLOBS, runs, steps=(0, 3))
    assert len(fig.axes) == 2
    with pytest.raises(ValueError, match="only 4 steps"):
        plot_kmeans_steps(X_BLOBS, runs, steps=(0, 9))
    W = similarity_graph(rbf_similarity(X_BLOBS, 0.5))
    fig = plot_k_selection(SpectralGraphClustering(2).fit(W).eigenvalues_, k_selection_table(W, [2, 3]))
    assert len(fig.axes) == 2
    matplotlib.pyplot.close("all")
