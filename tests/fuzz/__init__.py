"""Property-based fuzzing of torsh against PyTorch 2.13 (see README.md in this folder)."""
