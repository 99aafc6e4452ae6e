"""The synthetic ASSISTments data set (lectures 06-08) and the real-data converter.

pyBKT recovery tolerance (default seed, ``Model(seed=0, num_fits=5)`` per skill, no forgetting):
each of prior, learn and guess within 0.10 of the generating value, slip within 0.03, mean absolute
error over the 24 parameters below 0.04, and no label switching (guess and slip < 0.5).
Measured for seed 2024: max |error| prior 0.058, learn 0.063, guess 0.073, slip 0.007 (mean 0.02).
Over 12 other seeds the largest errors were 0.10 (prior), 0.12 (learn, the small Area Rectangle skill),
0.09 (guess), 0.02 (slip); learn is biased low by about 0.04 because ability varies learning rates.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mlbd_utils.data import assistments, registry
from mlbd_utils.data.schema import DataError, read_table, validate

FILE = "assistments.csv"
SCHEMA = assistments.SCHEMAS[FILE]


@pytest.fixture(scope="module")
def generated():
    return assistments.generate(registry.DEFAULT_SEED)


@pytest.fixture(scope="module")
def df(generated):
    return generated.frames[FILE]


def _digest(frame, tmp_path, name):
    path = tmp_path / name
    registry.write_frame(frame, path, SCHEMA)
    return registry.sha256(path)


def test_deterministic_bytes(df, tmp_path):
    again = assistments.generate(registry.DEFAULT_SEED).frames[FILE]
    other = assistments.generate(registry.DEFAULT_SEED + 1).frames[FILE]
    a = _digest(df, tmp_path, "a.csv")
    assert a == _digest(again, tmp_path, "b.csv")
    assert a != _digest(other, tmp_path, "c.csv")


def test_schema_and_roundtrip(df, generated, tmp_path):
    validate(df, SCHEMA, where="generated")
    assert list(df.columns) == ["user_id", "order_id", "skill_name", "correct"]
    rows = registry.build_one(assistments.DATASET, tmp_path)
    assert rows[0]["rows"] == len(df)
    back = read_table(tmp_path / FILE, SCHEMA)
    pd.testing.assert_frame_equal(back, df, check_dtype=False)
    truth = json.loads((tmp_path / "ground_truth" / "assistments.json").read_text())
    assert truth["lecture_skills"] == list(assistments.LECTURE_SKILLS)
    assert set(truth["skills"]) == set(assistments.SKILLS)
    assert len(truth["ability"]) == truth["n_students"] == df.user_id.nunique()


def test_realistic_shape(df):
    assert 150_000 <= len(df) <= 330_000
    assert df.user_id.nunique() == assistments.N_STUDENTS
    assert df.skill_name.nunique() == 110
    assert set(assistments.LECTURE_SKILLS) <= set(df.skill_name)
    assert 0.6 <= df.correct.mean() <= 0.7
    # order_id: unique, increasing within a student (rows sorted by student, then time)
    assert df.order_id.is_unique
    assert (df.groupby("user_id").order_id.diff().dropna() > 0).all()
    # very unequal popularity and sequence lengths, as in ASSISTments 2009
    per_skill = df.groupby("skill_name").size()
    assert per_skill.max() > 8 * per_skill.median()
    per_user = df.groupby("user_id").size()
    assert per_user.mean() > 1.5 * per_user.median() and per_user.max() > 500
    # the lecture subset is large enough for BKT (real data: 1,527 students, ~26k rows)
    sub = df[df.skill_name.isin(list(assistments.LECTURE_SKILLS))]
    assert 1000 <= sub.user_id.nunique() <= 2500 and 15_000 <= len(sub) <= 40_000


def test_students_improve_and_differ(df, generated):
    # opportunity effect: later attempts on a skill are more often correct
    opp = df.groupby(["user_id", "skill_name"]).cumcount()
    first, later = df.correct[opp == 0].mean(), df.correct[(opp >= 3) & (opp < 10)].mean()
    assert later > first + 0.03
    # ability is visible in each student's success rate
    ability = pd.Series(generated.truth["ability"]).rename(int)
    rate = df.groupby("user_id").correct.mean()
    assert np.corrcoef(ability.loc[rate.index], rate)[0, 1] > 0.3


def test_forgetting_option():
    g = assistments.generate(3, n_students=400, forget=0.05)
    assert all(p["forget"] == 0.05 for p in g.truth["skills"].values())
    validate(g.frames[FILE], SCHEMA)


def test_pybkt_recovers_lecture_skills(df):
    from pyBKT.models import Model

    errors = []
    for skill, true in assistments.LECTURE_SKILLS.items():
        model = Model(seed=0, num_fits=5)
        model.fit(data=df[df.skill_name == skill])
        p = model.params().reset_index()
        est = {q: float(p.loc[p.param == name, "value"].iloc[0])
               for q, name in (("prior", "prior"), ("learn", "learns"), ("guess", "guesses"), ("slip", "slips"))}
        assert est["guess"] < 0.5 and est["slip"] < 0.5, (skill, est)  # no label switching
        for q, tol in (("prior", 0.10), ("learn", 0.10), ("guess", 0.10), ("slip", 0.03)):
            err = est[q] - true[q]
            assert abs(err) <= tol, f"{skill} {q}: estimated {est[q]:.3f}, true {true[q]:.3f}"
            errors.append(abs(err))
    assert np.mean(errors) < 0.04


# --- real data -------------------------------------------------------------------------------------

@pytest.mark.realdata
def test_real_long_file(realdata, tmp_path):
    src = realdata / "assistments_2009" / "assist2009_skill_builder_corrected_long.csv"
    if not src.exists():
        pytest.skip(f"{src} not available")
    out = assistments.from_real(src)[FILE]
    validate(out, SCHEMA)
    assert len(out) == 325_637
    assert out.user_id.nunique() == 4151 and out.skill_name.nunique() == 110
    assert out.correct.mean() == pytest.approx(0.659, abs=0.001)
    assert set(assistments.LECTURE_SKILLS) <= set(out.skill_name)
    assert (out.groupby("user_id").order_id.diff().dropna() > 0).all()
    rows = registry.convert_real(assistments.DATASET, src, tmp_path)
    assert rows[0]["rows"] == 325_637


@pytest.mark.realdata
def test_real_original_schema(realdata):
    src = realdata / "assistments_2009" / "as_supersmall_original_schema.csv"
    if not src.exists():
        pytest.skip(f"{src} not available")
    raw = pd.read_csv(src)
    out = assistments.from_real(src)[FILE]
    validate(out, SCHEMA)
    assert list(out.columns) == ["user_id", "order_id", "skill_name", "correct"]
    assert len(out) == len(raw.dropna(subset=["skill_name"]).drop_duplicates()) < len(raw)
    assert out.user_id.nunique() == 250
    assert (out.groupby("user_id").order_id.diff().dropna() >= 0).all()


def _original_rows():
    return pd.DataFrame({
        "user_id": [1, 1, 1, 2, 2, 2], "template_id": [7] * 6, "order_id": [10, 11, 11, 5, 9, 12],
        "skill_name": ["Área Rectangle", "Mode", "Mode", None, "Mode", "Mode"], "correct": [1, 0, 0, 1, 1, 2],
    })


def test_original_cleaning_and_latin1(tmp_path):
    path = tmp_path / "skill_builder_data.csv"
    _original_rows().to_csv(path, index=False, encoding="latin-1")
    out = assistments.from_real(path)[FILE]
    # duplicate row, missing skill and correct == 2 dropped; latin-1 decoded
    assert out.values.tolist() == [[1, 10, "Área Rectangle", 1], [1, 11, "Mode", 0], [2, 9, "Mode", 1]]


def test_broken_files_raise_clear_errors(tmp_path):
    missing = tmp_path / "no_correct.csv"
    _original_rows().drop(columns="correct").to_csv(missing, index=False)
    with pytest.raises(DataError, match=r"no_correct\.csv.*missing column.*correct"):
        assistments.from_real(missing)
    long_missing = tmp_path / "long.csv"
    pd.DataFrame({"user_id": [1], "seq_index": [0], "correct": [1]}).to_csv(long_missing, index=False)
    with pytest.raises(DataError, match=r"long\.csv.*missing column.*skill_name"):
        assistments.from_real(long_missing)
    semicolon = tmp_path / "semicolon.csv"
    _original_rows().to_csv(semicolon, index=False, sep=";")
    with pytest.raises(DataError, match=r"semicolon\.csv.*not comma-separated"):
        assistments.from_real(semicolon)
    with pytest.raises(DataError, match="not found"):
        assistments.from_real(tmp_path / "absent.csv")
