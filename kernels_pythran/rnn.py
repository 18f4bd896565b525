"""LSTM and GRU cell steps: the elementwise part of one time step, fused into one pass.

The recurrent GEMM (h_prev @ W_hh^T forward, d_gates @ W_hh backward) stays in NumPy (BLAS;
Pythran's np.dot here is not), so a time step is one GEMM plus one call of these kernels. All
operands are C-contiguous (batch, k*hidden) rows; gate order as PyTorch: LSTM (i, f, g, o),
GRU (r, z, n). Each row is worked on in slices of ``hidden`` elements, one operation per
statement, so that exp and tanh run as vectorised (xsimd) array expressions. Sigmoid is
1 / (1 + exp(-x)) (exp(-x) = inf for x << 0 gives the right limit 0) and the LSTM's g gate
tanh(g) = 2 sigmoid(2g) - 1, one exp pass over all four gates. Only integer literals appear:
a float literal would turn float32 expressions into float64 ones.

Forward kernels save what backward needs: LSTM the activations (sigmoid i, f, o, tanh g) and
tanh(c); GRU the activations (r, z, n) and hn = h_prev W_hn^T + b_hn.
"""

# pythran export lstm_step_forward(float32[:,:] order(C), float32[:,:] order(C), float32[:,:] order(C), float32[:,:] order(C), float32[:,:] order(C), float32[:,:] order(C), float32[:,:] order(C), bool)
# pythran export lstm_step_forward(float64[:,:] order(C), float64[:,:] order(C), float64[:,:] order(C), float64[:,:] order(C), float64[:,:] order(C), float64[:,:] order(C), float64[:,:] order(C), bool)
# pythran export lstm_step_backward(float32[:,:] order(C), float32[:,:] order(C), float32[:,:] order(C), float32[:,:] order(C), float32[:,:] order(C), float32[:,:] order(C), float32[:,:] order(C), bool)
# pythran export lstm_step_backward(float64[:,:] order(C), float64[:,:] order(C), float64[:,:] order(C), float64[:,:] order(C), float64[:,:] order(C), float64[:,:] order(C), float64[:,:] order(C), bool)
# pythran export gru_step_forward(float32[:,:] order(C), float32[:,:] order(C), float32[:], float32[:,:] order(C), float32[:,:] order(C), float32[:,:] order(C), float32[:,:] order(C), bool)
# pythran export gru_step_forward(float64[:,:] order(C), float64[:,:] order(C), float64[:], float64[:,:] order(C), float64[:,:] order(C), float64[:,:] order(C), float64[:,:] order(C), bool)
# pythran export gru_step_backward(float32[:,:] order(C), float32[:,:] order(C), float32[:,:] order(C), float32[:,:] order(C), float32[:,:] order(C), float32[:,:] order(C), float32[:,:] order(C), float32[:,:] order(C), bool)
# pythran export gru_step_backward(float64[:,:] order(C), float64[:,:] order(C), float64[:,:] order(C), float64[:,:] order(C), float64[:,:] order(C), float64[:,:] order(C), float64[:,:] order(C), float64[:,:] order(C), bool)

import numpy as np


# Each step checks its operands' shapes first (O(1)): the loops index rows and gate columns by
# the shapes of one operand, and a smaller other operand would be read or written out of bounds.
def _rows_of(a, rows, width):
    return a.shape[0] == rows and a.shape[1] == width


def lstm_step_forward(hw, gx, c_prev, act, c, tc, h, parallel):
    """One LSTM step. hw = h_prev @ W_hh^T and gx = x_t @ W_ih^T + b_ih + b_hh, both (B, 4H).

    Writes the activations ``act`` (B, 4H), the cell ``c``, ``tc`` = tanh(c) and ``h`` (B, H)."""
    rows = hw.shape[0]
    hidden = c.shape[1]
    if not (_rows_of(hw, rows, 4 * hidden) and _rows_of(gx, rows, 4 * hidden) and _rows_of(c_prev, rows, hidden)
            and _rows_of(act, rows, 4 * hidden) and _rows_of(c, rows, hidden) and _rows_of(tc, rows, hidden)
            and _rows_of(h, rows, hidden)):
        raise ValueError("lstm_step_forward: operand shapes disagree (B, 4H) / (B, H)")
    h2 = 2 * hidden
    h3 = 3 * hidden
    # omp parallel for schedule(static) if(parallel)
    for r in range(rows):
        act[r] = hw[r] + gx[r]
        act[r, h2:h3] = 2 * act[r, h2:h3]  # tanh(g) = 2 sigmoid(2g) - 1: one exp pass for all four gates
        act[r] = np.exp(-act[r])
        act[r] = 1 / (1 + act[r])
        act[r, h2:h3] = 2 * act[r, h2:h3] - 1
        c[r] = act[r, hidden:h2] * c_prev[r] + act[r, 0:hidden] * act[r, h2:h3]
        tc[r] = np.tanh(c[r])
        h[r] = act[r, h3:] * tc[r]


def lstm_step_backward(dh, gout, dc, act, c_prev, tc, dg, parallel):
    """Backward of one LSTM step. ``dh`` (B, H) holds the recurrent gradient of h (it becomes the
    total with ``gout``, the output's gradient); ``dc`` (B, H) enters as the cell gradient and
    leaves as that of c_prev. Writes the pre-activation gate gradients ``dg`` (B, 4H)."""
    rows = dh.shape[0]
    hidden = dh.shape[1]
    if not (_rows_of(gout, rows, hidden) and _rows_of(dc, rows, hidden) and _rows_of(act, rows, 4 * hidden)
            and _rows_of(c_prev, rows, hidden) and _rows_of(tc, rows, hidden) and _rows_of(dg, rows, 4 * hidden)):
        raise ValueError("lstm_step_backward: operand shapes disagree (B, 4H) / (B, H)")
    h2 = 2 * hidden
    h3 = 3 * hidden
    # omp parallel for schedule(static) if(parallel)
    for r in range(rows):
        dh[r] = dh[r] + gout[r]
        dc[r] = dc[r] + dh[r] * act[r, h3:] * (1 - tc[r] * tc[r])
        dg[r, 0:hidden] = dc[r] * act[r, h2:h3] * act[r, 0:hidden] * (1 - act[r, 0:hidden])
        dg[r, hidden:h2] = dc[r] * c_prev[r] * act[r, hidden:h2] * (1 - act[r, hidden:h2])
        dg[r, h2:h3] = dc[r] * act[r, 0:hidden] * (1 - act[r, h2:h3] * act[r, h2:h3])
        dg[r, h3:] = dh[r] * tc[r] * act[r, h3:] * (1 - act[r, h3:])
        dc[r] = dc[r] * act[r, hidden:h2]


def gru_step_forward(gh, gx, b_hn, h_prev, act, hn, h, parallel):
    """One GRU step (PyTorch's: n = tanh(x_n + r * (h W_hn^T + b_hn)), h = (1 - z) n + z h_prev).

    gh = h_prev @ W_hh^T (B, 3H) without bias; gx = x_t @ W_ih^T + b_ih plus b_hh's r and z parts.
    Writes ``act`` = (r, z, n) (B, 3H), ``hn`` = gh_n + b_hn and ``h`` (B, H)."""
    rows = gh.shape[0]
    hidden = h.shape[1]
    if not (_rows_of(gh, rows, 3 * hidden) and _rows_of(gx, rows, 3 * hidden) and b_hn.shape[0] == hidden
            and _rows_of(h_prev, rows, hidden) and _rows_of(act, rows, 3 * hidden) and _rows_of(hn, rows, hidden)
            and _rows_of(h, rows, hidden)):
        raise ValueError("gru_step_forward: operand shapes disagree (B, 3H) / (B, H)")
    h2 = 2 * hidden
    # omp parallel for schedule(static) if(parallel)
    for r in range(rows):
        act[r, 0:h2] = gh[r, 0:h2] + gx[r, 0:h2]
        act[r, 0:h2] = np.exp(-act[r, 0:h2])
        act[r, 0:h2] = 1 / (1 + act[r, 0:h2])
        hn[r] = gh[r, h2:] + b_hn
        act[r, h2:] = gx[r, h2:] + act[r, 0:hidden] * hn[r]
        act[r, h2:] = np.tanh(act[r, h2:])
        h[r] = act[r, h2:] + act[r, hidden:h2] * (h_prev[r] - act[r, h2:])


def gru_step_backward(dh, gout, carry, act, hn, h_prev, dgx, dgh, parallel):
    """Backward of one GRU step. ``dh`` (B, H) holds d(later gh) @ W_hh and ``carry`` the direct
    part z * dh of the later step (both leave as this step's own); ``gout`` is the output's
    gradient. Writes the gradients of the input gates ``dgx`` and of the recurrent gates ``dgh``."""
    rows = dh.shape[0]
    hidden = dh.shape[1]
    if not (_rows_of(gout, rows, hidden) and _rows_of(carry, rows, hidden) and _rows_of(act, rows, 3 * hidden)
            and _rows_of(hn, rows, hidden) and _rows_of(h_prev, rows, hidden) and _rows_of(dgx, rows, 3 * hidden)
            and _rows_of(dgh, rows, 3 * hidden)):
        raise ValueError("gru_step_backward: operand shapes disagree (B, 3H) / (B, H)")
    h2 = 2 * hidden
    # omp parallel for schedule(static) if(parallel)
    for r in range(rows):
        dh[r] = dh[r] + gout[r] + carry[r]
        dgx[r, h2:] = dh[r] * (1 - act[r, hidden:h2]) * (1 - act[r, h2:] * act[r, h2:])
        dgh[r, h2:] = dgx[r, h2:] * act[r, 0:hidden]
        dgx[r, 0:hidden] = dgh[r, h2:] * hn[r] * (1 - act[r, 0:hidden])
        dgx[r, hidden:h2] = dh[r] * (h_prev[r] - act[r, h2:]) * act[r, hidden:h2] * (1 - act[r, hidden:h2])
        dgh[r, 0:h2] = dgx[r, 0:h2]
        carry[r] = dh[r] * act[r, hidden:h2]
