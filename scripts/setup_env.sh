#!/usr/bin/env bash
# Set up everything the course needs, idempotently:
#   1. R + lme4 + lmerTest + emmeans (Debian apt, when run as root and R is missing),
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

need_r() {
    Rscript -e 'for (p in c("lme4","lmerTest","emmeans")) library(p, character.only=TRUE)' >/dev/null 2>&1 && return 1
    return 0
}

if need_r; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        echo "==> installing R, lme4, lmerTest, emmeans with apt-get"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends \
            r-base-core r-cran-lme4 r-cran-lmertest r-cran-emmeans >/dev/null
    elif [ -n "${CONDA_PREFIX:-}" ]; then
        echo "==> R packages missing in conda env; run: conda env update -f environment.yml" >&2
        exit 1
    else
        echo "error: R with lme4/lmerTest/emmeans is missing and apt-get is not usable (not root?)." >&2
        echo "       install r-base-core r-cran-lme4 r-cran-lmertest r-cran-emmeans, or use environment.yml" >&2
        exit 1
    fi
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
