"""Stateless tensor/array functions: affines, peaks, sub-pixel refinement, flips."""
