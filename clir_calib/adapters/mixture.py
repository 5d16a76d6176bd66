"""``mixture``: fit a relevant/non-relevant score mixture to the target's unlabelled scores.

Manmatha, Rath and Feng (SIGIR 2001) model the scores of relevant documents as normal and those
of non-relevant documents as exponential, and fit the mixture to a query set's scores by EM
without labels; P(relevant | s) is then the posterior of the normal component. Here the EM starts
from the seen language's labelled fit (mean and spread of its relevant scores, rate of its
non-relevant ones, share of relevant pairs) and runs on the target's whole retrieved lists; the
target posterior replaces the calibrator's mapping (pointwise calibrators only). The exponential
is on the distance above the lowest score, ``s - m``: most non-relevant documents score low and
they thin out towards the top, as in Manmatha et al.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from clir_calib.adapters.base import SourceScores, TargetScores, TransferAdapter
from clir_calib.params import Param

FLOOR = 1e-300
_SQRT_2PI = np.sqrt(2 * np.pi)


class MixtureAdapter(TransferAdapter):
    """Normal (relevant) + exponential (non-relevant) score mixture fitted to the target by EM."""

    name = "mixture"
    description = "Score-distribution model (normal relevant + exponential non-relevant) fitted to target scores by EM."
    citation = ("Manmatha, Rath and Feng, Modeling Score Distributions for Combining the Outputs of Search Engines, "
                "SIGIR 2001.")
    views = ("pointwise",)
    params = (Param("iterations", 200, "EM iterations on the target scores", type=int, at_least=1, at_most=100_000),
              Param("min_sd", 1e-3, "floor of the relevant component's standard deviation", above=0))

    def _fit(self, source: SourceScores, target: TargetScores) -> None:
        # the whole retrieved lists: the exponential describes the many non-relevant scores of a long list, not
        # the few that make a top 10
        s = source.scores.reshape(-1).astype(np.float64)
        y = source.labels.reshape(-1).astype(np.float64)
        t = target.scores.reshape(-1).astype(np.float64)
        self.bottom = float(min(s.min(), t.min()))
        relevant, other = s[y == 1], s[y == 0]
        mu = float(relevant.mean()) if relevant.size else float(s.mean())
        sd = float(max(relevant.std(), self.config["min_sd"])) if relevant.size > 1 else float(s.std() or 0.05)
        rate = 1.0 / max(float((other - self.bottom).mean()) if other.size else 0.05, 1e-6)
        share = float(np.clip(y.mean(), 0.01, 0.99))
        for _ in range(int(self.config["iterations"])):
            posterior = self._posterior(t, mu, sd, rate, share)
            weight = posterior.sum()
            if weight <= 0 or weight >= t.size:
                break
            share = float(np.clip(weight / t.size, 1e-4, 1 - 1e-4))
            mu = float((posterior * t).sum() / weight)
            sd = float(max(np.sqrt((posterior * (t - mu) ** 2).sum() / weight), self.config["min_sd"]))
            rate = float((t.size - weight) / max(((1 - posterior) * (t - self.bottom)).sum(), 1e-12))
        self.mu, self.sd, self.rate, self.share = mu, sd, rate, share

    def _posterior(self, scores: np.ndarray, mu: float, sd: float, rate: float, share: float) -> np.ndarray:
        distance = np.maximum(scores - self.bottom, 0.0)
        relevant = share * _normal_pdf(scores, mu, sd)
        other = (1 - share) * rate * np.exp(-rate * distance)
        return np.asarray(relevant / np.maximum(relevant + other, FLOOR))

    def adapt_proba(self, calibrator: Any, scores: np.ndarray, groups: np.ndarray) -> np.ndarray:
        return self._posterior(scores, self.mu, self.sd, self.rate, self.share)

    def state(self) -> dict[str, Any]:
        return {"mu": self.mu, "sd": self.sd, "rate": self.rate, "share": self.share, "bottom": self.bottom}

    def set_state(self, state: dict[str, Any]) -> None:
        self.mu, self.sd, self.rate = float(state["mu"]), float(state["sd"]), float(state["rate"])
        self.share, self.bottom = float(state["share"]), float(state["bottom"])
        if not all(np.isfinite(v) for v in (self.mu, self.sd, self.rate, self.share, self.bottom)) or self.sd <= 0:
            raise ValueError("mixture parameters must be finite, sd positive")


def _normal_pdf(x: np.ndarray, mu: float, sd: float) -> np.ndarray:
    """``scipy.stats.norm.pdf(x, mu, sd)``, the same operations in the same order (so the same bits), without its
    argument checks and broadcasting, which cost five times the arithmetic in an EM loop of 200 steps."""
    z = (x - mu) / sd
    return np.asarray(np.exp(-z**2 / 2.0) / _SQRT_2PI / sd)
