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


def embedding_backward(g, idx, pad, out, blocks, parallel):
    """out[idx[t]] += g[t] for every t with idx[t] != pad; ``blocks`` column blocks."""
    dim = g.shape[1]
    if parallel:
        # omp parallel for schedule(static)
        for k in range(blocks):
            _add_rows(g, idx, pad, out, k * dim // blocks, (k + 1) * dim // blocks)
    else:
        _add_rows(g, idx, pad, out, 0, dim)
