"""Synthetic flipped-classroom data (lectures 02-05, 10, 12).

A stand-in for the EPFL linear-algebra flipped classroom (private): about 290 students over two
years, ten weeks of behaviour each, a final grade on the Swiss 1-6 scale in quarter steps (pass >= 4).

Generating story (all of it is in the ground truth):

* each student belongs to one of three latent *effort profiles* (``effort_profiles``: low, medium,
  high; lecture 10 recovers them by clustering); the profile sets the mean of the student's latent
  *engagement* ``e`` (a mixture of three normals, mean ~0 and variance ~1) and the *intensity* of a
  session (time and clicks per session);
* ``e`` and *skill* ``s`` are correlated (``rho``); each student also has a
  *procrastination* tendency and a *regularity*; the category (France / Suisse.PAM /
  Suisse.Autres / missing) and the year shift the grade (``category_effects``, the random effect
  of lecture 03);
* weekly activity falls over the semester (``week_activity``; hypothesis H1 of lecture 02) and
  does not depend on gender (H2);
* some students have a week without any click in the first five weeks (``inactive_users``), some
  drop out later (``dropout_week``);
* every weekly feature is a noisy function of engagement (and skill for the exercise features);
* grade = 4.3 + 0.75 (0.45 s + 0.25 e + category + year + noise), clipped to 1-6 and rounded to 0.25.

Behaviour therefore predicts pass/fail only moderately (simple classifiers reach AUC ~0.6-0.75).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .registry import Dataset, Generated
from .schema import Column, Schema

N_WEEKS = 10
YEARS = ("Y2-2018-19", "Y3-2019-20")
CATEGORIES = ("France", "Suisse.PAM", "Suisse.Autres")
CATEGORY_EFFECTS = {"France": 0.25, "Suisse.PAM": -0.30, "Suisse.Autres": 0.0, "NaN": -0.15}
YEAR_EFFECTS = {"Y2-2018-19": 0.0, "Y3-2019-20": 0.10}
WEEK_ACTIVITY = (1.0, 0.97, 0.93, 0.9, 0.86, 0.82, 0.78, 0.74, 0.7, 0.5)
# Latent effort profiles: name -> (share of students, mean engagement, session intensity). Engagement
# within a profile is normal with sd EFFORT_SD; intensity multiplies the time and clicks of a session.
EFFORT_PROFILES = {"low": (0.30, -1.30, 0.5), "medium": (0.45, -0.05, 1.0), "high": (0.25, 1.20, 1.9)}
EFFORT_SD = 0.35

# (name, kind, unit, description) of the 33 extended weekly features, in the course's order.
EXTENDED_FEATURES = (
    ("ch_num_sessions", "float", "count", "number of online sessions"),
    ("ch_time_in_prob_sum", "float", "s", "time spent on exercises (problems)"),
    ("ch_time_in_video_sum", "float", "s", "time spent watching lecture videos"),
    ("ch_ratio_clicks_weekend_day", "float", "ratio", "weekday clicks / weekend clicks (0 when no weekend click)"),
    ("ch_total_clicks_weekend", "float", "count", "clicks on Saturdays and Sundays"),
    ("ch_total_clicks_weekday", "float", "count", "clicks on Monday to Friday"),
    ("ch_time_sessions_mean", "float", "s", "mean session length"),
    ("ch_time_sessions_std", "float", "s", "standard deviation of session length"),
    ("bo_delay_lecture", "float", "s", "mean delay between a video's release and its first view (negative: before)"),
    ("bo_reg_peak_dayhour", "float", "score", "regularity: concentration of activity on one hour of the day"),
    ("bo_reg_periodicity_m1", "float", "score", "regularity: weekly periodicity of the activity"),
    ("ma_competency_strength", "float", "score", "mastery: strength of competency on correct submissions"),
    ("ma_competency_anti", "float", "share", "mastery: share of exercises done before the related video"),
    ("ma_content_anti", "float", "share", "mastery: share of videos watched ahead of schedule"),
    ("ma_student_shape", "float", "score", "mastery: shape of the submission curve"),
    ("ma_student_speed", "float", "score", "mastery: speed of progress through the content"),
    ("mu_speed_playback_mean", "float", "x", "mean video playback speed"),
    ("mu_frequency_action_relative_video_pause", "float", "share", "share of video actions that are pauses"),
    ("wa_num_subs", "float", "count", "number of exercise submissions"),
    ("wa_num_subs_correct", "float", "count", "number of correct submissions"),
    ("wa_num_subs_avg", "float", "count", "submissions per attempted exercise"),
    ("wa_num_subs_perc_correct", "float", "share", "share of submissions that are correct"),
    ("la_pause_dur_mean", "float", "s", "mean duration of video pauses"),
    ("la_seek_len_std", "float", "s", "standard deviation of seek lengths"),
    ("la_pause_dur_std", "float", "s", "standard deviation of pause durations"),
    ("la_time_speeding_up_mean", "float", "s", "mean time watched at increased speed"),
    ("la_time_speeding_up_std", "float", "s", "standard deviation of time watched at increased speed"),
    ("la_weekly_prop_watched_mean", "float", "share", "share of the week's videos watched"),
    ("la_weekly_prop_interrupted_mean", "float", "share", "share of the week's videos interrupted"),
    ("la_weekly_prop_interrupted_std", "float", "share", "std of the interrupted share (0: one value a week)"),
    ("la_weekly_prop_replayed_mean", "float", "share", "share of the week's videos replayed"),
    ("la_weekly_prop_replayed_std", "float", "share", "std of the replayed share (0: one value a week)"),
    ("la_frequency_action_video_play", "float", "share", "share of video actions that are plays"),
)
FEATURES = tuple(f[0] for f in EXTENDED_FEATURES)

# Lecture 02's simple features: (name, extended source feature, aggregation over weeks, description)
SIMPLE_FEATURES = (
    ("sessions", "ch_num_sessions", "sum", "number of sessions"),
    ("time_in_problem", "ch_time_in_prob_sum", "sum", "time on exercises (s)"),
    ("time_in_video", "ch_time_in_video_sum", "sum", "time watching videos (s)"),
    ("lecture_delay", "bo_delay_lecture", "mean", "delay between video release and first view (s)"),
    ("content_anticipation", "ma_content_anti", "mean", "share of videos watched ahead of schedule"),
    ("mean_playback_speed", "mu_speed_playback_mean", "mean", "mean playback speed"),
    ("relative_video_pause", "mu_frequency_action_relative_video_pause", "mean", "share of video actions that are pauses"),
    ("submissions", "wa_num_subs", "sum", "exercise submissions"),
    ("submissions_correct", "wa_num_subs_correct", "sum", "correct submissions"),
    ("clicks_weekend", "ch_total_clicks_weekend", "sum", "weekend clicks"),
    ("clicks_weekday", "ch_total_clicks_weekday", "sum", "weekday clicks"),
)

_user = Column("user", "int", "student id (anonymous)", min=0)
_week = Column("week", "int", "week of the semester (0 = first)", min=0, max=N_WEEKS - 1)
_info = (
    Column("grade", "float", "final exam grade, Swiss scale, quarter steps; pass >= 4", "1-6", min=1, max=6),
    Column("gender", "str", "M or F; missing for some students", nullable=True, allowed=("M", "F")),
    Column("category", "str", "student category; missing for some students", nullable=True, allowed=CATEGORIES),
    Column("year", "str", "cohort", allowed=YEARS),
)
_ext_cols = tuple(Column(n, k, d, u, min=None) for n, k, u, d in EXTENDED_FEATURES)
_simple_cols = tuple(Column(n, "float", d) for n, _, _, d in SIMPLE_FEATURES)

SCHEMAS = {
    "aggregated_fc.csv": Schema((_user,) + _info[:2] + (_info[2], _info[3]) + _simple_cols),
    "time_series_fc.csv": Schema((_week, _user) + _simple_cols),
    "aggregated_extended_fc.csv": Schema((_user,) + _ext_cols + _info),
    "time_series_extended_fc.csv": Schema((_week, _user) + _ext_cols),
    "fc_long_extended.csv": Schema((_week, _user) + _ext_cols, index_col="Unnamed: 0"),
}


def _round_quarter(x):
    return np.round(np.asarray(x) * 4) / 4


def generate(seed: int = 2024, n_users: int = 288) -> Generated:
    """Generate the five flipped-classroom files and their ground truth."""
    rng = np.random.default_rng(seed)
    # ids 0..n with a few gaps, as in exports where some accounts were deleted
    ids = np.sort(rng.choice(np.arange(int(n_users * 1.04)), size=n_users, replace=False))
    n = n_users
    rho = 0.35
    # effort profile from its own stream (the main stream's draws stay as they were without profiles)
    shares, means, intensity = (np.array(v) for v in zip(*EFFORT_PROFILES.values()))
    profile = np.random.default_rng([seed, 10]).choice(len(shares), size=n, p=shares)
    eng = means[profile] + EFFORT_SD * rng.normal(size=n)
    inten = intensity[profile]
    skill = rho * eng + np.sqrt(1 - rho**2) * rng.normal(size=n)
    procr = -0.3 * eng + rng.normal(scale=0.95, size=n)
    regular = 0.3 * eng + rng.normal(scale=0.95, size=n)
    year = np.where(np.arange(n) < n // 2, YEARS[0], YEARS[1])
    cat = rng.choice(np.array(CATEGORIES + ("NaN",), dtype=object), size=n, p=[0.40, 0.25, 0.30, 0.05])
    gender = rng.choice(np.array(["M", "F"], dtype=object), size=n, p=[0.62, 0.38])
    gender[cat == "NaN"] = "NaN"

    # inactivity: a week with no click at all among the first five (late start, absence)
    inactive = rng.random(n) < 0.19 - 0.06 * np.tanh(eng)
    active = np.ones((n, N_WEEKS), dtype=bool)
    for i in np.flatnonzero(inactive):
        k = rng.integers(1, 3)
        active[i, rng.choice(5, size=k, replace=False)] = False
    dropout = np.full(n, -1)
    drops = rng.random(n) < 0.08 * (1 - np.tanh(eng))
    dropout[drops] = rng.integers(5, N_WEEKS, size=drops.sum())
    for i in np.flatnonzero(drops):
        active[i, dropout[i]:] = False

    ex_bias = rng.normal(scale=0.45, size=n)  # which exercises a student picks (not skill)
    rows = []
    for w in range(N_WEEKS):
        wk = WEEK_ACTIVITY[w]
        noise = rng.normal(scale=0.35, size=n)
        act = np.exp(0.45 * eng + noise) * wk * active[:, w]
        # an active student logs in at least once a week (but for rare misses)
        sessions = (rng.poisson(2.6 * act) + (rng.random(n) < 0.985)).astype(float) * active[:, w]
        on = sessions > 0
        t_prob = np.where(on, sessions * inten * rng.gamma(2.0, 380 * np.exp(-0.15 * skill), size=n), 0.0)
        t_video = np.where(on, sessions * inten * rng.gamma(2.0, 700, size=n) * np.exp(0.1 * eng), 0.0)
        weekday = rng.poisson(sessions * inten * 28 * np.exp(0.15 * regular)).astype(float)
        weekend = rng.poisson(sessions * inten * 9 * np.exp(0.5 * rng.normal(size=n) - 0.3 * regular)).astype(float)
        ratio = np.where(weekend > 0, weekday / np.maximum(weekend, 1), 0.0)
        sess_mean = np.where(on, (t_prob + t_video) / np.maximum(sessions, 1) * rng.uniform(1.0, 1.6, n), 0.0)
        sess_std = np.where(sessions > 1, sess_mean * rng.uniform(0.2, 0.9, n), 0.0)
        delay = np.where(on, rng.normal(9000 + 16000 * procr, 22000), 0.0)
        peak = np.where(on, np.clip(rng.normal(1.5 + 0.5 * regular, 0.6), 0, None), 0.0)
        period = np.where(on, np.clip(rng.normal(0.4 + 0.12 * regular, 0.15), 0, 1), 0.0)
        subs = rng.poisson(7.0 * act * np.exp(0.15 * skill)).astype(float)
        p_correct = 1 / (1 + np.exp(-(0.25 + 0.4 * skill + ex_bias + rng.normal(scale=0.5, size=n))))
        correct = rng.binomial(subs.astype(int), p_correct).astype(float)
        n_ex = np.maximum(1, np.round(subs / rng.uniform(1.2, 2.5, n)))
        subs_avg = np.where(subs > 0, subs / n_ex, 0.0)
        perc = np.where(subs > 0, correct / np.maximum(subs, 1), 0.0)
        comp_strength = np.where(subs > 0, np.clip(perc * rng.uniform(0.6, 1.4, n), 0, None), 0.0)
        comp_anti = np.where(subs > 0, np.clip(rng.beta(2, 8, n) - 0.05 * procr, 0, 1), 0.0)
        content_anti = np.where(on, np.clip(rng.beta(1.2, 8, n) * np.exp(0.3 * eng - 0.3 * procr), 0, 1), 0.0)
        shape = np.where(subs > 0, rng.normal(0.5 + 0.1 * skill, 0.3), 0.0)
        speed = np.where(subs > 0, np.clip(rng.normal(1 + 0.2 * eng, 0.4), 0, None), 0.0)
        watched = t_video > 0
        playback = np.where(watched, np.clip(rng.normal(1.1 + 0.08 * procr, 0.18), 0.5, 2.0), 0.0)
        pause_frac = np.where(watched, rng.beta(3, 10, n), 0.0)
        pause_mean = np.where(watched, rng.gamma(2.0, 45, n), 0.0)
        seek_std = np.where(watched, rng.gamma(2.0, 50, n), 0.0)
        pause_std = np.where(watched, pause_mean * rng.uniform(0.8, 2.5, n), 0.0)
        speed_mean = np.where(watched, np.clip(rng.normal(40 + 15 * (playback - 1) * 10, 20), 0, None), 0.0)
        speed_std = np.where(watched, speed_mean * rng.uniform(0.5, 2.0, n), 0.0)
        prop_watched = np.where(watched, np.clip(rng.beta(2, 2, n) * np.exp(0.25 * eng), 0, 1), 0.0)
        prop_interrupted = np.where(watched, np.round(rng.beta(1, 8, n), 2), 0.0)
        prop_replayed = np.where(watched, np.round(rng.beta(1, 10, n), 2), 0.0)
        play_freq = np.where(watched, rng.beta(6, 10, n), 0.0)
        cols = [sessions, t_prob, t_video, ratio, weekend, weekday, sess_mean, sess_std, delay, peak, period,
                comp_strength, comp_anti, content_anti, shape, speed, playback, pause_frac, subs, correct,
                subs_avg, perc, pause_mean, seek_std, pause_std, speed_mean, speed_std, prop_watched,
                prop_interrupted, np.zeros(n), prop_replayed, np.zeros(n), play_freq]
        frame = pd.DataFrame(dict(zip(FEATURES, cols)))
        frame.insert(0, "user", ids)
        frame.insert(0, "week", w)
        rows.append(frame)
    ts_ext = pd.concat(rows, ignore_index=True).sort_values(["user", "week"], kind="stable")
    ts_ext = ts_ext.sort_values(["week", "user"], kind="stable").reset_index(drop=True)
    ts_ext[list(FEATURES)] = ts_ext[list(FEATURES)].round(6)
    for c in ("ch_num_sessions", "ch_total_clicks_weekend", "ch_total_clicks_weekday", "wa_num_subs",
              "wa_num_subs_correct", "ch_time_in_prob_sum", "ch_time_in_video_sum"):
        ts_ext[c] = ts_ext[c].round(0)

    # grade: skill, engagement over the semester, category and year; inactivity costs a little
    eng_obs = active.mean(axis=1)
    z = (0.45 * skill + 0.25 * eng + np.vectorize(CATEGORY_EFFECTS.get)(cat)
         + np.vectorize(YEAR_EFFECTS.get)(year) + 0.6 * (eng_obs - 1) + rng.normal(scale=1.0, size=n))
    grade = np.clip(_round_quarter(4.3 + 0.75 * z), 1.0, 6.0)

    info = pd.DataFrame({"user": ids, "grade": grade, "gender": gender, "category": cat, "year": year})
    info = info.replace("NaN", np.nan)

    agg_ext = ts_ext.groupby("user", sort=True)[list(FEATURES)].mean().round(6).reset_index()
    agg_ext = agg_ext.merge(info, on="user", how="left")

    simple_ts = ts_ext[["week", "user"] + [src for _, src, _, _ in SIMPLE_FEATURES]].copy()
    simple_ts.columns = ["week", "user"] + [name for name, _, _, _ in SIMPLE_FEATURES]
    g = simple_ts.groupby("user", sort=True)
    agg_simple = pd.DataFrame({name: (g[name].sum() if how == "sum" else g[name].mean())
                               for name, _, how, _ in SIMPLE_FEATURES}).round(6).reset_index()
    agg_simple = info.merge(agg_simple, on="user", how="left")

    first5 = ts_ext[ts_ext.week < 5]
    zero = first5[(first5.ch_total_clicks_weekend == 0) & (first5.ch_total_clicks_weekday == 0)]
    inactive_users = sorted(int(u) for u in zero.user.unique())
    long_ext = ts_ext[~ts_ext.user.isin(inactive_users)].sort_values(["user", "week"], kind="stable")

    truth = {
        "seed": seed, "n_users": n, "rho_engagement_skill": rho,
        "category_effects": CATEGORY_EFFECTS, "year_effects": YEAR_EFFECTS,
        "week_activity": list(WEEK_ACTIVITY),
        "grade_formula": "clip(round_quarter(4.3 + 0.75*(0.45 s + 0.25 e + cat + year + 0.6 (active_share-1) + N(0,1))), 1, 6)",
        "inactive_users": inactive_users,
        "dropout_week": {int(u): int(d) for u, d in zip(ids, dropout) if d >= 0},
        "pass_rate_all": float((grade >= 4).mean()),
        "pass_rate_active": float((grade[~np.isin(ids, inactive_users)] >= 4).mean()),
        "effort_profiles": {k: {"share": v[0], "mean_engagement": v[1], "session_intensity": v[2]}
                            for k, v in EFFORT_PROFILES.items()},
        "effort_sd_within_profile": EFFORT_SD,
        "effort_profile": dict(zip(map(int, ids), [list(EFFORT_PROFILES)[p] for p in profile])),
        "engagement": dict(zip(map(int, ids), np.round(eng, 4).tolist())),
        "skill": dict(zip(map(int, ids), np.round(skill, 4).tolist())),
    }
    frames = {
        "aggregated_fc.csv": agg_simple,
        "time_series_fc.csv": simple_ts.reset_index(drop=True),
        "aggregated_extended_fc.csv": agg_ext,
        "time_series_extended_fc.csv": ts_ext,
        "fc_long_extended.csv": long_ext,
    }
    return Generated(frames, truth)


DATASET = Dataset(
    name="flipped_classroom",
    title="Flipped classroom (synthetic)",
    lectures="02, 03, 04, 05, 10",
    description=__doc__.split("\n", 2)[2].strip(),
    files=SCHEMAS,
    generate=generate,
    real_source="The original EPFL flipped-classroom logs are private; no public download.",
)
