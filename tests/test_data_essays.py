"""ASAP essays: the real loader, the EASE-style feature extractor and the synthetic feature file."""
from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline

from mlbd_utils.data import essays as es
from mlbd_utils.data import registry
from mlbd_utils.data.schema import DataError, read_table, validate

SCHEMA = es.SCHEMAS[es.FILE]


@pytest.fixture(scope="module")
def gen():
    return es.generate(registry.DEFAULT_SEED)


@pytest.fixture(scope="module")
def df(gen):
    return gen.frames[es.FILE]


# ----- EssayFeatures on hand-written texts ------------------------------------------------

def _feats(texts, **kw):
    kw.setdefault("vocabulary", ["hello", "world", "how", "are", "you"])
    return es.EssayFeatures(**kw).fit([]).transform(texts)


def test_features_simple_text():
    f = _feats(["Hello world. How are you? I'm fine!"]).iloc[0]
    assert f["n_chars"] == 35
    assert f["n_words"] == 7
    assert f["n_sentences"] == 3
    assert f["words_per_sentence"] == pytest.approx(7 / 3)
    assert f["mean_word_length"] == pytest.approx(25 / 7)  # "I'm" counts 2 letters
    assert f["n_unique_words"] == 7 and f["unique_word_ratio"] == 1.0
    assert f["n_long_words"] == 0
    assert (f["n_commas"], f["n_apostrophes"], f["n_question_marks"], f["n_exclamation_marks"]) == (0, 1, 1, 1)
    assert f["rare_word_share"] == pytest.approx(2 / 7)  # i'm, fine
    assert f["n_entities"] == 0


def test_features_entities_numbers_repeats():
    f = _feats(["  Dear @PERSON1, the the cat sat. It cost 3.5 dollars, amazingly \n"]).iloc[0]
    assert f["n_chars"] == 62  # outer white space trimmed
    assert f["n_words"] == 11 and f["n_entities"] == 1
    assert f["n_sentences"] == 2  # the decimal point does not end a sentence
    assert f["mean_word_length"] == pytest.approx(41 / 10)
    assert f["n_unique_words"] == 9 and f["unique_word_ratio"] == pytest.approx(0.9)
    assert f["n_long_words"] == 2  # dollars, amazingly
    assert f["n_commas"] == 2
    assert f["rare_word_share"] == 1.0  # nothing in the vocabulary; 3.5 is not alphabetic


def test_features_edge_cases():
    f = _feats(["", "Wait...", "No punctuation here", "don\u2019t stop!!"], long_word=4)
    assert f["n_words"].tolist() == [0, 1, 3, 2]
    assert f["n_sentences"].tolist() == [0, 1, 1, 1]
    assert f.loc[0].sum() == 0
    assert f["n_apostrophes"].tolist() == [0, 0, 0, 1]
    assert f["n_exclamation_marks"].tolist() == [0, 0, 0, 2]
    assert f["n_long_words"].tolist() == [0, 1, 2, 2]  # long_word=4: wait, punctuation, here, don't, stop


def test_vocabulary_learned_in_fit():
    fx = es.EssayFeatures(min_df=2).fit(["the cat sat", "The cat ran", "a dog sat", "don't", "don\u2019t go"])
    assert fx.vocabulary_ == {"the", "cat", "sat", "don't"}
    f = fx.transform(pd.Series(["The cat sat on 2 mats", "Don't"], index=[10, 20]))
    assert list(f.index) == [10, 20]
    assert f.loc[10, "rare_word_share"] == pytest.approx(0.5)  # on, 2, mats
    assert f.loc[20, "rare_word_share"] == 0.0


def test_sklearn_api():
    texts = ["Short one.", "A much longer essay, with commas, and words!", "Medium text here. Two."]
    fx = es.EssayFeatures(min_df=1)
    with pytest.raises(NotFittedError):
        fx.transform(texts)
    out = fx.fit_transform(texts)
    assert list(out.columns) == list(es.FEATURES) == list(fx.get_feature_names_out())
    assert out.dtypes["n_words"].kind == "i" and out.dtypes["rare_word_share"].kind == "f"
    assert clone(fx).get_params() == {"min_df": 1, "long_word": 7, "vocabulary": None}
    model = make_pipeline(es.EssayFeatures(min_df=1), LinearRegression()).fit(texts, [1, 3, 2])
    assert model.predict(texts).shape == (3,)
    with pytest.raises(TypeError, match="single string"):
        fx.transform("one essay")
    with pytest.raises(TypeError, match="position 1"):
        fx.transform(["ok", None])


# ----- synthetic essays_features.csv -------------------------------------------------------

def _digest(seed, tmp_path):
    frame = es.generate(seed).frames[es.FILE]
    path = tmp_path / f"{seed}" / es.FILE
    registry.write_frame(frame, path, SCHEMA)
    return registry.sha256(path)


def test_deterministic(tmp_path):
    assert _digest(3, tmp_path / "a") == _digest(3, tmp_path / "b")
    assert _digest(3, tmp_path / "c") != _digest(4, tmp_path / "d")


def test_schema_and_roundtrip(df, tmp_path):
    assert list(df.columns) == ["essay_id", "essay_set", "fold", *es.FEATURES, "score"] == SCHEMA.names
    assert len(df) == 12978 and df["essay_id"].is_unique
    validate(df, SCHEMA)
    path = tmp_path / es.FILE
    registry.write_frame(df, path, SCHEMA)
    back = read_table(path, SCHEMA)
    pd.testing.assert_frame_equal(back, df, check_exact=False, rtol=1e-9)


def test_build_one_writes_truth(tmp_path):
    rows = registry.build_one(es.DATASET, tmp_path, seed=9)
    assert rows[0]["rows"] == 12978
    truth = json.loads((tmp_path / "ground_truth" / "essays.json").read_text())
    assert truth["score_weights"]["n_words"] > 0 > truth["score_weights"]["rare_word_share"]


def test_scores_per_set(df):
    assert df["essay_set"].value_counts().sort_index().to_dict() == es.N_ESSAYS
    for s, (lo, hi) in es.SCORE_RANGES.items():
        sc = df.loc[df["essay_set"] == s, "score"]
        assert lo <= sc.min() and sc.max() <= hi, s
        share = sc.value_counts(normalize=True)
        mode = share.idxmax()
        assert lo < mode < hi, (s, mode)  # bell-shaped: the mode is inside the scale
        assert share.max() > 1.3 / (hi - lo + 1), s  # imbalanced, not uniform
        if hi - lo >= 5:  # rare extremes
            assert share.get(lo, 0) + share.get(hi, 0) < 0.1, s
        else:  # 4- or 5-level scales: each end is a minority
            assert share.get(lo, 0) < 0.25 and share.get(hi, 0) < 0.25, s
        assert 0.4 < (sc.mean() - lo) / (hi - lo) < 0.75, s  # mean near or above the middle


def test_folds_balanced_within_sets(df):
    sizes = df.groupby(["essay_set", "fold"]).size().unstack()
    assert list(sizes.columns) == [0, 1, 2, 3, 4]
    assert ((sizes.max(axis=1) - sizes.min(axis=1)) <= 1).all()
    assert (es.random_folds(df["essay_set"].to_numpy()) == df["fold"].to_numpy()).all()  # seed 2024


def test_features_frame_with_given_folds(tmp_path):
    d = pd.DataFrame({"essay_id": [3, 1, 2], "essay_set": [1, 1, 2], "essay": ["a b.", "c", "d e f"],
                      "domain1_score": [4, 6, 3]})
    out = es.features_frame(d, folds={1: 4, 2: 0, 3: 2})
    assert out["essay_id"].tolist() == [1, 2, 3] and out["fold"].tolist() == [4, 0, 2]
    with pytest.raises(DataError, match=r"'fold'.*\[3\]"):
        es.features_frame(d, folds={1: 4, 2: 0})


def test_read_nea_folds_errors(tmp_path):
    for k in range(5):
        (tmp_path / f"fold_{k}").mkdir()
        (tmp_path / f"fold_{k}" / "test_ids.txt").write_text(f"{k + 1}\n{k + 10}\n")
    assert es.read_nea_folds(tmp_path) == {k + 1: k for k in range(5)} | {k + 10: k for k in range(5)}
    (tmp_path / "fold_4" / "test_ids.txt").write_text("1\n")
    with pytest.raises(DataError, match=r"fold_4.*already in fold 0"):
        es.read_nea_folds(tmp_path)
    (tmp_path / "fold_3" / "test_ids.txt").unlink()
    with pytest.raises(DataError, match=r"fold_3.*not found"):
        es.read_nea_folds(tmp_path)


def test_features_correlate_with_score(df):
    for s, g in df.groupby("essay_set"):
        assert g["n_words"].corr(g["score"]) > 0.5, s
        assert g["n_unique_words"].corr(g["score"]) > 0.5, s
        assert g["mean_word_length"].corr(g["score"]) > 0.2, s
        assert g["rare_word_share"].corr(g["score"]) < -0.2, s
    # features are internally consistent
    assert (df["n_unique_words"] <= df["n_words"] - df["n_entities"]).all()
    assert (df["n_long_words"] <= df["n_words"]).all()
    assert np.allclose(df["words_per_sentence"], df["n_words"] / df["n_sentences"], atol=1e-6)
    assert df["rare_word_share"].between(0, 1).all() and df["unique_word_ratio"].between(0, 1).all()


def test_generate_fast():
    t0 = time.perf_counter()
    es.generate(1)
    assert time.perf_counter() - t0 < 5


# ----- the real ASAP file ------------------------------------------------------------------

@pytest.fixture(scope="module")
def asap_path(realdata):
    return realdata / "asap_aes" / "training_set_rel3.tsv"


@pytest.fixture(scope="module")
def asap(asap_path):
    return es.read_asap(asap_path)


def test_read_asap_real(asap):
    assert len(asap) == 12978 and asap["essay_id"].is_unique
    assert asap.shape[1] == 28
    assert sorted(asap["essay_set"].unique()) == list(range(1, 9))
    rng = asap.groupby("essay_set")["domain1_score"].agg(["min", "max"])
    for s, (lo, hi) in es.SCORE_RANGES.items():
        assert lo <= rng.loc[s, "min"] and rng.loc[s, "max"] == hi
    assert 10534 in set(asap["essay_id"])
    text = asap["essay"]
    assert not (text.str.startswith('"') & text.str.endswith('"')).any()  # CSV quotes removed
    assert not text.str.contains("\ufffd").any()
    assert text.str.contains("\u201d").any()  # curly quotes decoded, not mojibake
    assert not text.str.contains("\u00e2\u20ac").any()


def test_from_real_asap(asap_path):
    t0 = time.perf_counter()
    out = es.from_real(asap_path)[es.FILE]
    secs = time.perf_counter() - t0
    assert secs < 45, secs
    validate(out, SCHEMA)
    assert len(out) == 12978
    for s, g in out.groupby("essay_set"):
        assert g["n_words"].corr(g["score"]) > 0.4, s
    assert out["n_entities"].sum() > 10000
    nea = es.read_nea_folds(asap_path.parent / "nea_folds")
    assert len(nea) == 12978 and (out["fold"] == out["essay_id"].map(nea)).all()


# ----- broken input ------------------------------------------------------------------------

HEADER = "essay_id\tessay_set\tessay\trater1_domain1\trater2_domain1\tdomain1_score"


def _tsv(tmp_path, rows, header=HEADER, name="training_set_rel3.tsv", encoding="cp1252"):
    path = tmp_path / name
    text = "\r\n".join([header, *rows]) + "\r\n"
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


def test_read_asap_small_file(tmp_path):
    rows = ['1\t1\t"Dear @CAPS1, I ""love"" it."\t4\t4\t8',
            '2\t1\t"An unbalanced quote\t3\t3\t6',
            "3\t2\tIt\u2019s fine\t2\t2\t3"]
    path = _tsv(tmp_path, rows)
    # a stray UTF-8 sequence inside the cp1252 file (as in the real data)
    path.write_bytes(path.read_bytes() + "4\t8\tHe said \u201chi\u201d\t20\t20\t40\r\n".encode("utf-8"))
    d = es.read_asap(path)
    assert d["essay"].tolist() == ['Dear @CAPS1, I "love" it.', '"An unbalanced quote', "It\u2019s fine",
                                   "He said \u201chi\u201d"]
    assert d["domain1_score"].tolist() == [8, 6, 3, 40]
    out = es.features_frame(d)
    assert out["n_entities"].tolist() == [1, 0, 0, 0]


def test_read_asap_missing_column(tmp_path):
    path = _tsv(tmp_path, ["1\t1\tText\t4\t4"], header=HEADER.rsplit("\t", 1)[0])
    with pytest.raises(DataError, match=r"training_set_rel3\.tsv.*missing column.*domain1_score"):
        es.read_asap(path)


def test_read_asap_wrong_delimiter(tmp_path):
    path = _tsv(tmp_path, ["1,1,Text,4,4,8"], header=HEADER.replace("\t", ","))
    with pytest.raises(DataError, match=r"training_set_rel3\.tsv.*separated by '\\t'"):
        es.read_asap(path)


def test_read_asap_wrong_encoding(tmp_path):
    path = _tsv(tmp_path, ["1\t1\tText\t4\t4\t8"], encoding="utf-16")
    with pytest.raises(DataError, match=r"training_set_rel3\.tsv.*cp1252"):
        es.read_asap(path)


def test_read_asap_bad_values(tmp_path):
    with pytest.raises(DataError, match=r"'domain1_score' of essay_set 2.*1-6"):
        es.read_asap(_tsv(tmp_path, ["1\t2\tText\t4\t4\t9"], name="a.tsv"))
    with pytest.raises(DataError, match=r"'essay_set'"):
        es.read_asap(_tsv(tmp_path, ["1\t9\tText\t4\t4\t3"], name="b.tsv"))
    with pytest.raises(DataError, match=r"'domain1_score' must be numeric"):
        es.read_asap(_tsv(tmp_path, ["1\t2\tText\t4\t4\tgood"], name="c.tsv"))
    with pytest.raises(DataError, match=r"'essay_id' has duplicated"):
        es.read_asap(_tsv(tmp_path, ["1\t2\tText\t4\t4\t3", "1\t2\tMore\t4\t4\t3"], name="d.tsv"))
    with pytest.raises(DataError, match="not found"):
        es.read_asap(tmp_path / "nope.tsv")
