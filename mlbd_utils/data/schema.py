"""Column schemas and validated reading of the course's data files.

A :class:`Schema` lists the columns a file must have, their kind, unit and meaning. The same
description feeds the validation in :func:`read_table` and the documentation in ``data/README.md``.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

KINDS = ("int", "float", "str", "bool")


class DataError(ValueError):
    """A data file is missing or does not match its schema. The message names file and column."""


@dataclass(frozen=True)
class Column:
    """One column: ``kind`` is int, float, str or bool; ``nullable`` allows missing values."""

    name: str
    kind: str
    description: str
    unit: str = ""
    nullable: bool = False
    allowed: tuple | None = None
    min: float | None = None
    max: float | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"column {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}")


@dataclass(frozen=True)
class Schema:
    """The columns of one file (in order) and how to read it."""

    columns: tuple[Column, ...]
    sep: str = ","
    encoding: str = "utf-8"
    index_col: str | None = None  # an unnamed leading index column to keep, e.g. "Unnamed: 0"
    quoting: int = csv.QUOTE_MINIMAL
    extra_columns: bool = False  # allow columns beyond those listed

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def __getitem__(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


def _check_kind(series: pd.Series, col: Column, where: str) -> None:
    values = series.dropna()
    if col.kind in ("int", "float"):
        if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            bad = pd.to_numeric(values, errors="coerce")
            first = values[bad.isna()].head(3).tolist()
            raise DataError(f"{where}: column {col.name!r} must be numeric ({col.kind}); "
                            f"found non-numeric values such as {first}")
        if col.kind == "int" and len(values) and not np.all(np.equal(np.mod(values, 1), 0)):
            first = values[np.mod(values, 1) != 0].head(3).tolist()
            raise DataError(f"{where}: column {col.name!r} must hold integers; found {first}")
        if col.min is not None and len(values) and values.min() < col.min:
            raise DataError(f"{where}: column {col.name!r} has values below {col.min} "
                            f"(minimum found {values.min()})")
        if col.max is not None and len(values) and values.max() > col.max:
            raise DataError(f"{where}: column {col.name!r} has values above {col.max} "
                            f"(maximum found {values.max()})")
    elif col.kind == "bool":
        ok = values.isin([0, 1, True, False])
        if not ok.all():
            raise DataError(f"{where}: column {col.name!r} must be 0/1; found {values[~ok].head(3).tolist()}")
    if col.allowed is not None:
        ok = values.isin(col.allowed)
        if not ok.all():
            raise DataError(f"{where}: column {col.name!r} has unexpected values "
                            f"{sorted(set(values[~ok].astype(str)))[:5]}; allowed: {list(col.allowed)}")


def validate(df: pd.DataFrame, schema: Schema, where: str = "data frame") -> pd.DataFrame:
    """Check ``df`` against ``schema``; raise :class:`DataError` naming ``where`` and the column."""
    cols = list(df.columns)
    if len(cols) == 1 and len(schema.columns) > 1 and schema.sep in ("\t", ";", ",") and \
            any(s in str(cols[0]) for s in (";", "\t", ",")):
        raise DataError(f"{where}: only one column found ({str(cols[0])[:60]!r}...); "
                        f"the file is probably not separated by {schema.sep!r}")
    missing = [c for c in schema.names if c not in cols]
    if missing:
        raise DataError(f"{where}: missing column(s) {missing}; expected {schema.names}")
    if not schema.extra_columns:
        extra = [c for c in cols if c not in schema.names and c != schema.index_col]
        if extra:
            raise DataError(f"{where}: unexpected column(s) {extra}")
    for col in schema.columns:
        s = df[col.name]
        if not col.nullable and s.isna().any():
            rows = list(s.index[s.isna()][:3])
            raise DataError(f"{where}: column {col.name!r} has missing values (rows {rows})")
        _check_kind(s, col, where)
    return df


def _check_header(path: Path, schema: Schema) -> None:
    """Catch a wrong delimiter from the header line, before pandas folds the line into one column."""
    with open(path, "rb") as f:
        head = f.readline(1 << 16)
    try:
        header = head.decode(schema.encoding)
    except UnicodeDecodeError:
        return  # reported with the file's position by read_table
    if len(schema.columns) > 1 and schema.sep not in header:
        found = [s for s in (",", ";", "\t", "|") if s in header]
        if found:
            raise DataError(f"{path}: the header has no {schema.sep!r}; the file is probably not separated by "
                            f"{schema.sep!r} (found {found[0]!r})")


def read_table(path: str | Path, schema: Schema, **kwargs) -> pd.DataFrame:
    """Read a delimited file and validate it; any problem raises :class:`DataError` naming the file."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    _check_header(path, schema)
    try:
        df = pd.read_csv(path, sep=schema.sep, encoding=schema.encoding, quoting=schema.quoting,
                         keep_default_na=True, na_values=["NaN"], **kwargs)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: cannot be decoded as {schema.encoding} ({exc.reason} at byte "
                        f"{exc.start}); is the encoding right?") from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{path}: cannot be parsed with separator {schema.sep!r}: {exc}") from exc
    return validate(df, schema, where=str(path))
