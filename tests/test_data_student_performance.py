"""The synthetic UCI student-performance file and the real-data loader."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mlbd_utils.data import registry
from mlbd_utils.data import student_performance as sp
from mlbd_utils.data.schema import DataError, read_table, validate

UCI_COLUMNS = ["school", "sex", "age", "address", "famsize", "Pstatus", "Medu", "Fedu", "Mjob", "Fjob",
               "reason", "guardian", "traveltime", "studytime", "failures", "schoolsup", "famsup", "paid",
               "activities", "nursery", "higher", "internet", "romantic", "famrel", "freetime", "goout",
               "Dalc", "Walc", "health", "absences", "G1", "G2", "G3"]


@pytest.fixture(scope="module")
def gen():
    return sp.generate(registry.DEFAULT_SEED)


@pytest.fixture(scope="module")
def df(gen):
    return gen.frames[sp.FILE]


def _digest(seed, tmp_path):
    frame = sp.generate(seed).frames[sp.FILE]
    path = tmp_path / f"{seed}" / sp.FILE
    registry.write_frame(frame, path, sp.SCHEMA)
    return registry.sha256(path)


def test_deterministic(tmp_path):
    assert _digest(11, tmp_path / "a") == _digest(11, tmp_path / "b")
    assert _digest(11, tmp_path / "c") != _digest(12, tmp_path / "d")


def test_schema_and_roundtrip(df, tmp_path):
    assert list(df.columns) == UCI_COLUMNS == sp.SCHEMA.names
    assert len(df) == 649
    validate(df, sp.SCHEMA)
    path = tmp_path / sp.FILE
    registry.write_frame(df, path, sp.SCHEMA)
    assert path.read_text().splitlines()[0] == ";".join(UCI_COLUMNS)
    back = read_table(path, sp.SCHEMA)
    pd.testing.assert_frame_equal(back, df)


def test_build_one_writes_truth(tmp_path):
    rows = registry.build_one(sp.DATASET, tmp_path, seed=5)
    assert rows[0]["rows"] == 649 and rows[0]["file"] == sp.FILE
    truth = json.loads((tmp_path / "ground_truth" / "student_performance.json").read_text())
    assert truth["coefficients"]["failures"] < 0 < truth["coefficients"]["higher=yes"]
    assert len(truth["g3_expected"]) == 649


def test_g3_imbalanced_central(df):
    g3 = df["G3"]
    counts = g3.value_counts()
    share = g3.value_counts(normalize=True)
    assert 0 <= g3.min() and g3.max() <= 20
    assert 11 <= g3.mean() <= 12.8 and 2.6 <= g3.std() <= 3.8
    central = share[share.index.isin(range(9, 15))].sum()
    extremes = share[share.index.isin(list(range(1, 7)) + list(range(18, 21)))].sum()
    assert central > 0.55, central
    assert extremes < 0.08, extremes
    assert 0.005 < share.get(0, 0) < 0.05  # exam no-shows
    assert counts.max() >= 3 * counts.median()  # far from balanced classes
    assert counts.nlargest(5).sum() > 0.5 * len(g3)
    assert counts.index.nunique() >= 15


def test_grades_correlated_and_attributes_matter(df, gen):
    c = df[["G1", "G2", "G3"]].corr()
    assert c.loc["G1", "G3"] > 0.7 and c.loc["G2", "G3"] > 0.8
    assert df["failures"].corr(df["G3"]) < -0.2
    assert df.groupby("higher")["G3"].mean()["yes"] > df.groupby("higher")["G3"].mean()["no"] + 1.5
    # the ground truth explains G3 far better than chance
    expected = np.asarray(gen.truth["g3_expected"])
    kept = df["G3"] > 0
    assert np.corrcoef(expected[kept], df["G3"][kept])[0, 1] > 0.85
    zeros = set(np.flatnonzero(df["G3"] == 0).tolist())
    assert set(gen.truth["dropouts"]) <= zeros and len(zeros - set(gen.truth["dropouts"])) <= 2


def test_marginals_plausible(df):
    assert 0.3 < (df["school"] == "MS").mean() < 0.42
    assert 0.5 < (df["sex"] == "F").mean() < 0.68
    assert (df["absences"] % 2 == 0).mean() > 0.8  # absences mostly even, as in the real file
    assert (df["Dalc"] == 1).mean() > 0.6
    assert df["Medu"].corr(df["Fedu"]) > 0.4


# ----- real data ---------------------------------------------------------------------------

def test_real_student_por(realdata):
    path = realdata / "uci_student_performance" / "student-por.csv"
    frames = sp.from_real(path)
    real = frames[sp.FILE]
    assert real.shape == (649, 33)
    assert list(real.columns) == UCI_COLUMNS
    assert real["G3"].between(0, 20).all() and real["G1"].dtype.kind == "i"
    mat = sp.from_real(realdata / "uci_student_performance" / "student-mat.csv")[sp.FILE]
    assert mat.shape == (395, 33)


def test_convert_real(realdata, tmp_path):
    rows = registry.convert_real(sp.DATASET, realdata / "uci_student_performance" / "student-por.csv",
                                 tmp_path)
    assert rows[0]["rows"] == 649
    assert len(read_table(tmp_path / sp.FILE, sp.SCHEMA)) == 649


# ----- broken input ------------------------------------------------------------------------

def _write(df, path, **kw):
    df.to_csv(path, index=False, **kw)
    return path


def test_missing_column(df, tmp_path):
    path = _write(df.drop(columns="G3"), tmp_path / "student-por.csv", sep=";")
    with pytest.raises(DataError, match=r"student-por\.csv.*missing column.*G3"):
        sp.from_real(path)


def test_wrong_delimiter(df, tmp_path):
    path = _write(df, tmp_path / "student-por.csv", sep=",")
    with pytest.raises(DataError, match=r"student-por\.csv.*separated by ';'"):
        sp.from_real(path)


def test_wrong_encoding(df, tmp_path):
    path = _write(df, tmp_path / "student-por.csv", sep=";", encoding="utf-16")
    with pytest.raises(DataError, match=r"student-por\.csv.*decoded"):
        sp.from_real(path)


def test_bad_values(df, tmp_path):
    bad = df.copy()
    bad.loc[3, "G3"] = 25
    with pytest.raises(DataError, match=r"'G3'.*above 20"):
        sp.from_real(_write(bad, tmp_path / "a.csv", sep=";"))
    bad = df.copy()
    bad.loc[3, "school"] = "XX"
    with pytest.raises(DataError, match=r"'school'.*XX"):
        sp.from_real(_write(bad, tmp_path / "b.csv", sep=";"))
    with pytest.raises(DataError, match="not found"):
        sp.from_real(tmp_path / "nope.csv")
