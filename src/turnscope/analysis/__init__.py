"""Metrics over stored records."""

from turnscope.analysis.summary import Cell, RunSummary, summarise

__all__ = ["Cell", "RunSummary", "summarise"]
