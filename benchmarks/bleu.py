"""Cost of the `bleu` scorer per answer, beside sacrebleu's corpus_bleu on the same pairs.

Answers and references are the size of a translated news document in Lost in Conversation's
translation task (150-300 words, punctuation and numbers mixed in); each answer has 1-3
references, as data2text's ToTTo samples do. Every text is fresh (sacrebleu's tokeniser caches
the lines it has seen), everything is generated first and only the scoring is timed. The
sacrebleu figure needs `pip install sacrebleu` (a test dependency of turnscope).

    python benchmarks/bleu.py [--pairs N] [--seed S]
"""

from __future__ import annotations

import argparse
import random
import time

from turnscope.scorers.bleu import bleu

_VOCABULARY = (
    "the of and to in is that for it as with was on be by this are or from at an which city "
    "council mayor river bridge market winter summer police report school road train station "
    "Munich Berlin said would also new year people two three first last million percent week"
)
_WORDS = tuple(_VOCABULARY.split())
_FLAVOUR = (",", ".", "3.5", "1,000", "2-3", "(", ")", '"', "'s", "e.g.", "U.S.", "—", ":")


def _text(rng: random.Random, words: int) -> str:
    tokens = [rng.choice(_WORDS) for _ in range(words)]
    for _ in range(words // 8):
        tokens.insert(rng.randrange(len(tokens)), rng.choice(_FLAVOUR))
    # A unique number keeps every text fresh for the tokenisers' caches.
    return " ".join(tokens) + f" {rng.randrange(10**9)}."


def _variant(rng: random.Random, text: str) -> str:
    words = text.split()
    for _ in range(len(words) // 4):
        words[rng.randrange(len(words))] = rng.choice(_WORDS)
    return " ".join(words)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    pairs = []
    for _ in range(args.pairs):
        reference = _text(rng, rng.randint(150, 300))
        others = [_variant(rng, reference) for _ in range(rng.randint(0, 2))]
        pairs.append((_variant(rng, reference), [reference, *others]))
    started = time.perf_counter()
    ours = [bleu(answer, references).score for answer, references in pairs]
    elapsed = time.perf_counter() - started
    print(f"turnscope bleu: {args.pairs} answers in {elapsed:.3f} s")
    print(f"RESULT bleu_ms_per_answer={1000 * elapsed / args.pairs:.3f}")
    try:
        import sacrebleu
    except ImportError:
        print("sacrebleu is not installed: no comparison")
        return
    started = time.perf_counter()
    theirs = [
        sacrebleu.corpus_bleu([answer], [[r] for r in references]).score / 100
        for answer, references in pairs
    ]
    peer = time.perf_counter() - started
    worst = max(abs(a - b) for a, b in zip(ours, theirs, strict=True))
    print(f"sacrebleu corpus_bleu: {args.pairs} answers in {peer:.3f} s")
    print(f"RESULT sacrebleu_ms_per_answer={1000 * peer / args.pairs:.3f}")
    print(f"RESULT bleu_time_over_sacrebleu={elapsed / peer:.2f}")
    print(f"RESULT largest_difference={worst:.1e}")


if __name__ == "__main__":
    main()
