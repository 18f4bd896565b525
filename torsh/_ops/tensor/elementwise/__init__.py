"""Elementwise ops: ``arithmetic`` (arithmetic, unary math, comparisons, logical ops, where, clamp) and
``math_functions`` (binary math, special functions, nan_to_num, closeness tests, integer-only ops)."""
