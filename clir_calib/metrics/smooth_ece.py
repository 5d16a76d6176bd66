"""Smooth ECE (Blasiok and Nakkiran, ICLR 2024) for many bootstrap weightings at once, with relplot's
kernel, mesh and bandwidth search (relplot 1.0: ``metrics.smECE``), checked against relplot in the tests."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.fft import dct, idct
from scipy.signal import fftconvolve

from clir_calib.metrics.pairs import Pairs

# relplot's smECE constants (relplot 1.0: metrics.smECE / smooth_ece, kernels.BaseKernelMixin.smooth)
SMECE_MESH = 200
SMECE_EPS = 0.001
SMECE_DENSITY_EPS = 0.0001
SMECE_REFINE = 10


def _reflected_kernel(sigma: float, points: int) -> np.ndarray:
    t = np.linspace(0, 1, points)
    return np.exp(-(t - 0.5) ** 2 / (2 * sigma**2)) / (np.sqrt(2 * np.pi) * sigma)


def _interpolation(t: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """relplot's linear interpolation on ``count`` mesh points: each ``t``'s left point and its weight on the right."""
    size = 1 / (count - 1)
    index = (t * (count - 1)).astype(int).clip(0, count - 2)
    return index, (t - index * size) / size


def _interpolate(t: np.ndarray, values: np.ndarray) -> np.ndarray:
    index, residual = _interpolation(t, values.shape[1])
    return values[:, index] * (1 - residual) + values[:, index + 1] * residual


def _smooth_fft(grid_values: np.ndarray, sigma: float, points: int, t: np.ndarray) -> np.ndarray:
    kernel = _reflected_kernel(sigma, points)
    extended = np.concatenate([grid_values[:, ::-1][:, :-1], grid_values, grid_values[:, ::-1][:, 1:]], axis=1)
    smoothed = fftconvolve(extended, kernel[None, :], mode="valid", axes=1)
    return _interpolate(t, smoothed[:, points // 2 : points // 2 + points])


@lru_cache(maxsize=4096)
def _spectrum(sigma: float, points: int) -> np.ndarray:
    """The kernel of :func:`_smooth_fft` as a DCT-I multiplier (``points`` odd). Reflecting the mesh at both ends
    and convolving with the kernel, which is symmetric about its middle point and spans at most half the period,
    is a circular convolution of the mesh's whole-sample symmetric extension (period ``2 (points - 1)``): in the
    DCT-I domain, a product with the kernel's real DFT."""
    kernel = _reflected_kernel(sigma, points)
    middle, period = points // 2, 2 * (points - 1)
    wrapped = np.zeros(period)
    wrapped[: points - middle] = kernel[middle:]
    wrapped[period - middle :] += kernel[:middle]
    spectrum = np.fft.rfft(wrapped).real
    spectrum.setflags(write=False)
    return spectrum


@lru_cache(maxsize=4096)
def _density_functional(sigma: float, points: int) -> np.ndarray:
    """``a`` with ``sum_t d(t) = a . DCT-I(counts)`` for the smoothed density ``d`` (before its ``+ 1e-4``): only
    the density's sum enters smooth ECE, so it needs a dot product per row instead of an inverse DCT. With
    ``u`` the interpolation weights summed per mesh point and scipy's DCT-I matrix ``D`` (``D^T = diag(w) D
    diag(1/w)``, ``w`` = 1 at both ends and 2 inside; ``idct = D / 2(points - 1)``), ``a = H * w * idct(u / w)``."""
    index, residual = _interpolation(np.linspace(0, 1, _evaluation_points(sigma)), points)
    summed = np.bincount(index, 1 - residual, points) + np.bincount(index + 1, residual, points)
    ends = np.full(points, 2.0)
    ends[[0, -1]] = 1.0
    functional = _spectrum(sigma, points) * ends * idct(summed / ends, type=1)
    functional.setflags(write=False)
    return functional


#: per mesh size, each row's DCT-I transformed residual and count sums and which rows are done, kept for one search
Transforms = dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]


def _mesh_transforms(pairs: Pairs, weights: np.ndarray, points: int, rows: np.ndarray,
                     kept: Transforms) -> tuple[np.ndarray, np.ndarray]:
    """The DCT-I transformed residual and count sums on the mesh of ``weights[rows]``. They depend on ``sigma`` only
    through the mesh size, the same for every ``sigma >= 0.01``, so a bandwidth search sums and transforms each row
    once per mesh size, and only the rows that reach it."""
    if points not in kept:
        kept[points] = (np.empty((weights.shape[0], points)), np.empty((weights.shape[0], points)),
                        np.zeros(weights.shape[0], dtype=bool))
    resid_hat, ones_hat, done = kept[points]
    missing = np.unique(rows[~done[rows]])
    if missing.size:
        resid_sums, ones_sums = pairs.grid_sums(weights[missing], points)
        resid_hat[missing] = dct(resid_sums, type=1, axis=1)
        ones_hat[missing] = dct(ones_sums, type=1, axis=1)
        done[missing] = True
    return resid_hat[rows], ones_hat[rows]


def _mesh_points(sigma: float) -> int:
    return max(2000, round(20 / sigma)) // 2 + 1


def _evaluation_points(sigma: float) -> int:
    return max(round(10 / sigma), SMECE_MESH)


def smooth_ece_each(pairs: Pairs, weights: np.ndarray, sigmas: np.ndarray, rows: np.ndarray,
                    kept: Transforms | None = None) -> np.ndarray:
    """relplot's ``smooth_ece(f, y, sigma)`` for ``weights[rows[i]]`` at bandwidth ``sigmas[i]``, all rows at once.

    Per row ``sum_t |r(t) / d(t)| d(t) / sum_t d(t)`` with ``r`` and ``d`` the smoothed residual and density
    (``+ 1e-4``) at the evaluation points, which is ``sum_t |r(t)| / sum_t d(t)``. Odd mesh sizes (every
    ``sigma >= 0.01``) smooth every row's residual in one inverse DCT whatever its bandwidth, and sum its density
    by a dot product (:func:`_density_functional`); even ones (a kernel without a middle point) by relplot's FFT
    convolution, one bandwidth at a time."""
    kept = {} if kept is None else kept
    result = np.empty(rows.size)
    mesh = np.array([_mesh_points(float(sigma)) for sigma in sigmas])
    for points in np.unique(mesh):
        mine = np.flatnonzero(mesh == points)
        if points % 2 == 0:
            for sigma in np.unique(sigmas[mine]):
                same = mine[sigmas[mine] == sigma]
                result[same] = _smooth_ece_fft(pairs, weights, float(sigma), int(points), rows[same])
            continue
        resid_hat, ones_hat = _mesh_transforms(pairs, weights, int(points), rows[mine], kept)
        values, which = np.unique(sigmas[mine], return_inverse=True)
        spectra = np.stack([_spectrum(float(sigma), int(points)) for sigma in values])[which]
        resid = idct(resid_hat * spectra, type=1, axis=1)
        functionals = np.stack([_density_functional(float(sigma), int(points)) for sigma in values])[which]
        lengths = np.array([_evaluation_points(float(sigma)) for sigma in values])[which]
        density = np.einsum("ij,ij->i", ones_hat, functionals) + SMECE_DENSITY_EPS * lengths
        for length in np.unique(lengths):
            same = np.flatnonzero(lengths == length)
            t = np.linspace(0, 1, int(length))
            result[mine[same]] = np.abs(_interpolate(t, resid[same])).sum(axis=1) / density[same]
    return result


def _smooth_ece_fft(pairs: Pairs, weights: np.ndarray, sigma: float, points: int, rows: np.ndarray) -> np.ndarray:
    t = np.linspace(0, 1, _evaluation_points(sigma))
    resid_sums, ones_sums = pairs.grid_sums(weights[rows], points)
    resid = _smooth_fft(resid_sums, sigma, points, t)
    density = _smooth_fft(ones_sums, sigma, points, t) + SMECE_DENSITY_EPS
    return (np.abs(resid / density) * density).sum(axis=1) / density.sum(axis=1)


def smece(pairs: Pairs, weights: np.ndarray) -> np.ndarray:
    """Smooth ECE with relplot's bandwidth search (``search_param``: start at 1, 10 halvings), every row's search
    a step at a time together."""
    rows = weights.shape[0]
    kept: Transforms = {}

    def holds(alpha: np.ndarray, subset: np.ndarray) -> np.ndarray:
        result = alpha < SMECE_EPS
        wide = np.flatnonzero(~result)
        result[wide] = alpha[wide] < smooth_ece_each(pairs, weights, alpha[wide], subset[wide], kept)
        return result

    everyone = np.arange(rows)
    start = np.ones(rows)
    searching = ~holds(start, everyone)
    end = np.zeros(rows)
    active = np.flatnonzero(searching)
    for _ in range(SMECE_REFINE):
        if active.size == 0:
            break
        middle = (start[active] + end[active]) / 2
        ok = holds(middle, active)
        end[active[ok]] = middle[ok]
        start[active[~ok]] = middle[~ok]
    return smooth_ece_each(pairs, weights, start, everyone, kept)
