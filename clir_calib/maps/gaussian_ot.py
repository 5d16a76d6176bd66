"""``gaussian-ot``: the closed-form optimal transport (Monge) map between Gaussian fits of two languages.

For Gaussians ``N(mu_s, S)`` (the language's documents) and ``N(mu_t, T)`` (English), the squared-
Euclidean OT map is affine, ``x -> mu_t + A (x - mu_s)`` with
``A = S^-1/2 (S^1/2 T S^1/2)^1/2 S^-1/2`` (Knott and Smith 1984; Peyré and Cuturi 2019, remark 2.31).
Covariances are the empirical ones (divided by n) plus ``reg`` times the identity, as POT's
``ot.gaussian.empirical_bures_wasserstein_mapping`` computes them, which the tests check it against.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from clir_calib.maps.base import MAP_PARAMS, EmbeddingMap
from clir_calib.params import Param


def _sqrt_and_inverse_sqrt(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    values = np.clip(values, 0.0, None)
    root = np.sqrt(values)
    inverse = np.where(root > 0, 1.0 / np.where(root > 0, root, 1.0), 0.0)
    return (vectors * root) @ vectors.T, (vectors * inverse) @ vectors.T


def gaussian_monge_map(source: np.ndarray, target: np.ndarray, reg: float) -> tuple[np.ndarray, np.ndarray]:
    """``(A, b)`` with the map ``x -> x @ A.T + b``, between Gaussian fits of ``source`` and ``target`` rows."""
    mu_s, mu_t = source.mean(axis=0), target.mean(axis=0)
    eye = np.eye(source.shape[1])
    cov_s = (source - mu_s).T @ (source - mu_s) / len(source) + reg * eye
    cov_t = (target - mu_t).T @ (target - mu_t) / len(target) + reg * eye
    s_half, s_inv_half = _sqrt_and_inverse_sqrt(cov_s)
    middle, _ = _sqrt_and_inverse_sqrt(s_half @ cov_t @ s_half)
    a = s_inv_half @ middle @ s_inv_half
    return a, mu_t - mu_s @ a.T


class GaussianOTMap(EmbeddingMap):
    """Documents moved by the Monge map between Gaussian fits of the language's and English's embeddings."""

    name = "gaussian-ot"
    description = ("Training-free: the closed-form OT map between Gaussian fits of the language's and English's "
                   "document embeddings, fitted on unaligned monolingual train captions.")
    citation = ("Knott, M. and Smith, C. S. (1984). On the optimal mapping of distributions. J. Optim. Theory Appl. "
                "Peyré, G. and Cuturi, M. (2019). Computational Optimal Transport, remark 2.31. Flamary, R. et al. "
                "(2021). POT: Python Optimal Transport. JMLR (ot.da.LinearTransport).")
    params = (*MAP_PARAMS, Param("reg", 1e-6, "added to both covariances' diagonals (POT's reg)", above=0))

    def fit_map(self, source: np.ndarray, target: np.ndarray) -> None:
        self.a, self.b = gaussian_monge_map(source, target, float(self.config["reg"]))

    def apply_map(self, embeddings: np.ndarray) -> np.ndarray:
        return np.asarray(embeddings @ self.a.T + self.b)

    def describe_fit(self) -> dict[str, Any]:
        singular = np.linalg.svd(self.a, compute_uv=False)
        return {"a_singular_max": round(float(singular.max()), 6), "a_singular_min": round(float(singular.min()), 6),
                "offset_norm": round(float(np.linalg.norm(self.b)), 6)}
