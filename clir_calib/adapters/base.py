"""The transfer-adapter contract, and a calibrator wrapped with its adapter.

A calibrator is fitted where labels exist (the seen language). An adapter sits between it and
its use on a target language, and may learn from the seen language's scores *and labels* and
from the target language's **scores only**. The target side reaches an adapter as
:class:`TargetScores`, a type with no place for labels, built by :func:`target_scores` from the
``scores`` array of a ``scored.npz`` alone (the labels in that file are never read), so an
adapter cannot read target relevance judgements, not merely should not.

Scores arrive flat over (query, candidate) pairs with ``groups`` naming each pair's query, over a
query's whole retrieved list, as calibrators get them. ``source_transform`` maps the seen
language's scores before the calibrator is fitted; ``fit_to_calibrator`` may then learn from that calibrator's
outputs; ``target_transform`` maps a target's scores before the calibrator reads them; ``adapt_proba``
may replace the whole mapping.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from clir_calib.errors import ClirCalibError, DataError
from clir_calib.params import Declared, check_finite_state, rebuild_component
from clir_calib.retrieval.scored import read_scored_members

ADAPTER_FORMAT = "clir-calib-adapter"


@dataclass(frozen=True)
class SourceScores:
    """The seen language's retrieved lists: scores and 0/1 relevance, both ``[queries, candidates]``."""

    scores: np.ndarray
    labels: np.ndarray

    def flat(self) -> tuple[np.ndarray, np.ndarray]:
        q, k = self.scores.shape
        return self.scores.reshape(-1).astype(np.float64), np.repeat(np.arange(q), k)


@dataclass(frozen=True)
class TargetScores:
    """A target language's retrieved lists: scores ``[queries, candidates]`` and nothing else."""

    scores: np.ndarray

    def flat(self) -> tuple[np.ndarray, np.ndarray]:
        q, k = self.scores.shape
        return self.scores.reshape(-1).astype(np.float64), np.repeat(np.arange(q), k)


def target_scores(path: str | Path) -> TargetScores:
    """Read only the ``scores`` member of a ``scored.npz`` (``np.load`` reads members lazily)."""
    file = Path(path)
    scores = read_scored_members(file, ("scores",))["scores"].astype(np.float64)
    if not np.isfinite(scores).all():
        raise DataError(f"{file} holds NaN or inf scores; re-run 'clir-calib evaluate'")
    return TargetScores(scores)


def view_columns(scores: np.ndarray, view: str, depth: int) -> np.ndarray:
    """The candidates a calibrator of ``view`` is judged on: all (listwise) or the top ``depth`` (pointwise)."""
    return scores if view == "listwise" else scores[:, : min(depth, scores.shape[1])]


class TransferAdapter(Declared):
    """Base class. Subclasses set ``name``, ``description``, ``citation``, ``params`` and ``views``."""

    version: ClassVar[int] = 1
    #: the calibrator views the adapter can serve
    views: ClassVar[tuple[str, ...]] = ("listwise", "pointwise")

    def __init__(self, **params: Any) -> None:
        self.config: dict[str, Any] = self.resolve_params(params)
        self.fitted = False
        self.view = ""
        self.depth = 10

    def fit(self, source: SourceScores, target: TargetScores, view: str, depth: int = 10) -> Self:
        """Learn from the seen language (scores, labels) and the target's scores, for ``view``."""
        if view not in self.views:
            raise ClirCalibError(f"adapter {self.name!r} serves {', '.join(self.views)} calibrators, not {view}")
        if isinstance(target, SourceScores):  # a labelled set passed as the target: refuse, do not ignore
            raise ClirCalibError(f"adapter {self.name!r} takes the target as TargetScores (scores only)")
        self.view, self.depth = view, depth
        self._fit(source, target)
        self.fitted = True
        return self

    def fit_to_calibrator(self, calibrator: Any, source: SourceScores, target: TargetScores) -> None:
        """A second step, once the seen-language calibrator is fitted (on :meth:`source_transform`'s scores), for an
        adapter whose mapping depends on the calibrator's outputs (ATC's confidence threshold); default: nothing."""
        return None

    def source_transform(self, scores: np.ndarray, groups: np.ndarray) -> np.ndarray:
        """The seen language's scores as the calibrator is fitted on them (default: unchanged)."""
        return scores

    def target_transform(self, scores: np.ndarray, groups: np.ndarray) -> np.ndarray:
        """A target's scores mapped before the calibrator reads them (default: unchanged)."""
        return scores

    def adapt_proba(self, calibrator: Any, scores: np.ndarray, groups: np.ndarray) -> np.ndarray:
        """Probabilities on a target's scores: the calibrator on the mapped scores (by default)."""
        return np.asarray(calibrator.predict_proba(self.target_transform(scores, groups), groups))

    # -- subclass hooks ----------------------------------------------------------------------
    def _fit(self, source: SourceScores, target: TargetScores) -> None:
        return None

    def state(self) -> dict[str, Any]:
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        return None

    # -- files -------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        if not self.fitted:
            raise ClirCalibError(f"adapter {self.name!r} is not fitted; nothing to save")
        return {"format": ADAPTER_FORMAT, "kind": self.name, "version": self.version, "view": self.view,
                "depth": self.depth, "params": self.config, "state": self.state()}

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "adapter data") -> TransferAdapter:
        if data.get("format") != ADAPTER_FORMAT or data.get("version") != cls.version:
            raise DataError(f"{source} holds no readable {cls.name!r} adapter (format or version); refit it")
        adapter = rebuild_component(cls, data.get("params"), source, "adapter")
        check_finite_state(data.get("state"), f"{source} ({cls.name!r} adapter state)")
        try:
            adapter.set_state(dict(data["state"]))
            adapter.view, adapter.depth = str(data["view"]), int(data["depth"])
        except (KeyError, TypeError, ValueError) as error:
            raise DataError(f"{source} has a malformed {cls.name!r} adapter state ({error}); refit it") from None
        adapter.fitted = True
        return adapter


class AdaptedCalibrator:
    """A seen-language calibrator with the adapter fitted for one target: what ``evaluate --calibrator`` applies."""

    def __init__(self, calibrator: Any, adapter: TransferAdapter, target: dict[str, Any] | None = None) -> None:
        self.calibrator, self.adapter = calibrator, adapter
        self.target = dict(target or {})
        self.name = f"{calibrator.name}+{adapter.name}"

    @property
    def model_view(self) -> str:
        return str(self.calibrator.model_view)

    def predict_proba(self, scores: Any, groups: Any = None) -> np.ndarray:
        values = np.asarray(scores, dtype=np.float64).reshape(-1)
        if groups is None:
            raise DataError("an adapted calibrator needs the query of each score (groups), e.g. ScoredRun.flat()")
        probs = self.adapter.adapt_proba(self.calibrator, values, np.asarray(groups).reshape(-1))
        if not np.isfinite(probs).all():
            raise DataError(f"adapter {self.adapter.name!r} produced NaN probabilities; refit it")
        return np.clip(probs, 0.0, 1.0)

    def to_dict(self) -> dict[str, Any]:
        return {**self.calibrator.to_dict(), "adapter": self.adapter.to_dict(), "adapted_for": self.target}

    def save(self, path: str | Path) -> Path:
        from clir_calib.atomic import write_json

        write_json(path, self.to_dict())
        return Path(path)


def per_query_stats(scores: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each pair's query list, per pair."""
    _, codes = np.unique(groups, return_inverse=True)
    count = np.bincount(codes).astype(np.float64)
    mean = np.bincount(codes, weights=scores) / count
    var = np.bincount(codes, weights=scores**2) / count - mean**2
    return mean[codes], np.sqrt(np.maximum(var, 0.0))[codes]
