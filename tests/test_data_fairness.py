"""The synthetic fairness data (lecture 12): determinism, schema, injected disparity, loader errors.

Measured with the default seed (2024), as the notebook computes them (y = grade >= 4 is pass,
y_pred = P(fail) < 0.5): prevalence F 0.686, M 0.592; TPR F 0.708, M 0.878 (FNR F 0.292, M 0.122);
FPR F 0.318, M 0.294; PPP F 0.586, M 0.640; PPV F 0.829, M 0.813; NPV F 0.517, M 0.800; accuracy 0.776.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import confusion_matrix

from mlbd_utils.data import DataError, read_table, registry
from mlbd_utils.data.fairness import DATASET, FNR, FPR, SCHEMAS, generate
from mlbd_utils.fairness import group_metrics

DEMO, PRED = "demographics.csv", "model_predictions.csv"


def _write(gen, folder):
    for fname, schema in SCHEMAS.items():
        registry.write_frame(gen.frames[fname], folder / fname, schema)
    return {f: registry.sha256(folder / f) for f in SCHEMAS}


def _read(folder):
    """Read the two files the way the notebook does."""
    demo = read_table(folder / DEMO, SCHEMAS[DEMO], index_col=0).reset_index()
    pred = read_table(folder / PRED, SCHEMAS[PRED])
    demo.insert(0, "y", (demo["grade"] >= 4).astype(int))
    demo.insert(1, "y_pred", (pred["grade"] < 0.5).astype(int))
    return demo


def _rates(df):
    tn, fp, fn, tp = confusion_matrix(df["y"], df["y_pred"], labels=[0, 1]).ravel()
    return dict(TPR=tp / (tp + fn), FNR=fn / (tp + fn), FPR=fp / (fp + tn), PPP=(tp + fp) / len(df),
                PPV=tp / (tp + fp), NPV=tn / (tn + fn), prevalence=(tp + fn) / len(df))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("fairness")
    _write(generate(registry.DEFAULT_SEED), out)
    return out


def test_deterministic(tmp_path):
    a = _write(generate(registry.DEFAULT_SEED), tmp_path / "a")
    assert a == _write(generate(registry.DEFAULT_SEED), tmp_path / "b")
    c = _write(generate(registry.DEFAULT_SEED + 1), tmp_path / "c")
    assert all(a[f] != c[f] for f in a)


def test_schema_and_shape(folder):
    demo = _read(folder)
    assert demo.shape == (214, 16)  # as displayed in the notebook, after adding y and y_pred
    assert list(demo.columns[2:]) == ["index"] + SCHEMAS[DEMO].names
    # two cohorts: the index restarts at 0
    assert list(demo["index"][:3]) == [0, 1, 2] and (demo["index"] == 0).sum() == 2
    assert demo.gender.value_counts().to_dict() == {"M": 125, "F": 70}
    assert round((demo.gender == "F").sum() / demo.gender.notna().sum(), 3) == 0.359
    # students without a gender have no demographics at all
    no_gender = demo[demo.gender.isna()]
    assert no_gender.drop(columns=["y", "y_pred", "index", "grade"]).isna().all().all()
    assert set(np.unique(demo.grade * 4) % 1) == {0.0} and demo.grade.between(1, 6).all()
    # Swiss ratings on the 6-point scale, foreign ones on 20; French average only for France
    known = demo[demo.gender.notna()]
    swiss = known.country_diploma == "Suisse"
    assert (known.scale_maths[swiss] == 6).all() and (known.scale_maths[~swiss] == 20).all()
    assert (known.rating_maths[swiss] <= 6).all()
    assert known.avg_french_bac.notna().eq(known.country_diploma == "France").all()
    assert set(known.title_diploma[~swiss]) == {"Bacc. étranger"}
    assert DATASET.name == "fairness" and set(DATASET.files) == {DEMO, PRED}


def test_injected_disparity_measured(folder):
    demo = _read(folder)
    f, m = _rates(demo[demo.gender == "F"]), _rates(demo[demo.gender == "M"])
    # the injected false-negative rates are reproduced up to rounding (exact counts per group)
    assert abs(f["FNR"] - FNR["F"]) < 0.02 and abs(m["FNR"] - FNR["M"]) < 0.02, (f, m)
    assert abs(f["FPR"] - FPR["F"]) < 0.03 and abs(m["FPR"] - FPR["M"]) < 0.03, (f, m)
    # equal opportunity is violated by a moderate gap, false-positive rates are equal
    # PPV parity holds, NPV parity does not (14 of the 29 women predicted to fail pass): as documented
    assert abs(m["PPV"] - f["PPV"]) <= 0.05 and m["NPV"] - f["NPV"] >= 0.2, (f, m)   # measured 0.283
    assert "**NPV does not**" in DATASET.description
    assert 0.12 <= m["TPR"] - f["TPR"] <= 0.25, (f, m)        # measured 0.170
    assert abs(m["FPR"] - f["FPR"]) <= 0.05, (f, m)           # measured 0.024
    # prevalence higher for women (as in the course's data), overall around 0.6
    assert f["prevalence"] > m["prevalence"]
    assert 0.55 <= demo.y.mean() <= 0.72
    # overall accuracy of a plausible but imperfect model
    assert 0.72 <= (demo.y == demo.y_pred).mean() <= 0.85
    # the ground truth records the same measured values
    truth = generate(registry.DEFAULT_SEED).truth
    json.dumps(truth, default=registry._json_default)
    assert truth["measured_by_gender"]["F"]["TPR"] == round(f["TPR"], 4)
    assert truth["measured_by_gender"]["M"]["FPR"] == round(m["FPR"], 4)
    assert truth["measured_by_gender"]["M"] == group_metrics(demo.y[demo.gender == "M"], demo.y_pred[demo.gender == "M"])
    assert truth["measured_by_gender"]["NaN"]["n"] == 19


def test_disparity_band_holds_across_seeds():
    for seed in range(5):
        g = generate(seed).truth["measured_by_gender"]
        gap = g["M"]["TPR"] - g["F"]["TPR"]
        assert 0.12 <= gap <= 0.25, (seed, gap)
        assert abs(g["M"]["FPR"] - g["F"]["FPR"]) <= 0.06, (seed, g)


def test_broken_files_raise_clear_errors(folder, tmp_path):
    demo = pd.read_csv(folder / DEMO, index_col=0)
    missing = tmp_path / "missing.csv"
    demo.drop(columns="gender").to_csv(missing)
    with pytest.raises(DataError, match="missing column.*gender"):
        read_table(missing, SCHEMAS[DEMO], index_col=0)
    semicolon = tmp_path / "semicolon.csv"
    demo.to_csv(semicolon, sep=";", index=False)
    with pytest.raises(DataError, match="not separated by ','"):
        read_table(semicolon, SCHEMAS[DEMO])
    bad = tmp_path / "bad_prob.csv"
    pd.DataFrame({"grade": [0.2, 1.4]}).to_csv(bad, index=False)
    with pytest.raises(DataError, match="above 1"):
        read_table(bad, SCHEMAS[PRED])
