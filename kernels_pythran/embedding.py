"""Embedding backward: the rows of the output gradient added into the weight gradient by index.

``out`` arrives zeroed (num_embeddings, dim); row ``t`` of ``g`` goes to ``out[idx[t]]`` unless
``idx[t] == pad`` (padding_idx, or -1 for none). Threads split the embedding dim into column
blocks, so each writes only its own columns of every row: no two threads touch one element,
whatever the indices repeat, and no sort is needed.
"""

# pythran export embedding_backward(float32[:,:], int64[:], int64, float32[:,:], int, bool)
# pythran export embedding_backward(float64[:,:], int64[:], int64, float64[:,:], int, bool)


def _add_rows(g, idx, pad, out, start, stop):
    for t in range(idx.shape[0]):
        i = idx[t]
        if i != pad:
            out[i, start:stop] += g[t, start:stop]


def _indices_within(idx, size):
    """Whether every index is in [0, size): one vectorised pass, since indices are data."""
    if idx.shape[0] == 0:
        return True
    return idx.min() >= 0 and idx.max() < size


def embedding_backward(g, idx, pad, out, blocks, parallel):
    """out[idx[t]] += g[t] for every t with idx[t] != pad; ``blocks`` column blocks."""
    # checked here too, not only by the caller: a bad row count or index would write out of bounds
    if g.shape[0] != idx.shape[0] or g.shape[1] != out.shape[1] or blocks < 1:
        raise ValueError("embedding_backward: g needs a row per index and out's width, blocks >= 1")
    if not _indices_within(idx, out.shape[0]):
        raise ValueError("embedding_backward: an index is outside out's rows")
    dim = g.shape[1]
    if parallel:
        # omp parallel for schedule(static)
        for k in range(blocks):
            _add_rows(g, idx, pad, out, k * dim // blocks, (k + 1) * dim // blocks)
    else:
        _add_rows(g, idx, pad, out, 0, dim)
