"""The filter stage: a chain of small checks over enriched examples (see `stage.py`)."""

from taskseed.filter.stage import build_checks, run_filter

__all__ = ["build_checks", "run_filter"]
