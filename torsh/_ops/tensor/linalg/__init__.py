"""Linear algebra: ``matmul`` (matmul, mm, bmm, mv, dot, outer), ``products`` (addmm & co, einsum,
tensordot, ...), ``core`` (torch.linalg's norms, inverses, solvers, decompositions), ``factorizations``
(LU/LDL, triangular solves, matrix_exp, ``*_ex``) and ``legacy`` (PyTorch's top-level torch.svd, torch.lu, ...)."""
