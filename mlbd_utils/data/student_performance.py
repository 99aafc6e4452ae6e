"""Student performance in a Portuguese-language course, in the UCI schema (SEDG lab).

A stand-in for the UCI Student Performance data (Cortez & Silva 2008; the Portuguese course file
``student-por.csv``, 649 students of two secondary schools): 30 demographic, social and
school-related attributes, the first- and second-period grades ``G1``/``G2`` and the final grade
``G3`` on the Portuguese 0-20 scale. ``G3`` as a 0-20 class label is the imbalanced multi-class
target of the SEDG paper: most students sit in the middle (10-14), the extremes (0-7, 17-20) are
rare, and ``G3 = 0`` marks students who did not sit the final exam. The file has the real file's
33 columns, names, value sets and separator (``;``); the real file can be converted with
``mlbd data student_performance --from student-por.csv`` (``student-mat.csv``, the mathematics
course, 395 students, has the same schema).

Generating story (all of it is in the ground truth):

* each student has a latent socio-economic status ``s``, academic *ability* ``a`` (correlation
  0.3 with ``s``) and *motivation* ``m``, all standard normal;
* the attributes are drawn with dependencies: parents' education from ``s``, jobs from
  education, address and travel time from the school, study time from ``m`` and sex, past
  failures from ``a``, ``m`` and age (a failure can add a year of age), wish for higher
  education from ``m``, ``a`` and failures, alcohol use from going out, sex and ``m``, absences
  (mostly even numbers, heavy-tailed) from ``m`` and alcohol use;
* the student's level is ``L = intercept + 1.7 a + 0.5 m + sum_j beta_j x_j`` (``coefficients``
  of the ground truth: failures, higher, school, study time, mother's education, sex, workday
  alcohol, absences, school support, internet, romantic, address, reason);
* with a period trend ``t ~ N(0, 0.45)``: ``G1 = round(L - 0.3 + N(0, 1.0))``,
  ``G2 = round(L + t - 0.1 + N(0, 0.7))``, ``G3 = round(L + 1.5 t + 0.2 + N(0, 0.55))``, all
  clipped to 0-20;
* a few students drop out before the final exam (logistic in failures, ability, motivation):
  their ``G3`` is 0, and for some of them ``G2`` is 0 too.

``g3_expected`` in the ground truth is each student's ``L + 0.2`` (the mean of ``G3`` given the
latent traits and attributes, before dropout and rounding).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit
from scipy.stats import norm

from .registry import Dataset, Generated
from .schema import Column, Schema, read_table

FILE = "student-por.csv"
N_STUDENTS = 649

_YN = ("yes", "no")
_JOBS = ("teacher", "health", "services", "at_home", "other")
_EDU = "0 none, 1 primary (4th grade), 2 5th-9th grade, 3 secondary, 4 higher education"
_LIKERT = "1 very low - 5 very high"

SCHEMA = Schema((
    Column("school", "str", "school: GP Gabriel Pereira, MS Mousinho da Silveira", allowed=("GP", "MS")),
    Column("sex", "str", "F female, M male", allowed=("F", "M")),
    Column("age", "int", "age", "years", min=15, max=22),
    Column("address", "str", "home address: U urban, R rural", allowed=("U", "R")),
    Column("famsize", "str", "family size: LE3 (<= 3) or GT3 (> 3)", allowed=("LE3", "GT3")),
    Column("Pstatus", "str", "parents' cohabitation: T together, A apart", allowed=("T", "A")),
    Column("Medu", "int", f"mother's education: {_EDU}", "level", min=0, max=4),
    Column("Fedu", "int", f"father's education: {_EDU}", "level", min=0, max=4),
    Column("Mjob", "str", "mother's job", allowed=_JOBS),
    Column("Fjob", "str", "father's job", allowed=_JOBS),
    Column("reason", "str", "reason to choose the school", allowed=("home", "reputation", "course", "other")),
    Column("guardian", "str", "student's guardian", allowed=("mother", "father", "other")),
    Column("traveltime", "int", "home-school travel: 1 <15 min, 2 15-30 min, 3 30-60 min, 4 >1 h", "level",
           min=1, max=4),
    Column("studytime", "int", "weekly study: 1 <2 h, 2 2-5 h, 3 5-10 h, 4 >10 h", "level", min=1, max=4),
    Column("failures", "int", "past class failures (n if 1 <= n < 3, else 4; the data hold 0-3)", "count",
           min=0, max=4),
    Column("schoolsup", "str", "extra educational support", allowed=_YN),
    Column("famsup", "str", "family educational support", allowed=_YN),
    Column("paid", "str", "extra paid classes in the course subject", allowed=_YN),
    Column("activities", "str", "extra-curricular activities", allowed=_YN),
    Column("nursery", "str", "attended nursery school", allowed=_YN),
    Column("higher", "str", "wants to take higher education", allowed=_YN),
    Column("internet", "str", "Internet access at home", allowed=_YN),
    Column("romantic", "str", "in a romantic relationship", allowed=_YN),
    Column("famrel", "int", "quality of family relationships, 1 very bad - 5 excellent", "level", min=1, max=5),
    Column("freetime", "int", f"free time after school, {_LIKERT}", "level", min=1, max=5),
    Column("goout", "int", f"going out with friends, {_LIKERT}", "level", min=1, max=5),
    Column("Dalc", "int", f"workday alcohol consumption, {_LIKERT}", "level", min=1, max=5),
    Column("Walc", "int", f"weekend alcohol consumption, {_LIKERT}", "level", min=1, max=5),
    Column("health", "int", "current health status, 1 very bad - 5 very good", "level", min=1, max=5),
    Column("absences", "int", "school absences", "count", min=0, max=93),
    Column("G1", "int", "first-period grade", "0-20", min=0, max=20),
    Column("G2", "int", "second-period grade", "0-20", min=0, max=20),
    Column("G3", "int", "final grade (the target; 0: did not sit the final exam)", "0-20", min=0, max=20),
), sep=";")
SCHEMAS = {FILE: SCHEMA}

# Effects on the student's level L, in grade points (x is 0/1 for yes/no attributes).
COEFFICIENTS = {
    "ability": 1.7,
    "motivation": 0.5,
    "failures": -0.8,           # per past failure
    "higher=yes": 1.0,
    "school=MS": -1.1,
    "studytime": 0.3,           # per level above 1
    "Medu": 0.2,                # per level
    "sex=F": 0.3,
    "Dalc": -0.40,              # per level above 1
    "absences": -0.04,          # per absence
    "schoolsup=yes": -0.5,
    "internet=yes": 0.2,
    "romantic=yes": -0.2,
    "address=U": 0.3,
    "reason=reputation": 0.3,
}
INTERCEPT = 10.7
DROPOUT = {"intercept": -4.9, "failures": 0.9, "ability": -0.6, "motivation": -0.5}


def _ordinal(latent: np.ndarray, probs, start: int = 0) -> np.ndarray:
    """Cut a latent score into levels ``start, start+1, ...`` with (about) the given shares."""
    z = (latent - latent.mean()) / latent.std()
    cuts = norm.ppf(np.cumsum(probs)[:-1])
    return start + np.searchsorted(cuts, z, side="right")


def _choice(rng, options, probs):
    """One draw per row; ``probs`` is (n, k)."""
    probs = np.asarray(probs, float)
    probs = probs / probs.sum(axis=1, keepdims=True)
    u = rng.random(len(probs))
    idx = (u[:, None] > np.cumsum(probs, axis=1)).sum(axis=1)
    return np.asarray(options, dtype=object)[np.minimum(idx, len(options) - 1)]


def _yn(mask) -> np.ndarray:
    return np.where(mask, "yes", "no").astype(object)


def generate(seed: int = 2024, n: int = N_STUDENTS) -> Generated:
    """Generate ``student-por.csv`` (649 students) and its ground truth."""
    rng = np.random.default_rng(seed)
    nrm = lambda: rng.normal(size=n)  # noqa: E731
    ses = nrm()
    ability = 0.3 * ses + np.sqrt(1 - 0.09) * nrm()
    motiv = nrm()

    ms = rng.random(n) < 0.35
    school = np.where(ms, "MS", "GP").astype(object)
    female = rng.random(n) < 0.59
    sex = np.where(female, "F", "M").astype(object)
    ses = ses - 0.3 * ms
    urban = rng.random(n) < expit(1.3 - 1.1 * ms + 0.3 * ses)
    address = np.where(urban, "U", "R").astype(object)
    famsize = np.where(rng.random(n) < 0.70, "GT3", "LE3").astype(object)
    pstatus = np.where(rng.random(n) < 0.88, "T", "A").astype(object)
    medu = _ordinal(ses + 0.6 * nrm(), [0.01, 0.22, 0.29, 0.21, 0.27])
    fedu = _ordinal(0.85 * ses + 0.6 * nrm(), [0.01, 0.27, 0.32, 0.20, 0.20])

    # jobs: (teacher, health, services, at_home, other), by parent's education
    mjob_p = np.select([medu[:, None] == 4, medu[:, None] == 3],
                       [[0.33, 0.15, 0.20, 0.08, 0.24], [0.04, 0.08, 0.30, 0.15, 0.43]],
                       [0.0, 0.03, 0.18, 0.37, 0.42])
    mjob = _choice(rng, _JOBS, mjob_p)
    fjob_p = np.select([fedu[:, None] == 4], [[0.17, 0.08, 0.27, 0.03, 0.45]], [0.02, 0.025, 0.28, 0.075, 0.60])
    fjob = _choice(rng, _JOBS, fjob_p)
    reason = _choice(rng, ("course", "home", "reputation", "other"),
                     np.where(ms[:, None], [0.47, 0.25, 0.13, 0.15], [0.42, 0.22, 0.27, 0.09]))
    guardian = _choice(rng, ("mother", "father", "other"), np.tile([0.70, 0.24, 0.06], (n, 1)))
    travel = _ordinal(0.9 * ms + 0.7 * ~urban + nrm(), [0.56, 0.33, 0.08, 0.03], start=1)
    study = _ordinal(0.8 * motiv + 0.5 * female + 0.6 * nrm(), [0.33, 0.47, 0.15, 0.05], start=1)

    age0 = 15 + _choice(rng, range(6), np.tile([0.18, 0.28, 0.28, 0.21, 0.04, 0.01], (n, 1))).astype(int)
    p_fail = expit(-2.4 - 0.9 * ability - 0.4 * motiv + 0.3 * (age0 - 16.5))
    failed = rng.random(n) < p_fail
    failures = np.where(failed, _choice(rng, (1, 2, 3), np.tile([0.68, 0.16, 0.16], (n, 1))), 0).astype(int)
    age = np.minimum(22, age0 + (failed & (rng.random(n) < 0.4))).astype(int)
    guardian[(age >= 19) & (rng.random(n) < 0.3)] = "other"

    schoolsup = _yn(rng.random(n) < expit(-2.6 - 0.7 * ability + 0.6 * (age <= 16) + 0.5 * ~ms))
    famsup = _yn(rng.random(n) < expit(0.45 + 0.3 * ses))
    paid = _yn(rng.random(n) < 0.06)
    activities = _yn(rng.random(n) < expit(-0.05 + 0.3 * motiv))
    nursery = _yn(rng.random(n) < 0.80)
    higher = _yn(rng.random(n) < expit(2.7 + 1.0 * motiv + 0.6 * ability - 0.9 * failures))
    internet = _yn(rng.random(n) < expit(0.9 + 0.6 * ses + 0.5 * urban))
    romantic = _yn(rng.random(n) < expit(-0.6 + 0.3 * (age - 16.5)))
    famrel = _ordinal(nrm(), [0.03, 0.045, 0.155, 0.49, 0.28], start=1)
    free_lat = nrm()
    freetime = _ordinal(free_lat, [0.07, 0.165, 0.385, 0.275, 0.105], start=1)
    goout_lat = 0.4 * free_lat + nrm()
    goout = _ordinal(goout_lat, [0.074, 0.223, 0.316, 0.217, 0.17], start=1)
    dalc_lat = 0.4 * goout_lat + 0.6 * ~female - 0.3 * motiv + nrm()
    dalc = _ordinal(dalc_lat, [0.695, 0.186, 0.066, 0.026, 0.027], start=1)
    walc = _ordinal(0.8 * dalc_lat + 0.4 * goout_lat + 0.6 * nrm(), [0.38, 0.23, 0.185, 0.135, 0.07], start=1)
    health = _ordinal(nrm(), [0.14, 0.12, 0.19, 0.166, 0.384], start=1)
    # absences: heavy-tailed counts, reported mostly in even numbers (as in the real file)
    mu_abs = np.exp(np.log(1.6) - 0.3 * motiv + 0.15 * (dalc - 1))
    k = rng.negative_binomial(0.8, 0.8 / (0.8 + mu_abs))
    absences = np.minimum(93, 2 * k + (rng.random(n) < 0.08)).astype(int)

    x = {
        "ability": ability, "motivation": motiv, "failures": failures, "higher=yes": higher == "yes",
        "school=MS": ms, "studytime": study - 1, "Medu": medu, "sex=F": female, "Dalc": dalc - 1,
        "absences": absences, "schoolsup=yes": schoolsup == "yes", "internet=yes": internet == "yes",
        "romantic=yes": romantic == "yes", "address=U": urban, "reason=reputation": reason == "reputation",
    }
    level = INTERCEPT + sum(COEFFICIENTS[k] * np.asarray(v, float) for k, v in x.items())
    trend = rng.normal(0, 0.45, n)
    g1 = np.clip(np.round(level - 0.3 + rng.normal(0, 1.0, n)), 0, 20).astype(int)
    g2 = np.clip(np.round(level + trend - 0.1 + rng.normal(0, 0.7, n)), 0, 20).astype(int)
    g3 = np.clip(np.round(level + 1.5 * trend + 0.2 + rng.normal(0, 0.55, n)), 0, 20).astype(int)
    p_drop = expit(DROPOUT["intercept"] + DROPOUT["failures"] * failures + DROPOUT["ability"] * ability
                   + DROPOUT["motivation"] * motiv)
    dropped = rng.random(n) < p_drop
    early = dropped & (rng.random(n) < 0.4)
    g3[dropped] = 0
    g2[early] = 0

    df = pd.DataFrame({
        "school": school, "sex": sex, "age": age, "address": address, "famsize": famsize,
        "Pstatus": pstatus, "Medu": medu, "Fedu": fedu, "Mjob": mjob, "Fjob": fjob, "reason": reason,
        "guardian": guardian, "traveltime": travel, "studytime": study, "failures": failures,
        "schoolsup": schoolsup, "famsup": famsup, "paid": paid, "activities": activities,
        "nursery": nursery, "higher": higher, "internet": internet, "romantic": romantic,
        "famrel": famrel, "freetime": freetime, "goout": goout, "Dalc": dalc, "Walc": walc,
        "health": health, "absences": absences, "G1": g1, "G2": g2, "G3": g3,
    })
    for c in df.columns:
        if df[c].dtype != object:
            df[c] = df[c].astype("int64")
    truth = {
        "seed": seed, "n_students": n,
        "latents": "s (socio-economic status), ability a (corr 0.3 with s), motivation m; N(0,1)",
        "intercept": INTERCEPT, "coefficients": COEFFICIENTS,
        "g3_formula": "G3 = clip(round(L + 1.5 t + 0.2 + N(0, 0.55)), 0, 20), L = intercept + sum_j "
                      "coefficients_j x_j (studytime and Dalc counted from level 1, yes/no as 0/1), "
                      "t ~ N(0, 0.45) the period trend; G3 = 0 for dropouts",
        "g1_formula": "G1 = clip(round(L - 0.3 + N(0, 1.0)), 0, 20)",
        "g2_formula": "G2 = clip(round(L + t - 0.1 + N(0, 0.7)), 0, 20); 0 for early dropouts",
        "dropout_model": "P(dropout) = expit(intercept + failures*f + ability*a + motivation*m)",
        "dropout_coefficients": DROPOUT,
        "dropouts": np.flatnonzero(dropped).tolist(),
        "early_dropouts": np.flatnonzero(early).tolist(),
        "g3_expected": np.round(level + 0.2, 3).tolist(),
        "ability": np.round(ability, 4).tolist(),
        "motivation": np.round(motiv, 4).tolist(),
        "g3_counts": {int(k): int(v) for k, v in zip(*np.unique(g3, return_counts=True))},
    }
    return Generated({FILE: df}, truth)


def from_real(path: Path) -> dict[str, pd.DataFrame]:
    """Read the real UCI ``student-por.csv`` (or ``student-mat.csv``, same schema) with validation.

    The result is written as the course's ``student-por.csv`` whichever of the two is given.
    """
    return {FILE: read_table(path, SCHEMA)}


DATASET = Dataset(
    name="student_performance",
    title="Student performance, Portuguese course (synthetic, UCI schema)",
    lectures="lab_sedg",
    description=__doc__.split("\n", 2)[2].strip(),
    files=SCHEMAS,
    generate=generate,
    real_source="UCI Machine Learning Repository, Student Performance (id 320), student-por.csv: "
                "https://archive.ics.uci.edu/dataset/320/student+performance",
    license="CC BY 4.0 (Cortez & Silva 2008)",
    from_real=from_real,
)
