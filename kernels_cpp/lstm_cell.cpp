// The backward of one float32 LSTM time step, for torsh._ops.nn_rnn_fused (family lstm_cell).
//
// Why C++ and not Pythran: the step is ~25 multiply-adds per hidden unit over the four gates of a
// row. Written as Pythran array expressions over row slices, or as its explicit loops, it ran
// 12-15 us for W9's 32 x 128 step; this loop, which GCC vectorises (the gate offsets are
// constants of the row), runs it in ~3 us. The step runs 50 times per W9 backward, while a pool
// thread shares the other core for the weight gradients. Float64 stays on the Pythran kernel.
// Built twice like the other families (baseline and x86-64-v3 copies).
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <initializer_list>

#ifndef TORSH_MODULE_NAME
#define TORSH_MODULE_NAME lstm_cell
#endif
#include "module_name.h"

namespace {

// One row (one sample) of the step; see lstm_step_backward below for the operands.
void backward_row(float* dh, const float* gout, float* dc, const float* act, const float* c_prev, const float* tc,
                  float* dg, long H) {
    const float* i_gate = act;
    const float* f_gate = act + H;
    const float* g_gate = act + 2 * H;
    const float* o_gate = act + 3 * H;
#pragma GCC ivdep
    for (long j = 0; j < H; ++j) {
        const float d = dh[j] + gout[j];
        const float i = i_gate[j], f = f_gate[j], g = g_gate[j], o = o_gate[j], t = tc[j];
        const float cell = dc[j] + d * o * (1.0f - t * t);
        dh[j] = d;
        dg[j] = cell * g * i * (1.0f - i);
        dg[H + j] = cell * c_prev[j] * f * (1.0f - f);
        dg[2 * H + j] = cell * i * (1.0f - g * g);
        dg[3 * H + j] = d * t * o * (1.0f - o);
        dc[j] = cell * f;
    }
}

bool holds(const Py_buffer& buf, long count, const char* name) {
    if (buf.len != count * (Py_ssize_t)sizeof(float)) {
        PyErr_Format(PyExc_ValueError, "lstm_step_backward: %s holds %zd bytes, expected %ld float32 values", name,
                     buf.len, count);
        return false;
    }
    return true;
}

// lstm_step_backward(dh, gout, dc, act, c_prev, tc, dg, rows, hidden): the Pythran kernel of the
// same name in kernels_pythran/rnn.py, for C-contiguous float32 buffers. dh (rows, H) holds the
// recurrent gradient of h and leaves as the total with gout, the output's gradient (rows, H); dc
// (rows, H) enters as the cell gradient and leaves as that of c_prev. act (rows, 4H) holds the
// activations (sigmoid i, f, o and tanh g), tc = tanh(c). Writes the gate gradients dg (rows, 4H).
PyObject* lstm_step_backward(PyObject*, PyObject* args) {
    Py_buffer dh, gout, dc, act, c_prev, tc, dg;
    long rows, hidden;
    if (!PyArg_ParseTuple(args, "w*y*w*y*y*y*w*ll", &dh, &gout, &dc, &act, &c_prev, &tc, &dg, &rows, &hidden))
        return nullptr;
    long n = 0, gates = 0;
    // a wrapped product could match a small buffer while the loops run over rows x hidden
    bool ok = rows >= 0 && hidden >= 0 && !__builtin_mul_overflow(rows, hidden, &n) &&
              !__builtin_mul_overflow(n, 4L, &gates) && gates <= PY_SSIZE_T_MAX / (long)sizeof(float);
    if (!ok) PyErr_SetString(PyExc_ValueError, "lstm_step_backward: negative or too large shape");
    ok = ok && holds(dh, n, "dh") && holds(gout, n, "gout") && holds(dc, n, "dc") && holds(act, gates, "act") &&
         holds(c_prev, n, "c_prev") && holds(tc, n, "tc") && holds(dg, gates, "dg");
    if (ok) {
        float* pdh = static_cast<float*>(dh.buf);
        const float* pgout = static_cast<const float*>(gout.buf);
        float* pdc = static_cast<float*>(dc.buf);
        const float* pact = static_cast<const float*>(act.buf);
        const float* pc = static_cast<const float*>(c_prev.buf);
        const float* ptc = static_cast<const float*>(tc.buf);
        float* pdg = static_cast<float*>(dg.buf);
        Py_BEGIN_ALLOW_THREADS
        for (long r = 0; r < rows; ++r)
            backward_row(pdh + r * hidden, pgout + r * hidden, pdc + r * hidden, pact + 4 * r * hidden,
                         pc + r * hidden, ptc + r * hidden, pdg + 4 * r * hidden, hidden);
        Py_END_ALLOW_THREADS
    }
    for (Py_buffer* b : {&dh, &gout, &dc, &act, &c_prev, &tc, &dg}) PyBuffer_Release(b);
    if (!ok) return nullptr;
    Py_RETURN_NONE;
}

PyMethodDef methods[] = {
    {"lstm_step_backward", lstm_step_backward, METH_VARARGS,
     "lstm_step_backward(dh, gout, dc, act, c_prev, tc, dg, rows, hidden): the backward of one float32 LSTM "
     "step (see kernels_pythran/rnn.py)."},
    {nullptr, nullptr, 0, nullptr}};

PyModuleDef module = {PyModuleDef_HEAD_INIT, TORSH_MODULE_STR, nullptr, -1, methods};

}  // namespace

PyMODINIT_FUNC TORSH_MODULE_INIT(void) { return PyModule_Create(&module); }
