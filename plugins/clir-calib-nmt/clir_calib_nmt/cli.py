"""`clir-calib nmt-train` and `clir-calib nmt-translate`: thin Typer commands over the library."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer


def register(app: typer.Typer) -> None:
    from clir_calib.cli.common import CONFIG_OPTION, SET_OPTION

    @app.command("nmt-train")
    def nmt_train(
        ctx: typer.Context,
        out: Path = typer.Option(
            ..., "--out", "-o", help="Folder for the trained model (written atomically)."
        ),
        lang: str = typer.Option(
            "de", "--lang", help="Source language (de, fr or cs); the target is English."
        ),
        data: Path | None = typer.Option(None, "--data", help="Prepared folder (default: data.prepared)."),
        encoder: str | None = typer.Option(None, "--encoder", help="Encoder (default: models.student.name)."),
        max_pairs: int = typer.Option(
            0, "--max-pairs", help="Use the first N training pairs (0: the full bitext, 29,000 for Multi30k)."
        ),
        val_pairs: int | None = typer.Option(None, "--val-pairs", help="Use the first N validation pairs."),
        epochs: int = typer.Option(10, "--epochs", help="Passes over the training pairs."),
        max_steps: int | None = typer.Option(None, "--max-steps", help="Stop after N optimiser steps."),
        batch_size: int = typer.Option(64, "--batch-size", help="Sentence pairs per step."),
        lr: float = typer.Option(1e-3, "--lr", help="Peak learning rate (linear warm-up and decay)."),
        max_length: int = typer.Option(64, "--max-length", help="Source and target tokens kept."),
        encoder_layers: int = typer.Option(
            8, "--encoder-layers", help="Keep the encoder's first N layers (0: all)."
        ),
        train_encoder_layers: int = typer.Option(
            0, "--train-encoder-layers", help="Also train the top K kept encoder layers (0: encoder frozen)."
        ),
        encoder_lr: float = typer.Option(1e-4, "--encoder-lr", help="Learning rate of those encoder layers."),
        decoder_layers: int = typer.Option(3, "--decoder-layers", help="Decoder layers."),
        decoder_hidden: int = typer.Option(256, "--decoder-hidden", help="Decoder width."),
        decoder_heads: int = typer.Option(4, "--decoder-heads", help="Decoder attention heads."),
        vocab_size: int = typer.Option(8000, "--vocab-size", help="English BPE vocabulary size."),
        beams: int = typer.Option(4, "--beams", help="Beam size for the validation translation."),
        select: str = typer.Option(
            "average", "--select", help="Saved weights: average (last epochs), best (val loss) or last."
        ),
        average_last: int = typer.Option(3, "--average-last", help="--select average: epochs averaged."),
        encoder_languages: str = typer.Option(
            "", "--encoder-languages", help="Languages the encoder reads (default: known for e5/XLM-R)."
        ),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out folder."),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
        config: Path | None = CONFIG_OPTION,
        overrides: list[str] | None = SET_OPTION,
    ) -> None:
        """Train a compact LANG->en translator on the Multi30k bitext for the `nmt` baseline."""
        from clir_calib.cli.common import console, resolve_config
        from clir_calib_nmt.recipe import train_options
        from clir_calib_nmt.training import train_from_prepared

        cfg = resolve_config(ctx, config, overrides)
        options = {k: v for k, v in ctx.params.items() if k not in _RUN_ARGUMENTS}
        train_config = train_options(cfg, **options)
        result = train_from_prepared(Path(data or cfg.data.prepared), train_config, out, overwrite=overwrite,
                                     progress=progress)
        console.print(_summary(result), soft_wrap=True)

    @app.command("nmt-translate")
    def nmt_translate(
        ctx: typer.Context,
        model: str = typer.Option(..., "--model", "-m", help="Model folder (from nmt-train) or hub name."),
        lang: str = typer.Option("de", "--lang", help="Language of the captions to translate."),
        split: str = typer.Option("test_2016_flickr", "--split", help="Evaluation split."),
        data: Path | None = typer.Option(None, "--data", help="Prepared folder (default: data.prepared)."),
        out: Path | None = typer.Option(None, "--out", "-o", help="Write translations here, one per line."),
        cache_dir: Path = typer.Option(Path("runs/cache"), "--cache-dir", help="Translation cache folder."),
        beams: int = typer.Option(4, "--beams", help="Beam size."),
        batch_size: int = typer.Option(32, "--batch-size", help="Sentences per generate() call."),
        max_length: int = typer.Option(
            128, "--max-length", help="Source tokens kept / target tokens generated."
        ),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
        config: Path | None = CONFIG_OPTION,
        overrides: list[str] | None = SET_OPTION,
    ) -> None:
        """Translate one split's LANG captions to English and report BLEU/chrF against Multi30k's."""
        from clir_calib.cli.common import console, resolve_config
        from clir_calib_nmt.translate_split import translate_split

        cfg = resolve_config(ctx, config, overrides)
        result = translate_split(model, Path(data or cfg.data.prepared), lang, split, cache_dir, device=cfg.device,
                                 num_beams=beams, batch_size=batch_size, max_length=max_length, progress=progress,
                                 out=out)
        console.print(_translation_summary(result, out), soft_wrap=True)


def _translation_summary(result: dict[str, Any], out: Path | None) -> str:
    scores, stats = result["scores"], result["cache"]
    how = f", zero-shot with the {stats['trained_on']} model" if stats.get("zero_shot") else ""
    return (f"{result['lang']}->en {result['split']}: BLEU {scores['bleu']}  chrF {scores['chrf']}  "
            f"({scores['sentences']} sentences{how}; {stats['translated']} translated, {stats['from_cache']} from "
            f"cache)" + (f"; translations in {out}" if out is not None else ""))


#: nmt-train options that say where and how to run, not what to train
_RUN_ARGUMENTS = ("out", "data", "overwrite", "progress", "config", "overrides")


def _summary(result: dict[str, Any]) -> str:
    val = result["val"]
    return (
        f"nmt-train {result['lang']}->en: val BLEU {val['bleu']}  chrF {val['chrf']} ({val['sentences']} sentences); "
        f"{result['steps']} steps on {result['train_pairs']} pairs, encode {result['encode_seconds']} s + train "
        f"{result['train_seconds']} s + eval {result['eval_seconds']} s = {result['total_seconds']} s on "
        f"{result['device']}; model in {result['out']}"
    )
