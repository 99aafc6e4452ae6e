"""Neural embeddings for :class:`mlbd_utils.imbalance.SEDG` (TensorFlow/Keras; imported lazily).

:class:`EmbeddingNet` is the SEDG paper's *NNModel* reduced to what SEDG needs: per-feature input
embeddings (one shared ``Embedding`` layer over offset value codes, which is much faster than one layer
per feature), ``n_blocks`` "LRND" blocks (Linear -> ReLU -> BatchNorm -> Dropout) and a softmax over the
classes, trained with cross-entropy and Adam, the learning rate divided by 10 on plateaus
(``ReduceLROnPlateau(factor=0.1)``). After ``fit``, ``feature_embeddings_[i]`` is the embedding matrix of
feature ``i`` (one row per value code): the paper's "weights from transfer learning" (WTL) embedding.
The paper gives no sizes, epochs or dropout; the defaults are those of ``shared/notes/seed-papers.md``.
"""
from __future__ import annotations

import os

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


class EmbeddingNet(ClassifierMixin, BaseEstimator):
    """Classifier on integer-coded discrete features with learned per-feature embeddings.

    Parameters
    ----------
    embedding_dim : int, default=4
    n_blocks : int, default=2
        Number of Linear-ReLU-BatchNorm-Dropout blocks.
    width : int, default=64
    dropout : float, default=0.3
    epochs : int, default=60
    batch_size : int, default=32
    learning_rate : float, default=1e-3
    plateau_patience : int, default=10
        ``ReduceLROnPlateau(monitor="loss", factor=0.1, patience=plateau_patience)``.
    random_state : int or None, default=None
        Seeds Keras (``keras.utils.set_random_seed``).

    ``X`` holds non-negative integer codes (column ``i`` in ``0 .. n_values_i - 1``); ``y`` holds class
    indices ``0 .. n_classes - 1`` or any labels (encoded internally).

    Attributes
    ----------
    feature_embeddings_ : list of ndarray
        Embedding matrix of each feature, shape ``(n_values_i, embedding_dim)``.
    classes_ : ndarray
    model_ : keras.Model
    """

    def __init__(self, embedding_dim=4, n_blocks=2, width=64, dropout=0.3, epochs=60, batch_size=32,
                 learning_rate=1e-3, plateau_patience=10, random_state=None):
        self.embedding_dim = embedding_dim
        self.n_blocks = n_blocks
        self.width = width
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.plateau_patience = plateau_patience
        self.random_state = random_state

    def _offset(self, X):
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != len(self.n_values_):
            raise ValueError(f"EmbeddingNet: expected {len(self.n_values_)} integer-coded columns, got shape {X.shape}")
        X = X.astype(int)
        if (X < 0).any() or (X >= self.n_values_).any():
            raise ValueError("EmbeddingNet: value codes outside the range seen in fit")
        return X + self.offsets_

    def fit(self, X, y):
        import keras

        X = np.asarray(X)
        if not np.issubdtype(X.dtype, np.integer) and not np.all(np.mod(X, 1) == 0):
            raise ValueError("EmbeddingNet: X must hold integer value codes")
        self.classes_, yi = np.unique(np.asarray(y), return_inverse=True)
        self.n_values_ = X.astype(int).max(axis=0) + 1
        self.offsets_ = np.concatenate([[0], np.cumsum(self.n_values_)[:-1]])
        if self.random_state is not None:
            keras.utils.set_random_seed(int(self.random_state))
        n_feat = X.shape[1]
        inp = keras.Input(shape=(n_feat,), dtype="int32")
        emb = keras.layers.Embedding(int(self.n_values_.sum()), self.embedding_dim, name="values")(inp)
        h = keras.layers.Flatten()(emb)
        for _ in range(self.n_blocks):
            h = keras.layers.Dense(self.width)(h)
            h = keras.layers.ReLU()(h)
            h = keras.layers.BatchNormalization()(h)
            h = keras.layers.Dropout(self.dropout)(h)
        out = keras.layers.Dense(len(self.classes_), activation="softmax")(h)
        self.model_ = keras.Model(inp, out)
        self.model_.compile(optimizer=keras.optimizers.Adam(self.learning_rate),
                            loss="sparse_categorical_crossentropy")
        cb = keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.1, patience=self.plateau_patience)
        self.model_.fit(self._offset(X), yi, epochs=self.epochs, batch_size=self.batch_size, verbose=0,
                        callbacks=[cb], shuffle=True)
        W = self.model_.get_layer("values").get_weights()[0]
        self.feature_embeddings_ = [W[o:o + n].copy() for o, n in zip(self.offsets_, self.n_values_)]
        return self

    def predict_proba(self, X):
        check_is_fitted(self, "model_")
        return np.asarray(self.model_.predict(self._offset(X), verbose=0))

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def transform(self, X):
        """The concatenated embeddings of each row (the SEDG paper's Table 1 pre-processing)."""
        check_is_fitted(self, "model_")
        Xo = self._offset(X) - self.offsets_
        return np.hstack([E[Xo[:, i]] for i, E in enumerate(self.feature_embeddings_)])
