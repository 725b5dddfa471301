"""``hopwatch`` whose score jobs pause between scoring and committing, so a crash test can
kill the worker exactly there. Test-only: the pause is this wrapper's, not the product's.

Usage: ``HOPWATCH_TEST_PAUSE=2.5 python slow_worker.py worker score``.
"""

from __future__ import annotations

import os
import time

from service.cli.main import main
from service.workers import tasks

_pause = float(os.environ["HOPWATCH_TEST_PAUSE"])
_score_window = tasks.score_window


def _slow_score_window(*args, **kwargs):
    alerts = _score_window(*args, **kwargs)
    time.sleep(_pause)
    return alerts


tasks.score_window = _slow_score_window
main()
