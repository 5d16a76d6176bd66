"""`clir-calib plugins`: every registered component with its parameters and defaults."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.table import Table

from clir_calib.cli.common import console


def plugin_listing() -> dict[str, Any]:
    """Registered components by kind, as JSON-friendly data (also used by ``--json``)."""
    from clir_calib import plugins

    def describe_all(registry: dict[str, Any]) -> list[dict[str, Any]]:
        rows = []
        for component in registry.values():
            describe = getattr(component, "describe", None)
            rows.append(describe() if callable(describe) else {"name": getattr(component, "name", "")})
        return rows

    return {
        "alignment_losses": describe_all(plugins.ALIGNMENT_LOSSES.all()),
        "calibrators": describe_all(plugins.CALIBRATORS.all()),
        "transfer_adapters": describe_all(plugins.TRANSFER_ADAPTERS.all()),
        "baselines": describe_all(plugins.BASELINES.all()),
        "datasets": describe_all(plugins.DATASETS.all()),
        "model_providers": describe_all(plugins.MODEL_PROVIDERS.all()),
        "report_sections": sorted(describe_all(plugins.REPORT_SECTIONS.all()), key=lambda r: (r["order"], r["name"])),
        "plugins": plugins.plugin_sources(),
    }


def register(app: typer.Typer) -> None:
    @app.command("plugins")
    def plugins_command(
        as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON instead of tables."),
    ) -> None:
        """List registered alignment losses, calibrators, transfer adapters, baselines, datasets, model providers and
        report sections."""
        listing = plugin_listing()
        if as_json:
            typer.echo(json.dumps(listing, indent=2, default=str))
        else:
            render_listing(listing)


TITLES = {
    "alignment_losses": "Alignment losses",
    "calibrators": "Calibrators",
    "transfer_adapters": "Calibration-transfer adapters (label-free)",
    "baselines": "Baselines",
    "datasets": "Datasets (prepare --dataset)",
    "model_providers": "Offline model providers",
    "report_sections": "Report sections (rendered by `order`)",
}


def render_listing(listing: dict[str, Any]) -> None:
    """One table per kind (name, parameters with type, default and help, description), then the plugins."""
    for key, title in TITLES.items():
        table = Table(title=title, title_justify="left", show_lines=False)
        table.add_column("name", style="bold cyan")
        table.add_column("parameters (type = default (help))")
        table.add_column("description")
        for row in listing[key]:
            params = "\n".join(
                f"{p['name']}: {p['type']} = {p['default']!r} ({p['help']}{'; ' + p['allowed'] if 'allowed' in p else ''})"
                for p in row.get("params", [])
            ) or "-"
            description = row.get("description", "")
            if "order" in row:
                description = f"[{row['order']:g}] {description}"
            if row.get("model_names"):
                description = f"{description} ({', '.join(row['model_names'])})".strip()
            table.add_row(row.get("name", ""), params, description)
        console.print(table)
    sources = Table(title="Plugins", title_justify="left")
    sources.add_column("plugin")
    sources.add_column("source")
    for row in listing["plugins"]:
        sources.add_row(row["name"], row["source"])
    console.print(sources)
