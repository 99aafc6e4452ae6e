"""The synthetic hours-per-biweek data (lecture 11): determinism, schema, DTW vs Euclidean, errors.

Measured with the default seed (2024), clustering the per-student L2-normalised series into 3 groups:
spectral clustering as in the lab (affinity exp(-(D/sigma)^2), sigma = half the median distance,
SpectralClustering(n_init=10, random_state=0)): ARI Euclidean 0.33, DTW (window 6) 1.00; the silhouette
(on the distance, k = 2..9) is highest at k = 3 for DTW and at k = 9 for Euclidean. tslearn
TimeSeriesKMeans: ARI Euclidean 0.42, DTW (window 6) 1.00. Seeds 0-2 (spectral): Euclidean
0.08 / 0.44 / 0.47, DTW 1.00 / 1.00 / 1.00, silhouette k 3 / 3 / 3 for DTW. About 7 s of this file is numba
compiling tslearn's DTW (much more on a loaded machine).
"""
from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.spatial import distance
from sklearn.cluster import SpectralClustering
from sklearn.metrics import adjusted_rand_score, silhouette_score
from tslearn.clustering import TimeSeriesKMeans
from tslearn.metrics import cdist_dtw

from mlbd_utils.data import DataError, read_table, registry
from mlbd_utils.data.hours import DATASET, MAX_SHIFT, MIN_SHIFT, N_BIWEEKS, SCHEMAS, generate

FILE = "hours_biweek_students.csv"
SCHEMA = SCHEMAS[FILE]


@pytest.fixture(scope="module")
def gen():
    return generate(registry.DEFAULT_SEED)


def _sha(tmp_path, seed, name):
    path = tmp_path / name / FILE
    registry.write_frame(generate(seed).frames[FILE], path, SCHEMA)
    return registry.sha256(path)


def _series(df):
    wide = df.pivot(index="student_id", columns="biweek_of_year", values="hours").sort_index()
    types = df.groupby("student_id").student_type.first().sort_index().to_numpy()
    x = wide.to_numpy()
    return x / np.linalg.norm(x, axis=1)[:, None], types


def _spectral(d, k=3):
    sigma = 0.5 * np.median(d[~np.eye(len(d), dtype=bool)])
    sc = SpectralClustering(k, affinity="precomputed", n_init=10, random_state=0)
    return sc.fit_predict(np.exp(-(d / sigma) ** 2))


def _best_silhouette_k(d, ks=range(2, 10)):
    scores = [silhouette_score(d, _spectral(d, k), metric="precomputed") for k in ks]
    return list(ks)[int(np.argmax(scores))]


def _spectral_aris(df):
    x, y = _series(df)
    d_euc = distance.squareform(distance.pdist(x))
    d_dtw = cdist_dtw(x, global_constraint="sakoe_chiba", sakoe_chiba_radius=6)
    return adjusted_rand_score(y, _spectral(d_euc)), adjusted_rand_score(y, _spectral(d_dtw))


def test_deterministic(tmp_path):
    a = _sha(tmp_path, registry.DEFAULT_SEED, "a")
    assert a == _sha(tmp_path, registry.DEFAULT_SEED, "b")
    assert a != _sha(tmp_path, registry.DEFAULT_SEED + 1, "c")


def test_schema_shape_and_truth(gen, tmp_path):
    df = gen.frames[FILE]
    assert list(df.columns) == SCHEMA.names
    registry.write_frame(df, tmp_path / FILE, SCHEMA)
    back = read_table(tmp_path / FILE, SCHEMA)
    assert back.shape == (30 * N_BIWEEKS, 4)
    assert sorted(back.biweek_of_year.unique()) == list(range(27))
    assert back.groupby("student_type").student_id.nunique().to_dict() == {1: 10, 2: 10, 3: 10}
    assert back.hours.between(0, 50).all()
    # the ground truth is JSON and names every student's type as in the file
    truth = json.loads(json.dumps(gen.truth, default=registry._json_default))
    file_types = back.groupby("student_id").student_type.first()
    assert {int(k): v for k, v in truth["student_type"].items()} == file_types.to_dict()
    assert DATASET.name == "hours" and FILE in DATASET.files


def test_patterns(gen):
    df = gen.frames[FILE]
    wide = df.pivot(index="student_id", columns="biweek_of_year", values="hours")
    types = df.groupby("student_id").student_type.first()
    mean_by_type = wide.mean(axis=1).groupby(types).mean()
    # procrastinators work least on average, regular students most
    assert mean_by_type[1] < mean_by_type[3] < mean_by_type[2]
    # front-loaders peak in the first biweeks of a semester, procrastinators before the exams
    peak = wide.to_numpy().argmax(axis=1)
    front = peak[types.to_numpy() == 3]
    procr = peak[types.to_numpy() == 1]
    assert np.all(np.isin(front, list(range(1, 5)) + list(range(14, 18))))
    assert np.all(np.isin(procr, list(range(8, 12)) + list(range(22, 26))))
    # regular students are flat (coefficient of variation well below the others')
    cv = (wide.std(axis=1) / wide.mean(axis=1)).groupby(types).mean()
    assert cv[2] < 0.3 < min(cv[1], cv[3])


def test_no_burst_on_the_boundary(gen):
    # DTW must match the first and the last biweeks of two series: a burst there cannot be aligned
    for p in gen.truth["students"].values():
        for burst, exam in zip(p.get("bursts", []), (12, 26)):
            assert exam - MAX_SHIFT <= burst["burst_end"] <= exam - MIN_SHIFT < N_BIWEEKS - 1
        for sem, start in zip(p.get("semesters", []), (0, 13)):
            assert start + MIN_SHIFT <= sem["peak_biweek"] <= start + MAX_SHIFT
    wide = gen.frames[FILE].pivot(index="student_id", columns="biweek_of_year", values="hours")
    types = gen.frames[FILE].groupby("student_id").student_type.first()
    bursty = wide[types != 2].to_numpy()
    assert (bursty[:, [0, -1]] < 0.5 * bursty.max(axis=1, keepdims=True)).all()


def test_dtw_separates_types_better_than_euclidean(gen):
    df = gen.frames[FILE]
    ari_euc, ari_dtw = _spectral_aris(df)
    assert ari_dtw >= 0.9, ari_dtw          # measured 1.00
    assert ari_euc <= 0.6, ari_euc          # measured 0.33
    x, _ = _series(df)
    # the silhouette finds the experts' k with DTW, not with the Euclidean distance
    assert _best_silhouette_k(cdist_dtw(x, global_constraint="sakoe_chiba", sakoe_chiba_radius=6)) == 3
    assert _best_silhouette_k(distance.squareform(distance.pdist(x))) != 3  # measured 9
    x, y = _series(df)
    km_euc = TimeSeriesKMeans(3, metric="euclidean", n_init=3, random_state=0).fit_predict(x[:, :, None])
    km_dtw = TimeSeriesKMeans(3, metric="dtw", n_init=3, max_iter=20, random_state=0,
                              metric_params=dict(global_constraint="sakoe_chiba", sakoe_chiba_radius=6)
                              ).fit_predict(x[:, :, None])
    ari_km_euc, ari_km_dtw = adjusted_rand_score(y, km_euc), adjusted_rand_score(y, km_dtw)
    assert ari_km_dtw >= 0.9, ari_km_dtw    # measured 1.00
    assert ari_km_euc <= 0.6, ari_km_euc    # measured 0.42


def test_dtw_advantage_holds_for_other_seeds():
    pairs = np.array([_spectral_aris(generate(seed).frames[FILE]) for seed in range(3)])
    assert (pairs[:, 1] > pairs[:, 0]).all(), pairs
    assert pairs[:, 1].mean() >= 0.85 and pairs[:, 0].mean() <= 0.65, pairs  # measured 1.00 and 0.33


def test_broken_files_raise_clear_errors(gen, tmp_path):
    df = gen.frames[FILE]
    missing = tmp_path / "missing.csv"
    df.drop(columns="hours").to_csv(missing, index=False)
    with pytest.raises(DataError, match="missing column.*hours"):
        read_table(missing, SCHEMA)
    semicolon = tmp_path / "semicolon.csv"
    df.to_csv(semicolon, sep=";", index=False)
    with pytest.raises(DataError, match="not separated by ','"):
        read_table(semicolon, SCHEMA)
    bad_type = tmp_path / "bad_type.csv"
    df.assign(student_type=df.student_type.replace(3, 4)).to_csv(bad_type, index=False)
    with pytest.raises(DataError, match="student_type"):
        read_table(bad_type, SCHEMA)
