"""Target encoders (per sample, CPU, NumPy) and batched decoders (torch) shared by methods."""
