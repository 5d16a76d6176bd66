"""Calibration estimators on weighted pairs, for many resamples at once.

A bootstrap resample of queries is a vector of query counts; every estimator here takes a weight
matrix ``W[B, Q]`` (one row per resample, one column per query; a query's pairs all carry its
weight) and returns ``B`` numbers. Row weights of all ones give the point estimate, so the point
estimate and its bootstrap are the same code. Every sum the estimators need is a product of the
weights with a sparse query x (bin, tie group or grid point) matrix, built once per view. Integer weights
are exactly duplicated data, which is how the tests check each estimator against its reference
implementation (the module's own :func:`~clir_calib.metrics.calibration.calibration_report`,
``relplot.smECE``, the ``uncertainty-calibration`` package and scikit-learn).

Estimators (all on one binary event per pair, confidence in [0, 1]):

* ``ece_equal_width``, ``ece_equal_mass``, ``mce``, ``brier``, ``nll``: as
  :mod:`clir_calib.metrics.calibration` (same bins, the same tie rule for equal mass);
* ``ece_debiased``: the debiased L2 calibration error of Kumar, Liang and Ma (NeurIPS 2019) on
  the equal-mass bins: ``sqrt(max(0, sum_b n_b/N [(conf_b - acc_b)^2 - acc_b(1 - acc_b)/(n_b - 1)]))``,
  bins with fewer than two pairs counting zero, as the ``uncertainty-calibration`` package does;
* ``smece``: smooth ECE (Blasiok and Nakkiran, ICLR 2024; :mod:`.smooth_ece`), reproducing ``relplot.smECE``
  (reflected Gaussian kernel on a grid, bandwidth by the same 10-step fixed-point search);
* ``auroc``: area under the ROC curve of confidence for the event (ties count one half; NaN when
  one class is absent);
* ``brier_reliability``, ``brier_resolution``, ``brier_uncertainty``: Murphy's (1973)
  decomposition on the equal-width bins; ``reliability - resolution + uncertainty`` equals Brier
  up to the within-bin terms (Stephenson et al. 2008), zero when confidences are constant per bin;
* ``aurc``: area under the risk-coverage curve (Geifman and El-Yaniv 2017): answer the most
  confident pairs first; risk = error rate of what is answered; tied confidences enter together.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from clir_calib.metrics.pairs import CHUNK_ELEMENTS, Pairs
from clir_calib.metrics.smooth_ece import smece
from clir_calib.shared_work import usable_cores

NLL_EPS = 1e-12
#: more blocks than the balance of multiply-adds: a dense running sum costs more per element than a sparse product
MASS_BLOCKS = 8.0
#: up to this many tie groups the search is one level (one block): per-block overhead would cost more
ONE_BLOCK_GROUPS = 2048
#: likewise up to this many (rows x tie groups): a point estimate, or a few rows, sums every group at once
ONE_BLOCK_ELEMENTS = 1_000_000


#: threads that evaluate chunks of resamples at once (the cores this process may use)
WORKERS = usable_cores()
#: the estimators :func:`weighted_metrics` returns, in ``metrics.json`` order
WEIGHTED_METRICS: tuple[str, ...] = (
    "ece_equal_width", "ece_equal_mass", "mce", "brier", "nll", "ece_debiased", "smece", "auroc",
    "brier_reliability", "brier_resolution", "brier_uncertainty", "aurc", "cb_ece",
)
#: bins used by the ECE bin-count sensitivity table
SENSITIVITY_BINS: tuple[int, ...] = (5, 10, 15, 20, 30)


def equal_width_index(conf: np.ndarray, bins: int) -> np.ndarray:
    """Bin of each confidence in ``(k/B, (k+1)/B]`` (the first bin closed at 0)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    return np.searchsorted(edges[1:-1], conf, side="left")


def mass_block_width(pairs: Pairs, bins: int, rows: int) -> int:
    """Tie groups per block of the two-level equal-mass search for ``rows`` weightings: about
    ``sqrt(bins * groups / queries)`` blocks balance the coarse pass (every query's pairs, once per block they
    reach) against the fine one (one block's groups per cut); one block when the groups are few, or the rows so
    few that every group's sums fit at once."""
    if pairs.n_groups <= ONE_BLOCK_GROUPS or pairs.n_groups * rows <= ONE_BLOCK_ELEMENTS:
        return max(1, pairs.n_groups)
    blocks = int(np.clip(round(MASS_BLOCKS * np.sqrt(bins * pairs.n_groups / max(1, pairs.n_queries))), 1,
                         max(1, pairs.n_groups)))
    return max(1, -(-pairs.n_groups // blocks))


def equal_mass_sums(pairs: Pairs, weights: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row, count, confidence and hit sums ``[B, bins]`` of the equal-mass bins that
    :func:`clir_calib.metrics.calibration.equal_mass_table` cuts (tie groups never split; a cut that falls away
    leaves an empty bin, which counts zero).

    Cut ``k`` ends at the first tie group whose cumulative weight reaches ``round(k N / bins)`` (a cut inside a run
    of ties moves to the run's end). Found in two levels, so that no ``[B, groups]`` array is ever formed: block
    sums of consecutive groups locate the block of each cut, then only that block's groups are summed, for only
    the rows whose cut lies there. Sums are exact for integer weights (counts), so the cuts are the one-level ones.
    """
    rows = weights.shape[0]
    width = mass_block_width(pairs, bins, rows)
    blocks = -(-pairs.n_groups // width)
    names = (("ones", np.ones(pairs.size)), ("conf", pairs.conf), ("hits", pairs.hits))
    if blocks == 1:  # one level: the block is everything
        coarse = [pairs.query_sums(weights, values)[:, None] for _, values in names]
    else:
        coarse = [pairs.weighted_sums(weights, ("mass-blocks", width, name), pairs.group // width, values, blocks)
                  for name, values in names]
    before = [np.concatenate([np.zeros((rows, 1)), np.cumsum(c, axis=1)], axis=1) for c in coarse]  # [B, blocks+1]
    n = before[0][:, -1]
    targets = np.round(np.arange(1, bins)[None, :] * n[:, None] / bins)  # [B, bins-1], half to even like round()
    block_of_cut = (before[0][:, 1:, None] < targets[:, None, :]).sum(axis=1).clip(0, blocks - 1)
    at_cut = np.zeros((3, rows, bins - 1))  # cumulative count, confidence and hits up to each cut's group
    for block in np.unique(block_of_cut):
        row_of, cut_of = np.nonzero(block_of_cut == block)
        # every row's sums over the block's groups, [groups in block, B]: rows whose cuts lie elsewhere cost a
        # little, but no copy of the weights is made
        cumulative = [np.cumsum(sums, axis=0) for sums in pairs.block_group_sums(weights, width, block)]
        # the first group of the block whose cumulative weight reaches the target: a binary search per cut
        below = targets[row_of, cut_of] - before[0][row_of, block]
        low, high = np.zeros(row_of.size, dtype=np.int64), np.full(row_of.size, cumulative[0].shape[0] - 1)
        while (low < high).any():
            middle = (low + high) // 2
            right = cumulative[0][middle, row_of] < below
            low, high = np.where(right, middle + 1, low), np.where(right, high, middle)
        for i in range(3):
            at_cut[i, row_of, cut_of] = cumulative[i][low, row_of] + before[i][row_of, block]
    cuts = at_cut[0]
    valid = (cuts > 0) & (cuts < n[:, None])
    valid[:, 1:] &= cuts[:, 1:] != cuts[:, :-1]
    # bin k ends at the last valid cut so far (none yet: nothing), the last bin at the end
    last = np.maximum.accumulate(np.where(valid, np.arange(bins - 1)[None, :], -1), axis=1)
    sums = []
    for i in range(3):
        ends = np.where(last >= 0, np.take_along_axis(at_cut[i], last.clip(0), axis=1), 0.0)
        sums.append(np.diff(np.concatenate([np.zeros((rows, 1)), ends, before[i][:, -1:]], axis=1), axis=1))
    return sums[0], sums[1], sums[2]


#: what each group of binned estimators returns: the equal-mass ones need the (costlier) equal-mass search
WIDTH_METRICS = ("ece_equal_width", "mce", "brier_reliability", "brier_resolution", "brier_uncertainty")
MASS_METRICS = ("ece_equal_mass", "ece_debiased")
POINTWISE_METRICS = ("brier", "nll", "cb_ece")


def binned_metrics(pairs: Pairs, weights: np.ndarray, bins: int,
                   names: tuple[str, ...] = WIDTH_METRICS + MASS_METRICS) -> dict[str, np.ndarray]:
    """ECE (both binnings), MCE, the debiased L2 error and Murphy's Brier decomposition; each binning's sums only
    when one of ``names`` needs them."""
    values: dict[str, np.ndarray] = {}
    n = pairs.total(weights)
    if set(names) & set(WIDTH_METRICS):
        index = equal_width_index(pairs.conf, bins)
        count, conf_sum, hit_sum = (
            pairs.weighted_sums(weights, ("width", bins, name), index, column, bins)
            for name, column in (("ones", np.ones(pairs.size)), ("conf", pairs.conf), ("hits", pairs.hits)))
        with np.errstate(invalid="ignore", divide="ignore"):
            gap = np.where(count > 0, np.abs(hit_sum - conf_sum) / np.where(count > 0, count, 1), -np.inf)
            accuracy = hit_sum.sum(axis=1) / n
            bin_acc = hit_sum / np.where(count > 0, count, 1)
            bin_conf = conf_sum / np.where(count > 0, count, 1)
        values.update({
            "ece_equal_width": np.abs(hit_sum - conf_sum).sum(axis=1) / n,
            "mce": gap.max(axis=1),
            "brier_reliability": (count * (bin_conf - bin_acc) ** 2).sum(axis=1) / n,
            "brier_resolution": (count * (bin_acc - accuracy[:, None]) ** 2).sum(axis=1) / n,
            "brier_uncertainty": accuracy * (1 - accuracy),
        })
    if set(names) & set(MASS_METRICS):
        m_count, m_conf, m_hits = equal_mass_sums(pairs, weights, bins)
        values.update({"ece_equal_mass": np.abs(m_hits - m_conf).sum(axis=1) / n,
                       "ece_debiased": _debiased_l2(m_count, m_conf, m_hits)})
    return values


def _debiased_l2(count: np.ndarray, conf_sum: np.ndarray, hit_sum: np.ndarray) -> np.ndarray:
    """Kumar et al.'s debiased L2 error from per-bin sums ``[B, bins]``; bins of < 2 pairs count 0."""
    safe = np.where(count > 0, count, 1)
    accuracy = hit_sum / safe
    variance = np.where(count >= 2, accuracy * (1 - accuracy) / np.where(count >= 2, count - 1, 1), 0.0)
    square = np.where(count >= 2, (conf_sum / safe - accuracy) ** 2 - variance, 0.0)
    return np.sqrt(np.maximum((count * square).sum(axis=1) / count.sum(axis=1), 0.0))


def debiased_l2_calibration_error(conf: np.ndarray, hits: np.ndarray, bin_index: np.ndarray) -> float:
    """The debiased L2 calibration error on a given binning (one bin index per pair)."""
    index = np.asarray(bin_index, dtype=np.int64)
    bins = int(index.max()) + 1
    sums = [np.bincount(index, weights=w, minlength=bins)[None, :]
            for w in (np.ones(index.size), np.asarray(conf, dtype=np.float64), np.asarray(hits, dtype=np.float64))]
    return float(_debiased_l2(*sums)[0])


# ------------------------------------------------------------------ ranking estimators
def auroc(pairs: Pairs, weights: np.ndarray) -> np.ndarray:
    """Probability that an event pair outranks a non-event pair (ties: one half).

    Only the tie groups that hold an event matter: for each, the weighted non-events below it and in it. The
    non-events are summed per interval between consecutive event groups (and per event group), so the cost is
    one pass over the pairs per row, not over every tie group."""
    events = np.unique(pairs.group[pairs.hits > 0])  # ascending tie groups holding an event
    if events.size == 0:
        return np.full(weights.shape[0], np.nan)  # one class absent
    slot = np.searchsorted(events, pairs.group, side="left")
    inside = (slot < events.size) & (events[slot.clip(0, max(0, events.size - 1))] == pairs.group)
    column = 2 * slot + inside  # 2i: between event groups i-1 and i; 2i+1: in event group i
    neg = pairs.weighted_sums(weights, "auroc-misses", column, 1.0 - pairs.hits, 2 * events.size + 1)
    event = pairs.hits > 0
    pos = pairs.weighted_sums(weights, "auroc-hits", slot[event], pairs.hits[event], events.size, event)
    below = np.cumsum(neg, axis=1)[:, 0:-1:2]  # non-events in every column before event group i's own
    tied = neg[:, 1::2]
    total_pos, total_neg = pos.sum(axis=1), neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = (pos * (below + 0.5 * tied)).sum(axis=1) / (total_pos * total_neg)
    return np.where((total_pos > 0) & (total_neg > 0), value, np.nan)


def risk_coverage(pairs: Pairs, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(coverage, risk, group weight)`` per tie group, most confident first, for each row."""
    w = pairs.group_sums(weights)[:, ::-1]
    errors = pairs.group_sums(weights, "misses")[:, ::-1]
    answered = np.cumsum(w, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        risk = np.where(answered > 0, np.cumsum(errors, axis=1) / np.where(answered > 0, answered, 1), 0.0)
    return answered / answered[:, -1:], risk, w


def aurc(pairs: Pairs, weights: np.ndarray) -> np.ndarray:
    """Mean risk over coverages ``1/N, 2/N, ..., 1`` (a tie group shares its end-point risk).

    With ``A_g`` the weight answered down to tie group ``g`` (most confident first) and ``H_g`` the events among
    it, AURC ``= sum_g w_g (A_g - H_g) / A_g / N = 1 - sum_g H_g (w_g / A_g) / N``. ``H`` changes only at groups
    holding an event, so ``w_g / A_g`` is summed per stretch between them and weighted by that stretch's ``H``."""
    descending = pairs.n_groups - 1 - pairs.group
    w = pairs.weighted_sums(weights, "aurc-ones", descending, np.ones(pairs.size), pairs.n_groups)
    answered = np.cumsum(w, axis=1)
    share = np.divide(w, answered, out=np.zeros_like(w), where=answered > 0)  # 0 before the first pair answered
    with np.errstate(invalid="ignore", divide="ignore"):
        event = pairs.hits > 0
        starts = np.unique(np.concatenate([[0], descending[event]]))  # stretches begin at 0 and at each event group
        stretch = np.add.reduceat(share, starts, axis=1)  # [B, stretches]
        hits = pairs.weighted_sums(weights, "aurc-hits", np.searchsorted(starts, descending[event]),
                                   pairs.hits[event], starts.size, event)
        return 1.0 - (np.cumsum(hits, axis=1) * stretch).sum(axis=1) / answered[:, -1]


# ------------------------------------------------------------------ smooth ECE
# ------------------------------------------------------------------ everything at once
def pointwise_means(pairs: Pairs, weights: np.ndarray) -> dict[str, np.ndarray]:
    n = pairs.total(weights)
    p = np.clip(pairs.conf, NLL_EPS, 1.0 - NLL_EPS)
    loss = -(pairs.hits * np.log(p) + (1.0 - pairs.hits) * np.log1p(-p))
    miss = 1.0 - pairs.hits
    per_query = {name: np.bincount(pairs.query, weights=v, minlength=pairs.n_queries)
                 for name, v in (("brier", (pairs.conf - pairs.hits) ** 2), ("nll", loss),
                                 ("hit_gap", pairs.hits * (1.0 - pairs.conf)), ("miss_gap", miss * pairs.conf),
                                 ("hits", pairs.hits), ("misses", miss))}
    sums = {name: weights @ v for name, v in per_query.items()}
    with np.errstate(invalid="ignore", divide="ignore"):
        balanced = (sums["hit_gap"] / sums["hits"] + sums["miss_gap"] / sums["misses"]) / 2
    return {"brier": sums["brier"] / n, "nll": sums["nll"] / n,
            "cb_ece": np.where((sums["hits"] > 0) & (sums["misses"] > 0), balanced, np.nan)}


def weighted_metrics(pairs: Pairs, weights: np.ndarray, bins: int,
                     names: tuple[str, ...] = WEIGHTED_METRICS) -> dict[str, np.ndarray]:
    """The estimators ``names`` (default: all of :data:`WEIGHTED_METRICS`) for each row of the query
    weights ``[B, Q]``; smECE, the slowest, is computed only when asked for."""
    if weights.shape[1] != pairs.n_queries:
        raise ValueError(f"weights have {weights.shape[1]} columns for {pairs.n_queries} queries")
    # rows at once: the widest array an estimator forms is [rows, groups] for auroc/aurc, else [rows, queries]
    # (or one equal-mass block's groups)
    widest = pairs.n_groups if {"auroc", "aurc"} & set(names) else \
        max(pairs.n_queries, mass_block_width(pairs, bins, weights.shape[0]))
    step = max(1, min(CHUNK_ELEMENTS // max(1, widest), -(-weights.shape[0] // WORKERS)))  # a chunk per core at least

    def chunk_metrics(first: int) -> dict[str, np.ndarray]:
        chunk = np.asarray(weights[first : first + step], dtype=np.float64)
        values = binned_metrics(pairs, chunk, bins, names)
        if set(names) & set(POINTWISE_METRICS):
            values.update(pointwise_means(pairs, chunk))
        if "smece" in names:
            values["smece"] = smece(pairs, chunk)
        for name, estimator in (("auroc", auroc), ("aurc", aurc)):
            if name in names:
                values[name] = estimator(pairs, chunk)
        return {name: values[name] for name in names}

    starts = range(0, weights.shape[0], step)
    if len(starts) > 1 and WORKERS > 1:  # rows are independent: chunks on every core (numpy releases the GIL)
        with ThreadPoolExecutor(WORKERS) as pool:
            parts = list(pool.map(chunk_metrics, starts))
    else:
        parts = [chunk_metrics(first) for first in starts]
    result = {name: [part[name] for part in parts] for name in names}
    return {name: np.concatenate(result[name]) for name in names}


def resample_weights(indices: np.ndarray, n_queries: int) -> np.ndarray:
    """Bootstrap draws ``[B, Q]`` of query indices -> how often each query was drawn ``[B, Q]``."""
    rows = indices.shape[0]
    flat = (indices + (np.arange(rows) * n_queries)[:, None]).reshape(-1)
    return np.bincount(flat, minlength=rows * n_queries).reshape(rows, n_queries).astype(np.float64)
