"""Synthetic MOOC behaviour and pass/fail labels with known failure drivers (lecture 13, explainability).

A stand-in for the (private) EPFL MOOC data the explainability lecture explains with LIME: 8,679
learners, 25 weekly behaviour features over 10 weeks, flattened week by week into 250 columns
``<Feature>_InWeek<k>`` (k = 1-10; all 25 features of week 1, then of week 2, ...), and a label
``0`` that is 1.0 for fail and 0.0 for pass. Rows of the two files are aligned; there is no id column.

Generating story (all of it is in the ground truth):

* about 30 % of the learners enrol but never show up (more so among late enrolments, i.e. towards the
  end of the file); every feature then holds its "no activity" value (0, except
  ``RegPeakTimeDayHour`` 0.980829, ``RegPeriodicityM1`` 1.2e-16, ``DelayLecture`` -518394 and
  ``StudentSpeed`` 16, as in the course's export). They fail;
* the others have a latent engagement, diligence, procrastination and regularity; some start in
  week 2-3, some skip a week, and many drop out (weekly hazard falls with engagement). An active week
  produces sessions, clicks (weekday / weekend; problem / video), session times, video and quiz
  features as noisy functions of those latents;
* the probability of failing is a logistic function of four *observed* summaries (coefficients in
  the ground truth, on standardised summaries):

  - ``TotalTimeProblem`` in weeks 4-10 (mean of log(1 + s)): **less time on problems -> fail**;
  - ``DelayLecture`` in weeks 1-5 (mean over active weeks of log(1 + delay)): **watching lectures
    late -> fail**;
  - ``RegPeriodicityM1`` in weeks 1-10 (mean): **irregular weekly rhythm -> fail**;
  - ``NumberOfSessions`` in weeks 6-10 (share of weeks with a session): **dropping out -> fail**
    (this one is visible in every activity feature of those weeks).

The label is therefore predictable (the Bayes accuracy is about 0.95; a small gradient-boosting model
reaches an accuracy and a balanced accuracy of about 0.93, lecture 13's small BiLSTM the same), and a
model's grouped permutation importances (the ten weekly columns of a feature permuted together) rank
``TotalTimeProblem``, ``DelayLecture`` and ``RegPeriodicityM1`` as the top features (the dropout driver is
shared by all activity features, so no single one stands out for it). Aggregated LIME weights of a
gradient-boosting model have them among their top five; those of lecture 13's BiLSTM put ``DelayLecture``
first (its "no activity" marker doubles as a dropout signal) but also rank features that are rarely
non-zero (``ContentAnticipation``), which LIME's independent perturbations switch on off the data manifold.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .registry import Dataset, Generated
from .schema import Column, Schema

N_STUDENTS = 8679
N_WEEKS = 10
FEATURES_FILE = "explainability/mooc_features.csv"
LABELS_FILE = "explainability/mooc_labels.csv"

# (name, unit, description) of the 25 weekly features, in the course's column order.
FEATURES = (
    ("RegPeakTimeDayHour", "score", "regularity: how much the activity concentrates on one hour of the day"),
    ("RegPeriodicityM1", "score", "regularity: how much the daily hourly pattern repeats over the days"),
    ("DelayLecture", "s", "delay in viewing the week's lectures after release (offset by -518394 s, "
                          "the export's value for no activity)"),
    ("TotalClicks", "count", "all clicks of the week"),
    ("NumberOfSessions", "count", "online sessions"),
    ("TotalTimeSessions", "s", "total time in sessions"),
    ("AvgTimeSessions", "s", "mean session length"),
    ("StdTimeBetweenSessions", "s", "standard deviation of the time between sessions (3+ sessions)"),
    ("StdTimeSessions", "s", "standard deviation of session length (2+ sessions)"),
    ("TotalClicksWeekday", "count", "clicks on Monday to Friday"),
    ("TotalClicksWeekend", "count", "clicks on Saturday and Sunday"),
    ("RatioClicksWeekendDay", "ratio", "weekend clicks / weekday clicks (0 without weekday click)"),
    ("TotalClicksVideoChen", "count", "clicks on videos (load, play, pause, seek, ...)"),
    ("TotalClicksProblem", "count", "clicks on problems"),
    ("TotalTimeProblem", "s", "time spent on problems"),
    ("TotalTimeVideo", "s", "time spent on videos"),
    ("CompetencyAnticipation", "score", "extent to which the learner attempts quizzes of later weeks"),
    ("ContentAlignment", "share", "share of the week's videos watched"),
    ("ContentAnticipation", "share", "share of later weeks' videos watched ahead"),
    ("StudentSpeed", "s", "mean time between two attempts at the same quiz (16 without attempts)"),
    ("TotalClicksVideoLoad", "count", "video loads"),
    ("AvgWatchedWeeklyProp", "share", "videos watched / videos available this week"),
    ("AvgReplayedWeeklyProp", "share", "videos replayed / videos available this week"),
    ("TotalClicksVideoConati", "count", "video clicks as counted in Lalle & Conati's feature set"),
    ("FrequencyEventLoad", "share", "share of video events that are loads"),
)
FEATURE_NAMES = tuple(f[0] for f in FEATURES)
COLUMNS = tuple(f"{name}_InWeek{w}" for w in range(1, N_WEEKS + 1) for name in FEATURE_NAMES)

# value of a feature in a week without any activity (as in the course's export); 0 otherwise
NO_ACTIVITY = {"RegPeakTimeDayHour": 0.980829, "RegPeriodicityM1": 1.224647e-16,
               "DelayLecture": -518394.0, "StudentSpeed": 16.0}
DELAY_OFFSET = -518394.0
VIDEOS_PER_WEEK = 5

# Failure drivers: feature, weeks (1-based, inclusive), summary, coefficient on the standardised summary
# in logit(P(fail)), and the direction in words.
DRIVERS = (
    dict(feature="TotalTimeProblem", weeks=[4, 10],
         summary="mean over the active weeks of log(1 + value) (0 without active week)",
         coef=-1.6, direction="lower -> fail"),
    dict(feature="DelayLecture", weeks=[1, 5],
         summary="mean over the active weeks of log(1 + value + 518394) (0 without active week)",
         coef=1.3, direction="higher -> fail"),
    dict(feature="RegPeriodicityM1", weeks=[1, 10], summary="mean over the active weeks (0 without)",
         coef=-1.1, direction="lower -> fail"),
    dict(feature="NumberOfSessions", weeks=[6, 10], summary="share of the weeks with a session",
         coef=-1.0, direction="lower -> fail"),
)
INTERCEPT = 0.1
LOGIT_SCALE = 2.2

SCHEMAS = {
    FEATURES_FILE: Schema(tuple(
        Column(f"{name}_InWeek{w}", "float", f"week {w}: {desc}", unit)
        for w in range(1, N_WEEKS + 1) for name, unit, desc in FEATURES)),
    LABELS_FILE: Schema((
        Column("0", "float", "1.0 = fail, 0.0 = pass (same row order as mooc_features.csv)",
               allowed=(0.0, 1.0)),
    )),
}


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _z(x):
    sd = x.std()
    return (x - x.mean()) / (sd if sd > 0 else 1.0)


def generate(seed: int = 2024, n_students: int = N_STUDENTS) -> Generated:
    """Generate the 250 weekly features and the pass/fail labels with their ground truth."""
    rng = np.random.default_rng(seed)
    n, W = n_students, N_WEEKS
    order = np.arange(n) / max(n - 1, 1)  # enrolment order: late enrolments show up less
    never = rng.random(n) < 0.15 + 0.30 * order
    eng = rng.normal(size=n)
    diligence = rng.normal(size=n)
    procr = -0.25 * eng + np.sqrt(1 - 0.25**2) * rng.normal(size=n)
    regular = 0.3 * eng + np.sqrt(1 - 0.3**2) * rng.normal(size=n)
    skill = 0.3 * eng + np.sqrt(1 - 0.3**2) * rng.normal(size=n)

    # active weeks: late start, dropout (weekly hazard), skipped weeks
    start = np.where(rng.random(n) < 0.10, rng.integers(1, 3, n), 0)
    hazard = _sigmoid(-2.6 - 0.9 * eng)
    wk = np.arange(W)[None, :]
    leaves = (rng.random((n, W)) < hazard[:, None]) & (wk >= start[:, None]) & (wk < W - 1)
    last = np.where(leaves.any(axis=1), leaves.argmax(axis=1), W - 1)
    active = (wk >= start[:, None]) & (wk <= last[:, None]) & (rng.random((n, W)) > 0.07)
    active[never] = False

    def pois(lam):
        return rng.poisson(lam).astype(float)

    shape = (n, W)
    e, d, p, r, s = (v[:, None] for v in (eng, diligence, procr, regular, skill))
    act = active.astype(float)
    sessions = pois(np.exp(0.7 + 0.45 * e + rng.normal(0, 0.3, shape))) * act
    base = (sessions + 0.3) * act
    c_video = pois(base * 11 * np.exp(0.25 * e + rng.normal(0, 0.3, shape)))
    c_problem = pois(base * 6 * np.exp(0.2 * s + rng.normal(0, 0.3, shape)))
    c_other = pois(base * 3)
    total = c_video + c_problem + c_other
    total = np.where(active & (total == 0), 1.0, total)
    c_other = total - c_video - c_problem
    q_weekend = np.clip(rng.beta(2, 6, shape) - 0.04 * r, 0.0, 1.0)
    weekend = rng.binomial(total.astype(int), q_weekend).astype(float)
    weekday = total - weekend
    ratio = np.where(weekday > 0, weekend / np.maximum(weekday, 1), 0.0)

    t_problem = np.where(c_problem > 0, c_problem * rng.gamma(6.0, 15 * np.exp(0.8 * d), shape), 0.0)
    t_video = np.where(c_video > 0, c_video * rng.gamma(2.0, 70 * np.exp(0.1 * e), shape), 0.0)
    t_sessions = np.where(sessions > 0, (t_problem + t_video) * rng.uniform(1.0, 1.4, shape), 0.0)
    avg_sess = np.where(sessions > 0, t_sessions / np.maximum(sessions, 1), 0.0)
    std_sess = np.where(sessions > 1, avg_sess * rng.uniform(0.2, 0.9, shape), 0.0)
    std_between = np.where(sessions > 2, rng.gamma(2.0, 40000, shape), 0.0)

    peak = np.where(sessions > 0, np.clip(rng.normal(5 + 1.2 * r, 2.0, shape), 1.0, 14.0), np.log(24))
    period = np.where(sessions > 1, np.clip(rng.normal(2.2 + 0.6 * r, 0.5, shape), 1.0, 4.5), 1.0)
    delay = np.minimum(rng.exponential(20000 * np.exp(0.8 * p), shape), 400000.0)
    delay_col = DELAY_OFFSET + np.round(delay * 2) / 2

    attempts = c_problem > 0
    comp_anti = np.where(attempts & (rng.random(shape) < _sigmoid(-1.5 + 0.8 * s)),
                         rng.beta(2, 5, shape), 0.0)
    watched = c_video > 0
    n_watched = np.where(watched, np.maximum(1, rng.binomial(VIDEOS_PER_WEEK, _sigmoid(0.6 + 0.8 * e), shape)),
                         0)
    content_align = n_watched / VIDEOS_PER_WEEK
    extra = (rng.random(shape) < 0.12) & (n_watched < VIDEOS_PER_WEEK)
    avg_watched = np.where(extra, content_align + rng.uniform(0.05, 0.19, shape), content_align)
    content_anti = np.where(watched & (rng.random(shape) < _sigmoid(-2.2 + 0.8 * e)),
                            rng.binomial(VIDEOS_PER_WEEK, 0.3, shape) / VIDEOS_PER_WEEK, 0.0)
    speed = np.where(attempts, 16.0 + rng.gamma(1.5, 600 * np.exp(-0.2 * s), shape), 16.0)
    loads = np.where(watched, np.maximum(1, rng.binomial(c_video.astype(int), 0.3)), 0).astype(float)
    conati = loads + rng.binomial((c_video - loads).astype(int), 0.1)
    replayed = np.where(watched, rng.binomial(VIDEOS_PER_WEEK, 0.08 + 0.04 * _sigmoid(e), shape)
                        / VIDEOS_PER_WEEK, 0.0)
    freq_load = np.where(watched, loads / np.maximum(c_video, 1), 0.0)

    values = {
        "RegPeakTimeDayHour": peak, "RegPeriodicityM1": period, "DelayLecture": delay_col,
        "TotalClicks": total, "NumberOfSessions": sessions, "TotalTimeSessions": np.round(t_sessions),
        "AvgTimeSessions": avg_sess, "StdTimeBetweenSessions": std_between, "StdTimeSessions": std_sess,
        "TotalClicksWeekday": weekday, "TotalClicksWeekend": weekend, "RatioClicksWeekendDay": ratio,
        "TotalClicksVideoChen": c_video, "TotalClicksProblem": c_problem, "TotalTimeProblem": np.round(t_problem),
        "TotalTimeVideo": np.round(t_video), "CompetencyAnticipation": comp_anti,
        "ContentAlignment": content_align, "ContentAnticipation": content_anti, "StudentSpeed": speed,
        "TotalClicksVideoLoad": loads, "AvgWatchedWeeklyProp": avg_watched,
        "AvgReplayedWeeklyProp": replayed, "TotalClicksVideoConati": conati, "FrequencyEventLoad": freq_load,
    }
    any_click = total > 0
    for name in FEATURE_NAMES:
        v = np.round(np.asarray(values[name], dtype=float), 4)
        values[name] = np.where(any_click, v, NO_ACTIVITY.get(name, 0.0))

    # label: logistic in the standardised observed summaries (shown learners); never-shown fail
    def active_mean(a, lo, hi):
        """Mean of ``a`` over the active weeks lo..hi (1-based, inclusive); 0 without active week."""
        on = any_click[:, lo - 1:hi]
        return np.where(on.any(axis=1), (a[:, lo - 1:hi] * on).sum(axis=1) / np.maximum(on.sum(axis=1), 1), 0.0)

    summ = {}
    summ["TotalTimeProblem"] = active_mean(np.log1p(values["TotalTimeProblem"]), 4, 10)
    summ["DelayLecture"] = active_mean(np.log1p(values["DelayLecture"] - DELAY_OFFSET), 1, 5)
    summ["RegPeriodicityM1"] = active_mean(values["RegPeriodicityM1"], 1, 10)
    summ["NumberOfSessions"] = (values["NumberOfSessions"][:, 5:10] > 0).mean(axis=1)
    shown = any_click.any(axis=1)
    logit = np.full(n, INTERCEPT)
    stats = {}
    for drv in DRIVERS:
        x = summ[drv["feature"]][shown]
        stats[drv["feature"]] = dict(mean=round(float(x.mean()), 6), sd=round(float(x.std()), 6))
        logit[shown] += drv["coef"] * _z(x)
    p_fail = np.where(shown, _sigmoid(LOGIT_SCALE * logit), 0.995)
    fail = (rng.random(n) < p_fail).astype(float)

    features = pd.DataFrame({f"{name}_InWeek{w + 1}": values[name][:, w]
                             for w in range(W) for name in FEATURE_NAMES})
    labels = pd.DataFrame({"0": fail})
    truth = {
        "seed": seed, "n_students": n, "n_weeks": W, "label": "1.0 = fail, 0.0 = pass",
        "fail_rate": round(float(fail.mean()), 4),
        "fail_rate_shown": round(float(fail[shown].mean()), 4),
        "never_active": int((~shown).sum()),
        "never_active_fail_probability": 0.995,
        "drivers": [dict(drv, summary_mean=stats[drv["feature"]]["mean"],
                         summary_sd=stats[drv["feature"]]["sd"]) for drv in DRIVERS],
        "logit_formula": f"logit P(fail) = {LOGIT_SCALE} * ({INTERCEPT} + sum(coef * (summary - mean) / sd)) "
                         "for learners with any click; 0.995 otherwise",
        "top_features": [drv["feature"] for drv in DRIVERS[:3]],
        "activity_drivers_note": "NumberOfSessions in weeks 6-10 stands for dropout, which every activity "
                                 "feature of those weeks shows as well",
        "no_activity_values": NO_ACTIVITY,
        "dropout_last_week_counts": {int(k): int(v) for k, v in
                                     zip(*np.unique(last[shown] + 1, return_counts=True))},
        "bayes_accuracy": round(float(np.maximum(p_fail, 1 - p_fail).mean()), 4),
    }
    return Generated({FEATURES_FILE: features, LABELS_FILE: labels}, truth)


DATASET = Dataset(
    name="explainability",
    title="MOOC weekly features and pass/fail labels for LIME (synthetic)",
    lectures="13",
    description=__doc__.split("\n", 2)[2].strip(),
    files=SCHEMAS,
    generate=generate,
    real_source="The EPFL MOOC logs are private; no public download.",
)
