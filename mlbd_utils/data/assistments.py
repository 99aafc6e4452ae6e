"""Synthetic ASSISTments-style skill-builder logs (lectures 06, 07, 08).

A stand-in for the ASSISTments 2009-2010 skill-builder data (325,637 first attempts of 4,151
middle-school students on 110 math skills, mean correctness 0.659): one row per first attempt at a
problem, with the student, a global ordering id, the skill and whether the answer was right.

Generating story (all of it is in the ground truth):

* 4,000 students, 110 skills. Each skill has Bayesian Knowledge Tracing parameters ``prior``
  (P(L0)), ``learn`` (P(T)), ``guess``, ``slip`` and ``forget`` (0 unless ``generate(forget=...)``).
  The six skills the lectures use have fixed parameters (``LECTURE_SKILLS``); the others are drawn
  from the seed.
* Each student has an *ability* ``theta ~ N(0, 1)``. It raises the chance to start a skill already
  mastered (logit slope ``ability_prior_slope``) and to learn at each opportunity (logit slope
  ``ability_learn_slope``). The logit offsets are calibrated so that the population mean of the
  student-level prior and learn rate equals the skill's ``prior`` and ``learn``. Ability therefore
  shows up as a student intercept in AFM/PFA-style logistic models, and students improve with
  practice (opportunity slopes).
* Skill popularity is very unequal (``weight``: a few skills are practised by a third to half of
  the students, some by a handful); the number of skills a student practises is heavy-tailed
  (median ~4, max 80).
* Skill-builder mechanics: a student works on a skill until three correct answers in a row
  (with probability ``p_stop_at_mastery``) or until a random cap of problems is reached.
  The stopping rule depends only on observed answers, so BKT likelihoods are unaffected.
* Time: each student is active over part of the school year; a skill's problems are answered in
  short bursts, skills may interleave. ``order_id`` is a global, increasing log id (it orders the
  attempts of all students in time); rows are sorted by ``user_id`` and then ``order_id``.

Recovery: pyBKT (``Model(seed=0, num_fits=5)``, no forgetting) fitted on each of the six lecture
skills recovers prior, learn and guess within 0.10 and slip within 0.03 of the generating values
(tested in ``tests/test_data_assistments.py``). For the default seed the largest errors are 0.058
(prior), 0.063 (learn), 0.073 (guess), 0.007 (slip); mean absolute error 0.02. The population-level
process is only approximately BKT because ability also varies the learning rate between students,
so the fitted ``learn`` is biased low by about 0.04 on average (over 12 seeds).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .registry import Dataset, Generated
from .schema import Column, DataError, Schema, validate

N_STUDENTS = 4000
ABILITY_PRIOR_SLOPE = 1.5
ABILITY_LEARN_SLOPE = 0.4
P_STOP_AT_MASTERY = 0.6
ORDER_ID_START = 20_000_000

# The six skills of lectures 06-08: fixed BKT parameters and popularity weight.
LECTURE_SKILLS = {
    "Circle Graph": dict(prior=0.30, learn=0.12, guess=0.22, slip=0.12, weight=2.2),
    "Venn Diagram": dict(prior=0.55, learn=0.20, guess=0.25, slip=0.08, weight=1.9),
    "Mode": dict(prior=0.75, learn=0.20, guess=0.30, slip=0.07, weight=1.9),
    "Division Fractions": dict(prior=0.45, learn=0.15, guess=0.20, slip=0.10, weight=2.6),
    "Finding Percents": dict(prior=0.25, learn=0.10, guess=0.18, slip=0.12, weight=3.0),
    "Area Rectangle": dict(prior=0.70, learn=0.25, guess=0.30, slip=0.06, weight=0.9),
}

# Other skills: plausible middle-school math skill names in the style of ASSISTments.
OTHER_SKILLS = (
    "Addition Whole Numbers", "Subtraction Whole Numbers", "Multiplication Whole Numbers",
    "Division Whole Numbers", "Addition and Subtraction Integers", "Multiplication and Division Integers",
    "Addition and Subtraction Fractions", "Multiplication Fractions", "Addition and Subtraction Decimals",
    "Multiplication and Division Decimals", "Equivalent Fractions", "Simplifying Fractions",
    "Mixed Numbers and Improper Fractions", "Ordering Fractions", "Ordering Decimals", "Ordering Integers",
    "Comparing Real Numbers", "Rounding", "Estimation", "Place Value", "Absolute Value", "Number Line",
    "Prime Factorization", "Prime Numbers", "Divisibility Rules", "Greatest Common Factor",
    "Least Common Multiple", "Exponents", "Square Roots", "Scientific Notation", "Order of Operations",
    "Order of Operations with Exponents", "Conversion of Fractions Decimals Percents", "Percent Of",
    "Percent Increase and Decrease", "Percent Discount", "Simple Interest", "Ratio", "Proportion",
    "Unit Rate", "Rate Problems", "Scale Factor", "Unit Conversion", "Reading a Scale",
    "Algebraic Expressions", "Evaluating Expressions", "Combining Like Terms", "Distributive Property",
    "Equation Solving One Step", "Equation Solving Two Steps", "Equation Solving More Than Two Steps",
    "Solving Inequalities", "Graphing Inequalities", "Solving for a Variable", "Linear Equations",
    "Slope from a Graph", "Slope from Two Points", "Intercepts", "Write Linear Equation from Graph",
    "Write Linear Equation from Situation", "Systems of Linear Equations", "Pattern Finding",
    "Linear Patterns", "Polynomial Factoring", "Quadratic Equations", "Exponent Rules", "Function Tables",
    "Coordinate Graphs", "Area Triangle", "Area Parallelogram", "Area Trapezoid", "Area Circle",
    "Area Composite Figures", "Perimeter of a Polygon", "Circumference", "Volume Rectangular Prism",
    "Volume Cylinder", "Volume Cone and Sphere", "Surface Area Rectangular Prism", "Surface Area Cylinder",
    "Pythagorean Theorem", "Angle Types", "Complementary and Supplementary Angles", "Angles in a Triangle",
    "Interior Angles of Polygons", "Parallel Lines and Transversals", "Congruent Figures",
    "Similar Figures", "Reflections", "Rotations", "Translations", "Nets of Solids", "Midpoint", "Mean",
    "Median", "Range", "Box and Whisker", "Stem and Leaf Plot", "Histogram", "Scatter Plot",
    "Reading Tables", "Probability of a Single Event", "Probability of Compound Events",
    "Counting Principle",
)
SKILLS = tuple(LECTURE_SKILLS) + OTHER_SKILLS

SCHEMAS = {
    "assistments.csv": Schema((
        Column("user_id", "int", "anonymous student id", min=0),
        Column("order_id", "int", "global log id of the attempt; increases with time (within a student too)",
               min=0),
        Column("skill_name", "str", "the skill the problem practises"),
        Column("correct", "int", "1 if the first attempt at the problem was correct, 0 otherwise",
               allowed=(0, 1)),
    )),
}

# Real-data formats accepted by from_real.
LONG_COLUMNS = ("user_id", "seq_index", "skill_name", "correct")
ORIGINAL_COLUMNS = ("user_id", "order_id", "skill_name", "correct")


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p):
    p = np.asarray(p, dtype=float)
    return np.log(p / (1 - p))


def _calibrated_offset(mean: np.ndarray, slope: float) -> np.ndarray:
    """Offsets ``b`` with E[sigmoid(b + slope * theta)] = mean for theta ~ N(0, 1) (Gauss-Hermite)."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(40)
    weights = weights / weights.sum()
    mean = np.asarray(mean, dtype=float)
    b = _logit(mean)
    for _ in range(50):  # Newton steps, monotone function of b
        s = _sigmoid(b[:, None] + slope * nodes[None, :])
        f = (s * weights).sum(axis=1) - mean
        df = (s * (1 - s) * weights).sum(axis=1)
        b = b - f / df
    return b


def _skill_params(rng: np.random.Generator, forget: float) -> pd.DataFrame:
    n_other = len(OTHER_SKILLS)
    other = pd.DataFrame({
        "prior": np.round(rng.beta(1.3, 1.1, n_other) * 0.9 + 0.04, 3),
        "learn": np.round(rng.beta(2.0, 9.0, n_other) * 0.9 + 0.03, 3),
        "guess": np.round(rng.uniform(0.06, 0.35, n_other), 3),
        "slip": np.round(rng.uniform(0.04, 0.25, n_other), 3),
        # very unequal popularity: log-normal weights
        "weight": np.round(np.exp(rng.normal(-0.6, 1.7, n_other)), 4),
    }, index=list(OTHER_SKILLS))
    lect = pd.DataFrame(LECTURE_SKILLS).T
    params = pd.concat([lect, other]).astype(float)
    params["forget"] = float(forget)
    params.index.name = "skill_name"
    return params


def generate(seed: int = 2024, n_students: int = N_STUDENTS, forget: float = 0.0) -> Generated:
    """Generate ``assistments.csv`` and its ground truth (see the module docstring)."""
    rng = np.random.default_rng(seed)
    params = _skill_params(rng, forget)
    n_skills = len(params)

    # students: sparse ids, ability, number of skills practised (heavy-tailed)
    user_ids = np.sort(rng.choice(np.arange(10, 100_000), size=n_students, replace=False))
    ability = rng.normal(size=n_students)
    n_sk = np.clip(1 + np.floor(np.exp(rng.normal(1.35, 1.3, n_students))), 1, 80).astype(int)

    # which skills: weighted sampling without replacement (Gumbel top-k)
    keys = np.log(params["weight"].values)[None, :] + rng.gumbel(size=(n_students, n_skills))
    order = np.argsort(-keys, axis=1)
    take = np.arange(n_skills)[None, :] < n_sk[:, None]
    pair_user = np.repeat(np.arange(n_students), n_sk)
    pair_skill = order[take]
    n_pairs = len(pair_user)

    # per pair BKT parameters: ability shifts prior and learn around calibrated offsets
    prior_b = _calibrated_offset(params["prior"].values, ABILITY_PRIOR_SLOPE)
    learn_b = _calibrated_offset(params["learn"].values, ABILITY_LEARN_SLOPE)
    th = ability[pair_user]
    p_prior = _sigmoid(prior_b[pair_skill] + ABILITY_PRIOR_SLOPE * th)
    p_learn = _sigmoid(learn_b[pair_skill] + ABILITY_LEARN_SLOPE * th)
    p_guess = params["guess"].values[pair_skill]
    p_slip = params["slip"].values[pair_skill]
    p_forget = params["forget"].values[pair_skill]

    # skill-builder: stop after three correct in a row (most pairs) or at a random cap
    cap = np.clip(np.ceil(np.exp(rng.normal(2.0, 1.0, n_pairs))), 1, 250).astype(int)
    stop_at_mastery = rng.random(n_pairs) < P_STOP_AT_MASTERY
    t_max = int(cap.max())
    known = rng.random(n_pairs) < p_prior
    alive = np.ones(n_pairs, dtype=bool)
    streak = np.zeros(n_pairs, dtype=int)
    correct = np.zeros((n_pairs, t_max), dtype=np.int8)
    length = np.zeros(n_pairs, dtype=int)
    for t in range(t_max):
        idx = np.flatnonzero(alive)
        if idx.size == 0:
            break
        u_obs = rng.random(idx.size)
        u_tr = rng.random(idx.size)
        k = known[idx]
        c = np.where(k, u_obs >= p_slip[idx], u_obs < p_guess[idx])
        correct[idx, t] = c
        length[idx] = t + 1
        known[idx] = np.where(k, u_tr >= p_forget[idx], u_tr < p_learn[idx])
        streak[idx] = np.where(c, streak[idx] + 1, 0)
        done = (t + 1 >= cap[idx]) | (stop_at_mastery[idx] & (streak[idx] >= 3))
        alive[idx[done]] = False

    # time stamps (days): student active window, pair start inside it, bursts of attempts
    start = rng.uniform(0, 200, n_students)
    span = rng.uniform(5, 120, n_students)
    pair_start = start[pair_user] + rng.uniform(0, 1, n_pairs) * span[pair_user]
    rows_pair = np.repeat(np.arange(n_pairs), length)
    step = np.arange(len(rows_pair)) - np.repeat(np.cumsum(length) - length, length)
    gaps = rng.exponential(1.5 / 1440, len(rows_pair))  # ~1.5 minutes between problems
    gaps += (rng.random(len(rows_pair)) < 0.08) * rng.exponential(3.0, len(rows_pair))  # a new session
    gaps[step == 0] = 0.0
    cum = np.cumsum(gaps)
    first = np.cumsum(length) - length
    t_row = pair_start[rows_pair] + cum - cum[first][rows_pair]
    rank = np.argsort(t_row, kind="stable")
    order_id = np.empty(len(t_row), dtype=np.int64)
    order_id[rank] = ORDER_ID_START + np.cumsum(rng.integers(1, 40, len(t_row)))

    df = pd.DataFrame({
        "user_id": user_ids[pair_user][rows_pair],
        "order_id": order_id,
        "skill_name": np.asarray(SKILLS, dtype=object)[pair_skill][rows_pair],
        "correct": correct[rows_pair, step].astype(np.int64),
    }).sort_values(["user_id", "order_id"], kind="stable").reset_index(drop=True)

    truth = {
        "seed": seed,
        "n_students": int(n_students),
        "n_skills": int(n_skills),
        "lecture_skills": list(LECTURE_SKILLS),
        "skills": {name: {k: float(v) for k, v in row.items()} for name, row in params.iterrows()},
        "model": ("per (student, skill): L0 ~ Bernoulli(sigmoid(prior_offset[skill] + ability_prior_slope*theta)); "
                  "answer correct w.p. 1-slip if mastered else guess; unmastered -> mastered w.p. "
                  "sigmoid(learn_offset[skill] + ability_learn_slope*theta); mastered -> unmastered w.p. forget. "
                  "Offsets make the population means equal to prior and learn."),
        "ability_prior_slope": ABILITY_PRIOR_SLOPE,
        "ability_learn_slope": ABILITY_LEARN_SLOPE,
        "prior_offset": dict(zip(SKILLS, np.round(prior_b, 6).tolist())),
        "learn_offset": dict(zip(SKILLS, np.round(learn_b, 6).tolist())),
        "p_stop_at_mastery": P_STOP_AT_MASTERY,
        "ability": dict(zip(map(int, user_ids), np.round(ability, 4).tolist())),
        "n_rows": int(len(df)),
        "mean_correct": float(df["correct"].mean()),
    }
    return Generated({"assistments.csv": df}, truth)


def _read_any(path: Path) -> pd.DataFrame:
    try:
        try:
            return pd.read_csv(path, low_memory=False, encoding="utf-8")
        except UnicodeDecodeError:
            return pd.read_csv(path, low_memory=False, encoding="latin-1")
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{path}: cannot be parsed as a comma-separated file: {exc}") from exc


def from_real(path: str | Path) -> dict[str, pd.DataFrame]:
    """Convert a real ASSISTments 2009 skill-builder file into ``assistments.csv``.

    Accepts either the corrected long release (``user_id,seq_index,problem_id,skill_index,skill_name,
    correct``; ``seq_index`` becomes ``order_id``) or the original skill-builder export (``order_id``,
    ``skill_name``, ``correct``, ...; rows without a skill and exact duplicate rows are dropped).
    Either way, only rows with ``correct`` in {0, 1} are kept and rows are sorted by student and
    ``order_id``. utf-8 and latin-1 encodings are accepted.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    df = _read_any(path)
    cols = [str(c) for c in df.columns]
    if len(cols) == 1 and any(s in cols[0] for s in (";", "\t", "|")):
        raise DataError(f"{path}: only one column found ({cols[0][:60]!r}...); the file is probably "
                        f"not comma-separated")
    if "seq_index" in cols and "order_id" not in cols:
        fmt, need = "corrected long", LONG_COLUMNS
    else:
        fmt, need = "original skill-builder", ORIGINAL_COLUMNS
    missing = [c for c in need if c not in cols]
    if missing:
        raise DataError(f"{path}: missing column(s) {missing} for the {fmt} ASSISTments format; expected "
                        f"either {list(LONG_COLUMNS)} (corrected long release) or {list(ORIGINAL_COLUMNS)} "
                        f"(original skill-builder export); found {cols[:12]}")
    if fmt == "original skill-builder":
        df = df.dropna(subset=["skill_name"]).drop_duplicates()
    else:
        df = df.dropna(subset=["skill_name"]).rename(columns={"seq_index": "order_id"})
    corr = pd.to_numeric(df["correct"], errors="coerce")
    df = df[corr.isin([0, 1])].assign(correct=corr[corr.isin([0, 1])].astype(np.int64))
    out = df[list(ORIGINAL_COLUMNS)].copy()
    for c in ("user_id", "order_id"):
        num = pd.to_numeric(out[c], errors="coerce")
        if num.isna().any():
            raise DataError(f"{path}: column {c!r} must be numeric; found {out[c][num.isna()].head(3).tolist()}")
        out[c] = num.astype(np.int64)
    out["skill_name"] = out["skill_name"].astype(str)
    out = out.sort_values(["user_id", "order_id"], kind="stable").reset_index(drop=True)
    validate(out, SCHEMAS["assistments.csv"], where=str(path))
    return {"assistments.csv": out}


DATASET = Dataset(
    name="assistments",
    title="ASSISTments skill builder (synthetic)",
    lectures="06, 07, 08",
    description=__doc__.split("\n", 2)[2].strip(),
    files=SCHEMAS,
    generate=generate,
    real_source=("ASSISTments 2009-2010 skill-builder data (corrected release), "
                 "https://sites.google.com/site/assistmentsdata/home/2009-2010-assistment-data; "
                 "`mlbd data assistments --from FILE` converts either the corrected long file or the "
                 "original skill_builder_data.csv."),
    license="ASSISTments data terms of use (free for research and teaching, cite the source).",
    from_real=from_real,
)
