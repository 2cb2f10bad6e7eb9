"""gc_paused: the cycle collector paused for a block, and what the block built left to it."""

from __future__ import annotations

import gc
import weakref

from turnscope.core import gc_paused


class _Node:
    """An object that can take part in a reference cycle."""

    link: object = None


def test_paused_inside_restored_after_and_cycles_still_collected() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer block is still running
        node = _Node()
        node.link = node
        gone = weakref.ref(node)
        del node
    assert gc.isenabled()
    gc.collect()
    assert gone() is None


def test_objects_the_program_froze_stay_frozen() -> None:
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with gc_paused():
            built = [_Node() for _ in range(100)]
        assert gc.get_freeze_count() == frozen
        assert built
    finally:
        gc.unfreeze()


def test_a_paused_collector_stays_paused() -> None:
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
