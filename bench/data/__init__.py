"""Data: image reading, dataset readers and manifests, rain synthesis, set builders."""
