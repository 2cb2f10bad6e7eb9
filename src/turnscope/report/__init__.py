"""Human-facing output: the terminal summary."""

from turnscope.report.terminal import (
    fmt_cell,
    render_instruction_report,
    render_judge_report,
    render_run_location,
    render_summary,
)

__all__ = [
    "fmt_cell",
    "render_instruction_report",
    "render_judge_report",
    "render_run_location",
    "render_summary",
]
