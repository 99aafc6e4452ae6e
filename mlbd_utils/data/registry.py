"""The dataset registry: name -> files, schemas, generator, checksums, real source.

Every dataset the notebooks read is described once here (via the ``DATASET`` constant of its module).
``build`` writes the synthetic stand-ins into the data folder and verifies their sha256 against
``checksums.json`` (the files built with the default seed); ``convert_real`` turns a real public file
into the same course schema instead.
"""
from __future__ import annotations

import hashlib
import importlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

from .schema import DataError, Schema, read_table, validate

DEFAULT_SEED = 2024
CHECKSUMS = Path(__file__).with_name("checksums.json")
# Modules that define a ``DATASET``; order is the build order.
MODULES = ("flipped", "assistments", "mooc", "explainability", "hours", "fairness", "student_performance", "essays", "oulad")


@dataclass
class Generated:
    """What a generator returns: the files' frames and the ground truth (JSON-serialisable)."""

    frames: dict[str, pd.DataFrame]
    truth: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Dataset:
    """One dataset of the course (possibly several files generated together)."""

    name: str
    title: str
    lectures: str
    description: str
    files: dict[str, Schema]
    generate: Callable[[int], Generated] | None = None
    real_source: str = ""
    license: str = ""
    from_real: Callable[[Path], dict[str, pd.DataFrame]] | None = None


def data_dir() -> Path:
    """Where notebooks read data: ``$MLBD_DATA_DIR`` if set, else the repository's ``data/``.

    The repository folder is found from this package's location (editable install); when the package
    is installed elsewhere, ``./data`` under the current folder is used.
    """
    env = os.environ.get("MLBD_DATA_DIR")
    if env:
        return Path(env).expanduser()
    repo_data = Path(__file__).resolve().parents[2] / "data"
    if repo_data.is_dir():
        return repo_data
    return Path.cwd() / "data"


def datasets() -> dict[str, Dataset]:
    """All registered datasets by name."""
    out = {}
    for mod in MODULES:
        ds = importlib.import_module(f"{__package__}.{mod}").DATASET
        out[ds.name] = ds
    return out


def file_index() -> dict[str, tuple[Dataset, str]]:
    """Map every file name (``aggregated_fc.csv``) and its stem (``aggregated_fc``) to its dataset."""
    idx = {}
    for ds in datasets().values():
        for fname in ds.files:
            idx[fname] = (ds, fname)
            idx[fname.rsplit(".", 1)[0]] = (ds, fname)
    return idx


def get(name: str) -> Dataset:
    all_ = datasets()
    if name not in all_:
        raise DataError(f"unknown dataset {name!r}; known datasets: {sorted(all_)}")
    return all_[name]


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def expected_checksums() -> dict[str, str]:
    return json.loads(CHECKSUMS.read_text()) if CHECKSUMS.exists() else {}


def write_frame(df: pd.DataFrame, path: Path, schema: Schema) -> None:
    """Write one frame in its schema's format (deterministic bytes for the same frame)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    validate(df, schema, where=f"generated {path.name}")
    keep_index = schema.index_col is not None
    df.to_csv(path, sep=schema.sep, index=keep_index, encoding=schema.encoding, lineterminator="\n")


def write_dataset(ds: Dataset, frames: dict[str, pd.DataFrame], out: Path) -> None:
    missing = set(ds.files) - set(frames)
    if missing:
        raise DataError(f"dataset {ds.name!r}: no frame for file(s) {sorted(missing)}")
    for fname, schema in ds.files.items():
        write_frame(frames[fname], out / fname, schema)


def build_one(ds: Dataset, out: Path, seed: int = DEFAULT_SEED) -> list[dict]:
    """Generate ``ds`` into ``out``; return one summary row per file (checksum verified for the
    default seed)."""
    if ds.generate is None:
        raise DataError(f"dataset {ds.name!r} has no generator; use `mlbd data {ds.name} --from PATH`")
    t0 = time.perf_counter()
    gen = ds.generate(seed)
    write_dataset(ds, gen.frames, out)
    truth_path = out / "ground_truth" / f"{ds.name}.json"
    truth_path.parent.mkdir(parents=True, exist_ok=True)
    truth_path.write_text(json.dumps(gen.truth, indent=1, sort_keys=True, default=_json_default) + "\n")
    (out / "real" / f"{ds.name}.json").unlink(missing_ok=True)  # synthetic again: forget a real conversion
    secs = time.perf_counter() - t0
    expected = expected_checksums()
    rows = []
    for fname in ds.files:
        p = out / fname
        digest = sha256(p)
        if seed != DEFAULT_SEED:
            status = "not checked (seed)"
        elif fname not in expected:
            status = "no checksum"
        else:
            status = "ok" if expected[fname] == digest else "MISMATCH"
        rows.append(dict(dataset=ds.name, file=fname, rows=len(gen.frames[fname]),
                         kb=round(p.stat().st_size / 1024, 1), sha256=digest, checksum=status,
                         seconds=round(secs, 2)))
    return rows


def convert_real(ds: Dataset, src: Path, out: Path) -> list[dict]:
    """Convert a real public file into the course schema and write it into ``out``."""
    if ds.from_real is None:
        raise DataError(f"dataset {ds.name!r} has no real-data loader")
    src = Path(src)
    if not src.exists():
        raise DataError(f"{src}: file not found")
    t0 = time.perf_counter()
    frames = ds.from_real(src)
    write_dataset(ds, frames, out)
    # real data has no generating parameters: drop a stale synthetic ground truth, record the provenance
    (Path(out) / "ground_truth" / f"{ds.name}.json").unlink(missing_ok=True)
    (Path(out) / "real").mkdir(parents=True, exist_ok=True)
    (Path(out) / "real" / f"{ds.name}.json").write_text(json.dumps(
        {"dataset": ds.name, "source": src.name, "files": sorted(frames)}, indent=1) + "\n")
    secs = time.perf_counter() - t0
    return [dict(dataset=ds.name, file=f, rows=len(frames[f]), kb=round((out / f).stat().st_size / 1024, 1),
                 sha256=sha256(out / f), checksum=f"real: {src.name}", seconds=round(secs, 2))
            for f in ds.files]


def load(name: str, data_path: str | Path | None = None) -> pd.DataFrame:
    """Read one course file (``"aggregated_fc"`` or ``"aggregated_fc.csv"``) with schema validation.

    The folder is :func:`data_dir` unless ``data_path`` is given.
    """
    idx = file_index()
    if name not in idx:
        raise DataError(f"unknown data file {name!r}; known: {sorted(k for k in idx if '.' in k)}")
    ds, fname = idx[name]
    folder = Path(data_path) if data_path is not None else data_dir()
    path = folder / fname
    if not path.exists():
        raise DataError(f"{path}: file not found. Build the course data with `mlbd data` "
                        f"(or `mlbd data {ds.name}`), or point MLBD_DATA_DIR to the folder holding {fname}.")
    schema = ds.files[fname]
    kwargs = {"index_col": 0} if schema.index_col else {}
    df = read_table(path, schema, **kwargs)
    if schema.index_col:
        df.index.name = None
    return df


def load_truth(name: str, data_path: str | Path | None = None) -> dict:
    """The ground truth written next to a generated dataset (``data/ground_truth/<name>.json``)."""
    folder = Path(data_path) if data_path is not None else data_dir()
    if is_real(name, folder):
        src = json.loads((folder / "real" / f"{get(name).name}.json").read_text()).get("source", "?")
        raise DataError(f"{folder}: {name!r} was converted from a real file ({src}), which has no ground truth; "
                        "this step compares with the generating parameters and only runs on the synthetic data")
    path = folder / "ground_truth" / f"{get(name).name}.json"
    if not path.exists():
        raise DataError(f"{path}: file not found; build the dataset with `mlbd data {name}`")
    return json.loads(path.read_text())


def is_real(name: str, data_path: str | Path | None = None) -> bool:
    """True when the data folder's copy of dataset ``name`` was converted from a real public file
    (``mlbd data NAME --from ...``) rather than generated: it then has no ground truth."""
    folder = Path(data_path) if data_path is not None else data_dir()
    return (folder / "real" / f"{get(name).name}.json").exists()


def _json_default(o):
    import numpy as np
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o)}")
