"""Run records: schema-versioned JSON written atomically, and the per-image journal used to resume."""
