"""Training-free embedding maps (mean-shift, gaussian-ot): known answers, POT, no alignment read, in evaluate."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from clir_calib.baselines import CorpusContext, EmbeddingContext
from clir_calib.cli import app
from clir_calib.maps.gaussian_ot import GaussianOTMap, gaussian_monge_map
from clir_calib.maps.mean_shift import MeanShiftMap, mean_shift


def samples(seed: int, n: int = 300, d: int = 6) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    source = rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) + rng.normal(size=d)
    target = rng.normal(size=(n + 17, d)) @ rng.normal(size=(d, d)) + rng.normal(size=d)
    return source, target


def test_gaussian_map_pushes_the_source_gaussian_onto_the_target_one() -> None:
    source, target = samples(0)
    a, b = gaussian_monge_map(source, target, reg=1e-9)
    mapped = source @ a.T + b
    np.testing.assert_allclose(mapped.mean(axis=0), target.mean(axis=0), atol=1e-9)
    np.testing.assert_allclose(np.cov(mapped.T, bias=True), np.cov(target.T, bias=True), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(a, a.T, atol=1e-9)  # a Monge map between Gaussians is a symmetric PSD matrix
    assert np.linalg.eigvalsh(a).min() > 0


@pytest.mark.parametrize("reg", [1e-6, 1e-2])
def test_gaussian_map_equals_pots(reg: float) -> None:
    import ot  # POT, a dev dependency: the reference this map is checked against
    source, target = samples(1)
    a, b = gaussian_monge_map(source, target, reg=reg)
    a_pot, b_pot = ot.gaussian.empirical_bures_wasserstein_mapping(source, target, reg=reg)
    new = np.random.default_rng(2).normal(size=(20, source.shape[1]))
    np.testing.assert_allclose(new @ a.T + b, new @ a_pot + b_pot, rtol=1e-7, atol=1e-9)
    linear = ot.da.LinearTransport(reg=reg).fit(Xs=source, Xt=target)
    np.testing.assert_allclose(new @ a.T + b, linear.transform(Xs=new), rtol=1e-7, atol=1e-9)


def test_mean_shift_moves_the_mean_and_nothing_else() -> None:
    source, target = samples(3)
    shifted = source + mean_shift(source, target)
    np.testing.assert_allclose(shifted.mean(axis=0), target.mean(axis=0), atol=1e-12)
    np.testing.assert_allclose(shifted - source, np.broadcast_to(shifted[0] - source[0], source.shape), atol=1e-12)


@pytest.mark.parametrize("map_class", [MeanShiftMap, GaussianOTMap])
def test_no_alignment_is_read_shuffling_one_side_leaves_the_map_unchanged(map_class: type) -> None:
    source, target = samples(4)
    new = np.random.default_rng(5).normal(size=(10, source.shape[1]))
    fitted, shuffled = map_class(renormalize=False), map_class(renormalize=False)
    fitted.fit_map(source, target)
    shuffled.fit_map(source[np.random.default_rng(6).permutation(len(source))], target)
    np.testing.assert_allclose(fitted.apply_map(new), shuffled.apply_map(new), rtol=1e-9, atol=1e-12)


def _context(prepared: Path, lang: str, seen: list[tuple[list[str], str, str]]) -> EmbeddingContext:
    def encode(texts: list[str], text_lang: str, what: str) -> np.ndarray:
        seen.append((list(texts), text_lang, what))
        rows = [np.random.default_rng(zlib.crc32(t.encode())).normal(size=4) for t in texts]
        return np.asarray(rows) + (1.0 if text_lang == "en" else -1.0)

    corpus = CorpusContext(lang, "test_2016_flickr", "translation", prepared, prepared / "cache")
    return EmbeddingContext(corpus, encode)


@pytest.mark.parametrize("map_class", [MeanShiftMap, GaussianOTMap])
def test_fitted_on_two_disjoint_halves_of_the_train_split_no_pair_a_translation(
    map_class: type, prepared_dir: Path
) -> None:
    from clir_calib.data.store import load_bitext

    seen: list[tuple[list[str], str, str]] = []
    baseline = map_class(sentences=8)
    documents = np.random.default_rng(7).normal(size=(5, 4))
    mapped = baseline.transform_embeddings(documents, _context(prepared_dir, "fr", seen))
    bitext = load_bitext(prepared_dir, "fr", "train")
    (xx_texts, xx_lang, _), (en_texts, en_lang, _) = seen
    assert (xx_lang, en_lang) == ("fr", "en")
    assert xx_texts == list(bitext.xx[:8]) and en_texts == list(bitext.en[8:16])
    np.testing.assert_allclose(np.linalg.norm(mapped, axis=1), 1.0, rtol=1e-6)  # renormalised: scores stay cosines
    assert baseline.last_stats["fitted_on"] == {"lang": "fr", "xx_lines": [0, 8], "en_lines": [8, 16]}


def test_too_little_train_text_is_one_line_naming_the_parameter(prepared_dir: Path) -> None:
    from clir_calib.errors import DataError

    with pytest.raises(DataError, match="lower its sentences parameter"):
        MeanShiftMap(sentences=10_000).transform_embeddings(np.ones((2, 4)), _context(prepared_dir, "de", []))


def test_evaluate_scores_mapped_documents_and_records_the_map(
    prepared_dir: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    common = ["--device", "cpu", "evaluate", "--prepared", str(prepared_dir), "--teacher", str(tiny_model_dir),
              "--set", f"evaluate.index_dir={tmp_path / 'index'}", "--top-k", "10", "--bootstrap", "20",
              "--no-progress", "--langs", "de", "--tasks", "translation", "--splits", "test_2016_flickr"]
    outputs = {}
    for name, extra in (("base", ["-m", str(tiny_model_dir)]), ("gaussian-ot", ["--baseline", "gaussian-ot",
                                                                                 "--set", "evaluate.params.sentences=16"])):
        out = tmp_path / name
        result = CliRunner().invoke(app, [*common, *extra, "--name", name, "--out", str(out)])
        assert result.exit_code == 0, result.output
        outputs[name] = out / "translation" / "de" / "test_2016_flickr"
    metrics = json.loads((outputs["gaussian-ot"] / "metrics.json").read_text())
    assert metrics["baseline"]["fitted_on"] == {"lang": "de", "xx_lines": [0, 16], "en_lines": [16, 32]}
    base = np.load(outputs["base"] / "scored.npz")["scores"]
    moved = np.load(outputs["gaussian-ot"] / "scored.npz")["scores"]
    assert base.shape == moved.shape and not np.allclose(base, moved)
