"""Fourier transforms: ``transforms`` (torsh.fft's transforms) and ``spectral`` (stft, istft, the complex views)."""
