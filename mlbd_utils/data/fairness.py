"""Synthetic demographics and pass/fail predictions with a known disparity (lecture 12, fairness).

A stand-in for the demographics of the flipped-classroom students and the out-of-fold predictions of
a BiLSTM (10-fold cross-validation) that the fairness lecture audits. 214 students from two cohorts
(104 and 110; the unnamed index restarts at 0 for the second cohort, as in the course's export).

Generating story (all of it is in the ground truth):

* gender: exactly 125 M, 70 F and 19 missing (35.9 % of those with a gender are women); students
  without a gender have no demographic data at all;
* diploma: France (French baccalaureate, ratings and ``avg_french_bac`` on a 20-point scale),
  Suisse (a recognised maturity, ratings on the Swiss 6-point scale in half steps) or another country
  (foreign baccalaureate, 20-point scale); ``continent_diploma`` follows the country, ``year_diploma``
  is mostly the year before the cohort started;
* a latent ability drives the school ratings (maths, physics, French less so) and the final grade:
  grade = 4.1 + 0.9 ability + gender/missing shift + noise, quarter steps, clipped to 1-6
  (pass = grade >= 4; the pass rate is higher for women than for men, as in the course's data);
* ``model_predictions.csv`` holds the model's probability of *failing* (column ``grade``; the
  notebook predicts pass when it is below 0.5). The predictions are built to have, per gender, an
  exact number of false negatives (passing students predicted to fail) and false positives (failing
  students predicted to pass), chosen among the students closest to the pass mark:
  **false-negative rate 0.30 for women, 0.12 for men and for students without a gender**, and the same
  false-positive rate 0.30 for everyone. The injected disparity is therefore a true-positive-rate gap
  (measured with the default seed: TPR M 0.878 vs F 0.708, gap 0.170; FPR 0.294 vs 0.318). Equal
  opportunity / equalised odds are violated, demographic parity nearly holds (PPP 0.640 vs 0.586);
  of predictive value parity, PPV holds (0.813 vs 0.829) but **NPV does not** (0.800 vs 0.517: a
  predicted fail is wrong for 14 of the 29 women predicted to fail). Country has no injected effect;
  the 19 students without a gender pass more often (16 of 19).

The metrics of the ground truth come from ``mlbd_utils.fairness.group_metrics``. Lecture 12 reads
only these two files for its synthetic audit (not ``flipped_classroom``); its real-data section audits
a model trained on the ``oulad`` dataset instead.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..fairness import group_metrics
from .registry import Dataset, Generated
from .schema import Column, Schema

COHORT_SIZES = (104, 110)
GENDER_COUNTS = {"M": 125, "F": 70, "NaN": 19}
GRADE_SHIFT = {"M": -0.05, "F": 0.20, "NaN": 1.20}
FNR = {"F": 0.30, "M": 0.12, "NaN": 0.12}  # passing students predicted to fail
FPR = {"F": 0.30, "M": 0.30, "NaN": 0.30}  # failing students predicted to pass
COUNTRIES = {  # country -> (probability, continent)
    "France": (0.55, "Europe"), "Suisse": (0.38, "Europe"), "Belgique": (0.02, "Europe"),
    "Luxembourg": (0.01, "Europe"), "Italie": (0.01, "Europe"), "Maroc": (0.02, "Afrique"),
    "Tunisie": (0.01, "Afrique"),
}
CONTINENTS = ("Europe", "Afrique")
SWISS_TITLES = {
    "Mat. reconnue opt. physique et math": 0.55, "Mat. reconnue opt. biologie et chimie": 0.25,
    "Mat. reconnue opt. économie et droit": 0.10, "Mat. reconnue opt. langues modernes": 0.10,
}
FOREIGN_TITLE = "Bacc. étranger"
TITLES = (FOREIGN_TITLE,) + tuple(SWISS_TITLES)


def _rating(name, subject):
    return Column(name, "float", f"school rating in {subject} (on scale_{subject.split()[0]})",
                  "points", nullable=True, min=0, max=20)


def _scale(name, subject):
    return Column(name, "float", f"scale of the {subject} rating: 20 (foreign) or 6 (Swiss)",
                  nullable=True, allowed=(6.0, 20.0))


SCHEMAS = {
    "demographics.csv": Schema((
        Column("gender", "str", "M or F; missing for some students", nullable=True, allowed=("M", "F")),
        Column("country_diploma", "str", "country of the secondary-school diploma", nullable=True,
               allowed=tuple(COUNTRIES)),
        Column("continent_diploma", "str", "continent of that country", nullable=True, allowed=CONTINENTS),
        Column("year_diploma", "float", "year the diploma was obtained", "year", nullable=True,
               min=2015, max=2020),
        _rating("rating_french", "french"),
        Column("title_diploma", "str", "diploma: foreign baccalaureate or Swiss maturity option",
               nullable=True, allowed=TITLES),
        Column("avg_french_bac", "float", "overall average of the French baccalaureate (France only)",
               "points /20", nullable=True, min=0, max=20),
        _scale("scale_french", "french"),
        _rating("rating_maths", "maths"),
        _scale("scale_maths", "maths"),
        _rating("rating_physics", "physics"),
        _scale("scale_physics", "physics"),
        Column("grade", "float", "final exam grade, Swiss scale, quarter steps; pass >= 4", "1-6",
               min=1, max=6),
    ), index_col="Unnamed: 0"),
    "model_predictions.csv": Schema((
        Column("grade", "float", "predicted probability of failing (pass predicted when < 0.5); "
               "same row order as demographics.csv", "probability", min=0, max=1),
    )),
}


def _round_to(x, step):
    return np.round(np.asarray(x, dtype=float) / step) * step


def _pick(rng, idx, k, weights):
    """``k`` of ``idx`` without replacement, with probability proportional to ``weights``."""
    if k <= 0 or len(idx) == 0:
        return np.array([], dtype=int)
    w = np.asarray(weights, dtype=float)
    return rng.choice(idx, size=min(k, len(idx)), replace=False, p=w / w.sum())


def generate(seed: int = 2024) -> Generated:
    """Generate ``demographics.csv`` and ``model_predictions.csv`` with their ground truth."""
    rng = np.random.default_rng(seed)
    n = sum(COHORT_SIZES)
    cohort = np.repeat(np.arange(len(COHORT_SIZES)), COHORT_SIZES)
    index = np.concatenate([np.arange(k) for k in COHORT_SIZES])
    gender = rng.permutation(np.repeat(np.array(list(GENDER_COUNTS), dtype=object),
                                       list(GENDER_COUNTS.values())))
    known = gender != "NaN"

    names = list(COUNTRIES)
    probs = np.array([COUNTRIES[c][0] for c in names])
    country = rng.choice(np.array(names, dtype=object), size=n, p=probs / probs.sum())
    continent = np.array([COUNTRIES[c][1] for c in country], dtype=object)
    swiss = country == "Suisse"
    titles = list(SWISS_TITLES)
    tp = np.array(list(SWISS_TITLES.values()))
    title = np.where(swiss, rng.choice(np.array(titles, dtype=object), size=n, p=tp / tp.sum()),
                     FOREIGN_TITLE).astype(object)
    year_diploma = (2018 + cohort - (rng.random(n) < 0.12)).astype(float)

    ability = rng.normal(size=n)

    def school(weight, mean20, sd20):
        z = weight * ability + np.sqrt(1 - weight**2) * rng.normal(size=n)
        on20 = np.clip(_round_to(mean20 + sd20 * z, 1.0), 6, 20)
        on6 = np.clip(_round_to(5.0 + 0.5 * z, 0.5), 3.5, 6)
        return np.where(swiss, on6, on20)
    r_maths = school(0.6, 16.5, 2.0)
    r_physics = school(0.55, 16.5, 2.0)
    r_french = school(0.2, 13.0, 2.5)
    scale = np.where(swiss, 6.0, 20.0)
    bac = np.where(country == "France",
                   np.round(np.clip(16.8 + 1.1 * (0.5 * ability + 0.85 * rng.normal(size=n)), 12, 20), 2),
                   np.nan)

    shift = np.vectorize(GRADE_SHIFT.get)(gender)
    grade = np.clip(_round_to(4.1 + 0.9 * ability + shift + rng.normal(scale=0.7, size=n), 0.25), 1, 6)
    y = (grade >= 4).astype(int)

    # predictions: exact false negatives / positives per gender, near the pass mark
    y_pred = y.copy()
    for g in GENDER_COUNTS:
        pos = np.flatnonzero((gender == g) & (y == 1))
        neg = np.flatnonzero((gender == g) & (y == 0))
        fn = _pick(rng, pos, int(round(FNR[g] * len(pos))), np.exp(-(grade[pos] - 4.0) / 0.75))
        fp = _pick(rng, neg, int(round(FPR[g] * len(neg))), np.exp(-(4.0 - grade[neg]) / 0.75))
        y_pred[fn] = 0
        y_pred[fp] = 1
    conf = 1 / (1 + np.exp(-(1.2 * np.abs(grade - 4.0) * (y_pred == y) + rng.normal(0.6, 0.5, n))))
    conf = np.clip(conf, 0.51, 0.995)
    p_fail = np.round(np.where(y_pred == 1, 1 - conf, conf), 6)

    def nan(a):
        a = np.asarray(a, dtype=object if np.asarray(a).dtype == object else float).copy()
        a[~known] = np.nan
        return a
    demo = pd.DataFrame({
        "gender": nan(gender), "country_diploma": nan(country), "continent_diploma": nan(continent),
        "year_diploma": nan(year_diploma), "rating_french": nan(r_french), "title_diploma": nan(title),
        "avg_french_bac": nan(bac), "scale_french": nan(scale), "rating_maths": nan(r_maths),
        "scale_maths": nan(scale), "rating_physics": nan(r_physics), "scale_physics": nan(scale),
        "grade": grade,
    }, index=index)
    preds = pd.DataFrame({"grade": p_fail})

    y_hat = (p_fail < 0.5).astype(int)
    assert (y_hat == y_pred).all()
    measured = {g: group_metrics(y[gender == g], y_hat[gender == g]) for g in GENDER_COUNTS}
    measured["all"] = group_metrics(y, y_hat)
    by_country = {c: group_metrics(y[known & (country == c)], y_hat[known & (country == c)])
                  for c in ("France", "Suisse")}
    truth = {
        "seed": seed, "n_students": n, "cohort_sizes": list(COHORT_SIZES),
        "gender_counts": GENDER_COUNTS,
        "grade_formula": "clip(round_quarter(4.1 + 0.9 ability + gender_shift + N(0, 0.7)), 1, 6)",
        "grade_shift_by_gender": GRADE_SHIFT,
        "label": "y = 1 (pass) when grade >= 4; model_predictions.grade = P(fail), y_pred = 1 when < 0.5",
        "injected_FNR": FNR, "injected_FPR": FPR,
        "disparity": "false-negative rate (passing students predicted to fail) 0.30 for F vs 0.12 for M: "
                     "TPR gap M - F ~0.18; FPR equal",
        "measured_by_gender": measured,
        "measured_by_country": by_country,
        "ability": np.round(ability, 4).tolist(),
    }
    return Generated({"demographics.csv": demo, "model_predictions.csv": preds}, truth)


DATASET = Dataset(
    name="fairness",
    title="Demographics and model predictions for the fairness audit (synthetic)",
    lectures="12",
    description=__doc__.split("\n", 2)[2].strip(),
    files=SCHEMAS,
    generate=generate,
    real_source="The EPFL demographics are private; OULAD (CC BY 4.0) has real gender and pass/fail "
                "data for a comparable audit.",
)
