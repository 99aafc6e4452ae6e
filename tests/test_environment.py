"""Smoke tests: every heavy dependency really works (not just imports)."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest


def test_versions_are_the_pinned_ones():
    import sklearn

    assert pd.__version__.startswith("2."), "pandas 3 breaks pymer4 0.8.2"
    assert tuple(int(x) for x in sklearn.__version__.split(".")[:2]) < (1, 8), "sklearn >= 1.8 breaks pyBKT"


def test_pybkt_uses_its_compiled_extension():
    from pyBKT.fit import E_step  # only present when the C++ extension was built

    assert E_step is not None
    from pyBKT.models import Model

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"user_id": np.repeat(np.arange(50), 10), "skill_name": "s",
                       "correct": rng.integers(0, 2, 500), "order_id": np.arange(500)})
    model = Model(seed=0, num_fits=1)
    model.fit(data=df)
    assert {"prior", "learns", "guesses", "slips"} <= set(model.params().index.get_level_values("param"))


PYMER4_SCRIPT = """
import logging
import numpy as np, pandas as pd
logging.getLogger("rpy2.rinterface_lib.callbacks").setLevel(logging.ERROR)
import rpy2.robjects as ro
from pymer4.models import Lmer
rng = np.random.default_rng(0)
groups = np.repeat(np.arange(8), 25)
x = rng.normal(size=200)
y = 1 + 0.5 * x + rng.normal(0, 2, 8)[groups] + rng.normal(0, 0.5, 200)
model = Lmer("y ~ x + (1|g)", data=pd.DataFrame({"y": y, "x": x, "g": groups.astype(str)}))
model.fit(summarize=False)
assert abs(model.coefs.loc["x", "Estimate"] - 0.5) < 0.15, model.coefs
assert model.ranef.shape[0] == 8
# the fit really ran in R: lme4 is loaded in the embedded R session
assert "lme4" in list(ro.r("loadedNamespaces()"))
print("LMER-OK", round(float(model.coefs.loc["x", "Estimate"]), 3))
"""


@pytest.mark.slow
def test_pymer4_fits_an_lmer_through_r():
    # In a fresh interpreter: importing rpy2 sets LD_LIBRARY_PATH for R, which must not leak into the
    # subprocesses (nbgrader, kernels) that other tests start from this process.
    out = subprocess.run([sys.executable, "-c", PYMER4_SCRIPT], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "LMER-OK" in out.stdout, out.stderr[-2000:]


@pytest.mark.slow
def test_tensorflow_trains_one_step():
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    x, y = np.random.default_rng(0).normal(size=(32, 4)), np.ones((32, 1))
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=3, verbose=0)
    assert keras.__version__.startswith("3.")
    assert model.evaluate(x, y, verbose=0) < before


def test_nbgrader_runs():
    exe = Path(sys.executable).parent / "nbgrader"
    out = subprocess.run([str(exe) if exe.exists() else "nbgrader", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and "0.9.6" in out.stdout + out.stderr


def test_r_is_installed():
    assert shutil.which("Rscript"), "R is missing: run `make env` (apt-get install r-base-core ...)"
