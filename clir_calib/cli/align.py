"""`clir-calib align`: the OT plan between an English sentence and its translation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from clir_calib.cli.common import console, state


def register(app: typer.Typer) -> None:
    @app.command("align")
    def align(
        ctx: typer.Context,
        english: str = typer.Argument(..., help="The English sentence (encoded by the teacher)."),
        translation: str = typer.Argument(..., help="Its translation (encoded by the student)."),
        student: str = typer.Option(
            "intfloat/multilingual-e5-small", "--student", help="A distill run folder, a model name or a path."
        ),
        teacher: str | None = typer.Option(
            None, "--teacher", help="Teacher model; default: the run's teacher (its config.yaml), else e5-small."
        ),
        out: Path = typer.Option(Path("alignment.png"), "--out", "-o", help="Where to write the heatmap PNG."),
        epsilon: float = typer.Option(0.05, "--epsilon", help="Entropic regularisation of the plan."),
        tau: float | None = typer.Option(None, "--tau", help="Unbalanced OT: KL marginal weight (omit: balanced)."),
        drop_special: bool = typer.Option(
            False, "--drop-special-tokens/--keep-special-tokens", help="Give special tokens no mass, as the loss can."
        ),
        drop_prefix: bool = typer.Option(
            False, "--drop-prefix-tokens/--keep-prefix-tokens",
            help="Give the role's text prefix (E5's 'passage: ') no mass, as the loss can."
        ),
    ) -> None:
        """Show the OT plan between the two token sequences: heatmap PNG + each token's strongest partner."""
        from clir_calib.alignment import align_with_models, plot_alignment

        alignment = align_with_models(student, teacher, english, translation, device=state(ctx).device,
                                      epsilon=epsilon, tau=tau, drop_special_tokens=drop_special,
                                      drop_prefix_tokens=drop_prefix)
        plot_alignment(alignment, out)
        render_alignment(alignment, out)


def render_alignment(alignment: Any, out: Path) -> None:
    table = Table(title=f"Strongest partner of each token (<P,C> = {alignment.transport_cost:.4f})")
    table.add_column("translation token")
    table.add_column("English token")
    table.add_column("share", justify="right")
    for token, partner, share in alignment.strongest_partners():
        table.add_row(token, partner, f"{share:.0%}")
    console.print(table)
    console.print(f"heatmap: {out}")
