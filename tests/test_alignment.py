import numpy as np
import pytest

from clir_calib.alignment import align_pair, plot_alignment
from clir_calib.errors import DataError
from clir_calib.models.encoder import Encoder


@pytest.fixture(scope="module")
def tiny_encoder(tiny_model_dir):
    return Encoder.from_pretrained(tiny_model_dir, device="cpu")


def test_plan_has_uniform_marginals_and_token_axes(tiny_encoder, tmp_path):
    alignment = align_pair(tiny_encoder, tiny_encoder, "a dog runs in the street", "ein hund läuft", epsilon=0.1)
    n, m = len(alignment.translation_tokens), len(alignment.english_tokens)
    assert alignment.plan.shape == (n, m)
    np.testing.assert_allclose(alignment.plan.sum(axis=1), np.full(n, 1 / n), atol=1e-4)
    np.testing.assert_allclose(alignment.plan.sum(axis=0), np.full(m, 1 / m), atol=1e-4)
    assert alignment.english_tokens[0] == "[CLS]" and alignment.translation_tokens[-1] == "[SEP]"
    assert alignment.transport_cost == pytest.approx(float((alignment.plan * alignment.cost).sum()))
    partners = alignment.strongest_partners()
    assert len(partners) == n and all(0 < share <= 1 for _, _, share in partners)
    png = plot_alignment(alignment, tmp_path / "plan.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_identical_sentences_align_on_the_diagonal(tiny_encoder):
    alignment = align_pair(tiny_encoder, tiny_encoder, "two dogs play with a ball", "two dogs play with a ball", epsilon=0.01)
    assert (alignment.plan.argmax(axis=1) == np.arange(alignment.plan.shape[0])).mean() > 0.8


def test_empty_sentence_is_a_clear_error(tiny_encoder):
    with pytest.raises(DataError, match="non-empty"):
        align_pair(tiny_encoder, tiny_encoder, "a dog", "  ")


def test_align_cli_writes_heatmap_and_prints_partners(tiny_model_dir, tmp_path):
    from typer.testing import CliRunner

    from clir_calib.cli import app

    out = tmp_path / "plan.png"
    result = CliRunner().invoke(
        app,
        ["--device", "cpu", "align", "a dog runs", "ein hund läuft", "--student", str(tiny_model_dir),
         "--teacher", str(tiny_model_dir), "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:4] == b"\x89PNG"
    assert "Strongest partner" in result.output and "hund" in result.output
