"""Synthetic Open University Learning Analytics Dataset (OULAD): five tables, known risk model.

A small stand-in in the schema of the public OULAD (Kuzilek et al. 2017): the same five tables
(``studentInfo``, ``studentRegistration``, ``assessments``, ``studentAssessment``, ``courses``), the
same column names and value sets, for three modules (BBB, DDD, FFF) with two presentations each
(2013J, 2014J), about 2,400 enrolments of about 2,300 students (repeat students re-enrol in 2014J with
``num_of_prev_attempts`` + 1, so split by ``id_student``, not by row). ``studentVle`` is not included
(neither is it in the course's real copy). ``mlbd data oulad --from DIR`` converts the real tables.

Generating story (all of it is in the ground truth, ``enrolments`` keyed ``MODULE/PRESENTATION/id``):

* every student has a latent *ability* ``a = N(0, 1)`` plus small demographic shifts (highest
  education -0.4 to +0.4, IMD decile -0.15 to +0.15); every enrolment has a score *trend*
  ``t = N(0, 1)``; the latent level at course fraction ``u = day / length`` is
  ``a + 1.5 t (u - 0.3)`` (improving or declining students);
* risk (final_result Fail or Withdrawn) is Bernoulli with logit
  ``eta = -0.35 - 1.0 a - 1.0 t + 0.3 disability + 0.3 min(prev_attempts, 2) + 0.2 [credits >= 120]``
  (gender, region and age have no direct effect); 55 % of the at-risk enrolments withdraw (an
  unregistration day, a fifth of them before the course starts), the others fail; among the others,
  the best end-of-course levels get a Distinction (about 20 %);
* an assessment due on day ``d`` is submitted with probability ``sigmoid(2 + 0.8 level(u))``, less in the
  30 days before a withdrawal and never after it; most submissions come a few days early, some late
  (up to ~2 months); the score is ``clip(72 + 14 level(u) + N(0, 9), 0, 100)`` (CMAs +5), a few
  scores are missing; DDD records exam scores (BBB and FFF exams have no rows, as in the real data),
  the BBB 2014J exam has no date;
* repeat students have *banked* TMA results (``is_banked`` 1, ``date_submitted`` -1, their previous
  score) for the first assessments;
* ``imd_band`` is missing for ~3 % of the students; a few ``date_registration`` values are missing.

At day 100 a model only sees the assessments due and submitted by then (2-5 per enrolment); the
truth's ``oracle_auc`` is the AUC of the true logit ``eta`` (an upper bound that no model reaches).
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from .registry import Dataset, Generated
from .schema import Column, DataError, Schema, _check_header, validate

MODULES = {  # module -> (presentation lengths, TMA days, TMA weights, CMA days, CMA weight, exam recorded)
    "BBB": ({"2013J": 268, "2014J": 262}, (19, 47, 89, 124, 159, 187), (5, 18, 18, 18, 18, 18),
            (54, 96, 131, 166, 208), 1.0, False),
    "DDD": ({"2013J": 261, "2014J": 262}, (25, 53, 88, 123, 165, 207), (10, 12.5, 17.5, 20, 20, 20),
            (), 0.0, True),
    "FFF": ({"2013J": 268, "2014J": 269}, (19, 54, 117, 166, 208), (12.5, 12.5, 25, 25, 25),
            (33, 61, 89, 145, 173, 222), 0.0, False),
}
NEW_PER_PRESENTATION = 400  # new students per module-presentation; 2014J adds the repeat students
REPEAT_SHARE = 0.25  # share of 2013J Fail/Withdrawn enrolments that re-enrol in 2014J
MISSING_EXAM_DATE = ("BBB", "2014J")

GENDERS = {"M": 0.55, "F": 0.45}
REGIONS = {
    "Scotland": 3446, "East Anglian Region": 3340, "London Region": 3216, "South Region": 3092,
    "North Western Region": 2906, "West Midlands Region": 2582, "South West Region": 2436,
    "East Midlands Region": 2365, "South East Region": 2111, "Wales": 2086, "Yorkshire Region": 2006,
    "North Region": 1823, "Ireland": 1184,
}
EDUCATION = {  # level -> (share, ability shift)
    "No Formal quals": (0.011, -0.4), "Lower Than A Level": (0.404, -0.2), "A Level or Equivalent": (0.431, 0.0),
    "HE Qualification": (0.145, 0.2), "Post Graduate Qualification": (0.009, 0.4),
}
IMD_BANDS = ("0-10%", "10-20%", "20-30%", "30-40%", "40-50%", "50-60%", "60-70%", "70-80%", "80-90%",
             "90-100%")
IMD_MISSING = 0.034
IMD_EFFECT = 0.15  # ability shift of the richest decile (+) and the poorest (-), linear in between
AGE_BANDS = {"0-35": 0.70, "35-55": 0.29, "55<=": 0.01}
DISABILITY = 0.10
CREDITS = {30: 0.08, 60: 0.50, 90: 0.08, 120: 0.22, 150: 0.04, 180: 0.05, 240: 0.03}
RESULTS = ("Pass", "Fail", "Withdrawn", "Distinction")
ASSESSMENT_TYPES = ("TMA", "CMA", "Exam")

TREND_SLOPE = 1.5
TREND_CENTRE = 0.3
RISK = dict(intercept=-0.35, ability=-1.0, trend=-1.0, disability=0.3, prev_attempts=0.3, credits_120=0.2)
WITHDRAW_SHARE = 0.55
DISTINCTION_SHARE = 0.2
SUBMIT = dict(intercept=2.0, level=0.8, pre_withdrawal_days=30.0)
SCORE = dict(mean=72.0, level=14.0, noise=9.0, cma_bonus=5.0)
MISSING_SCORE = 0.002

_key_cols = ("code_module", "code_presentation")


def _cat(name, desc, allowed, nullable=False):
    return Column(name, "str", desc, nullable=nullable, allowed=tuple(allowed))


_MODULE = _cat("code_module", "module (course) code", ("AAA", "BBB", "CCC", "DDD", "EEE", "FFF", "GGG"))
_PRES = Column("code_presentation", "str", "presentation: year + B (February start) or J (October start)")
_ID_STUDENT = Column("id_student", "int", "student id (the same student may enrol in several "
                     "module-presentations: group by it when splitting)", min=0)

SCHEMAS = {
    "studentInfo.csv": Schema((
        _MODULE, _PRES, _ID_STUDENT,
        _cat("gender", "gender", GENDERS),
        _cat("region", "UK region of residence while studying", REGIONS),
        _cat("highest_education", "highest education on entry", EDUCATION),
        _cat("imd_band", "Index of Multiple Deprivation band of the home area (0-10% = most deprived)",
             IMD_BANDS, nullable=True),
        _cat("age_band", "age band", AGE_BANDS),
        Column("num_of_prev_attempts", "int", "earlier attempts at this module", "count", min=0),
        Column("studied_credits", "int", "credits the student is studying in total", "credits", min=0),
        _cat("disability", "declared a disability", ("Y", "N")),
        _cat("final_result", "final result of the enrolment (risk = Fail or Withdrawn)", RESULTS),
    )),
    "studentRegistration.csv": Schema((
        _MODULE, _PRES, _ID_STUDENT,
        Column("date_registration", "float", "registration day relative to the presentation start "
               "(negative = before)", "day", nullable=True),
        Column("date_unregistration", "float", "unregistration day (empty = stayed registered; "
               "Withdrawn students have one)", "day", nullable=True),
    )),
    "assessments.csv": Schema((
        _MODULE, _PRES,
        Column("id_assessment", "int", "assessment id", min=0),
        _cat("assessment_type", "TMA (tutor-marked), CMA (computer-marked) or Exam", ASSESSMENT_TYPES),
        Column("date", "float", "due day relative to the presentation start (empty for some exams: "
               "the last week of the presentation)", "day", nullable=True),
        Column("weight", "float", "weight in the final mark (exams 100, the other assessments sum to 100)",
               "%", min=0, max=100),
    )),
    "studentAssessment.csv": Schema((
        Column("id_assessment", "int", "assessment id (see assessments.csv)", min=0),
        _ID_STUDENT,
        Column("date_submitted", "int", "submission day relative to the presentation start (-1 for "
               "banked results)", "day"),
        Column("is_banked", "bool", "1 = result transferred from an earlier presentation"),
        Column("score", "float", "score, missing for a few submissions", "0-100", nullable=True, min=0,
               max=100),
    )),
    "courses.csv": Schema((
        _MODULE, _PRES,
        Column("module_presentation_length", "int", "length of the presentation", "days", min=0),
    )),
}
FILES = tuple(SCHEMAS)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _choice(rng, table, n):
    keys = list(table)
    p = np.array([v[0] if isinstance(v, tuple) else v for v in table.values()], dtype=float)
    return np.array(keys, dtype=object)[rng.choice(len(keys), size=n, p=p / p.sum())]


def _auc(score, y):
    """Rank AUC (ties averaged) of a score for binary labels."""
    y = np.asarray(y, dtype=bool)
    ranks = pd.Series(score).rank().to_numpy()
    n1, n0 = y.sum(), (~y).sum()
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _new_students(rng, n, ids):
    edu = _choice(rng, EDUCATION, n)
    imd_idx = rng.integers(0, len(IMD_BANDS), size=n)
    imd = np.array(IMD_BANDS, dtype=object)[imd_idx]
    imd_missing = rng.random(n) < IMD_MISSING
    imd[imd_missing] = np.nan
    imd_shift = np.where(imd_missing, 0.0, IMD_EFFECT * (imd_idx - 4.5) / 4.5)
    edu_shift = np.array([EDUCATION[e][1] for e in edu])
    prev = np.where(rng.random(n) < 0.08, rng.integers(1, 3, size=n), 0)
    return pd.DataFrame({
        "id_student": ids, "gender": _choice(rng, GENDERS, n), "region": _choice(rng, REGIONS, n),
        "highest_education": edu, "imd_band": imd, "age_band": _choice(rng, AGE_BANDS, n),
        "num_of_prev_attempts": prev, "studied_credits": _choice(rng, CREDITS, n).astype(int),
        "disability": np.where(rng.random(n) < DISABILITY, "Y", "N").astype(object),
        "ability": rng.normal(size=n) + edu_shift + imd_shift,
    })


def generate(seed: int = 2024, n_per_presentation: int = NEW_PER_PRESENTATION) -> Generated:
    """Generate the five OULAD tables with their ground truth."""
    rng = np.random.default_rng(seed)
    courses, assessments, infos, regs, subs, truth_rows = [], [], [], [], [], {}
    next_assessment = 15000
    all_ids = rng.choice(np.arange(10_000, 2_700_000), size=len(MODULES) * 2 * n_per_presentation + 10,
                         replace=False)
    id_pos = 0
    for module, (lengths, tma_days, tma_w, cma_days, cma_w, exam_recorded) in MODULES.items():
        previous = None  # the 2013J enrolments, for repeat students
        for pi, (pres, length) in enumerate(lengths.items()):
            courses.append((module, pres, length))
            shift = pi * 3  # the 2014J dates move a little
            items = [("TMA", d + shift, w) for d, w in zip(tma_days, tma_w)]
            items += [("CMA", d + shift, cma_w) for d in cma_days]
            exam_day = float(length - 7)
            items.append(("Exam", np.nan if (module, pres) == MISSING_EXAM_DATE else exam_day, 100.0))
            ass = pd.DataFrame(items, columns=["assessment_type", "date", "weight"])
            ass.insert(0, "id_assessment", np.arange(next_assessment, next_assessment + len(ass)))
            next_assessment += len(ass) + 10
            ass.insert(0, "code_presentation", pres)
            ass.insert(0, "code_module", module)
            ass["date"] = ass["date"].astype(float)
            ass["weight"] = ass["weight"].astype(float)
            assessments.append(ass)

            n = n_per_presentation
            st = _new_students(rng, n, all_ids[id_pos:id_pos + n])
            id_pos += n
            st["banked_from"] = None
            if previous is not None:  # repeat students: same person, one more attempt, a little better
                failed = previous[previous.risk == 1]
                rep = failed.iloc[np.flatnonzero(rng.random(len(failed)) < REPEAT_SHARE)].copy()
                rep["num_of_prev_attempts"] = rep["num_of_prev_attempts"] + 1
                rep["ability"] = rep["ability"] + 0.2
                rep["banked_from"] = [dict(zip(r.tma_scores_keys, r.tma_scores_vals)) for r in rep.itertuples()]
                st = pd.concat([st, rep[st.columns]], ignore_index=True)
            n = len(st)
            st["trend"] = rng.normal(size=n)
            dis = (st.disability == "Y").to_numpy()
            eta = (RISK["intercept"] + RISK["ability"] * st.ability + RISK["trend"] * st.trend
                   + RISK["disability"] * dis + RISK["prev_attempts"] * np.minimum(st.num_of_prev_attempts, 2)
                   + RISK["credits_120"] * (st.studied_credits >= 120)).to_numpy()
            risk = (rng.random(n) < _sigmoid(eta)).astype(int)
            withdraw = (risk == 1) & (rng.random(n) < WITHDRAW_SHARE)
            early = rng.random(n) < 0.2
            w_day = np.where(early, -rng.integers(1, 60, size=n),
                             np.round(0.85 * length * rng.beta(1.2, 2.0, size=n)))
            w_day = np.where(withdraw, w_day, np.nan)
            end_level = st.ability.to_numpy() + TREND_SLOPE * st.trend.to_numpy() * (1 - TREND_CENTRE)
            merit = end_level + rng.normal(0, 0.5, size=n)
            ok = risk == 0
            cut = np.quantile(merit[ok], 1 - DISTINCTION_SHARE) if ok.any() else np.inf
            result = np.where(withdraw, "Withdrawn", np.where(risk == 1, "Fail",
                                                             np.where(merit >= cut, "Distinction", "Pass")))
            reg_day = -np.round(rng.gamma(2.0, 35.0, size=n)) + 5
            reg_day = np.where(rng.random(n) < 0.003, np.nan, np.minimum(reg_day, w_day - 1, where=withdraw,
                                                                         out=reg_day.copy()))
            st["risk"] = risk
            # submissions
            a, t = st.ability.to_numpy(), st.trend.to_numpy()
            keys, vals = [[] for _ in range(n)], [[] for _ in range(n)]
            for row in ass.itertuples():
                if row.assessment_type == "Exam":
                    if not exam_recorded:
                        continue
                    u = 1.0
                else:
                    u = row.date / length
                level = a + TREND_SLOPE * t * (u - TREND_CENTRE)
                p = _sigmoid(SUBMIT["intercept"] + SUBMIT["level"] * level)
                due = row.date if np.isfinite(row.date) else exam_day
                before_w = np.where(withdraw, w_day - due, np.inf)
                p = np.where(before_w <= 0, 0.0,
                             p * (1 - np.exp(-np.maximum(before_w, 0) / SUBMIT["pre_withdrawal_days"])))
                submitted = rng.random(n) < p
                late = rng.random(n) < _sigmoid(-2.5 - 0.8 * level)
                offset = np.where(late, np.ceil(rng.exponential(15.0, size=n)),
                                  -np.round(np.abs(rng.normal(2.0, 4.0, size=n))))
                if row.assessment_type == "Exam":
                    offset = np.zeros(n)
                day = (due + offset).astype(int)
                if withdraw.any():  # nothing after the withdrawal
                    submitted &= ~(withdraw & (day >= w_day))
                score = np.clip(np.round(SCORE["mean"] + SCORE["level"] * level + rng.normal(0, SCORE["noise"], n)
                                         + (SCORE["cma_bonus"] if row.assessment_type == "CMA" else 0.0)), 0, 100)
                score = np.where(rng.random(n) < MISSING_SCORE, np.nan, score)
                banked = np.zeros(n, dtype=bool)
                if row.assessment_type == "TMA":
                    k = list(ass.id_assessment[ass.assessment_type == "TMA"]).index(row.id_assessment)
                    for i, bf in enumerate(st.banked_from):
                        if isinstance(bf, dict) and k in bf and k < 2:
                            banked[i] = True
                            score[i] = bf[k]
                        if submitted[i] or banked[i]:
                            keys[i].append(k)
                            vals[i].append(float(score[i]))
                keep = submitted | banked
                subs.append(pd.DataFrame({
                    "id_assessment": row.id_assessment, "id_student": st.id_student[keep].to_numpy(),
                    "date_submitted": np.where(banked, -1, day)[keep], "is_banked": banked[keep].astype(int),
                    "score": score[keep]}))
            st["tma_scores_keys"], st["tma_scores_vals"] = keys, vals
            info = st.assign(code_module=module, code_presentation=pres, final_result=result)
            infos.append(info[[c.name for c in SCHEMAS["studentInfo.csv"].columns]])
            regs.append(pd.DataFrame({"code_module": module, "code_presentation": pres,
                                      "id_student": st.id_student.to_numpy(), "date_registration": reg_day,
                                      "date_unregistration": w_day}))
            for i, r in enumerate(st.itertuples()):
                truth_rows[f"{module}/{pres}/{r.id_student}"] = dict(
                    ability=round(float(a[i]), 4), trend=round(float(t[i]), 4), eta=round(float(eta[i]), 4),
                    risk=int(risk[i]), withdrawal_day=None if np.isnan(w_day[i]) else float(w_day[i]))
            if previous is None:
                previous = st
    info = pd.concat(infos, ignore_index=True)
    info["num_of_prev_attempts"] = info["num_of_prev_attempts"].astype(np.int64)
    info["studied_credits"] = info["studied_credits"].astype(np.int64)
    reg = pd.concat(regs, ignore_index=True)
    sa = pd.concat(subs, ignore_index=True).astype({"id_assessment": np.int64, "id_student": np.int64,
                                                      "date_submitted": np.int64, "is_banked": np.int64})
    sa = sa.sort_values(["id_assessment", "id_student"], kind="stable").reset_index(drop=True)
    frames = {
        "studentInfo.csv": info,
        "studentRegistration.csv": reg,
        "assessments.csv": pd.concat(assessments, ignore_index=True),
        "studentAssessment.csv": sa,
        "courses.csv": pd.DataFrame(courses, columns=["code_module", "code_presentation",
                                                      "module_presentation_length"]),
    }
    eta_all = np.array([v["eta"] for v in truth_rows.values()])
    risk_all = np.array([v["risk"] for v in truth_rows.values()])
    wd = np.array([np.inf if v["withdrawal_day"] is None else v["withdrawal_day"] for v in truth_rows.values()])
    at100 = wd > 100
    truth = {
        "seed": seed, "modules": {m: list(v[0]) for m, v in MODULES.items()},
        "n_enrolments": len(info), "n_students": int(info.id_student.nunique()),
        "risk_definition": "final_result in {Fail, Withdrawn}",
        "ability": "N(0, 1) per student + highest_education shift + IMD shift",
        "education_shift": {k: v[1] for k, v in EDUCATION.items()},
        "imd_effect": f"linear from -{IMD_EFFECT} (0-10%) to +{IMD_EFFECT} (90-100%); 0 when missing",
        "level": f"ability + {TREND_SLOPE} * trend * (day / length - {TREND_CENTRE})",
        "risk_logit": RISK, "withdraw_share_of_risk": WITHDRAW_SHARE, "distinction_share": DISTINCTION_SHARE,
        "submit": SUBMIT, "score": SCORE, "missing_score": MISSING_SCORE, "repeat_share": REPEAT_SHARE,
        "no_direct_effect": ["gender", "region", "age_band"],
        "risk_rate": round(float(risk_all.mean()), 4),
        "oracle_auc": round(_auc(eta_all, risk_all), 4),
        "registered_at_day_100": int(at100.sum()),
        "risk_rate_registered_at_day_100": round(float(risk_all[at100].mean()), 4),
        "oracle_auc_registered_at_day_100": round(_auc(eta_all[at100], risk_all[at100]), 4),
        "enrolments": truth_rows,
    }
    return Generated(frames, truth)


# --- real data ---------------------------------------------------------------------------------------

def _read_real(path: Path, schema: Schema) -> pd.DataFrame:
    if not path.exists():
        raise DataError(f"{path}: file not found (an OULAD folder holds {list(FILES)})")
    _check_header(path, schema)
    try:
        df = pd.read_csv(path, sep=",", quoting=csv.QUOTE_MINIMAL, keep_default_na=True, na_values=["?"],
                         low_memory=False)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: cannot be decoded as utf-8 ({exc.reason} at byte {exc.start})") from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{path}: cannot be parsed as comma-separated values: {exc}") from exc
    df.columns = [str(c).strip() for c in df.columns]
    for col in schema.columns:  # strings stripped; numbers coerced with a clear error
        if col.name not in df.columns:
            continue
        s = df[col.name]
        if col.kind == "str":
            df[col.name] = s.where(s.isna(), s.astype(str).str.strip())
        elif not pd.api.types.is_numeric_dtype(s):
            num = pd.to_numeric(s.astype(str).str.strip().replace({"": None}), errors="coerce")
            bad = s[num.isna() & s.notna() & (s.astype(str).str.strip() != "")]
            if len(bad):
                raise DataError(f"{path}: column {col.name!r} must be numeric; found {bad.head(3).tolist()}")
            df[col.name] = num
    return df


def from_real(path: str | Path) -> dict[str, pd.DataFrame]:
    """Convert the real OULAD tables in folder ``path`` into the course schema.

    Reads quoted CRLF and unquoted LF files alike; writes ``"10-20"`` of ``imd_band`` as ``"10-20%"``;
    keeps missing scores, exam dates and registration dates missing; keeps banked rows (``is_banked``);
    drops ``studentVle``/``vle`` (not used). Raises :class:`DataError` naming the file and the column
    when a table is missing, a column is missing or has unexpected values, or ids do not match.
    """
    path = Path(path)
    if not path.is_dir():
        raise DataError(f"{path}: not a folder; `mlbd data oulad --from DIR` needs the folder holding "
                        f"{list(FILES)}")
    out = {}
    for fname, schema in SCHEMAS.items():
        df = _read_real(path / fname, schema)
        if fname == "studentInfo.csv" and "imd_band" in df:
            df["imd_band"] = df["imd_band"].replace({"10-20": "10-20%"})
        extra = [c for c in df.columns if c not in schema.names]
        if extra:
            raise DataError(f"{path / fname}: unexpected column(s) {extra}; expected {schema.names}")
        validate(df, schema, where=str(path / fname))
        out[fname] = df[schema.names].reset_index(drop=True)
    keys = ["code_module", "code_presentation", "id_student"]
    info, reg = out["studentInfo.csv"], out["studentRegistration.csv"]
    if info.duplicated(keys).any():
        raise DataError(f"{path / 'studentInfo.csv'}: duplicated (code_module, code_presentation, id_student) "
                        f"rows, e.g. {info[info.duplicated(keys)][keys].head(2).values.tolist()}")
    unknown = reg.merge(info[keys], on=keys, how="left", indicator=True)
    if (unknown._merge == "left_only").any():
        raise DataError(f"{path / 'studentRegistration.csv'}: column 'id_student' has enrolments not in "
                        f"studentInfo.csv, e.g. {unknown[unknown._merge == 'left_only'][keys].head(2).values.tolist()}")
    ass = out["assessments.csv"]
    bad = ~out["studentAssessment.csv"].id_assessment.isin(ass.id_assessment)
    if bad.any():
        raise DataError(f"{path / 'studentAssessment.csv'}: column 'id_assessment' has ids not in "
                        f"assessments.csv, e.g. {out['studentAssessment.csv'].id_assessment[bad].head(3).tolist()}")
    pres = ass[["code_module", "code_presentation"]].drop_duplicates().merge(
        out["courses.csv"], how="left", on=["code_module", "code_presentation"])
    if pres.module_presentation_length.isna().any():
        raise DataError(f"{path / 'assessments.csv'}: module-presentations not in courses.csv: "
                        f"{pres[pres.module_presentation_length.isna()].iloc[:, :2].values.tolist()}")
    return out


DATASET = Dataset(
    name="oulad",
    title="Open University Learning Analytics Dataset, five tables (synthetic)",
    lectures="lab_lstm_performance; 12 (real-data section)",
    description=__doc__.split("\n", 2)[2].strip(),
    files=SCHEMAS,
    generate=generate,
    real_source=("Open University Learning Analytics Dataset (Kuzilek, Hlosta & Zdrahal 2017), "
                 "https://analyse.kmi.open.ac.uk/open_dataset; `mlbd data oulad --from DIR` converts the "
                 "folder holding studentInfo.csv, studentRegistration.csv, assessments.csv, "
                 "studentAssessment.csv and courses.csv."),
    license="CC BY 4.0 (real data).",
    from_real=from_real,
)
