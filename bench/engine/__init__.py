"""Inference (pad, tile, batch, precision) and training of derainers."""
