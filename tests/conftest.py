"""Shared fixtures: the real public datasets (optional) and a data folder built once per session."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def realdata_dir() -> Path:
    """``$MLBD_REALDATA`` or ``../shared/realdata`` beside the repository."""
    return Path(os.environ.get("MLBD_REALDATA", ROOT.parent / "shared" / "realdata"))


@pytest.fixture(scope="session")
def realdata() -> Path:
    """Path of the real datasets; skips the test cleanly when the folder is absent."""
    path = realdata_dir()
    if not path.is_dir():
        pytest.skip(f"real datasets not available at {path}")
    return path


@pytest.fixture(scope="session")
def built_data(tmp_path_factory) -> Path:
    """Every dataset built with the default seed into a temporary folder, exported as MLBD_DATA_DIR
    (so notebooks and nbgrader subprocesses read it, whatever the state of the repository's data/)."""
    from mlbd_utils.data import registry

    out = tmp_path_factory.mktemp("data")
    for ds in registry.datasets().values():
        registry.build_one(ds, out)
    old = os.environ.get("MLBD_DATA_DIR")
    os.environ["MLBD_DATA_DIR"] = str(out)
    yield out
    if old is None:
        os.environ.pop("MLBD_DATA_DIR", None)
    else:
        os.environ["MLBD_DATA_DIR"] = old
