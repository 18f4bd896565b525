"""Compiled Pythran kernel modules, built by meson at install time (see kernels_pythran/)."""
