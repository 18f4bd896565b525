// The float32 Adam/AdamW step (family optim_f32): the same update as kernels_pythran/optim.py's adam_step, which
// torsh.optim._fused runs for float32 parameters when this module is built.
//
// Why C++: Pythran implements every scalar ``/`` as a double division (pythonic/operator_/div.hpp, Python's
// true division), so its float32 Adam loop converts to double, divides 4 lanes wide (vdivpd) twice per element
// and converts back: 312 us for a 401K-element step, bound by the divisions. Here the divisions stay float32
// (vdivps, 8 lanes): 147 us. A float division is the correctly rounded quotient, as is double division
// rounded to float (53 >= 2 * 24 + 2 bits), so the values are those of per-operation float32 arithmetic.
// No FMA contraction: every operation rounds on its own, as in PyTorch's single-tensor implementation; and no errno
// for sqrt, which would keep the loops scalar (meson.build builds this family with -fno-math-errno).
//
// adam_step(p, g, m, v, vmax, decay, gsign, wd, w, w1, lerp_low, b2, c2, bc2, eps, nss, amsgrad): one parameter,
// its arrays flat float32 of one length; vmax is read and written only with amsgrad (else pass v). One thread:
// the caller cuts the arrays into slices for its pool (the GIL is released).
#pragma GCC optimize("fp-contract=off")
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <cmath>

#ifndef TORSH_MODULE_NAME
#define TORSH_MODULE_NAME optim_f32
#endif
#include "common.h"

namespace {

struct AdamScalars {
    float decay, gsign, wd, w, w1, b2, c2, bc2, eps, nss;
};

// p *= decay; d = gsign * g (+ wd * p); m = lerp(m, d, w); v = b2 * v + c2 * d * d; vmax = max(vmax, v) with
// amsgrad; p += nss * m / (sqrt(vmax or v) / bc2 + eps). Each case is its own loop (the choices are template
// arguments), so that GCC vectorises it.
template <bool kWeightDecay, bool kLerpLow, bool kAmsgrad>
void adam_loop(float* __restrict p, const float* __restrict g, float* __restrict m, float* __restrict v,
               float* vmax, long n, const AdamScalars s) {
    for (long i = 0; i < n; ++i) {
        const float param = p[i] * s.decay;
        float d = g[i] * s.gsign;
        if (kWeightDecay) d = d + s.wd * param;
        // PyTorch's lerp switches formula at weight 0.5
        const float mi = kLerpLow ? m[i] + s.w * (d - m[i]) : d - (d - m[i]) * s.w1;
        float vi = v[i] * s.b2 + s.c2 * d * d;
        m[i] = mi;
        v[i] = vi;
        if (kAmsgrad) {
            vi = vmax[i] > vi ? vmax[i] : vi;
            vmax[i] = vi;
        }
        p[i] = param + s.nss * mi / (std::sqrt(vi) / s.bc2 + s.eps);
    }
}

template <bool kWeightDecay, bool kLerpLow>
void adam_loop_ams(bool amsgrad, float* p, const float* g, float* m, float* v, float* vmax, long n,
                   const AdamScalars& s) {
    if (amsgrad)
        adam_loop<kWeightDecay, kLerpLow, true>(p, g, m, v, vmax, n, s);
    else
        adam_loop<kWeightDecay, kLerpLow, false>(p, g, m, v, vmax, n, s);
}

PyObject* adam_step(PyObject*, PyObject* args) {
    const char* op = "adam_step";
    Py_buffer pb, gb, mb, vb, xb;
    AdamScalars s;
    int lerp_low, amsgrad;
    if (!PyArg_ParseTuple(args, "w*y*w*w*w*fffffpfffffp", &pb, &gb, &mb, &vb, &xb, &s.decay, &s.gsign, &s.wd, &s.w,
                          &s.w1, &lerp_low, &s.b2, &s.c2, &s.bc2, &s.eps, &s.nss, &amsgrad))
        return nullptr;
    const HeldBuffers held{&pb, &gb, &mb, &vb, &xb};
    const long n = static_cast<long>(pb.len / static_cast<Py_ssize_t>(sizeof(float)));
    if (!holds_exactly(pb, n, "p", op) || !holds_exactly(gb, n, "g", op) || !holds_exactly(mb, n, "m", op) ||
        !holds_exactly(vb, n, "v", op) || !holds_exactly(xb, n, "vmax", op))
        return nullptr;
    float* p = static_cast<float*>(pb.buf);
    const float* g = static_cast<const float*>(gb.buf);
    float* m = static_cast<float*>(mb.buf);
    float* v = static_cast<float*>(vb.buf);
    float* vmax = static_cast<float*>(xb.buf);
    const bool weight_decay = s.wd != 0.0f;
    Py_BEGIN_ALLOW_THREADS
    if (weight_decay && lerp_low)
        adam_loop_ams<true, true>(amsgrad, p, g, m, v, vmax, n, s);
    else if (weight_decay)
        adam_loop_ams<true, false>(amsgrad, p, g, m, v, vmax, n, s);
    else if (lerp_low)
        adam_loop_ams<false, true>(amsgrad, p, g, m, v, vmax, n, s);
    else
        adam_loop_ams<false, false>(amsgrad, p, g, m, v, vmax, n, s);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

PyMethodDef methods[] = {
    {"adam_step", adam_step, METH_VARARGS,
     "adam_step(p, g, m, v, vmax, decay, gsign, wd, w, w1, lerp_low, b2, c2, bc2, eps, nss, amsgrad): the float32 "
     "Adam/AdamW update of one parameter in place (flat arrays of one length; vmax used only with amsgrad)."},
    {nullptr, nullptr, 0, nullptr}};

PyModuleDef module = {PyModuleDef_HEAD_INIT, TORSH_MODULE_STR, nullptr, -1, methods};

}  // namespace

PyMODINIT_FUNC TORSH_MODULE_INIT(void) { return module_with_isa(&module, kNativeIsa); }
