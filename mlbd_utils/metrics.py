"""Evaluation helpers shared by the classification labs."""
from __future__ import annotations

from sklearn.base import clone
from sklearn.metrics import balanced_accuracy_score, roc_auc_score


def compute_scores(clf, X_train, y_train, X_test, y_test, roundnum: int = 3, refit: bool = True):
    """Fit ``clf`` on the training set and return ``(balanced accuracy, AUC)`` on the test set.

    Balanced accuracy (mean recall of the two classes) is used because pass/fail labels are
    imbalanced; the AUC uses the predicted probability of the positive class. The classifier is
    fitted in place (as scikit-learn does) unless ``refit=False``, in which case it must already be
    fitted. Both scores are rounded to ``roundnum`` digits.
    """
    if len(X_train) != len(y_train):
        raise ValueError(f"X_train has {len(X_train)} rows but y_train has {len(y_train)}")
    if len(X_test) != len(y_test):
        raise ValueError(f"X_test has {len(X_test)} rows but y_test has {len(y_test)}")
    if refit:
        clf.fit(X_train, y_train)
    accuracy = balanced_accuracy_score(y_test, clf.predict(X_test))
    auc = roc_auc_score(y_test, clf.predict_proba(X_test)[:, 1])
    return round(float(accuracy), roundnum), round(float(auc), roundnum)
