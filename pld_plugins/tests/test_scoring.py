"""scikit-learn scorer names through the pld_make_scorer hook."""

from __future__ import annotations

from sklearn.linear_model import LogisticRegression

from pld_plugins.scoring import pld_make_scorer


def test_named_scorer_scores_a_fitted_model():
    X, y = [[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1]
    model = LogisticRegression().fit(X, y)
    assert pld_make_scorer(scoring="accuracy")(model, X, y) == 1.0
    assert pld_make_scorer(scoring="neg_log_loss")(model, X, y) < 0


def test_unknown_names_and_callables_are_left_to_others():
    assert pld_make_scorer(scoring="no-such-scorer") is None
    assert pld_make_scorer(scoring=len) is None
