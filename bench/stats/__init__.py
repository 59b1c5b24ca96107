"""Statistics over stored per-image data: paired bootstrap intervals, paired tests, power (docs/statistics.md)."""
