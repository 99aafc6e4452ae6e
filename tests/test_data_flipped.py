"""The synthetic flipped-classroom data: determinism, schema, realism, and loader errors."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from mlbd_utils.data import DataError, load, registry
from mlbd_utils.data.flipped import FEATURES, SCHEMAS, generate
from mlbd_utils.features import inactive_users


@pytest.fixture(scope="module")
def gen():
    return generate(registry.DEFAULT_SEED)


def _digests(tmp_path, seed):
    ds = registry.get("flipped_classroom")
    out = tmp_path / str(seed)
    rows = registry.build_one(ds, out, seed=seed)
    return {r["file"]: r["sha256"] for r in rows}


def test_deterministic_and_matches_recorded_checksums(tmp_path):
    first, again = _digests(tmp_path / "a", registry.DEFAULT_SEED), _digests(tmp_path / "b", registry.DEFAULT_SEED)
    assert first == again
    expected = registry.expected_checksums()
    assert {f: expected[f] for f in first} == first
    other = _digests(tmp_path / "c", 7)
    assert all(other[f] != first[f] for f in first)


def test_schemas_and_shapes(gen):
    for fname, schema in SCHEMAS.items():
        df = gen.frames[fname]
        assert list(df.columns) == schema.names, fname
    agg = gen.frames["aggregated_extended_fc.csv"]
    assert len(agg) == 288 and agg.user.is_unique
    assert len(FEATURES) == 33
    assert set(np.unique(agg.grade * 4) % 1) == {0.0}  # quarter steps
    assert agg.grade.between(1, 6).all()
    assert set(agg.category.dropna()) == {"France", "Suisse.PAM", "Suisse.Autres"}
    assert 0.02 < agg.category.isna().mean() < 0.1
    assert set(agg.year) == {"Y2-2018-19", "Y3-2019-20"}
    ts = gen.frames["time_series_extended_fc.csv"]
    assert len(ts) == 288 * 10 and sorted(ts.week.unique()) == list(range(10))
    # aggregated = mean of the weekly values; the simple file sums counts
    mean_sessions = ts.groupby("user").ch_num_sessions.mean().round(6)
    assert np.allclose(agg.set_index("user").ch_num_sessions, mean_sessions)
    simple = gen.frames["aggregated_fc.csv"].set_index("user")
    assert np.allclose(simple.sessions, ts.groupby("user").ch_num_sessions.sum())


def test_realism(gen):
    truth = gen.truth
    agg = gen.frames["aggregated_extended_fc.csv"]
    ts = gen.frames["time_series_extended_fc.csv"]
    # roughly two thirds pass
    assert 0.58 <= (agg.grade >= 4).mean() <= 0.75
    # inactive students: a zero-click week in the first five; the truth matches the data
    assert inactive_users(ts) == truth["inactive_users"]
    assert 0.12 <= len(truth["inactive_users"]) / len(agg) <= 0.28
    long = gen.frames["fc_long_extended.csv"]
    assert not set(long.user) & set(truth["inactive_users"])
    # H1: activity falls over the semester
    weekly = ts.groupby("week").ch_num_sessions.mean()
    assert weekly.iloc[:3].mean() > weekly.iloc[-3:].mean() * 1.2
    # behaviour predicts pass/fail only moderately
    active = agg[~agg.user.isin(truth["inactive_users"])]
    auc = cross_val_score(make_pipeline(MinMaxScaler(), LogisticRegression()), active[list(FEATURES)],
                          (active.grade >= 4).astype(int), cv=5, scoring="roc_auc").mean()
    assert 0.6 <= auc <= 0.8, auc
    # the category random effect is visible in the grades
    by_cat = agg.groupby("category").grade.mean()
    assert by_cat["France"] > by_cat["Suisse.PAM"]


def test_effort_profiles_are_recorded_and_recoverable(gen):
    """Lecture 10 clusters students by effort: the latent profiles must be visible on a log scale only."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score
    from sklearn.preprocessing import StandardScaler

    truth = gen.truth
    agg = gen.frames["aggregated_extended_fc.csv"]
    profile = agg.user.astype(str).map({str(u): p for u, p in truth["effort_profile"].items()})
    assert profile.notna().all() and set(profile) == set(truth["effort_profiles"]) == {"low", "medium", "high"}
    shares = profile.value_counts(normalize=True)
    for name, spec in truth["effort_profiles"].items():
        assert abs(shares[name] - spec["share"]) < 0.08, (name, shares[name])
    effort = np.column_stack([agg.ch_time_in_prob_sum + agg.ch_time_in_video_sum,
                              agg.ch_total_clicks_weekend + agg.ch_total_clicks_weekday])
    # more effort, more time and clicks, and a better pass rate
    means = pd.DataFrame(np.log1p(effort), columns=["time", "clicks"]).groupby(profile.to_numpy()).mean()
    assert (means.loc["low"] < means.loc["medium"]).all() and (means.loc["medium"] < means.loc["high"]).all()
    passed = (agg.grade >= 4).groupby(profile.to_numpy()).mean()
    assert passed["low"] < passed["medium"] and passed["low"] < passed["high"]
    # k-means on the log-scaled features finds the profiles; on the raw heavy-tailed values much less so
    km = KMeans(n_clusters=3, n_init=10, random_state=0)
    ari_log = adjusted_rand_score(profile, km.fit_predict(StandardScaler().fit_transform(np.log1p(effort))))
    ari_raw = adjusted_rand_score(profile, km.fit_predict(StandardScaler().fit_transform(effort)))
    assert ari_log > 0.8 and ari_raw < ari_log - 0.15, (ari_log, ari_raw)


def test_load_reads_and_validates(built_data):
    df = load("aggregated_extended_fc")
    assert list(df.columns) == SCHEMAS["aggregated_extended_fc.csv"].names
    long = load("fc_long_extended.csv")
    assert list(long.columns) == SCHEMAS["fc_long_extended.csv"].names


def test_load_errors_name_file_and_column(tmp_path):
    with pytest.raises(DataError, match="unknown data file 'nope'"):
        load("nope")
    with pytest.raises(DataError, match=r"aggregated_fc.csv: file not found.*mlbd data"):
        load("aggregated_fc", data_path=tmp_path)
    good = generate(1).frames["aggregated_fc.csv"]
    good.drop(columns=["grade"]).to_csv(tmp_path / "aggregated_fc.csv", index=False)
    with pytest.raises(DataError, match=r"aggregated_fc.csv.*missing column\(s\) \['grade'\]"):
        load("aggregated_fc", data_path=tmp_path)
    good.to_csv(tmp_path / "aggregated_fc.csv", index=False, sep=";")
    with pytest.raises(DataError, match="not separated by ','"):
        load("aggregated_fc", data_path=tmp_path)
    bad = good.copy()
    bad["sessions"] = bad["sessions"].astype(str)
    bad.loc[3, "sessions"] = "many"
    bad.to_csv(tmp_path / "aggregated_fc.csv", index=False)
    with pytest.raises(DataError, match="column 'sessions' must be numeric.*many"):
        load("aggregated_fc", data_path=tmp_path)
    bad = good.copy()
    bad.loc[0, "grade"] = 7.5
    bad.to_csv(tmp_path / "aggregated_fc.csv", index=False)
    with pytest.raises(DataError, match="column 'grade' has values above 6"):
        load("aggregated_fc", data_path=tmp_path)
    # a wrong delimiter is named even for files read with an index column
    generate(1).frames["fc_long_extended.csv"].to_csv(tmp_path / "fc_long_extended.csv", sep=";")
    with pytest.raises(DataError, match=r"fc_long_extended.csv: the header has no ','.*found ';'"):
        load("fc_long_extended", data_path=tmp_path)
    (tmp_path / "aggregated_fc.csv").write_bytes(good.to_csv(index=False).encode("utf-16"))
    with pytest.raises(DataError, match="aggregated_fc.csv"):
        load("aggregated_fc", data_path=tmp_path)


def test_data_readme_is_current():
    from mlbd_utils.data.docs import render

    readme = registry.Path(__file__).resolve().parents[1] / "data" / "README.md"
    assert readme.read_text() == render(), "data/README.md is stale: run `mlbd data --docs`"
