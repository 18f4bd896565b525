"""Shape ops: ``views`` (view, reshape, transpose, ..., cat/stack/split), ``rearrange`` (flips, rolls,
repeats, diagonals, broadcasting, stacking helpers, splitting, grids) and ``view_copy`` (the ``*_copy``
variants of the views)."""
