"""Downstream models (detectors, segmenters) and their scorers, behind one small interface."""
