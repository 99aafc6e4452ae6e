"""Essay features and scores in the style of the ASAP essay-scoring data (GMC-SMOTE lab).

The Automated Student Assessment Prize (ASAP) data hold 12,978 essays in eight prompts
(``essay_set`` 1-8), each with a human holistic score (``domain1_score``) on a prompt-specific
scale: set 1: 2-12, set 2: 1-6, sets 3-4: 0-3, sets 5-6: 0-4, set 7: 0-24, set 8: 10-60. Scores
are imbalanced and roughly bell-shaped: most essays sit a little above the middle of the scale,
the extremes are rare. Automated scorers in the EASE tradition (Phandi et al. 2015) turn each
essay into a handful of surface features (length, vocabulary, punctuation, spelling) and fit a
regression (Bayesian linear ridge regression) evaluated by quadratic weighted kappa (QWK).

``essays_features.csv`` has one row per essay: ``essay_id``, ``essay_set``, ``fold`` (5-fold
cross-validation folds: the NEA split of the AES literature with the real file, see :func:`from_real`),
the 14 features of
:class:`EssayFeatures` and the integer ``score``. With a real ``training_set_rel3.tsv`` the file
is computed from the essays themselves (``mlbd data essays --from training_set_rel3.tsv``).

Generating story of the synthetic stand-in (all of it is in the ground truth):

* the number of essays per set follows the real data (12,978 in all); each essay has three
  correlated latent traits: fluency ``L`` (how much the student writes), lexical sophistication
  ``V`` and mechanics ``M`` (spelling, punctuation), correlation 0.4 between each pair;
* the features are consistent functions of the traits: word count log-normal around the set's
  typical length (``W_set * exp(0.45 L)``), mean word length ``mwl_set + 0.25 V``, sentences from
  words per sentence, distinct words from a Herdan-type law ``n_plain ** h`` (``h`` rises with
  ``V``), long words, commas, apostrophes, question and exclamation marks as binomial/Poisson
  counts, the rare-word share falls with ``M``, anonymised entity tokens (@PERSON1, @CAPS2...)
  at a set-specific rate;
* the score is linear in standardised features: within each set, ``z = sum_j w_j * std(f_j) +
  N(0, sigma)`` with ``f_j`` the log1p of count features (the ``score_weights`` of the ground
  truth), then ``z`` is standardised and cut at the normal quantiles of a discretised normal on
  the set's scale (``score_distribution``: mean at about 60-70 % of the scale), so the score
  classes are imbalanced with rare extremes.

A linear model on the features therefore recovers the weights' signs; length dominates, as it does
in real essay scoring.
"""
from __future__ import annotations

import codecs
import csv
import io
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit, logit
from scipy.stats import norm
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .registry import Dataset, Generated
from .schema import Column, DataError, Schema, validate

# --------------------------------------------------------------------------------------------
# The real ASAP file
# --------------------------------------------------------------------------------------------

SCORE_RANGES = {1: (2, 12), 2: (1, 6), 3: (0, 3), 4: (0, 3), 5: (0, 4), 6: (0, 4), 7: (0, 24), 8: (10, 60)}
N_ESSAYS = {1: 1783, 2: 1800, 3: 1726, 4: 1772, 5: 1805, 6: 1800, 7: 1569, 8: 723}  # as in ASAP

ASAP_SCHEMA = Schema((
    Column("essay_id", "int", "essay id (unique)", min=1),
    Column("essay_set", "int", "prompt (1-8)", allowed=tuple(range(1, 9))),
    Column("essay", "str", "essay text; names, dates, numbers... replaced by @PERSON1-style tokens"),
    Column("domain1_score", "int", "resolved holistic score on the set's scale", "points", min=0, max=60),
), sep="\t", encoding="cp1252", quoting=csv.QUOTE_NONE, extra_columns=True)

# A valid UTF-8 multi-byte sequence; the ASAP file is cp1252 but contains a few of them (curly
# quotes pasted as UTF-8), which are decoded as UTF-8 so that they do not turn into mojibake.
_UTF8_SEQ = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


def _decode_cp1252(raw: bytes, path: Path) -> str:
    """cp1252 text with stray UTF-8 sequences; bytes undefined in cp1252 map to U+0080-U+009F."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in raw[:4096]:
        raise DataError(f"{path}: contains NUL bytes (UTF-16 or binary?); expected cp1252 text "
                        "(the original ASAP training_set_rel3.tsv)")
    parts, last = [], 0
    for m in _UTF8_SEQ.finditer(raw):
        parts.append(raw[last:m.start()].decode("cp1252", errors="_asap_latin1"))
        parts.append(m.group().decode("utf-8"))
        last = m.end()
    parts.append(raw[last:].decode("cp1252", errors="_asap_latin1"))
    return "".join(parts)


def _latin1_fallback(exc: UnicodeDecodeError):
    # The five bytes cp1252 leaves undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D) decode as Windows does.
    return exc.object[exc.start:exc.end].decode("latin-1"), exc.end


codecs.register_error("_asap_latin1", _latin1_fallback)


def _unquote(text: str) -> str:
    """Undo CSV quoting of one field read with QUOTE_NONE (``"a ""b"" c"`` -> ``a "b" c``)."""
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        return text[1:-1].replace('""', '"')
    return text


def read_asap(path: str | Path) -> pd.DataFrame:
    """Read the real ASAP ``training_set_rel3.tsv`` (all 12,978 essays) with validation.

    The file is tab-separated, cp1252-encoded with CRLF line ends; most essays are wrapped in CSV
    quotes, but essay 10534 has an unbalanced quote, so it is read with ``QUOTE_NONE`` and the
    quotes are removed field by field. Returns all 28 columns (``essay_id``, ``essay_set``,
    ``essay``, ``domain1_score``, the rater and trait columns); scores are checked against each
    set's range. Any problem raises :class:`DataError` naming the file and the column.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    text = _decode_cp1252(path.read_bytes(), path)
    try:
        df = pd.read_csv(io.StringIO(text), sep="\t", quoting=csv.QUOTE_NONE, dtype={"essay": str},
                         keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{path}: cannot be parsed as tab-separated ASAP data: {exc}") from exc
    validate(df, ASAP_SCHEMA, where=str(path))
    df["essay"] = df["essay"].map(_unquote)
    if df["essay_id"].duplicated().any():
        dup = df.loc[df["essay_id"].duplicated(), "essay_id"].head(3).tolist()
        raise DataError(f"{path}: column 'essay_id' has duplicated ids {dup}")
    for s, (lo, hi) in SCORE_RANGES.items():
        sc = df.loc[df["essay_set"] == s, "domain1_score"]
        if len(sc) and (sc.min() < lo or sc.max() > hi):
            raise DataError(f"{path}: column 'domain1_score' of essay_set {s} has scores "
                            f"{sc.min()}-{sc.max()} outside the set's range {lo}-{hi}")
    df["essay_id"] = df["essay_id"].astype(int)
    df["essay_set"] = df["essay_set"].astype(int)
    df["domain1_score"] = df["domain1_score"].astype(int)
    return df.reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# EASE-style features
# --------------------------------------------------------------------------------------------

# (name, kind, description)
FEATURE_SPECS = (
    ("n_chars", "int", "characters of the essay (leading/trailing white space removed)"),
    ("n_words", "int", "word tokens (letters/digits with inner apostrophes, numbers such as 3.5; an "
                        "@ENTITY token is one word)"),
    ("n_sentences", "int", "sentences: pieces ended by . ! ? (not a decimal point) holding a word; >= 1 if any word"),
    ("words_per_sentence", "float", "n_words / n_sentences (0 for an empty essay)"),
    ("mean_word_length", "float", "mean characters per word (apostrophes not counted), entity tokens excluded"),
    ("n_unique_words", "int", "distinct lower-cased words, entity tokens excluded"),
    ("unique_word_ratio", "float", "n_unique_words / words without entity tokens (type-token ratio)"),
    ("n_long_words", "int", "words of at least 7 characters (apostrophes not counted), entities excluded"),
    ("n_commas", "int", "commas"),
    ("n_apostrophes", "int", "apostrophes (' and the curly ’)"),
    ("n_question_marks", "int", "question marks"),
    ("n_exclamation_marks", "int", "exclamation marks"),
    ("rare_word_share", "float", "share of words (entities excluded) that are not alphabetic or not in the "
                                 "vocabulary learned in fit: a spelling-error / rare-word proxy"),
    ("n_entities", "int", "anonymised entity tokens such as @PERSON1, @CAPS2, @NUM3"),
)
FEATURES = tuple(f[0] for f in FEATURE_SPECS)
_INT_FEATURES = tuple(f[0] for f in FEATURE_SPECS if f[1] == "int")

_WORD = re.compile(r"@[A-Za-z]+\d*|\d+(?:[.,]\d+)+|[^\W_]+(?:['\u2019][^\W_]+)*")
_SENT_END = re.compile(r"(?<!\d)[.!?]+|[.!?]+(?!\d)")
_HAS_WORD = re.compile(r"[^\W_]")
_APOS = re.compile("['\u2019]")


def _plain(word: str) -> str:
    """Lower-cased word with curly apostrophes straightened."""
    return word.lower().replace("\u2019", "'")


def _is_alpha(word: str) -> bool:
    return word.replace("'", "").isalpha()


class EssayFeatures(TransformerMixin, BaseEstimator):
    """Surface features of essays in the spirit of EASE (the engine behind many ASAP baselines).

    ``fit`` learns a vocabulary: the lower-cased alphabetic words that occur in at least
    ``min_df`` of the training essays (or takes ``vocabulary`` as given). ``transform`` returns a
    data frame with one row per essay and the columns :data:`FEATURES`:

    ``n_chars``, ``n_words``, ``n_sentences``, ``words_per_sentence``, ``mean_word_length``,
    ``n_unique_words``, ``unique_word_ratio``, ``n_long_words``, ``n_commas``, ``n_apostrophes``,
    ``n_question_marks``, ``n_exclamation_marks``, ``rare_word_share`` and ``n_entities``.

    A *word* is a run of letters/digits with inner apostrophes (``don't`` is one word), a number
    with decimal or thousands separators (``3.5``, ``1,000``) or an ASAP entity token
    (``@PERSON1``). Entity tokens count in ``n_words`` and ``n_entities`` but
    are left out of the lexical features (word length, distinct words, long words, rare words).
    Pure Python/regex: no downloads, no external corpora.

    Parameters
    ----------
    min_df : int
        A word enters the vocabulary when it occurs in at least this many training essays.
    long_word : int
        Minimum length of a *long* word.
    vocabulary : iterable of str, optional
        A fixed vocabulary (lower-case); ``fit`` then learns nothing.
    """

    def __init__(self, min_df: int = 3, long_word: int = 7, vocabulary=None):
        self.min_df = min_df
        self.long_word = long_word
        self.vocabulary = vocabulary

    @staticmethod
    def _texts(X) -> list[str]:
        if isinstance(X, str):
            raise TypeError("EssayFeatures expects a list or Series of essays, not a single string")
        if isinstance(X, pd.DataFrame):
            if X.shape[1] != 1:
                raise ValueError(f"EssayFeatures expects one text column, got {X.shape[1]} columns")
            X = X.iloc[:, 0]
        texts = list(X)
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise TypeError(f"essay at position {i} is {type(t).__name__}, not a string")
        return texts

    def fit(self, X, y=None):
        """Learn the vocabulary from the essays ``X`` (list, array or Series of strings)."""
        texts = self._texts(X)
        if self.vocabulary is not None:
            vocab = {_plain(w) for w in self.vocabulary}
        else:
            df = Counter()
            for t in texts:
                words = {_plain(w) for w in _WORD.findall(t) if w[0] != "@"}
                df.update(w for w in words if _is_alpha(w))
            vocab = {w for w, c in df.items() if c >= self.min_df}
        self.vocabulary_ = frozenset(vocab)
        self.n_features_in_ = 1
        return self

    def _one(self, text: str) -> tuple:
        text = text.strip()
        tokens = _WORD.findall(text)
        n_words = len(tokens)
        words = [w for w in tokens if w[0] != "@"]
        n_ent = n_words - len(words)
        n_plain = len(words)
        if n_words:
            pieces = _SENT_END.split(text)
            n_sent = max(1, sum(1 for p in pieces if _HAS_WORD.search(p)))
        else:
            n_sent = 0
        lowered = [_plain(w) for w in words]
        lengths = [len(w) - w.count("'") for w in lowered]
        vocab = self.vocabulary_
        n_rare = sum(1 for w in lowered if not _is_alpha(w) or w not in vocab)
        n_unique = len(set(lowered))
        return (len(text), n_words, n_sent, n_words / n_sent if n_sent else 0.0,
                sum(lengths) / n_plain if n_plain else 0.0, n_unique,
                n_unique / n_plain if n_plain else 0.0,
                sum(1 for n in lengths if n >= self.long_word),
                text.count(","), len(_APOS.findall(text)),
                text.count("?"), text.count("!"),
                n_rare / n_plain if n_plain else 0.0, n_ent)

    def transform(self, X) -> pd.DataFrame:
        """Features of the essays ``X``: a data frame with the columns :data:`FEATURES`
        (index kept when ``X`` is a Series)."""
        check_is_fitted(self, "vocabulary_")
        index = X.index if isinstance(X, (pd.Series, pd.DataFrame)) else None
        rows = [self._one(t) for t in self._texts(X)]
        out = pd.DataFrame(rows, columns=list(FEATURES), index=index)
        if not rows:
            out = out.astype({c: "int64" for c in _INT_FEATURES} | {c: float for c in FEATURES
                                                                     if c not in _INT_FEATURES})
        return out

    def get_feature_names_out(self, input_features=None):
        return np.asarray(FEATURES, dtype=object)


# --------------------------------------------------------------------------------------------
# The course file
# --------------------------------------------------------------------------------------------

_feature_cols = tuple(Column(n, k, d, min=0) for n, k, d in FEATURE_SPECS)
N_FOLDS = 5
SCHEMAS = {
    "essays_features.csv": Schema(
        (Column("essay_id", "int", "essay id (unique)", min=1),
         Column("essay_set", "int", "prompt (1-8); each has its own score scale", allowed=tuple(range(1, 9))),
         Column("fold", "int", "cross-validation fold (0-4): with the real file, the fold whose test ids "
                               "hold the essay in the NEA 5-fold split (Taghipour & Ng 2016) when a "
                               "nea_folds/ folder is next to it; otherwise a seeded random 5-fold split "
                               "within each essay set", allowed=tuple(range(N_FOLDS))))
        + _feature_cols
        + (Column("score", "int", "holistic score on the set's scale (1: 2-12, 2: 1-6, 3-4: 0-3, "
                                  "5-6: 0-4, 7: 0-24, 8: 10-60)", "points", min=0, max=60),)),
}
FILE = "essays_features.csv"

_FLOAT_DIGITS = 6


def features_frame(essays: pd.DataFrame, extractor: EssayFeatures | None = None,
                   folds: dict[int, int] | None = None) -> pd.DataFrame:
    """``essays_features.csv`` from a frame with ``essay_id``, ``essay_set``, ``essay`` and
    ``domain1_score`` (as returned by :func:`read_asap`); fits ``extractor`` on all essays.
    ``folds`` maps ``essay_id`` to its fold (:func:`read_nea_folds`); default :func:`random_folds`."""
    extractor = extractor or EssayFeatures()
    feats = extractor.fit_transform(essays["essay"].reset_index(drop=True))
    out = pd.concat([essays[["essay_id", "essay_set"]].reset_index(drop=True), feats], axis=1)
    out.insert(2, "fold", random_folds(out["essay_set"].to_numpy()) if folds is None
               else out["essay_id"].map(folds).to_numpy())
    if out["fold"].isna().any():
        missing = out.loc[out["fold"].isna(), "essay_id"].head(3).tolist()
        raise DataError(f"column 'fold': essays {missing} are in no fold of the given split")
    out["fold"] = out["fold"].astype("int64")
    out["score"] = essays["domain1_score"].to_numpy()
    out = out.sort_values("essay_id", kind="stable").reset_index(drop=True)
    return _round(out)


def random_folds(essay_set: np.ndarray, seed: int = 2024) -> np.ndarray:
    """A seeded 5-fold assignment, balanced within each essay set (sizes differ by at most one)."""
    rng = np.random.default_rng([seed, N_FOLDS])
    essay_set = np.asarray(essay_set)
    fold = np.zeros(len(essay_set), dtype=int)
    for s in np.unique(essay_set):
        idx = np.flatnonzero(essay_set == s)
        fold[idx] = rng.permutation(np.arange(len(idx)) % N_FOLDS)
    return fold


def read_nea_folds(folder: str | Path) -> dict[int, int]:
    """``{essay_id: k}`` from the NEA split folder (``fold_k/test_ids.txt``, k = 0-4, one id a line).

    The five test-id files partition the essays; an id in two of them raises :class:`DataError`.
    """
    folder = Path(folder)
    out: dict[int, int] = {}
    for k in range(N_FOLDS):
        path = folder / f"fold_{k}" / "test_ids.txt"
        if not path.exists():
            raise DataError(f"{path}: file not found (expected the NEA folds fold_0 ... fold_4)")
        for line_no, line in enumerate(path.read_text().split(), 1):
            try:
                i = int(line)
            except ValueError:
                raise DataError(f"{path}: line {line_no} is not an essay id: {line!r}") from None
            if i in out:
                raise DataError(f"{path}: essay id {i} is already in fold {out[i]}")
            out[i] = k
    return out


def _round(df: pd.DataFrame) -> pd.DataFrame:
    for c in FEATURES:
        if c in _INT_FEATURES:
            df[c] = df[c].astype("int64")
        else:
            df[c] = df[c].astype(float).round(_FLOAT_DIGITS)
    return df


def from_real(path: Path) -> dict[str, pd.DataFrame]:
    """Convert the real ASAP ``training_set_rel3.tsv`` into ``essays_features.csv``.

    The ``fold`` column holds the NEA folds when a ``nea_folds/`` folder (``fold_k/test_ids.txt``) is
    next to the file, else :func:`random_folds`."""
    nea = Path(path).parent / "nea_folds"
    folds = read_nea_folds(nea) if nea.is_dir() else None
    df = features_frame(read_asap(path), folds=folds)
    return {FILE: validate(df, SCHEMAS[FILE], where=f"{FILE} from {Path(path).name}")}


# --------------------------------------------------------------------------------------------
# Synthetic stand-in
# --------------------------------------------------------------------------------------------

# Per set: typical word count, mean word length, mean and sd of the score distribution (score
# points), entity tokens per 100 words, question and exclamation marks per sentence.
SET_PARAMS = {
    1: dict(words=350, mwl=4.3, mean=8.4, sd=1.5, entities=2.6, question=0.045, exclamation=0.04),
    2: dict(words=370, mwl=4.3, mean=3.4, sd=0.8, entities=1.4, question=0.055, exclamation=0.01),
    3: dict(words=100, mwl=4.25, mean=1.8, sd=0.85, entities=0.5, question=0.02, exclamation=0.004),
    4: dict(words=85, mwl=4.25, mean=1.4, sd=0.95, entities=0.5, question=0.01, exclamation=0.002),
    5: dict(words=115, mwl=4.35, mean=2.4, sd=0.95, entities=1.8, question=0.002, exclamation=0.002),
    6: dict(words=145, mwl=4.65, mean=2.75, sd=0.95, entities=0.9, question=0.002, exclamation=0.002),
    7: dict(words=160, mwl=3.75, mean=16.0, sd=4.6, entities=4.5, question=0.15, exclamation=0.07),
    8: dict(words=580, mwl=4.0, mean=37.0, sd=5.8, entities=3.9, question=0.03, exclamation=0.035),
}
LATENT_CORR = 0.4
# weights of the standardised (within set) features in the latent score; counts enter as log1p
SCORE_WEIGHTS = {
    "n_words": 0.55,
    "n_unique_words": 0.15,
    "mean_word_length": 0.15,
    "n_long_words": 0.10,
    "n_commas": 0.10,
    "rare_word_share": -0.25,
    "words_per_sentence": 0.05,
    "n_entities": 0.0,
}
SCORE_NOISE = 0.45
_LOG_FEATURES = ("n_words", "n_unique_words", "n_long_words", "n_commas")


def _score_probs(s: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores of set ``s`` and their target probabilities (a discretised normal)."""
    lo, hi = SCORE_RANGES[s]
    p = SET_PARAMS[s]
    k = np.arange(lo, hi + 1)
    w = norm.cdf(k + 0.5, p["mean"], p["sd"]) - norm.cdf(k - 0.5, p["mean"], p["sd"])
    w[0] = norm.cdf(lo + 0.5, p["mean"], p["sd"])
    w[-1] = 1 - norm.cdf(hi - 0.5, p["mean"], p["sd"])
    return k, w / w.sum()


def _one_set(rng: np.random.Generator, s: int, n: int) -> tuple[pd.DataFrame, dict]:
    p = SET_PARAMS[s]
    c = LATENT_CORR
    # correlated latent traits through an explicit Cholesky factor and element-wise products:
    # rng.multivariate_normal factorises with LAPACK's SVD, whose signs differ between CPUs/BLAS builds,
    # so the same seed gave different essays on different machines
    l22 = (1 - c**2) ** 0.5
    l32 = (c - c**2) / l22
    chol = np.array([[1.0, 0.0, 0.0], [c, l22, 0.0], [c, l32, (1 - c**2 - l32**2) ** 0.5]])  # [[1,c,c],[c,1,c],[c,c,1]]
    std = rng.standard_normal((n, 3))
    lat = (std[:, :, None] * chol.T[None, :, :]).sum(axis=1)
    L, V, M = lat.T
    sig = 0.45
    n_words = np.maximum(3, np.round(p["words"] * np.exp(sig * L - sig**2 / 2 + rng.normal(0, 0.1, n))))
    n_words = n_words.astype(int)
    n_ent = np.minimum(n_words - 1, rng.poisson(p["entities"] / 100 * n_words))
    n_plain = n_words - n_ent
    mwl = np.clip(p["mwl"] + 0.25 * V + rng.normal(0, 0.18, n), 3.0, 6.5)
    wps = np.exp(np.log(16.0) + 0.12 * V - 0.10 * M + rng.normal(0, 0.25, n))
    n_sent = np.clip(np.round(n_words / wps), 1, n_words).astype(int)
    # Herdan's law: distinct words = n_plain ** h, h higher for a richer vocabulary
    h = np.clip(0.89 + 0.006 * V + rng.normal(0, 0.012, n), 0.7, 1.0)
    n_unique = np.clip(np.round(n_plain.astype(float) ** h), 1, n_plain).astype(int)
    p_long = expit(logit(0.15) + 0.35 * V + rng.normal(0, 0.15, n))
    n_long = rng.binomial(n_plain, p_long)
    n_commas = rng.poisson(n_words * 0.035 * np.exp(0.25 * V + 0.25 * M))
    n_apos = rng.poisson(n_words * 0.012 * np.exp(-0.1 * V))
    n_q = rng.poisson(n_sent * p["question"])
    n_x = rng.poisson(n_sent * p["exclamation"] * np.exp(-0.3 * M))
    p_rare = expit(logit(0.015) - 0.5 * M + rng.normal(0, 0.25, n))
    n_rare = rng.binomial(n_plain, p_rare)
    n_chars = np.round(n_plain * mwl).astype(int) + 8 * n_ent + (n_words - 1) + n_commas + n_sent + n_q + n_x
    feats = pd.DataFrame({
        "n_chars": n_chars, "n_words": n_words, "n_sentences": n_sent,
        "words_per_sentence": n_words / n_sent, "mean_word_length": mwl, "n_unique_words": n_unique,
        "unique_word_ratio": n_unique / n_plain, "n_long_words": n_long, "n_commas": n_commas,
        "n_apostrophes": n_apos, "n_question_marks": n_q, "n_exclamation_marks": n_x,
        "rare_word_share": n_rare / n_plain, "n_entities": n_ent,
    })
    z = rng.normal(0, SCORE_NOISE, n)
    for f, w in SCORE_WEIGHTS.items():
        x = np.log1p(feats[f].to_numpy(float)) if f in _LOG_FEATURES else feats[f].to_numpy(float)
        sd = x.std()
        z = z + w * (x - x.mean()) / (sd if sd > 0 else 1)
    z = (z - z.mean()) / z.std()
    ks, probs = _score_probs(s)
    cuts = norm.ppf(np.cumsum(probs)[:-1])
    score = ks[np.searchsorted(cuts, z, side="right")]
    feats.insert(0, "essay_set", s)
    feats["score"] = score.astype(int)
    truth = {"n": n, "params": p,
             "score_distribution": dict(zip(map(int, ks), np.round(probs, 5).tolist())),
             "cut_points_on_standardised_z": np.round(cuts, 5).tolist()}
    return feats, truth


def generate(seed: int = 2024) -> Generated:
    """Generate ``essays_features.csv`` (12,978 essays) and its ground truth."""
    rng = np.random.default_rng(seed)
    frames, per_set = [], {}
    next_id = 1
    for s in sorted(N_ESSAYS):
        f, t = _one_set(rng, s, N_ESSAYS[s])
        # ids in one block per set, with a few gaps (as in ASAP, where test essays are held out)
        gaps = rng.random(len(f)) < 0.03
        ids = next_id + np.arange(len(f)) + np.cumsum(gaps)
        next_id = int(ids[-1]) + 100
        f.insert(0, "essay_id", ids.astype(int))
        frames.append(f)
        per_set[s] = t
    df = pd.concat(frames, ignore_index=True)
    df.insert(2, "fold", random_folds(df["essay_set"].to_numpy(), seed))
    df = _round(df)
    truth = {
        "seed": seed, "n_essays": int(len(df)), "score_ranges": SCORE_RANGES,
        "latent_traits": "L fluency, V lexical sophistication, M mechanics; N(0,1), pairwise corr "
                         f"{LATENT_CORR}",
        "score_weights": SCORE_WEIGHTS, "score_noise_sd": SCORE_NOISE,
        "folds": "fold = random_folds(essay_set, seed): a seeded permutation of 0-4 repeated, within each set",
        "log1p_features": list(_LOG_FEATURES),
        "score_formula": "z = sum_j w_j * (f_j - mean_set(f_j)) / sd_set(f_j) + N(0, noise_sd), f_j = "
                         "log1p(feature) for log1p_features; z standardised within set; score = the "
                         "set's k-th score where z falls between cut points (normal quantiles of "
                         "score_distribution)",
        "sets": per_set,
    }
    return Generated({FILE: df}, truth)


DATASET = Dataset(
    name="essays",
    title="ASAP-style essay features and scores (synthetic; real loader)",
    lectures="lab_gmc_smote",
    description=__doc__.split("\n", 2)[2].strip(),
    files=SCHEMAS,
    generate=generate,
    real_source="ASAP Automated Essay Scoring, training_set_rel3.tsv (Hewlett Foundation, Kaggle 2012): "
                "https://www.kaggle.com/c/asap-aes/data",
    license="Kaggle competition data: free for research and non-commercial use under the competition "
            "rules; not redistributed here.",
    from_real=from_real,
)
