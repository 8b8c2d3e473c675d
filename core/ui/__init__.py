"""Helpers for the pages: HTML rendering (escaped), plotly figures, presets, examples, exports."""
