"""Time per text of langdetect and of turnscope's re-implementation, on the same texts.

The texts are the chat-style answers of benchmarks/checkers.py (80-400 words, paragraphs,
markdown bullets and emphasis, numbers, abbreviations), a tenth each in capitals and in
lower case as the english_capital and english_lowercase checks see them; the times are also
given per kind. langdetect runs as the
checkers used to call it (a DetectorFactory seeded with 0), turnscope's as
`_langdetect.detect`; the answers are compared too.

Both are warmed up on other texts first (profiles loaded). turnscope's word cache then
holds the vocabulary of those texts, as it does in any run of more than a few answers; the
time with that cache emptied before every text is printed as well. The detectors take turns
over all texts, and each text keeps its best time over the passes.

    python benchmarks/langdetect_speed.py [--texts N] [--seed S] [--passes P]
"""

from __future__ import annotations

import argparse
import math
import random
import time
from collections.abc import Callable

from checkers import chat_answer
from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory
from langdetect.lang_detect_exception import LangDetectException

from turnscope.scorers.ifeval import _langdetect

NAMES = ("langdetect", "turnscope", "turnscope, cold word cache")


KINDS = ("as written", "capitals", "lower case")


def texts_for(count: int, seed: int) -> list[str]:
    return [text for text, _ in kinds_of_texts(count, seed)]


def kinds_of_texts(count: int, seed: int) -> list[tuple[str, str]]:
    """(text, kind): chat answers, a tenth each in capitals and in lower case."""
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        text = chat_answer(rng)
        roll = rng.random()
        if roll < 0.1:
            texts.append((text.upper(), KINDS[1]))
        elif roll < 0.2:
            texts.append((text.lower(), KINDS[2]))
        else:
            texts.append((text, KINDS[0]))
    return texts


def timed(detect: Callable[[str], str | None], text: str) -> tuple[float, str | None]:
    start = time.perf_counter()
    answer = detect(text)
    return time.perf_counter() - start, answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=500)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--passes", type=int, default=2)
    args = parser.parse_args()

    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    factory.seed = 0

    def langdetect(text: str) -> str | None:
        detector = factory.create()
        detector.append(text)
        try:
            return str(detector.detect())
        except LangDetectException:
            return None

    def forget_words() -> None:
        _langdetect._SPACED.clear()
        _langdetect._UNSPACED.clear()
        _langdetect.verdict.cache_clear()

    kinds = kinds_of_texts(args.texts, args.seed)
    texts = [text for text, _ in kinds]
    for text in texts_for(50, args.seed + 1000):  # warm-up on other texts
        langdetect(text)
        _langdetect.detect(text)

    # Timings on this kind of machine drift by tens of percent from one second to the next:
    # the detectors take turns, a whole pass over the texts each, and every text keeps its
    # best time. (Alternating text by text would time each detector with the CPU caches
    # full of the other's data, which no real run does.)
    best: dict[str, list[float]] = {name: [math.inf] * len(texts) for name in NAMES}
    answers: dict[str, list[str | None]] = {"langdetect": [], "turnscope": []}
    for run in range(args.passes):
        for name, detect in (("langdetect", langdetect), ("turnscope", _langdetect.detect)):
            for index, text in enumerate(texts):
                _langdetect.verdict.cache_clear()  # a verdict from an earlier pass is no work
                seconds, answer = timed(detect, text)
                best[name][index] = min(best[name][index], seconds)
                if run == 0:
                    answers[name].append(answer)
    for index, text in enumerate(texts):  # last, as it empties the cache
        forget_words()
        best[NAMES[2]][index] = timed(_langdetect.detect, text)[0]

    words = [len(t.split()) for t in texts]
    mean = {}
    for name in NAMES:
        mean[name] = sum(best[name]) / len(texts) * 1e6
        typical = [s for s, w in zip(best[name], words, strict=True) if 120 <= w <= 180]
        print(
            f"{name:28s} {mean[name]:8.1f} us per text"
            f"   ({sum(typical) / len(typical) * 1e6:7.1f} us for the {len(typical)} texts"
            " of 120-180 words)"
        )
    for kind in KINDS:
        chosen = [index for index, (_, k) in enumerate(kinds) if k == kind]
        ratio = sum(best["langdetect"][i] for i in chosen) / sum(
            best["turnscope"][i] for i in chosen
        )
        print(
            f"  {kind:12s} {len(chosen):4d} texts: langdetect"
            f" {sum(best['langdetect'][i] for i in chosen) / len(chosen) * 1e6:7.1f} us,"
            f" turnscope {sum(best['turnscope'][i] for i in chosen) / len(chosen) * 1e6:6.1f} us,"
            f" {ratio:4.1f} times faster"
        )
    agree = sum(a == b for a, b in zip(answers["langdetect"], answers["turnscope"], strict=True))
    print(f"{len(texts)} texts of {sum(words) / len(words):.0f} words on average;")
    print(f"same answer as langdetect for {agree} of {len(texts)}")
    print(f"RESULT langdetect_speedup={mean['langdetect'] / mean['turnscope']:.1f}")
    print(f"RESULT langdetect_us_per_text={mean['turnscope']:.1f}")


if __name__ == "__main__":
    main()
