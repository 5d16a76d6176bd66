"""The hooks through which clir-calib is extended.

Every built-in loss, calibrator, adapter, model provider, dataset and baseline comes in through these hooks,
exactly as a third-party plugin's would. Hooks *register* things: each receives a
``register`` callable and calls it once per component it provides.

A plugin is a module (or a package exposing one through the ``clir_calib`` entry-point group)
with functions decorated by :data:`hookimpl`::

    from clir_calib import hookimpl

    @hookimpl
    def register_alignment_losses(register):
        register(MyLoss)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

PROJECT_NAME = "clir_calib"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_alignment_losses(register: Callable[[type[Any]], None]) -> None:
    """Register alignment losses for ``distill``.

    :param register: call ``register(LossClass)`` for each subclass of
        :class:`clir_calib.losses.base.AlignmentLoss` the plugin provides. The class's ``name``
        is the key users give in configs (``--loss NAME``); its ``params`` are the declared
        parameters. Registering a name twice is an error.
    """


@hookspec
def register_calibrators(register: Callable[[type[Any]], None]) -> None:
    """Register score calibrators for ``calibrate`` and ``evaluate --calibrator``.

    :param register: call ``register(CalibratorClass)`` for each subclass of
        :class:`clir_calib.calibrators.base.Calibrator`, keyed by its ``name``.
    """


@hookspec
def register_transfer_adapters(register: Callable[[type[Any]], None]) -> None:
    """Register label-free calibration-transfer adapters for ``calibrate --adapt``.

    :param register: call ``register(AdapterClass)`` for each subclass of
        :class:`clir_calib.adapters.base.TransferAdapter`, keyed by its ``name``. An adapter learns
        from the seen language's scores and labels and from a target language's scores only
        (:class:`~clir_calib.adapters.base.TargetScores` has no labels), and maps the target's scores
        (or probabilities) before the seen-language calibrator is applied there. An adapter that needs
        the fitted calibrator's outputs (ATC's confidence threshold) learns them in ``fit_to_calibrator``.
    """


@hookspec
def register_model_providers(register: Callable[[Any], None]) -> None:
    """Register offline model providers.

    A provider turns a model name (for example ``intfloat/multilingual-e5-small``) into a local
    Hugging Face folder when the hub cannot be reached, typically by converting weights that a
    Python package ships.

    :param register: call ``register(provider)`` with an object that has a ``name`` attribute,
        a ``model_names`` tuple it can serve and a ``materialize(model_name, cache_dir) -> Path``
        method (see :mod:`clir_calib.models.providers`).
    """


@hookspec
def register_baselines(register: Callable[[type[Any]], None]) -> None:
    """Register document-side baselines (for example NMT translate-test).

    :param register: call ``register(BaselineClass)``; a baseline rewrites a task's target-language
        documents (e.g. translates them into English) before they are encoded, and/or maps their
        embeddings after (``maps_embeddings = True`` and ``transform_embeddings``, as the built-in
        training-free maps ``mean-shift`` and ``gaussian-ot`` do), so that ``evaluate`` and ``run``
        score it next to the distilled students without special cases.
    """


@hookspec
def register_datasets(register: Callable[[type[Any]], None]) -> None:
    """Register datasets for ``prepare`` (``data.dataset`` / ``--dataset``).

    :param register: call ``register(DatasetClass)`` for each subclass of
        :class:`clir_calib.data.datasets.Dataset`, keyed by its ``name``. A dataset's ``build(request)``
        reads a source (a folder or URL) and returns bitext and retrieval tasks (queries, corpus, qrels
        per language and split) as a :class:`~clir_calib.data.datasets.DatasetContent`, which ``prepare``
        writes in the layout ``distill``, ``evaluate`` and ``calibrate`` read. Built-ins: ``multi30k``, ``folder``.
    """


@hookspec
def register_report_sections(register: Callable[[type[Any]], None]) -> None:
    """Register sections of the study report.

    :param register: call ``register(SectionClass)`` for each subclass of
        :class:`clir_calib.report.sections.ReportSection`: a ``name``, a ``description``, an ``order`` (where it
        goes among the built-ins, which use 10, 20, ...) and ``render(ctx)``, which writes through the report
        context (``ctx.table(headers, rows, caption)`` reaches Markdown, HTML, LaTeX, ``tables.json`` and the
        terminal at once). The built-in sections register through this hook too.
    """


@hookspec
def register_executors(register: Callable[[type[Any]], None]) -> None:
    """Register study executors (``executor:`` in a config, ``clir-calib run --executor``).

    :param register: call ``register(ExecutorClass)`` for each subclass of
        :class:`clir_calib.pipeline.executors.StudyExecutor`: ``run(jobs)`` runs every
        :class:`~clir_calib.pipeline.executors.StageJob` after the jobs it ``needs`` and returns their results in
        job order. The built-in ``local`` (in process, in order) and ``ray`` (one Ray task per stage) register
        through this hook too; stage hashes, markers and folder locks keep any executor's outputs interchangeable.
    """


@hookspec
def register_commands(app: Any) -> None:
    """Add sub-commands to the ``clir-calib`` Typer application.

    :param app: the :class:`typer.Typer` application; use ``@app.command()`` on your functions.
    """
