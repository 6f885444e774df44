"""The collector settings the SLA worker, replay processes and API servers run with."""

from __future__ import annotations

import gc

from services.common.gc_tuning import (
    HELD_STATE_THRESHOLDS,
    freeze_startup_objects,
    tune_for_held_state,
)


def test_held_state_thresholds_replace_the_defaults() -> None:
    before = gc.get_threshold()
    try:
        tune_for_held_state()
        assert gc.get_threshold() == HELD_STATE_THRESHOLDS
        assert HELD_STATE_THRESHOLDS[0] > 700  # CPython's default young generation
    finally:
        gc.set_threshold(*before)


def test_freezing_start_up_objects_takes_them_out_of_collections() -> None:
    survivor = [object() for _ in range(1000)]
    try:
        freeze_startup_objects()
        assert gc.get_freeze_count() >= len(survivor)
        assert not any(obj is survivor for obj in gc.get_objects())
    finally:
        gc.unfreeze()
