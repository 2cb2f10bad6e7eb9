"""Human-facing output: the terminal summary and the self-contained HTML reports."""

from turnscope.report.html import (
    REPORT_FILE,
    RunTallies,
    render_comparison_report,
    render_run_report,
    write_run_report,
)
from turnscope.report.terminal import (
    render_comparison,
    render_flag_report,
    render_instruction_report,
    render_judge_report,
    render_multiturn,
    render_run_location,
    render_summary,
)

__all__ = [
    "REPORT_FILE",
    "RunTallies",
    "render_comparison",
    "render_comparison_report",
    "render_flag_report",
    "render_instruction_report",
    "render_judge_report",
    "render_multiturn",
    "render_run_location",
    "render_run_report",
    "render_summary",
    "write_run_report",
]
