"""The collector thresholds the SLA worker and replay processes run with."""

from __future__ import annotations

import gc

from services.common.gc_tuning import HELD_STATE_THRESHOLDS, tune_for_held_state


def test_held_state_thresholds_replace_the_defaults() -> None:
    before = gc.get_threshold()
    try:
        tune_for_held_state()
        assert gc.get_threshold() == HELD_STATE_THRESHOLDS
        assert HELD_STATE_THRESHOLDS[0] > 700  # CPython's default young generation
    finally:
        gc.set_threshold(*before)
