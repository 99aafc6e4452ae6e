"""Reference knowledge-tracing models of the benchmark (instructor material, not in the student package).

* :class:`BKT` -- one pyBKT ``Model`` per skill (fit / predict_proba);
* :class:`AFM` and :class:`PFA` -- the Additive Factors Model and Performance Factors Analysis as binomial
  mixed models (``lme4::glmer`` through pymer4's ``Lmer``); they compute their practice counts (previous
  attempts, successes and failures per student and skill, in ``order_id`` order) when missing.

They compute what lectures 06-07 ask students to compute (per-skill BKT predictions, PFA), so they are kept
out of ``mlbd_utils`` (see ``tests/test_student_package.py``). Nothing here imports pyBKT, pymer4 or rpy2 at
import time.
"""
from __future__ import annotations

import time
import warnings
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from mlbd_utils.knowledge_tracing import _SAFE_SKILL, _require, bkt_params

__all__ = ["BKT", "AFM", "PFA", "AFM_FORMULA", "PFA_FORMULA"]

#: AFM: student ability, skill easiness, and a learning rate per skill on the number of previous attempts
AFM_FORMULA = "correct ~ (1|user_id) + (1|skill_name) + (0 + prev_attempts|skill_name)"
#: PFA: student ability, skill easiness, and separate rates per skill for previous successes and failures
PFA_FORMULA = ("correct ~ (1|user_id) + (1|skill_name) + (0 + before_correct_num|skill_name) "
               "+ (0 + before_wrong_num|skill_name)")


class BKT(BaseEstimator):
    """Bayesian Knowledge Tracing with one pyBKT ``Model`` per skill.

    Each skill gets its own ``pyBKT.models.Model(seed=seed, num_fits=num_fits, ...)`` fitted on the rows
    of that skill only, as in lecture 06. ``predict_proba`` returns, for each row, pyBKT's predicted
    probability that the answer is correct given the *previous* rows of the same student on the same
    skill. A skill that was not seen in training (or could not be fitted) gets the training mean of
    ``correct``.

    Parameters
    ----------
    seed : int
        seed of every pyBKT model (the EM algorithm starts from random parameters).
    num_fits : int
        number of EM restarts per skill (pyBKT keeps the best likelihood).
    forgets : bool
        also fit a forgetting probability (default: no forgetting, standard BKT).
    columns : dict, optional
        pyBKT's column mapping (``user_id``, ``order_id``, ``skill_name``, ``correct``).

    Attributes
    ----------
    models_ : dict
        skill name -> fitted pyBKT ``Model``.
    default_ : float
        training mean of ``correct`` (prediction for unknown skills).
    fit_seconds_ : float
        time spent in ``fit``.
    """

    def __init__(self, seed: int = 0, num_fits: int = 5, forgets: bool = False,
                 columns: Mapping[str, str] | None = None):
        self.seed = seed
        self.num_fits = num_fits
        self.forgets = forgets
        self.columns = columns

    def _cols(self) -> dict:
        cols = {"user_id": "user_id", "order_id": "order_id", "skill_name": "skill_name", "correct": "correct"}
        cols.update(self.columns or {})
        return cols

    def fit(self, df: pd.DataFrame, skills: Sequence[str] | None = None, progress=None) -> "BKT":
        """Fit one model per skill of ``df`` (or of ``skills``). ``progress`` wraps the skill loop (tqdm)."""
        from pyBKT.models import Model

        cols = self._cols()
        _require(df, cols.values(), "BKT.fit")
        t0 = time.perf_counter()
        skill_col = cols["skill_name"]
        skills = list(pd.unique(df[skill_col])) if skills is None else list(skills)
        self.models_, self.failed_ = {}, {}
        self.default_ = float(df[cols["correct"]].mean())
        groups = dict(tuple(df.groupby(skill_col, sort=False)))
        for skill in (progress(skills) if progress else skills):
            rows = groups.get(skill)
            if rows is None or rows.empty:
                continue
            model = Model(seed=self.seed, num_fits=self.num_fits)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    # pyBKT sorts the frame it gets in place and adds columns (give it a copy), and reads
                    # skill names as regular expressions (give it a name without special characters)
                    model.fit(data=rows.assign(**{skill_col: _SAFE_SKILL}), forgets=self.forgets,
                              defaults=dict(cols))  # pyBKT edits the dict it gets
            except Exception as exc:  # e.g. a skill with a single attempt
                self.failed_[skill] = f"{type(exc).__name__}: {exc}"
                continue
            self.models_[skill] = model
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    def predict_proba(self, df: pd.DataFrame) -> np.ndarray:
        """P(correct) for each row of ``df`` (in the order of ``df``), given the student's previous rows."""
        if not hasattr(self, "models_"):
            raise ValueError("BKT.predict_proba: call fit first")
        cols = self._cols()
        _require(df, cols.values(), "BKT.predict_proba")
        out = np.full(len(df), self.default_, dtype=float)
        frame = df.reset_index(drop=True)  # index = row positions, which pyBKT keeps in its output
        for skill, rows in frame.groupby(cols["skill_name"], sort=False):
            model = self.models_.get(skill)
            if model is None:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # uses the column mapping given to fit
                pred = model.predict(data=rows.assign(**{cols["skill_name"]: _SAFE_SKILL}))
            out[pred.index.to_numpy()] = pred["correct_predictions"].to_numpy(dtype=float)
        return out

    def params(self) -> pd.DataFrame:
        """The fitted parameters, one row per skill (see :func:`bkt_params`)."""
        return bkt_params(self.models_)



# ----------------------------------------------------------------------------------------------------------
# AFM and PFA (pymer4 / lme4)
# ----------------------------------------------------------------------------------------------------------
class _LogisticKT(BaseEstimator):
    """A binomial mixed model on an interactions frame (base of :class:`AFM` and :class:`PFA`)."""

    _terms: tuple[str, ...] = ()

    def __init__(self, user_intercept: bool = True, control: str = "",
                 retry_control: str | None = "tolPwrss=1e-5"):
        self.user_intercept = user_intercept
        self.control = control
        self.retry_control = retry_control

    @property
    def formula(self) -> str:
        rhs = ["(1|skill_name)"] + [f"(0 + {t}|skill_name)" for t in self._terms]
        if self.user_intercept:
            rhs.insert(0, "(1|user_id)")
        return "correct ~ " + " + ".join(rhs)

    def _frame(self, df: pd.DataFrame) -> pd.DataFrame:
        """The model's columns (index reset). Missing practice counts are computed per student and skill in
        ``order_id`` order from the earlier attempts only (``prev_attempts``, ``before_correct_num``,
        ``before_wrong_num``, counted from 0)."""
        if not all(c in df.columns for c in self._terms):
            _require(df, ["user_id", "skill_name", "correct", "order_id"], type(self).__name__)
            frame = df.reset_index(drop=True)
            ordered = frame.sort_values("order_id", kind="stable")
            g = ordered.groupby(["user_id", "skill_name"], sort=False)["correct"]
            df = frame.assign(prev_attempts=g.cumcount().sort_index().to_numpy(dtype=np.int64),
                              before_correct_num=(g.cumsum() - ordered["correct"]).sort_index().to_numpy(dtype=np.int64))
            df["before_wrong_num"] = df["prev_attempts"] - df["before_correct_num"]
        cols = ["user_id", "skill_name", "correct", *self._terms]
        _require(df, cols, type(self).__name__)
        frame = df[cols].reset_index(drop=True).copy()
        frame["skill_name"] = frame["skill_name"].astype(str)
        return frame

    def _fit_lmer(self, frame: pd.DataFrame, control: str):
        from pymer4.models import Lmer

        model = Lmer(self.formula, data=frame, family="binomial")
        model.fit(summarize=False, verbose=False, no_warnings=True, control=control)
        return model

    def fit(self, df: pd.DataFrame) -> "_LogisticKT":
        """Fit the model on an interactions frame (practice counts computed when missing, see
        ``_frame``). Returns ``self``; the pymer4 model is ``model_``.

        On large data ``glmer`` sometimes stops with "PIRLS step-halvings failed to reduce deviance"
        (long practice sequences give large counts); the fit is then retried once with
        ``retry_control`` added to the ``glmerControl`` options (a looser PIRLS tolerance by default).
        ``control_`` records the options finally used, ``lme4_warnings_`` lme4's convergence messages.
        """
        from mlbd_utils.mixed_models import quiet_r

        frame = self._frame(df)
        t0 = time.perf_counter()
        with quiet_r():
            try:
                self.model_, self.control_ = self._fit_lmer(frame, self.control), self.control
            except Exception as exc:  # rpy2's RRuntimeError
                if not self.retry_control or "PIRLS" not in str(exc):
                    raise
                control = ", ".join(c for c in (self.control, self.retry_control) if c)
                self.model_, self.control_ = self._fit_lmer(frame, control), control
        self.lme4_warnings_ = [str(m) for w in self.model_.warnings
                               for m in ([w] if isinstance(w, str) else list(w))]
        self.fit_seconds_ = time.perf_counter() - t0
        self.n_train_ = len(frame)
        return self

    def predict_proba(self, df: pd.DataFrame) -> np.ndarray:
        """P(correct) for each row of ``df`` (1-D array). Students or skills unseen in training get the
        population value of their random effects (0)."""
        from mlbd_utils.mixed_models import predict

        if not hasattr(self, "model_"):
            raise ValueError(f"{type(self).__name__}.predict_proba: call fit first")
        return predict(self.model_, self._frame(df))

    def variance_components(self) -> pd.DataFrame:
        """Variance and standard deviation of each random effect (pymer4's ``ranef_var``)."""
        return self.model_.ranef_var.copy()


class AFM(_LogisticKT):
    """Additive Factors Model as a binomial mixed model (lme4 ``glmer`` through pymer4).

    ``logit P(correct) = b + u_student + s_skill + g_skill * prev_attempts``: a student ability
    (``(1|user_id)``, dropped with ``user_intercept=False``), a skill easiness and a per-skill learning
    rate on the number of previous attempts, all as random effects as in lecture 07 (there is no fixed
    slope: the per-skill slopes are shrunk towards 0). ``control`` is passed to ``glmerControl`` (e.g.
    ``"optimizer='bobyqa'"``); ``retry_control`` is added to it for a second try when the PIRLS step of
    ``glmer`` fails (see :meth:`fit`).
    """

    _terms = ("prev_attempts",)


class PFA(_LogisticKT):
    """Performance Factors Analysis as a binomial mixed model (lme4 ``glmer`` through pymer4).

    Like :class:`AFM`, but the previous attempts are split into successes (``before_correct_num``) and
    failures (``before_wrong_num``), each with its own per-skill rate.
    """

    _terms = ("before_correct_num", "before_wrong_num")
