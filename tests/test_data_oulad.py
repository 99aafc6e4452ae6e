"""The synthetic OULAD (five tables, known risk model) and the real-data converter."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from mlbd_utils.data import oulad, registry
from mlbd_utils.data.schema import DataError, read_table, validate


@pytest.fixture(scope="module")
def generated():
    return oulad.generate(registry.DEFAULT_SEED)


@pytest.fixture(scope="module")
def folder(generated, tmp_path_factory):
    out = tmp_path_factory.mktemp("oulad")
    registry.write_dataset(oulad.DATASET, generated.frames, out)
    return out


def _digests(frames, tmp_path):
    registry.write_dataset(oulad.DATASET, frames, tmp_path)
    return {f: registry.sha256(tmp_path / f) for f in oulad.FILES}


def test_deterministic_bytes(generated, tmp_path):
    a = _digests(generated.frames, tmp_path / "a")
    assert a == _digests(oulad.generate(registry.DEFAULT_SEED).frames, tmp_path / "b")
    other = _digests(oulad.generate(registry.DEFAULT_SEED + 1).frames, tmp_path / "c")
    assert all(a[f] != other[f] for f in ("studentInfo.csv", "studentAssessment.csv"))


def test_schema_roundtrip_and_column_names(generated, tmp_path):
    rows = registry.build_one(oulad.DATASET, tmp_path)
    assert [r["file"] for r in rows] == list(oulad.FILES)
    assert list(generated.frames["studentInfo.csv"].columns) == [
        "code_module", "code_presentation", "id_student", "gender", "region", "highest_education", "imd_band",
        "age_band", "num_of_prev_attempts", "studied_credits", "disability", "final_result"]
    assert list(generated.frames["studentAssessment.csv"].columns) == [
        "id_assessment", "id_student", "date_submitted", "is_banked", "score"]
    for f, schema in oulad.SCHEMAS.items():
        validate(generated.frames[f], schema)
        back = read_table(tmp_path / f, schema)
        pd.testing.assert_frame_equal(back, generated.frames[f].reset_index(drop=True), check_dtype=False)
    truth = json.loads((tmp_path / "ground_truth" / "oulad.json").read_text())
    assert truth["n_enrolments"] == len(generated.frames["studentInfo.csv"]) == len(truth["enrolments"])


def test_realistic_shape(generated):
    f = generated.frames
    info, reg, ass, sa = (f["studentInfo.csv"], f["studentRegistration.csv"], f["assessments.csv"],
                          f["studentAssessment.csv"])
    assert 2000 <= len(info) <= 3000 and set(info.code_module) == {"BBB", "DDD", "FFF"}
    # repeat students: fewer students than enrolments, and they have banked results
    assert 50 <= len(info) - info.id_student.nunique() <= 300
    assert (info.num_of_prev_attempts > 0).sum() > 100
    banked = sa[sa.is_banked == 1]
    assert len(banked) > 50 and (banked.date_submitted == -1).all()
    rep = info.loc[info.num_of_prev_attempts > 0, "id_student"]
    assert banked.id_student.isin(rep).all()
    # quirks the lab must handle: missing scores, a missing exam date, late submissions, imd missing
    assert 5 <= sa.score.isna().sum() <= 100
    assert ass.date.isna().sum() == 1 and (ass.assessment_type == "Exam").sum() == 6
    merged = sa.merge(ass, on="id_assessment")
    late = merged.date_submitted - merged.date
    assert (late > 0).mean() > 0.05 and (late > 30).sum() > 20
    assert ((merged.date < 100) & (merged.date_submitted > 100) & (merged.is_banked == 0)).sum() > 10
    assert set(merged.loc[merged.assessment_type == "Exam", "code_module"]) == {"DDD"}
    assert 0.01 <= info.imd_band.isna().mean() <= 0.06
    # Withdrawn <=> an unregistration day; some withdraw before the start; nothing submitted after it
    m = info.merge(reg, on=["code_module", "code_presentation", "id_student"])
    assert ((m.final_result == "Withdrawn") == m.date_unregistration.notna()).all()
    assert (m.date_unregistration < 0).sum() > 20
    ms = sa[sa.is_banked == 0].merge(ass, on="id_assessment").merge(m, on=["code_module", "code_presentation",
                                                                         "id_student"])
    assert not (ms.date_submitted >= ms.date_unregistration).any()
    shares = info.final_result.value_counts(normalize=True)
    assert 0.35 <= shares["Pass"] <= 0.5 and 0.15 <= shares["Withdrawn"] <= 0.35
    assert 0.15 <= shares["Fail"] <= 0.3 and 0.05 <= shares["Distinction"] <= 0.15


def test_ground_truth_drives_risk_scores_and_trend(generated):
    t, f = generated.truth, generated.frames
    info, ass, sa = f["studentInfo.csv"], f["assessments.csv"], f["studentAssessment.csv"]
    key = info.code_module + "/" + info.code_presentation + "/" + info.id_student.astype(str)
    latent = pd.DataFrame([t["enrolments"][k] for k in key], index=key.to_numpy())
    risk = info.final_result.isin(["Fail", "Withdrawn"]).to_numpy().astype(int)
    assert (latent.risk.to_numpy() == risk).all()
    assert abs(risk.mean() - t["risk_rate"]) < 1e-3 and 0.35 <= t["risk_rate"] <= 0.55
    assert 0.75 <= t["oracle_auc"] <= 0.9 and 0.75 <= t["oracle_auc_registered_at_day_100"] <= 0.9
    # the logit is the documented formula
    dis = (info.disability == "Y").to_numpy()
    r = t["risk_logit"]
    eta = (r["intercept"] + r["ability"] * latent.ability + r["trend"] * latent.trend + r["disability"] * dis
           + r["prev_attempts"] * np.minimum(info.num_of_prev_attempts.to_numpy(), 2)
           + r["credits_120"] * (info.studied_credits.to_numpy() >= 120))
    assert np.allclose(eta, latent.eta, atol=1e-3)
    # ability drives the mean score; trend drives the change of the score (late minus early TMAs)
    tma = sa[sa.is_banked == 0].merge(ass[ass.assessment_type == "TMA"], on="id_assessment")
    tma["key"] = tma.code_module + "/" + tma.code_presentation + "/" + tma.id_student.astype(str)
    mean = tma.groupby("key").score.mean()
    assert np.corrcoef(mean, latent.ability.loc[mean.index])[0, 1] > 0.6
    change = (tma[tma.date > 150].groupby("key").score.mean() - tma[tma.date < 100].groupby("key").score.mean()).dropna()
    assert np.corrcoef(change, latent.trend.loc[change.index])[0, 1] > 0.5
    # demographics: gender has no effect, education a small one
    by_gender = pd.Series(risk).groupby(info.gender.to_numpy()).mean()
    assert abs(by_gender["M"] - by_gender["F"]) < 0.06
    edu = latent.ability.groupby(info.highest_education.to_numpy()).mean()
    assert edu["HE Qualification"] > edu["Lower Than A Level"] + 0.2


def test_small_option_and_other_seed():
    g = oulad.generate(7, n_per_presentation=50)
    assert 300 <= len(g.frames["studentInfo.csv"]) <= 400
    for fname, schema in oulad.SCHEMAS.items():
        validate(g.frames[fname], schema)


# --- the converter: malformed input ------------------------------------------------------------------

def _copy(folder, tmp_path):
    dst = tmp_path / "src"
    shutil.copytree(folder, dst)
    return dst


def test_converter_on_generated_tables_is_identity(folder, generated):
    out = oulad.from_real(folder)
    for f in oulad.FILES:
        pd.testing.assert_frame_equal(out[f], generated.frames[f].reset_index(drop=True), check_dtype=False)


def test_converter_accepts_quoted_crlf_and_fixes_imd_band(folder, tmp_path):
    src = _copy(folder, tmp_path)
    info = pd.read_csv(src / "studentInfo.csv")
    info["imd_band"] = info["imd_band"].replace({"10-20%": "10-20"})
    info.to_csv(src / "studentInfo.csv", index=False, quoting=1, lineterminator="\r\n")
    out = oulad.from_real(src)
    assert "10-20" not in set(out["studentInfo.csv"].imd_band.dropna())
    assert (out["studentInfo.csv"].imd_band == "10-20%").sum() == (info.imd_band == "10-20").sum() > 0


@pytest.mark.parametrize("case, message", [
    ("no_file", "studentAssessment.csv: file not found"),
    ("missing_column", "missing column(s) ['final_result']"),
    ("bad_score", "column 'score' must be numeric"),
    ("score_range", "column 'score' has values above 100"),
    ("bad_imd", "column 'imd_band' has unexpected values"),
    ("semicolon", "not separated by ','"),
    ("unknown_assessment", "column 'id_assessment' has ids not in assessments.csv"),
    ("not_a_folder", "not a folder"),
])
def test_converter_errors_name_file_and_column(folder, tmp_path, case, message):
    src = _copy(folder, tmp_path)
    if case == "no_file":
        (src / "studentAssessment.csv").unlink()
    elif case == "missing_column":
        pd.read_csv(src / "studentInfo.csv").drop(columns="final_result").to_csv(src / "studentInfo.csv", index=False)
    elif case in ("bad_score", "score_range", "unknown_assessment"):
        sa = pd.read_csv(src / "studentAssessment.csv")
        sa["score"] = sa["score"].astype(object)
        if case == "bad_score":
            sa.loc[3, "score"] = "eighty"
        elif case == "score_range":
            sa.loc[3, "score"] = 180
        else:
            sa.loc[3, "id_assessment"] = 99
        sa.to_csv(src / "studentAssessment.csv", index=False)
    elif case == "bad_imd":
        info = pd.read_csv(src / "studentInfo.csv")
        info.loc[0, "imd_band"] = "poor"
        info.to_csv(src / "studentInfo.csv", index=False)
    elif case == "semicolon":
        pd.read_csv(src / "courses.csv").to_csv(src / "courses.csv", index=False, sep=";")
    elif case == "not_a_folder":
        src = src / "courses.csv"
    with pytest.raises(DataError) as err:
        oulad.from_real(src)
    assert message in str(err.value)
    if case not in ("not_a_folder",):
        assert ".csv" in str(err.value)


# --- real data -------------------------------------------------------------------------------------

@pytest.mark.realdata
def test_real_tables(realdata, tmp_path):
    src = realdata / "oulad"
    if not (src / "studentInfo.csv").exists():
        pytest.skip("real OULAD not available")
    rows = registry.convert_real(oulad.DATASET, src, tmp_path)
    n = {r["file"]: r["rows"] for r in rows}
    assert n == {"studentInfo.csv": 32593, "studentRegistration.csv": 32593, "assessments.csv": 206,
                 "studentAssessment.csv": 173912, "courses.csv": 22}
    info = registry.load("studentInfo", tmp_path)
    assert info.imd_band.isna().sum() == 1111 and (info.imd_band == "10-20%").sum() == 3516
    assert info.final_result.value_counts().to_dict() == {"Pass": 12361, "Withdrawn": 10156, "Fail": 7052,
                                                          "Distinction": 3024}
    assert info.id_student.nunique() == 28785
    sa = registry.load("studentAssessment", tmp_path)
    assert sa.score.isna().sum() == 173 and sa.is_banked.sum() == 1909
    assert registry.load("assessments", tmp_path).date.isna().sum() == 11
