"""Synthetic MOOC weekly behaviour, quiz scores and pass/fail (lecture 08).

A stand-in for the EPFL MOOC data of lecture 08 (private): 3,000 learners over ten weeks, 42 weekly
click-stream features (the feature sets of Boroujeni et al., Chen & Cui, Lallé & Conati and Marras
et al., with the course's column names), a weekly quiz score and a pass/fail label.
``mooc_feat.csv`` and ``mooc_quizzes.csv`` have exactly one row per learner and week, in the same
order (learner, then week 0-9), so they can be reshaped to (learners, weeks, features);
``mooc_lab.csv`` lists the learners in the same order.

Generating story (all of it is in the ground truth):

* each learner has a latent *ability* ``a`` and *engagement* ``e`` (correlation ``rho``), a
  *procrastination* and a *regularity* trait;
* learners drop out: from week 1 on, the weekly drop-out hazard is
  ``sigmoid(hazard_intercept + hazard_week * week - hazard_engagement * e)`` (``dropout_week`` in
  the truth; about half the learners drop out, more of them late than early); active learners also
  skip a week now and then (probability ``sigmoid(-2.8 - 0.6 e)``). Inactive weeks have all
  features 0 and no quiz;
* the weekly effort ``x = e + noise - 0.05 week`` drives the video, problem, click and session
  features; ability drives the problem success (``CompetencyAlignment``) and the quiz score;
  procrastination drives ``DelayLecture``; regularity drives ``RegPeakTimeDayHour`` and
  ``RegPeriodicityM1``; the seek, pause and speed-up durations, replay/interrupt shares and the
  weekend ratio are noise apart from being 0 in inactive weeks (``noise_features``);
* an active learner takes the week's quiz with probability ``sigmoid(1.2 + x)``; the score is
  ``sigmoid(1.3 + 0.9 a + 0.3 x + N(0, 0.45))`` (missing when not taken);
* the final grade is ``0.5 * mean weekly quiz score (missing = 0) + 0.5 * exam``, where the exam is
  taken only by learners who did not drop out, ``exam = sigmoid(0.3 + 1.2 a + N(0, 1.5))``;
  a learner passes with ``grade >= pass_threshold``.

Early behaviour is therefore only partly predictive: a logistic regression on the mean features of
the first five weeks reaches a cross-validated AUC of about 0.81 (tested band 0.75-0.85; all ten
weeks: 0.92), far from 1.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .registry import Dataset, Generated
from .schema import Column, Schema

N_USERS = 3000
N_WEEKS = 10
RHO = 0.4
HAZARD_INTERCEPT = -3.7
HAZARD_WEEK = 0.2
HAZARD_ENGAGEMENT = 0.5
PASS_THRESHOLD = 0.5
EXAM_NOISE = 1.5
VIDEOS_PER_WEEK = (8, 7, 7, 6, 6, 6, 5, 5, 5, 4)
PROBLEMS_PER_WEEK = 5

# (name, kind, unit, description, driver) of the 42 weekly features, in the course's order.
FEATURES = (
    ("TotalClicksVideoLoad", "float", "count", "video load events", "effort"),
    ("AvgWatchedWeeklyProp", "float", "share", "mean fraction watched of the week's videos", "effort"),
    ("StdWatchedWeeklyProp", "float", "share", "std over the week's videos of the fraction watched", "effort"),
    ("AvgReplayedWeeklyProp", "float", "share", "share of the week's videos replayed", "noise"),
    ("StdReplayedWeeklyProp", "float", "share", "std over the week's videos of the replayed indicator", "noise"),
    ("AvgInterruptedWeeklyProp", "float", "share", "share of the week's videos interrupted", "noise"),
    ("StdInterruptedWeeklyProp", "float", "share", "std over the week's videos of the interrupted indicator", "noise"),
    ("TotalClicksVideoConati", "float", "count", "all video clicks (loads and player events)", "effort"),
    ("FrequencyEventVideo", "float", "share", "share of the week's clicks that are video player events", "effort"),
    ("FrequencyEventLoad", "float", "share", "share of the week's clicks that are video loads", "effort"),
    ("FrequencyEventVideoPlay", "float", "share", "share of the week's clicks that are plays", "effort"),
    ("FrequencyEventVideoPause", "float", "share", "share of the week's clicks that are pauses", "noise"),
    ("FrequencyEventVideoStop", "float", "share", "share of the week's clicks that are stops", "noise"),
    ("FrequencyEventVideoSeekBackward", "float", "share", "share of the week's clicks that are backward seeks", "noise"),
    ("FrequencyEventVideoSeekForward", "float", "share", "share of the week's clicks that are forward seeks", "procrastination"),
    ("FrequencyEventVideoSpeedChange", "float", "share", "share of the week's clicks that are speed changes", "noise"),
    ("AvgSeekLength", "float", "s", "mean seek length", "noise"),
    ("StdSeekLength", "float", "s", "std of seek lengths", "noise"),
    ("AvgPauseDuration", "float", "s", "mean pause duration", "noise"),
    ("StdPauseDuration", "float", "s", "std of pause durations", "noise"),
    ("AvgTimeSpeedingUp", "float", "s", "mean time watched at increased speed", "noise"),
    ("StdTimeSpeedingUp", "float", "s", "std of the time watched at increased speed", "noise"),
    ("RegPeakTimeDayHour", "float", "score", "regularity: concentration of activity on one hour of the day", "regularity"),
    ("RegPeriodicityM1", "float", "score", "regularity: weekly periodicity of the activity", "regularity"),
    ("DelayLecture", "float", "s", "mean delay between a video's release and its first view", "procrastination"),
    ("TotalClicks", "float", "count", "all clicks", "effort"),
    ("NumberOfSessions", "float", "count", "number of sessions", "effort"),
    ("TotalTimeSessions", "float", "s", "total session time", "effort"),
    ("AvgTimeSessions", "float", "s", "mean session length", "effort"),
    ("StdTimeBetweenSessions", "float", "s", "std of the time between sessions (0 with one session)", "effort"),
    ("StdTimeSessions", "float", "s", "std of session length (0 with one session)", "effort"),
    ("TotalClicksWeekday", "float", "count", "clicks on Monday to Friday", "effort"),
    ("TotalClicksWeekend", "float", "count", "clicks on Saturday and Sunday", "effort"),
    ("RatioClicksWeekendDay", "float", "ratio", "weekend clicks / weekday clicks (0 without weekday click)", "noise"),
    ("TotalClicksVideoChen", "float", "count", "video player events (plays, pauses, seeks, stops, speed changes)", "effort"),
    ("TotalClicksProblem", "float", "count", "clicks on problems", "effort"),
    ("TotalTimeProblem", "float", "s", "time spent on problems", "effort"),
    ("TotalTimeVideo", "float", "s", "time spent watching videos", "effort"),
    ("CompetencyAlignment", "float", "share", "share of the week's problems solved during the week", "ability, effort"),
    ("CompetencyAnticipation", "float", "share", "share of later weeks' problems attempted ahead of time", "engagement, ability"),
    ("ContentAlignment", "float", "share", "share of the week's videos opened during the week", "effort"),
    ("ContentAnticipation", "float", "share", "share of later weeks' videos opened ahead of time", "engagement"),
)
FEATURE_NAMES = tuple(f[0] for f in FEATURES)
NOISE_FEATURES = tuple(f[0] for f in FEATURES if f[4] == "noise")

_user = Column("user_id", "int", "anonymous learner id", min=0)
_week = Column("week", "int", "week of the course (0 = first)", min=0, max=N_WEEKS - 1)
SCHEMAS = {
    "mooc_feat.csv": Schema((_user, _week) + tuple(
        Column(n, k, d + " (0 in an inactive week)", u, min=0) for n, k, u, d, _ in FEATURES)),
    "mooc_quizzes.csv": Schema((_user, _week, Column(
        "quiz_correct", "float", "share of the week's quiz answered correctly; missing if the quiz was not taken",
        "share", nullable=True, min=0, max=1))),
    "mooc_lab.csv": Schema((_user, Column(
        "label-pass-fail", "int", "1 if the learner passed the course, 0 otherwise", allowed=(0, 1)))),
}


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def generate(seed: int = 2024, n_users: int = N_USERS) -> Generated:
    """Generate the three MOOC files and their ground truth (see the module docstring)."""
    rng = np.random.default_rng(seed)
    n, W = n_users, N_WEEKS
    ids = np.sort(rng.choice(np.arange(1000, 3_400_000), size=n, replace=False))
    ability = rng.normal(size=n)
    eng = RHO * ability + np.sqrt(1 - RHO**2) * rng.normal(size=n)
    procr = -0.3 * eng + rng.normal(scale=0.95, size=n)
    regular = 0.3 * eng + rng.normal(scale=0.95, size=n)

    # activity: drop-out (from week 1) and skipped weeks
    week = np.arange(W)[None, :]
    hazard = _sigmoid(HAZARD_INTERCEPT + HAZARD_WEEK * week - HAZARD_ENGAGEMENT * eng[:, None])
    drop_draw = rng.random((n, W)) < hazard
    drop_draw[:, 0] = False
    dropout = np.where(drop_draw.any(axis=1), drop_draw.argmax(axis=1), W)
    skip = rng.random((n, W)) < _sigmoid(-2.8 - 0.6 * eng)[:, None]
    active = (week < dropout[:, None]) & ~skip

    x = eng[:, None] + rng.normal(scale=0.5, size=(n, W)) - 0.05 * week
    act = np.exp(0.5 * x) * active
    on = active
    nv = np.array(VIDEOS_PER_WEEK)[None, :].repeat(n, axis=0)

    sessions = (1 + rng.poisson(2.2 * act)) * on
    watched = rng.binomial(nv, _sigmoid(0.2 + 1.0 * x)) * on
    frac = np.where(watched > 0, rng.uniform(0.6, 1.0, (n, W)), 0.0)
    avg_watched = watched / nv * frac
    std_watched = np.sqrt(np.clip(avg_watched * (1 - avg_watched), 0, None)) * rng.uniform(0.8, 1.2, (n, W))
    replayed = rng.binomial(watched, rng.beta(1.5, 8, (n, W)))
    interrupted = rng.binomial(watched, rng.beta(2, 6, (n, W)))
    p_rep, p_int = replayed / nv, interrupted / nv
    std_rep, std_int = np.sqrt(p_rep * (1 - p_rep)), np.sqrt(p_int * (1 - p_int))

    loads = watched + rng.poisson(0.3 * watched)
    plays = rng.poisson(2.5 * watched)
    pauses = rng.poisson(1.5 * watched * np.exp(0.3 * rng.normal(size=n))[:, None])
    stops = rng.binomial(watched, 0.3)
    seek_b = rng.poisson(0.8 * watched)
    seek_f = rng.poisson(0.6 * watched * np.exp(0.3 * procr)[:, None])
    speed = rng.poisson(0.4 * watched * np.exp(0.5 * rng.normal(size=n))[:, None])
    video_ev = plays + pauses + stops + seek_b + seek_f + speed
    attempted = rng.binomial(PROBLEMS_PER_WEEK, _sigmoid(0.3 + 1.0 * x)) * on
    solved = rng.binomial(attempted, _sigmoid(0.8 + 1.0 * ability)[:, None])
    prob_clicks = rng.poisson(4.0 * attempted)
    other = rng.poisson(5.0 * sessions)
    total = loads + video_ev + prob_clicks + other
    share = lambda c: np.where(total > 0, c / np.maximum(total, 1), 0.0)  # noqa: E731
    weekend = rng.binomial(total, rng.beta(2, 6, n)[:, None])
    weekday = total - weekend
    ratio = np.where(weekday > 0, weekend / np.maximum(weekday, 1), 0.0)

    t_video = np.where(watched > 0, watched * rng.gamma(3.0, 150.0, (n, W)) * frac, 0.0)
    t_prob = np.where(attempted > 0, attempted * rng.gamma(2.0, 150.0, (n, W)) * np.exp(-0.2 * ability)[:, None], 0.0)
    t_sess = np.where(on, t_video + t_prob + sessions * rng.gamma(2.0, 60.0, (n, W)), 0.0)
    avg_sess = np.where(sessions > 0, t_sess / np.maximum(sessions, 1), 0.0)
    std_sess = np.where(sessions > 1, avg_sess * rng.uniform(0.3, 1.0, (n, W)), 0.0)
    std_between = np.where(sessions > 1, rng.gamma(2.0, 40000.0, (n, W)) / np.sqrt(np.maximum(sessions, 1)), 0.0)

    def dur(count, shape, scale):
        mean = np.where(count > 0, rng.gamma(shape, scale, (n, W)), 0.0)
        std = np.where(count > 1, mean * rng.uniform(0.5, 1.5, (n, W)), 0.0)
        return mean, std

    seek_m, seek_s = dur(seek_b + seek_f, 2.0, 30.0)
    pause_m, pause_s = dur(pauses, 2.0, 60.0)
    speed_m, speed_s = dur(speed, 2.0, 200.0)
    peak = np.where(on, np.clip(rng.normal(1.5 + 0.6 * regular[:, None], 0.5, (n, W)), 0, None), 0.0)
    period = np.where(on, np.clip(rng.normal(0.3 + 0.1 * regular[:, None] + 0.05 * eng[:, None], 0.15, (n, W)), 0, 1), 0.0)
    delay = np.where(watched > 0, np.clip(rng.normal(172800 + 130000 * procr[:, None], 86400, (n, W)), 0, None), 0.0)
    comp_align = solved / PROBLEMS_PER_WEEK
    later_p = (W - 1 - week) * PROBLEMS_PER_WEEK
    later_v = np.array([sum(VIDEOS_PER_WEEK[w + 1:]) for w in range(W)])[None, :].repeat(n, axis=0)
    ahead_p = rng.binomial(later_p.repeat(n, axis=0), _sigmoid(-3.5 + 0.8 * eng + 0.4 * ability)[:, None]) * on
    ahead_v = rng.binomial(later_v, _sigmoid(-3.0 + 0.8 * eng)[:, None]) * on
    comp_anti = np.where(later_p > 0, ahead_p / np.maximum(later_p, 1), 0.0)
    content_align = watched / nv
    content_anti = np.where(later_v > 0, ahead_v / np.maximum(later_v, 1), 0.0)

    cols = [loads, avg_watched, std_watched, p_rep, std_rep, p_int, std_int, loads + video_ev,
            share(video_ev), share(loads), share(plays), share(pauses), share(stops), share(seek_b),
            share(seek_f), share(speed), seek_m, seek_s, pause_m, pause_s, speed_m, speed_s, peak, period,
            delay, total, sessions, t_sess, avg_sess, std_between, std_sess, weekday, weekend, ratio,
            video_ev, prob_clicks, t_prob, t_video, comp_align, comp_anti, content_align, content_anti]
    feat = pd.DataFrame({"user_id": np.repeat(ids, W), "week": np.tile(np.arange(W), n)})
    for name, c in zip(FEATURE_NAMES, cols):  # all float (counts too), so min-max scaling keeps dtypes
        feat[name] = np.round(np.where(on, c, 0).reshape(-1).astype(float), 4)
    for name in ("TotalTimeSessions", "AvgTimeSessions", "StdTimeBetweenSessions", "StdTimeSessions",
                 "TotalTimeProblem", "TotalTimeVideo", "DelayLecture", "AvgSeekLength", "StdSeekLength",
                 "AvgPauseDuration", "StdPauseDuration", "AvgTimeSpeedingUp", "StdTimeSpeedingUp"):
        feat[name] = feat[name].round(1)

    # quizzes
    took = on & (rng.random((n, W)) < _sigmoid(1.2 + x))
    score = _sigmoid(1.3 + 0.9 * ability[:, None] + 0.3 * x + rng.normal(scale=0.45, size=(n, W)))
    quiz = np.where(took, np.round(score, 6), np.nan)
    quizzes = pd.DataFrame({"user_id": feat["user_id"], "week": feat["week"], "quiz_correct": quiz.reshape(-1)})

    # final grade and pass/fail
    exam = np.where(dropout >= W, _sigmoid(0.3 + 1.2 * ability + rng.normal(scale=EXAM_NOISE, size=n)), 0.0)
    grade = 0.5 * np.nan_to_num(quiz, nan=0.0).mean(axis=1) + 0.5 * exam
    passed = (grade >= PASS_THRESHOLD).astype(np.int64)
    labels = pd.DataFrame({"user_id": ids, "label-pass-fail": passed})

    truth = {
        "seed": seed, "n_users": n, "n_weeks": W, "rho_ability_engagement": RHO,
        "hazard_intercept": HAZARD_INTERCEPT, "hazard_week": HAZARD_WEEK, "hazard_engagement": HAZARD_ENGAGEMENT,
        "pass_threshold": PASS_THRESHOLD, "exam_noise": EXAM_NOISE, "pass_rate": float(passed.mean()),
        "grade_formula": "0.5 * mean_week(quiz, missing=0) + 0.5 * exam; exam = sigmoid(0.3 + 1.2 a + N(0, exam_noise)) "
                         "for learners who did not drop out, else 0; pass if grade >= pass_threshold",
        "quiz_formula": "taken w.p. sigmoid(1.2 + x) in active weeks; score = sigmoid(1.3 + 0.9 a + 0.3 x + N(0, 0.45))",
        "effort_formula": "x = e + N(0, 0.5) - 0.05 week",
        "feature_drivers": {f[0]: f[4] for f in FEATURES},
        "noise_features": list(NOISE_FEATURES),
        "ability": dict(zip(map(int, ids), np.round(ability, 4).tolist())),
        "engagement": dict(zip(map(int, ids), np.round(eng, 4).tolist())),
        "dropout_week": {int(i): int(d) for i, d in zip(ids, dropout) if d < W},
        "grade": dict(zip(map(int, ids), np.round(grade, 4).tolist())),
    }
    frames = {"mooc_feat.csv": feat, "mooc_quizzes.csv": quizzes, "mooc_lab.csv": labels}
    return Generated(frames, truth)


DATASET = Dataset(
    name="mooc",
    title="MOOC weekly behaviour and pass/fail (synthetic)",
    lectures="08",
    description=__doc__.split("\n", 2)[2].strip(),
    files=SCHEMAS,
    generate=generate,
    real_source="The EPFL MOOC click-stream data used in the original lecture is private; no public download.",
)
