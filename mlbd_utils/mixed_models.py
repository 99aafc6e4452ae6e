"""Mixed-effects models with pymer4 (lecture 03): features, predictions, scores and effect plots.

The models themselves are pymer4's ``Lm`` (ordinary least squares) and ``Lmer`` (``lme4::lmer`` /
``lme4::glmer`` fitted in R through rpy2). This module adds what the course needs around them:

* :func:`parse_formula` -- response, fixed and random terms of an lme4 formula;
* :func:`fit` and :func:`predict` -- a quiet fit, and predictions as a (copied) NumPy array;
* :func:`fixed_effects`, :func:`random_effects`, :func:`variance_components`, :func:`icc` -- tidy
  tables of a fitted ``Lmer`` (with confidence intervals) and :func:`plot_effects` to draw them.

Aggregating the weekly features and scoring the predictions (RMSE, AUC) are lecture 03's graded tasks: the
student package deliberately holds no one-call reference of them (``tests/test_student_package.py``).

Nothing here imports pymer4 or rpy2 at import time (that starts R); the functions that need R import it
when called.
"""
from __future__ import annotations

import re
import warnings
from contextlib import contextmanager

import numpy as np
import pandas as pd

__all__ = ["parse_formula", "fit", "predict", "fixed_effects", "random_effects", "variance_components", "icc", "plot_effects", "quiet_r"]

#: residual variance of the latent logistic distribution, used for the ICC of a binomial model
LOGISTIC_VARIANCE = np.pi ** 2 / 3


# ----------------------------------------------------------------------------------------------------------
# formulas, fitting and predictions
# ----------------------------------------------------------------------------------------------------------
def parse_formula(formula: str) -> dict:
    """Split an lme4 formula into its parts.

    ``parse_formula("passed ~ (1|category) + x + z")`` returns
    ``{"response": "passed", "fixed": ["x", "z"], "random": [("1", "category")], "intercept": True}``.
    Fixed terms keep their order; ``0`` or ``- 1`` remove the intercept, ``- x`` drops a term. Terms are
    split on ``+``/``-`` outside random-effect brackets, so write arithmetic inside ``I()`` without them.
    """
    if formula.count("~") != 1:
        raise ValueError(f"parse_formula: expected one '~' in {formula!r}")
    lhs, rhs = (s.strip() for s in formula.split("~"))
    random = [(a.strip(), b.strip()) for a, b in re.findall(r"\(([^()|]+)\|\|?([^()]+)\)", rhs)]
    rest = re.sub(r"\([^()|]+\|\|?[^()]+\)", " ", rhs)
    intercept, fixed = True, []
    for sign, term in re.findall(r"([+-]?)\s*([^+-]+)", rest):
        term = term.strip()
        if not term:
            continue
        if term == "0" or (term == "1" and sign == "-"):
            intercept = False
        elif term != "1" and sign != "-":
            fixed.append(term)
    return {"response": lhs, "fixed": fixed, "random": random, "intercept": intercept}


@contextmanager
def quiet_r():
    """Silence the R console (messages routed through rpy2's logger) and Python warnings inside the block.

    pymer4 0.8.2 also triggers pandas ``FutureWarning``/``SettingWithCopyWarning`` on every fit and
    prediction; they do not affect the results. The previous logger level is restored on exit.
    """
    import logging

    logger = logging.getLogger("rpy2.rinterface_lib.callbacks")
    old = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(old)


def fit(model, **kwargs):
    """Fit a pymer4 model without printing its summary and without warnings; return the model.

    Keyword arguments go to ``model.fit`` (for ``Lmer``: ``REML``, ``conf_int``, ``control``...).
    Convergence or singular-fit messages from lme4 stay available in ``model.warnings``.
    """
    kwargs.setdefault("summarize", False)
    with quiet_r():
        model.fit(**kwargs)
    return model


def _is_lmer(model) -> bool:
    return hasattr(model, "ranef_var") or type(model).__name__ in ("Lmer", "Glmer")


def _formula_columns(model) -> list:
    """Columns of the training data named in the model's formula (predictors and groups)."""
    parts = parse_formula(model.formula)
    text = " ".join(parts["fixed"] + [f"{a} {b}" for a, b in parts["random"]])
    names = set(re.findall(r"[A-Za-z_.][A-Za-z0-9_.]*", text))
    data = getattr(model, "data", None)
    columns = list(data.columns) if data is not None else []
    return [c for c in columns if c in names]


def predict(model, data: pd.DataFrame, pred_type: str = "response", use_rfx: bool = True) -> np.ndarray:
    """Predictions of a fitted pymer4 ``Lm`` or ``Lmer`` on ``data``, as a float NumPy array.

    For ``Lmer``, ``pred_type="response"`` gives probabilities for a binomial model (``"link"``: the
    log-odds), random effects are used for the groups seen in training (``use_rfx``; a new group gets
    the population prediction), and pymer4's check that the predictions differ from the fitted values is
    skipped (it fails legitimately when ``data`` is the training set). Instead, every column of the
    training data named in the formula must be present in ``data``.
    """
    if not getattr(model, "fitted", False):
        raise ValueError("predict: the model is not fitted (call fit(model) first)")
    needed = _formula_columns(model)
    missing = [c for c in needed if c not in data.columns]
    if missing:
        raise ValueError(f"predict: columns of the formula missing from data: {missing}")
    with quiet_r():
        if _is_lmer(model):
            # pymer4's own column check rejects categorical predictors (their design-matrix names differ
            # from the column names); the check above covers what it protects against
            out = model.predict(data, use_rfx=use_rfx, pred_type=pred_type, skip_data_checks=True,
                                verify_predictions=False)
        else:
            out = model.predict(data.copy(), pred_type=pred_type)
    # np.array copies: np.asarray on an rpy2 vector returns a view on R's memory that does not keep the
    # R object alive, so the values can change once the vector is garbage-collected
    out = np.array(out, dtype=float, copy=True).ravel()
    if len(out) != len(data):
        raise ValueError(f"predict: got {len(out)} predictions for {len(data)} rows")
    return out


# ----------------------------------------------------------------------------------------------------------
# effects
# ----------------------------------------------------------------------------------------------------------
def fixed_effects(model) -> pd.DataFrame:
    """Fixed effects of a fitted ``Lm``/``Lmer``: ``estimate``, ``low``, ``high`` (95% Wald interval,
    pymer4's default) and ``p_value``; for a binomial model also the odds ratio and its interval."""
    coefs = model.coefs
    out = pd.DataFrame({"estimate": coefs["Estimate"], "low": coefs["2.5_ci"], "high": coefs["97.5_ci"],
                        "p_value": coefs["P-val"]})
    if getattr(model, "family", "gaussian") == "binomial" and "OR" in coefs:
        out["odds_ratio"], out["or_low"], out["or_high"] = coefs["OR"], coefs["OR_2.5_ci"], coefs["OR_97.5_ci"]
    out.index = [("(Intercept)" if i in ("Intercept", "(Intercept)") else i) for i in out.index]
    return out.astype(float)


def random_effects(model, level: float = 0.95) -> pd.DataFrame:
    """Conditional modes (BLUPs) of the random effects of a fitted ``Lmer`` with their conditional
    standard deviations and a normal ``level`` interval, computed in R by ``lme4::ranef(condVar=TRUE)``.

    Columns: ``group`` (grouping factor), ``term``, ``level`` (the group's value), ``estimate``, ``sd``,
    ``low``, ``high``; one row per level and term.
    """
    import rpy2.robjects as ro
    from pymer4.bridge import R2pandas

    with quiet_r():
        frame = R2pandas(ro.r("function(m) as.data.frame(lme4::ranef(m, condVar = TRUE))")(model.model_obj))
    from scipy.stats import norm

    z = norm.ppf(0.5 + level / 2)
    out = pd.DataFrame({"group": frame["grpvar"].astype(str).to_numpy(), "term": frame["term"].astype(str).to_numpy(),
                        "level": frame["grp"].astype(str).to_numpy(), "estimate": frame["condval"].to_numpy(float),
                        "sd": frame["condsd"].to_numpy(float)})
    out["low"], out["high"] = out["estimate"] - z * out["sd"], out["estimate"] + z * out["sd"]
    return out


def variance_components(model, conf_int: str | None = "profile", level: float = 0.95) -> pd.DataFrame:
    """Variance components of a fitted ``Lmer``: ``var`` and ``sd`` per random term (and the residual for
    a gaussian model), with a ``level`` confidence interval of the standard deviation.

    ``conf_int="profile"`` (likelihood profile, lme4's ``confint(method="profile")``) is fast and does not
    assume normality of the estimate, which matters for an SD close to 0: its lower bound can be exactly
    0. ``None`` skips the intervals.
    """
    rv = model.ranef_var.copy()
    out = pd.DataFrame({"group": [str(i) for i in rv.index], "term": rv["Name"].fillna("").astype(str).to_numpy(),
                        "var": rv["Var"].to_numpy(float), "sd": rv["Std"].to_numpy(float)})
    out["name"] = [("sigma" if g == "Residual" else f"sd_{t}|{g}") for g, t in zip(out["group"], out["term"])]
    if conf_int is not None:
        with quiet_r():
            ci = model.confint(method=conf_int, level=level, quiet=True)
        ci.index = [str(i) for i in ci.index]
        lo, hi = ci.columns[0], ci.columns[1]
        out["sd_low"] = [float(ci.loc[n, lo]) if n in ci.index else np.nan for n in out["name"]]
        out["sd_high"] = [float(ci.loc[n, hi]) if n in ci.index else np.nan for n in out["name"]]
    return out.set_index("name")


def icc(model) -> float:
    """Intraclass correlation of a random-intercept ``Lmer``: the share of the (latent) variance that lies
    between the groups, ``var_group / (var_group + var_residual)``.

    For a binomial (logit) model the residual variance is that of the standard logistic, pi^2/3.
    """
    rv = model.ranef_var
    is_resid = np.array([str(i) == "Residual" for i in rv.index])
    between = float(rv.loc[~is_resid, "Var"].sum())
    if getattr(model, "family", "gaussian") == "binomial":
        resid = LOGISTIC_VARIANCE
    elif is_resid.any():
        resid = float(rv.loc[is_resid, "Var"].iloc[0])
    else:
        raise ValueError("icc: no residual variance for this family")
    return between / (between + resid)


def plot_effects(model, axes=None, level: float = 0.95, include_intercept: bool = False):
    """Two panels for a fitted ``Lmer``: the fixed effects with their confidence intervals, and the random
    intercepts of each group (conditional modes +- interval, from :func:`random_effects`).

    A dotted line marks 0 in both panels: a random intercept is a *deviation* from the fixed intercept.
    Returns the two matplotlib axes.
    """
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 3.6), gridspec_kw={"width_ratios": [1, 1.2]})
    fx = fixed_effects(model)
    if not include_intercept:
        fx = fx.drop(index="(Intercept)", errors="ignore")
    ax = axes[0]
    y = np.arange(len(fx))
    est, lo, hi = (fx[c].to_numpy(float) for c in ("estimate", "low", "high"))
    ax.errorbar(est, y, xerr=np.vstack([est - lo, hi - est]), fmt="o", color="tab:blue", capsize=4)
    ax.set_yticks(y, list(fx.index))
    ax.set_ylim(-0.6, len(fx) - 0.4)
    ax.axvline(0, color="k", ls=":", lw=1)
    ax.set(title="Fixed effects (95% CI)", xlabel="estimate")
    re_ = random_effects(model, level=level)
    ax = axes[1]
    labels = [f"{g}: {lv}" if re_["group"].nunique() > 1 else lv for g, lv in zip(re_["group"], re_["level"])]
    y = np.arange(len(re_))
    est, hi = re_["estimate"].to_numpy(float), re_["high"].to_numpy(float)
    ax.errorbar(est, y, xerr=hi - est, fmt="s", color="tab:orange", capsize=4)
    ax.set_yticks(y, labels)
    ax.axvline(0, color="k", ls=":", lw=1)
    ax.set(title=f"Random intercepts ({int(level * 100)}% interval)", xlabel="deviation from the fixed intercept")
    plt.tight_layout()
    return axes
