"""The bundle report: Markdown and self-contained HTML with plots of accuracy, size and latency."""
