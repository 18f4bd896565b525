"""Indexing: ``subscript`` (``__getitem__``/``__setitem__``, masked_fill, nonzero), ``gather_scatter``
(index-driven reads and writes along a dim) and ``scatter_views`` (the functional forms of writing through a view)."""
