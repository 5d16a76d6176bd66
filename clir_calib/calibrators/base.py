"""The calibrator contract: fit on (score, relevance) pairs, predict a probability per pair.

Scores arrive flattened over (query, candidate) pairs with ``groups`` naming each pair's query
(as :meth:`ScoredRun.flat` returns them). Every calibrator declares the *view* it models:

* ``listwise``: probabilities sum to one over a query's candidates (needs ``groups``); read as
  the top-1 confidence against top-1 correctness;
* ``pointwise``: each pair independently gets P(relevant | score); ``groups`` are ignored.

Fitted calibrators are stored as JSON (kind, version, view, params, fitted state, what it was
fitted on), never pickle, so a file can be inspected, diffed and loaded safely.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from clir_calib.atomic import write_json
from clir_calib.errors import ClirCalibError, DataError, NumericalError
from clir_calib.params import Declared, check_finite_state, rebuild_component

FILE_FORMAT = "clir-calib-calibrator"
VIEWS: tuple[str, ...] = ("listwise", "pointwise")


class Calibrator(Declared):
    """Base class. Subclasses set ``name``, ``view``, ``version`` and implement the four hooks.

    ``_fit``/``_predict`` get validated float64 scores (and int64 group codes where needed);
    ``state``/``set_state`` turn the fitted state into JSON-able data and back.
    """

    view: ClassVar[str] = "pointwise"
    version: ClassVar[int] = 1
    #: fewer labelled queries (queries with a relevant pair; without groups: relevant pairs) are refused: a fit on
    #: one query's ten pairs is noise that can even invert the score order (Platt slope -14); monotonicity and
    #: calibrate.min_fit_queries (a warning) cover the rest
    min_queries: ClassVar[int] = 2

    def __init__(self, **params: Any) -> None:
        self.config: dict[str, Any] = self.resolve_params(params)
        self.fitted = False
        self.fitted_on: dict[str, Any] = {}

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """The declared description plus the view the calibrator models (its default for identity)."""
        return {**super().describe(), "view": cls.view}

    @property
    def model_view(self) -> str:
        """The view this instance models (a parameter for ``identity``, fixed for the others)."""
        return self.view

    # -- public API -------------------------------------------------------------------------
    def fit(self, scores: Any, labels: Any, groups: Any = None, fitted_on: dict[str, Any] | None = None) -> Self:
        """Fit on scores with 0/1 relevance labels; ``groups`` (query of each pair) for listwise."""
        values = check_scores(scores, self.name)
        targets = check_labels(labels, values.size, self.name)
        codes = self._codes(groups, values.size)
        if targets.sum() == 0:
            raise DataError(
                f"cannot fit calibrator {self.name!r}: the fit set has no relevant pairs; fit on a split with relevance judgements"
            )
        if targets.sum() == targets.size:
            raise DataError(
                f"cannot fit calibrator {self.name!r}: every pair in the fit set is relevant; retrieve more candidates (top_k) so negatives exist"
            )
        labelled = int(np.unique(codes[targets > 0]).size) if codes is not None else int(targets.sum())
        if labelled < self.min_queries:
            raise DataError(f"cannot fit calibrator {self.name!r} on {labelled} labelled quer"
                            f"{'y' if labelled == 1 else 'ies'}: it needs at least {self.min_queries}; fit on a "
                            "split with more judged queries")
        self._fit(values, targets, codes)
        problem = self.fitted_problem()
        if problem is not None:
            raise DataError(f"cannot fit calibrator {self.name!r}: {problem}; fit on more, or other, data")
        self.fitted = True
        self.fitted_on = dict(fitted_on or {})
        return self

    def predict_proba(self, scores: Any, groups: Any = None) -> np.ndarray:
        """Probabilities (float64, same shape as the flattened scores)."""
        if not self.fitted:
            raise ClirCalibError(f"calibrator {self.name!r} is not fitted; call fit() or load a fitted file")
        values = check_scores(scores, self.name)
        probs = self._predict(values, self._codes(groups, values.size))
        if not np.isfinite(probs).all():
            raise NumericalError(f"calibrator {self.name!r} produced NaN probabilities; refit it on valid scores")
        return np.clip(probs, 0.0, 1.0)

    def to_dict(self) -> dict[str, Any]:
        if not self.fitted:
            raise ClirCalibError(f"calibrator {self.name!r} is not fitted; nothing to save")
        return {
            "format": FILE_FORMAT,
            "kind": self.name,
            "version": self.version,
            "view": self.model_view,
            "params": self.config,
            "state": self.state(),
            "fitted_on": self.fitted_on,
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the fitted calibrator as JSON (atomically)."""
        write_json(path, self.to_dict())
        return Path(path)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "calibrator data") -> Calibrator:
        """Rebuild a fitted calibrator of this class from :meth:`to_dict` output."""
        version = data.get("version")
        if version != cls.version:
            raise DataError(
                f"{source} holds version {version!r} of calibrator {cls.name!r}, this clir-calib reads version "
                f"{cls.version}; refit it with 'clir-calib calibrate'"
            )
        calibrator = rebuild_component(cls, data.get("params"), source, "calibrator")
        state = data.get("state")
        if not isinstance(state, dict):
            raise DataError(f"{source} has no fitted state; refit it with 'clir-calib calibrate'")
        check_finite_state(state, f"{source} ({cls.name!r} state)")
        try:
            calibrator.set_state(state)
        except (KeyError, TypeError, ValueError) as error:
            raise DataError(f"{source} has a malformed {cls.name!r} state ({error}); refit it") from None
        problem = calibrator.fitted_problem()
        if problem is not None:
            raise DataError(f"{source}: {problem}; refit it with 'clir-calib calibrate'")
        fitted_on = data.get("fitted_on") or {}
        if not isinstance(fitted_on, dict):
            raise DataError(f"{source}: 'fitted_on' is not a mapping; refit it with 'clir-calib calibrate'")
        calibrator.fitted = True
        calibrator.fitted_on = dict(fitted_on)
        return calibrator

    # -- subclass hooks ---------------------------------------------------------------------
    def _fit(self, scores: np.ndarray, labels: np.ndarray, groups: np.ndarray | None) -> None:
        raise NotImplementedError

    def _predict(self, scores: np.ndarray, groups: np.ndarray | None) -> np.ndarray:
        raise NotImplementedError

    def state(self) -> dict[str, Any]:
        raise NotImplementedError

    def set_state(self, state: dict[str, Any]) -> None:
        raise NotImplementedError

    def fitted_problem(self) -> str | None:
        """What makes the fitted state unusable (probabilities outside [0, 1], a map that lowers the probability
        as the score rises), or None; checked after every fit and every load, so a file cannot hold what a fit
        would refuse."""
        return None

    # -- helpers ----------------------------------------------------------------------------
    def _codes(self, groups: Any, size: int) -> np.ndarray | None:
        if self.model_view != "listwise":
            return None
        if groups is None:
            raise DataError(
                f"calibrator {self.name!r} is listwise: pass groups (the query of each score), e.g. ScoredRun.flat()"
            )
        raw = np.asarray(groups).reshape(-1)
        if raw.size != size:
            raise DataError(f"{raw.size} group ids for {size} scores; pass one group id per score")
        _, codes = np.unique(raw, return_inverse=True)
        return codes.astype(np.int64)


def check_scores(scores: Any, owner: str) -> np.ndarray:
    """Finite float64 scores, flattened; NaN/inf raise :class:`NumericalError`."""
    try:
        values = np.asarray(scores, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise DataError(f"calibrator {owner!r}: scores must be numbers") from None
    if values.size == 0:
        raise DataError(f"calibrator {owner!r}: no scores given; the scored run is empty")
    if not np.isfinite(values).all():
        raise NumericalError(
            f"calibrator {owner!r}: {int((~np.isfinite(values)).sum())} score(s) are NaN or inf; re-run the encoder that produced them"
        )
    return values


def check_labels(labels: Any, size: int, owner: str) -> np.ndarray:
    """0/1 labels as float64, one per score."""
    values = np.asarray(labels).reshape(-1)
    if values.size != size:
        raise DataError(f"calibrator {owner!r}: {values.size} labels for {size} scores; pass one label per score")
    values = values.astype(np.float64)
    if not np.isin(values, (0.0, 1.0)).all():
        raise DataError(f"calibrator {owner!r}: labels must be 0/1 (relevant or not)")
    return values


def group_softmax(scores: np.ndarray, groups: np.ndarray, temperature: float) -> np.ndarray:
    """Softmax of ``scores / temperature`` within each group (groups are codes 0..G-1)."""
    z = scores / temperature
    n_groups = int(groups.max()) + 1
    top = np.full(n_groups, -np.inf)
    np.maximum.at(top, groups, z)
    weights = np.exp(z - top[groups])
    return weights / np.bincount(groups, weights=weights, minlength=n_groups)[groups]
