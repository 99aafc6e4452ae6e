"""Course datasets: seeded synthetic generators with ground truth, a registry, validated loaders.

Typical use in a notebook::

    from mlbd_utils.data import load
    df = load("aggregated_fc")
"""
from .registry import (DEFAULT_SEED, Dataset, Generated, build_one, convert_real, data_dir, datasets,
                       get, is_real, load, load_truth)
from .schema import Column, DataError, Schema, read_table, validate

__all__ = ["DEFAULT_SEED", "Column", "DataError", "Dataset", "Generated", "Schema", "build_one",
           "convert_real", "data_dir", "datasets", "get", "is_real", "load", "load_truth", "read_table", "validate"]
