"""Parametric pointwise calibrators: Platt scaling and beta calibration, both logistic fits.

Both minimise the plain (unregularised by default) binary cross-entropy by Newton's method on
standardised features, then map the weights back, so the fit is well conditioned even when
cosine scores span a range of a few hundredths.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from scipy.special import expit

from clir_calib.calibrators.base import Calibrator
from clir_calib.errors import DataError
from clir_calib.params import Param

#: stop when every partial derivative is this small, or a step lowers the loss by less than this share of it
GRADIENT_TOLERANCE = 1e-10
LOSS_TOLERANCE = 1e-15
NEWTON_STEPS = 200


def fit_logistic(features: np.ndarray, labels: np.ndarray, l2: float = 0.0) -> tuple[np.ndarray, float]:
    """Weights and bias minimising mean BCE (+ ``l2/2 |w|^2`` on standardised weights), by Newton's method with a
    backtracking line search: with at most three parameters the exact Hessian costs nothing, and it reaches
    the optimum in a handful of steps where L-BFGS took dozens (a calibrate stage fits hundreds of few-shot
    draws). Where the data are separable the loss has no minimum; the fit stops when the gradient or the gain
    vanishes, as a quasi-Newton solver would, at a steep finite slope."""
    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    if np.any(scale == 0):
        raise DataError("cannot fit a logistic calibrator: all fit scores are equal; fit on more varied scores")
    n, d = features.shape
    design = np.hstack([(features - mean) / scale, np.ones((n, 1))])
    sign = 2.0 * labels - 1.0
    penalty = np.r_[np.full(d, l2), 0.0]

    def loss_at(theta: np.ndarray) -> float:
        return float(np.mean(np.logaddexp(0.0, -sign * (design @ theta)))) + 0.5 * float(penalty @ theta**2)

    theta = np.zeros(d + 1)
    prior = labels.mean()
    theta[d] = np.log(prior / (1.0 - prior))
    loss = loss_at(theta)
    for _ in range(NEWTON_STEPS):
        p = expit(design @ theta)
        grad = design.T @ (p - labels) / n + penalty * theta
        if np.max(np.abs(grad)) <= GRADIENT_TOLERANCE:
            break
        hessian = (design * (p * (1.0 - p))[:, None]).T @ design / n + np.diag(penalty)
        try:
            step = -np.linalg.solve(hessian, grad)
        except np.linalg.LinAlgError:
            step = -grad
        if not step @ grad < 0:  # a singular Hessian (separable data) may give no descent: fall back to the gradient
            step = -grad
        length, new_loss = 1.0, loss_at(theta + step)
        while new_loss > loss + 1e-4 * length * float(step @ grad) and length > 1e-12:
            length /= 2.0
            new_loss = loss_at(theta + length * step)
        if new_loss > loss:
            break
        theta, gain, loss = theta + length * step, loss - new_loss, new_loss
        if gain <= LOSS_TOLERANCE * max(abs(loss), 1.0):
            break
    weights = theta[:d] / scale
    bias = float(theta[d] - np.sum(theta[:d] * mean / scale))
    if not (np.isfinite(weights).all() and np.isfinite(bias)):
        raise DataError("the logistic calibrator fit diverged; the fit set is degenerate (check its labels)")
    return weights, bias


class PlattCalibrator(Calibrator):
    """Platt scaling: ``P(relevant | s) = sigmoid(a * s + b)``, fitted by maximum likelihood."""

    name = "platt"
    view: ClassVar[str] = "pointwise"
    description = "Pointwise logistic regression on the raw score: sigmoid(a * s + b)."
    citation = (
        "Platt, J. (1999). Probabilistic Outputs for Support Vector Machines and Comparisons to "
        "Regularized Likelihood Methods. Advances in Large Margin Classifiers."
    )
    params = (Param("l2", 0.0, "L2 penalty on the standardised slope (0 = plain maximum likelihood)", at_least=0),)

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.slope = 1.0
        self.bias = 0.0

    def _fit(self, scores: np.ndarray, labels: np.ndarray, groups: np.ndarray | None) -> None:
        weights, self.bias = fit_logistic(scores[:, None], labels, float(self.config["l2"]))
        self.slope = float(weights[0])

    def _predict(self, scores: np.ndarray, groups: np.ndarray | None) -> np.ndarray:
        return np.asarray(expit(self.slope * scores + self.bias), dtype=np.float64)

    def state(self) -> dict[str, Any]:
        return {"slope": self.slope, "bias": self.bias}

    def set_state(self, state: dict[str, Any]) -> None:
        self.slope, self.bias = float(state["slope"]), float(state["bias"])

    def fitted_problem(self) -> str | None:
        if not self.slope > 0:
            return (f"its slope is {self.slope:.3g}, so a higher similarity would mean a lower probability of "
                    "relevance (the fit set does not show the scores ranking relevant pairs higher)")
        return None


BETA_EPS = 1e-9


class BetaCalibrator(Calibrator):
    """Beta calibration: logistic regression on ``ln p`` and ``-ln(1 - p)``.

    Scores are first mapped into (0, 1): ``mapping=cosine`` uses ``p = (s + 1) / 2`` (scores must
    be cosines, in [-1, 1]); ``mapping=sigmoid`` uses ``p = sigmoid(s)`` for unbounded scores.
    ``p`` is clipped to ``[1e-9, 1 - 1e-9]``. The map is ``sigmoid(a ln p - b ln(1 - p) + c)``;
    as in the paper, a negative ``a`` or ``b`` is set to zero and the rest refitted, so the map
    stays monotone.
    """

    name = "beta"
    view: ClassVar[str] = "pointwise"
    description = "Beta calibration (Kull et al. 2017) on scores mapped into (0, 1)."
    citation = (
        "Kull, M., Silva Filho, T. M., Flach, P. (2017). Beta calibration: a well-founded and easily "
        "implemented improvement on logistic calibration for binary classifiers. AISTATS."
    )
    params = (
        Param("mapping", "cosine", "score -> (0,1): (s+1)/2 for cosines, or sigmoid(s)", type=str, choices=("cosine", "sigmoid")),
        Param("l2", 0.0, "L2 penalty on the standardised weights (0 = plain maximum likelihood)", at_least=0),
    )

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.a, self.b, self.c = 1.0, 1.0, 0.0

    def _features(self, scores: np.ndarray) -> np.ndarray:
        if self.config["mapping"] == "cosine":
            if scores.min() < -1.0 - 1e-6 or scores.max() > 1.0 + 1e-6:
                raise DataError(
                    f"beta: scores in [{scores.min():.4g}, {scores.max():.4g}] are not cosines; use the beta parameter mapping=sigmoid"
                )
            p = (scores + 1.0) / 2.0
        else:
            p = expit(scores)
        p = np.clip(p, BETA_EPS, 1.0 - BETA_EPS)
        return np.stack([np.log(p), -np.log1p(-p)], axis=1)

    def _fit(self, scores: np.ndarray, labels: np.ndarray, groups: np.ndarray | None) -> None:
        features = self._features(scores)
        l2 = float(self.config["l2"])
        weights, bias = fit_logistic(features, labels, l2)
        if weights[0] < 0 or weights[1] < 0:
            keep = 1 if weights[0] < 0 else 0
            single, bias = fit_logistic(features[:, [keep]], labels, l2)
            weights = np.zeros(2)
            if single[0] > 0:
                weights[keep] = float(single[0])
            else:  # no monotone dependence at all: the base rate
                prior = float(labels.mean())
                bias = float(np.log(prior / (1.0 - prior)))
        self.a, self.b, self.c = float(weights[0]), float(weights[1]), float(bias)

    def _predict(self, scores: np.ndarray, groups: np.ndarray | None) -> np.ndarray:
        features = self._features(scores)
        return np.asarray(expit(self.a * features[:, 0] + self.b * features[:, 1] + self.c), dtype=np.float64)

    def state(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "c": self.c}

    def set_state(self, state: dict[str, Any]) -> None:
        self.a, self.b, self.c = float(state["a"]), float(state["b"]), float(state["c"])

    def fitted_problem(self) -> str | None:
        if self.a < 0 or self.b < 0:
            return f"a = {self.a:.3g} and b = {self.b:.3g} must not be negative (the map must rise with the score)"
        return None
