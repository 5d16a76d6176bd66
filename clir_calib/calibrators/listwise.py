"""Listwise calibrators: a softmax over each query's retrieved candidates, and the raw identity.

The softmax runs over the *retrieved* top-k candidates of a query, not the whole corpus, so a
probability reads "this candidate is the relevant one among those retrieved".
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import expit

from clir_calib.calibrators.base import Calibrator, group_softmax
from clir_calib.errors import ConfigError, DataError
from clir_calib.params import Param


class IdentityCalibrator(Calibrator):
    """Raw scores read as probabilities, without fitting anything: the "before" row of a table.

    Its defaults are exactly ``evaluate``'s raw views, so "before" means the same in both commands:

    * listwise view: softmax over a query's candidates at ``temperature`` (``evaluate.temperature``);
    * pointwise view: ``sigmoid(scale * s + bias)`` (``evaluate.sigmoid_scale``/``sigmoid_bias``), or
      the raw score clipped to [0, 1] (``pointwise_map=clip``: a cosine read directly as
      P(relevant)), or ``(s + 1) / 2`` (``pointwise_map=affine``: [-1, 1] stretched onto [0, 1]).
    """

    name = "identity"
    min_queries: ClassVar[int] = 0  # it fits nothing
    description = "Raw scores as probabilities: evaluate's raw views (listwise softmax, pointwise sigmoid)."
    citation = ""
    params = (
        Param("view", "pointwise", "which view the raw scores are read in", type=str, choices=("listwise", "pointwise")),
        Param("pointwise_map", "sigmoid", "pointwise: sigmoid(scale*s + bias), clip(s, 0, 1) or (s + 1) / 2",
              type=str, choices=("sigmoid", "clip", "affine")),
        Param("temperature", 1.0, "listwise: softmax temperature of the raw scores", above=0),
        Param("scale", 1.0, "pointwise sigmoid: scale of the raw score"),
        Param("bias", 0.0, "pointwise sigmoid: bias"),
    )

    @property
    def model_view(self) -> str:
        return str(self.config["view"])

    def _fit(self, scores: np.ndarray, labels: np.ndarray, groups: np.ndarray | None) -> None:
        return None

    def _predict(self, scores: np.ndarray, groups: np.ndarray | None) -> np.ndarray:
        if groups is not None:
            return group_softmax(scores, groups, float(self.config["temperature"]))
        if self.config["pointwise_map"] == "affine":
            return (scores + 1.0) / 2.0
        if self.config["pointwise_map"] == "clip":
            return np.clip(scores, 0.0, 1.0)
        return np.asarray(expit(self.config["scale"] * scores + self.config["bias"]), dtype=np.float64)

    def state(self) -> dict[str, Any]:
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        return None


#: temperature x candidate cells evaluated at once by :meth:`TemperatureNLL.at` (memory: ~8 bytes x 4 each)
GRID_ELEMENTS = 2_000_000


def temperature_nll(
    scores: np.ndarray, labels: np.ndarray, groups: np.ndarray, temperature: float
) -> float:
    """Mean over queries with a relevant candidate of -log P(a relevant candidate) at ``temperature``."""
    return TemperatureNLL(scores, labels, groups)(temperature)


class TemperatureNLL:
    """:func:`temperature_nll` of fixed scores, for the many temperatures a fit tries (about 95).

    What does not depend on the temperature is found once: each query's top score, all and relevant only
    (``max(s / T) = max(s) / T`` bit for bit, since division by ``T > 0`` is monotone), and the relevant rows, so
    an evaluation is one scaled ``exp`` and two ``bincount``s, not two scatter-maxima."""

    def __init__(self, scores: np.ndarray, labels: np.ndarray, groups: np.ndarray) -> None:
        self.scores, self.groups = scores, groups
        self.n_groups = int(groups.max()) + 1
        self.used = np.bincount(groups, weights=labels, minlength=self.n_groups) > 0
        relevant = labels > 0
        self.relevant_scores, self.relevant_groups = scores[relevant], groups[relevant]
        self.top = _group_max(scores, groups, self.n_groups)
        self.relevant_top = _group_max(self.relevant_scores, self.relevant_groups, self.n_groups)

    def __call__(self, temperature: float) -> float:
        return float(self.at(np.array([temperature]))[0])

    def at(self, temperatures: np.ndarray) -> np.ndarray:
        """The NLL at each of ``temperatures`` ``[T]``, many at once (a fit's grid: a few array operations, not 81),
        in chunks of at most :data:`GRID_ELEMENTS` temperature x candidate cells."""
        step = max(1, GRID_ELEMENTS // max(1, self.scores.size))
        parts = []
        for first in range(0, temperatures.size, step):
            chunk = temperatures[first : first + step]
            every = _scaled_logsumexp(self.scores, self.groups, self.top, chunk, self.n_groups)
            relevant = _scaled_logsumexp(self.relevant_scores, self.relevant_groups, self.relevant_top, chunk,
                                         self.n_groups)
            parts.append(np.mean(every[:, self.used] - relevant[:, self.used], axis=1))
        return np.concatenate(parts)


def _group_max(values: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    top = np.full(n_groups, -np.inf)
    np.maximum.at(top, groups, values)
    return top


def _scaled_logsumexp(scores: np.ndarray, groups: np.ndarray, top: np.ndarray, temperatures: np.ndarray,
                      n_groups: int) -> np.ndarray:
    """log sum exp of ``scores / t`` per group ``[T, groups]`` for each of ``temperatures``, given each group's top
    score (-inf for an empty group), stable for very small temperatures. One ``bincount`` over the temperatures'
    rows laid end to end adds each (temperature, group) sum in the order a single temperature's would. One temperature
    (a Brent step of the fit, 25 of them per fit) takes the same arithmetic without the ``[T, N]`` cell index."""
    if temperatures.size == 1:
        t = temperatures[0]
        scaled = top / t
        safe = np.where(np.isfinite(scaled), scaled, 0.0)
        sums = np.bincount(groups, weights=np.exp(scores / t - safe[groups]), minlength=n_groups)
        with np.errstate(divide="ignore"):
            return (safe + np.log(sums))[None, :]
    return _scaled_logsumexp_rows(scores, groups, top, temperatures, n_groups)


def _scaled_logsumexp_rows(scores: np.ndarray, groups: np.ndarray, top: np.ndarray, temperatures: np.ndarray,
                           n_groups: int) -> np.ndarray:
    """:func:`_scaled_logsumexp` for any number of temperatures, a ``[T, N]`` array at once."""
    scaled_top = top[None, :] / temperatures[:, None]
    safe_top = np.where(np.isfinite(scaled_top), scaled_top, 0.0)
    weights = np.exp(scores[None, :] / temperatures[:, None] - safe_top[:, groups])
    cells = (np.arange(temperatures.size)[:, None] * n_groups + groups[None, :]).reshape(-1)
    sums = np.bincount(cells, weights=weights.reshape(-1), minlength=temperatures.size * n_groups)
    with np.errstate(divide="ignore"):
        return safe_top + np.log(sums.reshape(temperatures.size, n_groups))


class TemperatureCalibrator(Calibrator):
    """Temperature scaling over a query's candidates (Guo et al. 2017), fitted by NLL.

    The loss of a query is ``-log sum_{relevant c} softmax(s / T)_c`` (the probability of
    picking a relevant candidate); queries with no relevant candidate retrieved are left out.
    ``log T`` is searched on a grid within ``[min_temperature, max_temperature]`` and refined
    by bounded Brent; a result on a bound is recorded in the state (``at_bound``).
    """

    name = "temperature"
    view: ClassVar[str] = "listwise"
    description = "Listwise softmax over a query's candidates with one temperature fitted by NLL."
    citation = "Guo, C., Pleiss, G., Sun, Y., Weinberger, K. Q. (2017). On Calibration of Modern Neural Networks. ICML."
    params = (
        Param("min_temperature", 1e-4, "lower bound of the temperature search", above=0),
        Param("max_temperature", 100.0, "upper bound of the temperature search", above=0),
    )

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        low, high = self.config["min_temperature"], self.config["max_temperature"]
        if not (0 < low < high and np.isfinite(high)):
            raise ConfigError(
                f"temperature: need 0 < min_temperature < max_temperature, got {low!r} and {high!r}"
            )
        self.temperature = 1.0
        self.at_bound = False

    def _fit(self, scores: np.ndarray, labels: np.ndarray, groups: np.ndarray | None) -> None:
        assert groups is not None
        n_groups = int(groups.max()) + 1
        positives = np.bincount(groups, weights=labels, minlength=n_groups)
        sizes = np.bincount(groups, minlength=n_groups)
        if not np.any((positives > 0) & (positives < sizes)):
            raise DataError(
                "cannot fit calibrator 'temperature': no query has both a relevant and a non-relevant candidate; "
                "retrieve more candidates (top_k) or fit on another split"
            )
        low = np.log(self.config["min_temperature"])
        high = np.log(self.config["max_temperature"])

        nll = TemperatureNLL(scores, labels, groups)

        def loss(log_t: float) -> float:
            return nll(float(np.exp(log_t)))

        grid = np.linspace(low, high, 81)
        values = nll.at(np.exp(grid))
        if np.ptp(values) <= 1e-9 * max(1.0, float(np.abs(values).max())):
            raise DataError("cannot fit calibrator 'temperature': the candidates' scores tie within every query, so "
                            "the likelihood does not depend on the temperature; check the document encoder (can its "
                            "tokenizer read this language?)")
        best = int(np.argmin(values))
        bracket = (grid[max(best - 1, 0)], grid[min(best + 1, grid.size - 1)])
        result = minimize_scalar(loss, bounds=bracket, method="bounded", options={"xatol": 1e-7})
        log_t = float(result.x) if result.fun <= values[best] else float(grid[best])
        self.temperature = float(np.exp(log_t))
        step = grid[1] - grid[0]
        self.at_bound = bool(log_t - low < step / 2 or high - log_t < step / 2)

    def _predict(self, scores: np.ndarray, groups: np.ndarray | None) -> np.ndarray:
        assert groups is not None
        return group_softmax(scores, groups, self.temperature)

    def state(self) -> dict[str, Any]:
        return {"temperature": self.temperature, "at_bound": self.at_bound}

    def set_state(self, state: dict[str, Any]) -> None:
        temperature = float(state["temperature"])
        if not (temperature > 0 and np.isfinite(temperature)):
            raise ValueError(f"temperature must be positive, got {temperature!r}")
        self.temperature = temperature
        self.at_bound = bool(state.get("at_bound", False))
