#!/usr/bin/env bash
# Set up everything the course needs, idempotently:
#   1. Debian packages (R + lme4 + lmerTest + emmeans, bubblewrap, chromium + chromium-driver, postgresql)
#      when missing,
#   2. a virtual environment at .venv/ with the pinned Python packages (requirements.txt),
#   3. pyBKT 1.4.3 built from source with its C++ extension,
#   4. this repository's two packages in editable mode: the student package `mlbd_utils` (root) and the
#      instructor package `mlbd_course` (instructor/: the `mlbd` command and grading).
# Conda users: create the environment from environment.yml instead; this script then only
# installs pyBKT and the package into the active conda environment (MLBD_USE_ACTIVE_ENV=1).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV="$ROOT/.venv"
STAMP="$VENV/.mlbd-installed"
PYTHON=${PYTHON:-python3}

# Debian packages: R for the mixed models (pymer4), bubblewrap for sandboxed grading, Chromium and its
# driver for the browser test, PostgreSQL for the shared-gradebook test (the server is not started here). Everything missing is named before anything is changed, so a machine
# without root stops here, not half-way.
DEB_PACKAGES=(r-base-core r-cran-lme4 r-cran-lmertest r-cran-emmeans bubblewrap chromium chromium-driver postgresql)
missing_debs() {
    local p
    for p in "${DEB_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
    done
}
r_ok() {
    Rscript -e 'for (p in c("lme4","lmerTest","emmeans")) library(p, character.only=TRUE)' >/dev/null 2>&1
}

if command -v dpkg-query >/dev/null 2>&1; then
    MISSING=$(missing_debs | tr '\n' ' ')
    if [ -n "${MISSING// /}" ]; then
        if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
            echo "==> installing Debian packages: $MISSING"
            export DEBIAN_FRONTEND=noninteractive
            apt-get update -qq
            # shellcheck disable=SC2086
            apt-get install -y -qq --no-install-recommends $MISSING >/dev/null
        else
            echo "error: these Debian packages are missing and apt-get cannot run (not root): $MISSING" >&2
            echo "       ask an administrator for: sudo apt-get install --no-install-recommends $MISSING" >&2
            echo "       or use conda: conda env create -f environment.yml && conda activate mlbd &&" >&2
            echo "       MLBD_USE_ACTIVE_ENV=1 make ... (grading then needs bubblewrap from your system)" >&2
            echo "       nothing was installed." >&2
            exit 1
        fi
    fi
elif ! r_ok; then
    if [ -n "${CONDA_PREFIX:-}" ]; then
        echo "error: R packages lme4/lmerTest/emmeans missing in the conda env; run: conda env update -f environment.yml" >&2
    else
        echo "error: not a Debian system and R with lme4/lmerTest/emmeans is missing; use environment.yml (conda)" >&2
    fi
    exit 1
fi

if [ "${MLBD_USE_ACTIVE_ENV:-0}" = 1 ]; then
    PY=$(command -v python)
else
    if [ ! -x "$VENV/bin/python" ]; then
        echo "==> creating virtual environment $VENV"
        "$PYTHON" -m venv "$VENV"
    fi
    PY="$VENV/bin/python"
fi

REQ_HASH=$(cat requirements.txt pyproject.toml instructor/pyproject.toml scripts/setup_env.sh | sha256sum | cut -c1-16)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$REQ_HASH" ] && [ "${MLBD_USE_ACTIVE_ENV:-0}" != 1 ]; then
    echo "==> environment up to date ($VENV)"
    exit 0
fi

# pip's noise about this machine's optional local package mirrors is filtered out (exit codes kept)
pip_install() {
    "$PY" -m pip install --quiet "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}
echo "==> installing pinned Python packages"
pip_install --upgrade pip==26.3 setuptools==84.2.1 wheel==0.48.0
pip_install -r requirements.txt
echo "==> building pyBKT 1.4.3 from source (C++ extension)"
pip_install --no-build-isolation --no-binary pyBKT --no-deps --force-reinstall pyBKT==1.4.3
"$PY" -c 'from pyBKT.fit import E_step' 2>/dev/null || {
    echo "error: pyBKT was installed without its compiled extension (is g++ installed?)" >&2; exit 1; }
echo "==> installing mlbd_utils (student package) and mlbd_course (instructor package, the mlbd command), editable"
pip_install --no-deps --no-build-isolation -e . -e ./instructor
[ "${MLBD_USE_ACTIVE_ENV:-0}" = 1 ] || echo "$REQ_HASH" > "$STAMP"
echo "==> environment ready: source .venv/bin/activate"
