"""Smooth ECE (Blasiok and Nakkiran, ICLR 2024) for many bootstrap weightings at once, with relplot's
kernel, mesh and bandwidth search (relplot 1.0: ``metrics.smECE``), checked against relplot in the tests."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
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


def _interpolate(t: np.ndarray, values: np.ndarray) -> np.ndarray:
    count = values.shape[1]
    size = 1 / (count - 1)
    index = (t * (count - 1)).astype(int).clip(0, count - 2)
    residual = (t - index * size) / size
    return values[:, index] * (1 - residual) + values[:, index + 1] * residual


def _smooth_fft(grid_values: np.ndarray, sigma: float, points: int, t: np.ndarray) -> np.ndarray:
    kernel = _reflected_kernel(sigma, points)
    extended = np.concatenate([grid_values[:, ::-1][:, :-1], grid_values, grid_values[:, ::-1][:, 1:]], axis=1)
    smoothed = fftconvolve(extended, kernel[None, :], mode="valid", axes=1)
    return _interpolate(t, smoothed[:, points // 2 : points // 2 + points])


#: largest smoothing matrix kept (mesh points x evaluation points); larger ones smooth by FFT each time
SMOOTHING_MATRIX_ELEMENTS = 4_000_000
_MATRICES: OrderedDict[tuple[float, int, int], np.ndarray] = OrderedDict()
_MATRICES_KEPT = 48


def _smoothing_matrix(sigma: float, points: int, evaluated: int, rows: int) -> np.ndarray | None:
    """The linear map of :func:`_smooth_fft` (reflect, convolve, interpolate) as a ``[points, evaluated]`` matrix,
    built by smoothing the unit vectors: a bootstrap smooths thousands of rows at the same few bandwidths, and one
    matrix product per row is cheaper than three FFTs. Building one costs about ``points`` rows' FFTs, so it is
    built only for at least ``points`` rows at once (or found built); None: smooth by FFT."""
    key = (sigma, points, evaluated)
    if key in _MATRICES:
        _MATRICES.move_to_end(key)
        return _MATRICES[key]
    if points * evaluated > SMOOTHING_MATRIX_ELEMENTS or rows < points:
        return None
    matrix = _smooth_fft(np.eye(points), sigma, points, np.linspace(0, 1, evaluated))
    matrix.setflags(write=False)
    _MATRICES[key] = matrix
    while len(_MATRICES) > _MATRICES_KEPT:
        _MATRICES.popitem(last=False)
    return matrix


def _smooth(grid_values: np.ndarray, sigma: float, points: int, t: np.ndarray) -> np.ndarray:
    matrix = _smoothing_matrix(sigma, points, t.size, grid_values.shape[0])
    return _smooth_fft(grid_values, sigma, points, t) if matrix is None else grid_values @ matrix


GridSums = dict[int, tuple[np.ndarray, np.ndarray]]


def smooth_ece_at(pairs: Pairs, weights: np.ndarray, sigma: float, grid: GridSums | None = None,
                  rows: np.ndarray | None = None) -> np.ndarray:
    """relplot's ``smooth_ece(f, y, sigma)`` for every row of ``weights`` (or ``weights[rows]``). ``grid`` keeps
    each row's residual and count sums on the mesh between calls: they depend on ``sigma`` only through the
    mesh size, which is the same for every ``sigma >= 0.01``, so a bandwidth search sums the pairs once."""
    points = max(2000, round(20 / sigma)) // 2 + 1
    t = np.linspace(0, 1, max(round(10 / sigma), SMECE_MESH))
    if grid is None:
        grid = {}
    if points not in grid:
        resid_map, ones_map = pairs.grid(points)
        grid[points] = (pairs.sums(weights, resid_map), pairs.sums(weights, ones_map))
    resid_sums, ones_sums = grid[points]
    if rows is not None:
        resid_sums, ones_sums = resid_sums[rows], ones_sums[rows]
    resid = _smooth(resid_sums, sigma, points, t)
    density = _smooth(ones_sums, sigma, points, t) + SMECE_DENSITY_EPS
    return (np.abs(resid / density) * density).sum(axis=1) / density.sum(axis=1)


def smece(pairs: Pairs, weights: np.ndarray) -> np.ndarray:
    """Smooth ECE with relplot's bandwidth search (``search_param``: start at 1, 10 halvings)."""
    rows = weights.shape[0]
    grid: GridSums = {}

    def holds(alpha: np.ndarray, subset: np.ndarray) -> np.ndarray:
        result = np.zeros(subset.size, dtype=bool)
        for value in np.unique(alpha):
            mine = alpha == value
            if value < SMECE_EPS:
                result[mine] = True
            else:
                result[mine] = value < smooth_ece_at(pairs, weights, float(value), grid, subset[mine])
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
    result = np.empty(rows)
    for value in np.unique(start):
        mine = np.flatnonzero(start == value)
        result[mine] = smooth_ece_at(pairs, weights, float(value), grid, mine)
    return result
