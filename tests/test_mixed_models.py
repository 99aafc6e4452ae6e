"""mlbd_utils.mixed_models: feature aggregation, formula parsing, scores, and real lme4 fits via pymer4.

Everything that starts R runs in a fresh interpreter (``subprocess``): importing rpy2 sets
LD_LIBRARY_PATH for R in the importing process, which breaks the subprocesses (nbgrader, kernels) that
other tests start later from the pytest process.
"""
from __future__ import annotations

import json
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import mlbd_utils.mixed_models as mixed_models
from mlbd_utils.mixed_models import fixed_effects, icc, parse_formula, predict


def test_no_one_call_reference_of_lecture_03_tasks():
    """Lecture 03 grades the aggregation of the first weeks and the RMSE/AUC of the predictions."""
    for name in ("aggregate_features", "prediction_scores", "score_model"):
        assert not hasattr(mixed_models, name), name


# ---------------------------------------------------------------------------------------------------------
# formulas, scores, tables (no R needed: duck-typed stand-ins for pymer4 models)
# ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("formula, expected", [
    ("passed ~ (1|category) + wa_num_subs_perc_correct",
     {"response": "passed", "fixed": ["wa_num_subs_perc_correct"], "random": [("1", "category")], "intercept": True}),
    ("grade~(1|category)+x+z", {"response": "grade", "fixed": ["x", "z"], "random": [("1", "category")],
                                "intercept": True}),
    ("y ~ 0 + a + scale(b) + (1 + a | g) + (1||h)", {"response": "y", "fixed": ["a", "scale(b)"],
                                                      "random": [("1 + a", "g"), ("1", "h")], "intercept": False}),
    ("y ~ x - 1", {"response": "y", "fixed": ["x"], "random": [], "intercept": False}),
    ("y ~ 1 + (1|g)", {"response": "y", "fixed": [], "random": [("1", "g")], "intercept": True}),
])
def test_parse_formula(formula, expected):
    assert parse_formula(formula) == expected


def test_parse_formula_needs_one_tilde():
    with pytest.raises(ValueError):
        parse_formula("y + x")


def _fake_model(family="gaussian", residual=True):
    index = ["category"] + (["Residual"] if residual else [])
    ranef_var = pd.DataFrame({"Name": ["(Intercept)"] + ([""] if residual else []),
                              "Var": [0.25] + ([0.75] if residual else []),
                              "Std": [0.5] + ([np.sqrt(0.75)] if residual else [])}, index=index)
    coefs = pd.DataFrame({"Estimate": [3.0, 1.5], "2.5_ci": [2.5, 1.0], "97.5_ci": [3.5, 2.0], "P-val": [0.0, 0.01],
                          "OR": [20.1, 4.5], "OR_2.5_ci": [12.2, 2.7], "OR_97.5_ci": [33.1, 7.4]},
                         index=["Intercept", "x"])
    return SimpleNamespace(ranef_var=ranef_var, family=family, coefs=coefs, fitted=True, formula="y~(1|category)+x",
                           data=pd.DataFrame({"y": [1.0], "x": [0.0], "category": ["a"]}))


def test_icc():
    assert icc(_fake_model()) == pytest.approx(0.25)
    assert icc(_fake_model("binomial", residual=False)) == pytest.approx(0.25 / (0.25 + np.pi ** 2 / 3))
    with pytest.raises(ValueError):
        icc(_fake_model("poisson", residual=False))


def test_fixed_effects_table():
    fx = fixed_effects(_fake_model())
    assert list(fx.index) == ["(Intercept)", "x"]  # Lm's "Intercept" renamed like Lmer's
    assert list(fx.columns) == ["estimate", "low", "high", "p_value"]
    fx = fixed_effects(_fake_model("binomial", residual=False))
    assert {"odds_ratio", "or_low", "or_high"} <= set(fx.columns)


def test_predict_checks_before_calling_r():
    model = _fake_model()
    with pytest.raises(ValueError, match="missing"):
        predict(model, pd.DataFrame({"x": [0.1]}))  # no category column
    model.fitted = False
    with pytest.raises(ValueError, match="not fitted"):
        predict(model, pd.DataFrame({"x": [0.1], "category": ["a"]}))


@pytest.mark.slow
def test_importing_the_module_does_not_start_r():
    code = "import sys, mlbd_utils.mixed_models; print('rpy2' in sys.modules, 'pymer4' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["False", "False"]


# ---------------------------------------------------------------------------------------------------------
# real fits in R (lme4 through pymer4 and rpy2), in a subprocess
# ---------------------------------------------------------------------------------------------------------
R_SCRIPT = r"""
import json, logging
import numpy as np, pandas as pd
import matplotlib
matplotlib.use("Agg")
logging.getLogger("rpy2.rinterface_lib.callbacks").setLevel(logging.ERROR)
import rpy2.robjects as ro
from pymer4.models import Lm, Lmer
from mlbd_utils import mixed_models as mm

rng = np.random.default_rng(0)
n_groups, per_group = 12, 40
g = np.repeat([f"g{i}" for i in range(n_groups)], per_group)
u = rng.normal(0, 0.8, n_groups)
x = rng.normal(size=g.size)
y = 1.0 + 0.6 * x + np.repeat(u, per_group) + rng.normal(0, 0.5, g.size)
eta = -0.2 + 1.2 * x + np.repeat(u, per_group)
data = pd.DataFrame({"y": y, "x": x, "g": g, "passed": (rng.random(g.size) < 1 / (1 + np.exp(-eta))).astype(int)})
train, test = data.iloc[::2].reset_index(drop=True), data.iloc[1::2].reset_index(drop=True)

out = {}
lmm = mm.fit(Lmer("y ~ (1|g) + x", data=train))
out["r_class"] = list(ro.r["class"](lmm.model_obj))
out["lme4_loaded"] = "lme4" in list(ro.r("loadedNamespaces()"))
out["slope"] = float(mm.fixed_effects(lmm).loc["x", "estimate"])
vc = mm.variance_components(lmm)
out["sd_group"] = float(vc.loc["sd_(Intercept)|g", "sd"])
out["sd_group_ci"] = [float(vc.loc["sd_(Intercept)|g", "sd_low"]), float(vc.loc["sd_(Intercept)|g", "sd_high"])]
out["sigma"] = float(vc.loc["sigma", "sd"])
out["icc"] = mm.icc(lmm)
re_ = mm.random_effects(lmm).set_index("level")
out["blup_corr"] = float(np.corrcoef(re_.loc[[f"g{i}" for i in range(n_groups)], "estimate"], u)[0, 1])
out["blup_matches_pymer4"] = bool(np.allclose(re_["estimate"].to_numpy(), lmm.ranef.iloc[:, 0].loc[re_.index].to_numpy()))
pred = mm.predict(lmm, test)
fe = lmm.coefs["Estimate"].to_numpy()
by_hand = fe[0] + re_["estimate"].reindex(test["g"]).to_numpy() + fe[1] * test["x"].to_numpy()
out["pred_matches_by_hand"] = bool(np.allclose(pred, by_hand))
# the predictions are a copy: R's garbage collector cannot change them afterwards
ro.r("gc(); invisible(rnorm(2e6)); gc()")
out["pred_survives_gc"] = bool(np.allclose(pred, by_hand))
out["rmse_lmm"] = float(np.sqrt(np.mean((test["y"] - pred) ** 2)))
lm = mm.fit(Lm("y ~ x", data=train))
out["rmse_lm"] = float(np.sqrt(np.mean((test["y"] - mm.predict(lm, test)) ** 2)))

glmm = mm.fit(Lmer("passed ~ (1|g) + x", data=train, family="binomial"))
out["glmm_class"] = list(ro.r["class"](glmm.model_obj))
proba = mm.predict(glmm, test)
out["proba_range"] = [float(proba.min()), float(proba.max())]
link = mm.predict(glmm, test, pred_type="link")
out["link_is_logit"] = bool(np.allclose(proba, 1 / (1 + np.exp(-link))))
from sklearn.metrics import roc_auc_score
out["glmm_scores"] = {"rmse": float(np.sqrt(np.mean((test["passed"] - proba) ** 2))),
                      "auc": float(roc_auc_score(test["passed"], proba))}
out["glmm_has_or"] = "odds_ratio" in mm.fixed_effects(glmm).columns
out["glmm_vc_rows"] = list(mm.variance_components(glmm).index)
axes = mm.plot_effects(glmm)
out["plot_panels"] = [len(axes[0].get_yticklabels()), len(axes[1].get_yticklabels())]
print("RESULT" + json.dumps(out))
"""


@pytest.fixture(scope="module")
def r_results():
    run = subprocess.run([sys.executable, "-c", R_SCRIPT], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    line = [ln for ln in run.stdout.splitlines() if ln.startswith("RESULT")]
    assert line, run.stdout[-2000:] + run.stderr[-2000:]
    return json.loads(line[-1][len("RESULT"):])


@pytest.mark.slow
def test_pymer4_fits_really_run_in_r_with_lme4(r_results):
    assert r_results["lme4_loaded"], "lme4 is not loaded in the embedded R session"
    assert r_results["r_class"][0] in ("lmerModLmerTest", "lmerMod")
    assert r_results["glmm_class"] == ["glmerMod"]


@pytest.mark.slow
def test_lmer_recovers_the_simulated_effects(r_results):
    assert r_results["slope"] == pytest.approx(0.6, abs=0.1)
    assert r_results["sigma"] == pytest.approx(0.5, abs=0.08)
    low, high = r_results["sd_group_ci"]
    assert low < r_results["sd_group"] < high and low > 0.2  # 12 groups with sd 0.8: clearly non-zero
    assert 0.5 < r_results["icc"] < 0.9
    assert r_results["blup_corr"] > 0.9 and r_results["blup_matches_pymer4"]
    # the random intercepts help on new observations of the same groups
    assert r_results["rmse_lmm"] < r_results["rmse_lm"]


@pytest.mark.slow
def test_predictions_are_correct_copies(r_results):
    assert r_results["pred_matches_by_hand"] and r_results["pred_survives_gc"]
    lo, hi = r_results["proba_range"]
    assert 0 < lo < hi < 1 and r_results["link_is_logit"]


@pytest.mark.slow
def test_binomial_helpers(r_results):
    scores = r_results["glmm_scores"]
    assert set(scores) == {"rmse", "auc"} and scores["auc"] > 0.7 and scores["rmse"] < 0.5
    assert r_results["glmm_has_or"]
    assert r_results["glmm_vc_rows"] == ["sd_(Intercept)|g"]  # no residual variance for a binomial model
    assert r_results["plot_panels"] == [1, 12]
