"""Tables and figures rendered from stored run records (never recomputed)."""
