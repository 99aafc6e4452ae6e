"""mlbd_utils.clustering, section "time series" (lecture 11): the affinity built from a distance matrix and
the two plots. The lab's own computations (DTW distances, clusterings, ARI) are graded in the notebook."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from scipy.spatial.distance import pdist, squareform  # noqa: E402
from sklearn.cluster import SpectralClustering  # noqa: E402
from sklearn.metrics import adjusted_rand_score  # noqa: E402

from mlbd_utils.clustering import affinity_from_distance, plot_clusters, plot_students  # noqa: E402


@pytest.fixture
def D():
    rng = np.random.default_rng(0)
    return squareform(pdist(rng.normal(size=(12, 4))))


def test_affinity_values_and_default_width(D):
    S = affinity_from_distance(D, sigma=2.0)
    assert np.allclose(S, np.exp(-(D / 2.0) ** 2))
    assert np.allclose(S, S.T) and np.allclose(np.diag(S), 1) and (S > 0).all() and (S <= 1).all()
    # default: sigma = half the median distance between two different rows
    sigma = 0.5 * np.median(D[~np.eye(len(D), dtype=bool)])
    assert np.allclose(affinity_from_distance(D), np.exp(-(D / sigma) ** 2))
    # points 0, 1, 3 on a line: distances 1, 2, 3, median 2, sigma 1
    x = np.array([0.0, 1.0, 3.0])
    S3 = affinity_from_distance(np.abs(x[:, None] - x[None, :]))
    assert np.allclose([S3[0, 1], S3[1, 2], S3[0, 2]], np.exp([-1.0, -4.0, -9.0]))


def test_default_affinity_does_not_depend_on_the_unit(D):
    # hours or minutes: the same graph (the seed's exp(-D^2) changed completely with the unit)
    assert np.allclose(affinity_from_distance(D), affinity_from_distance(60 * D))
    assert not np.allclose(np.exp(-D**2), np.exp(-(60 * D) ** 2))


def test_affinity_feeds_spectral_clustering():
    # two groups on a line: the affinity (not the distance) must be given to affinity="precomputed"
    x = np.array([0.0, 0.2, 0.3, 0.5, 6.0, 6.1, 6.4, 6.6])
    D = np.abs(x[:, None] - x[None, :])
    truth = np.repeat([0, 1], 4)
    sc = SpectralClustering(2, affinity="precomputed", n_init=10, random_state=0)
    assert adjusted_rand_score(truth, sc.fit_predict(affinity_from_distance(D))) == 1.0


@pytest.mark.parametrize("bad, match", [
    (np.ones((3, 4)), "square"),
    (np.array([[0.0, 1.0], [2.0, 0.0]]), "symmetric"),
    (np.array([[0.0, -1.0], [-1.0, 0.0]]), "distance matrix"),
    (np.array([[1.0, 0.5], [0.5, 1.0]]), "similarity"),
])
def test_affinity_rejects_what_is_not_a_distance_matrix(bad, match):
    with pytest.raises(ValueError, match=match):
        affinity_from_distance(bad)


def test_affinity_rejects_a_zero_width():
    with pytest.raises(ValueError, match="sigma"):
        affinity_from_distance(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="sigma"):
        affinity_from_distance(np.array([[0.0, 1.0], [1.0, 0.0]]), sigma=0)


def test_plot_students_one_panel_per_student():
    X = np.arange(7 * 5, dtype=float).reshape(7, 5)
    fig = plot_students(X, labels=list("aabbbcc"), ncols=3)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 7 and len(fig.axes) == 9
    assert visible[2].get_title() == "student 2 (b)"
    # colours follow the labels: students 2 and 3 share one, student 0 has another
    colour = [ax.patches[0].get_facecolor() for ax in visible]
    assert colour[2] == colour[3] != colour[0]
    plt.close(fig)
    fig = plot_students(X, names=[f"s{i}" for i in range(7)])
    assert fig.axes[0].get_title() == "s0"
    plt.close(fig)


def test_plot_students_errors():
    with pytest.raises(ValueError, match="2-D"):
        plot_students(np.arange(5.0))
    with pytest.raises(ValueError, match="3 labels for 4 students"):
        plot_students(np.ones((4, 3)), labels=[1, 2, 3])


def test_plot_clusters_one_panel_per_cluster_with_its_mean():
    X = np.vstack([np.zeros((3, 6)), np.ones((2, 6))])
    fig = plot_clusters(X, np.array([2, 2, 2, 0, 0]), title="t")
    assert len(fig.axes) == 2
    assert [ax.get_title() for ax in fig.axes] == ["cluster 0: 2 students", "cluster 2: 3 students"]
    mean_line = fig.axes[0].get_lines()[-1]
    assert np.allclose(mean_line.get_ydata(), 1.0)
    plt.close(fig)
    with pytest.raises(ValueError, match="one label per row"):
        plot_clusters(X, [0, 1])
