// The vector loops of elementwise_f32.cpp, included once per instruction set inside a namespace: the copy's own
// (SSE2 baseline or AVX2 in the x86-64-v3 copy) and, in the x86-64-v3 copy, under an AVX-512 target pragma
// (GCC vectorises the same plain loops 16 lanes wide there; isa_builds.h). Each function computes elements [lo, hi).
// ``ivdep``: an in-place op passes out == a (the very same elements, never a shifted overlap: the callers
// check), which the vector loop computes correctly; without it GCC's alias check would pick its scalar loop.
// Needs <cmath>, <cstdint>, <cstring> from the including file.

inline void add_range(const float* a, const float* b, float* out, long lo, long hi) {
#pragma GCC ivdep
    for (long i = lo; i < hi; ++i) out[i] = a[i] + b[i];
}

inline void sub_range(const float* a, const float* b, float* out, long lo, long hi) {
#pragma GCC ivdep
    for (long i = lo; i < hi; ++i) out[i] = a[i] - b[i];
}

inline void mul_range(const float* a, const float* b, float* out, long lo, long hi) {
#pragma GCC ivdep
    for (long i = lo; i < hi; ++i) out[i] = a[i] * b[i];
}

inline void div_range(const float* a, const float* b, float* out, long lo, long hi) {
#pragma GCC ivdep
    for (long i = lo; i < hi; ++i) out[i] = a[i] / b[i];
}

// exp_nonpositive(x) for x <= 0 gives 0 below FLT_MIN (x < -87.33): the callers halve the argument first and
// square, see sigmoid_range
#include "cephes_exp.h"

// sigmoid(x) = 1 / (1 + e) for x >= 0, e / (1 + e) below, with e = exp(-|x|): keeps the tail's relative
// precision (sigmoid(-20) = 2.06e-9). e is exp(-|x| / 2) squared, so that the tail reaches the subnormals as
// PyTorch's does (sigmoid(-88) = 6.05e-39) instead of stopping at FLT_MIN; below -88.72 PyTorch's
// 1 / (1 + exp(-x)) overflows exp to inf and gives 0, and so does this. NaN stays NaN.
inline void sigmoid_range(const float* x, float* out, long lo, long hi) {
#pragma GCC ivdep
    for (long i = lo; i < hi; ++i) {
        const float v = x[i];
        const float h = exp_nonpositive(-std::fabs(v) * 0.5f);
        const float e = h * h;
        const float r = 1.0f / (1.0f + e);
        const float below = v < -88.72283935546875f ? 0.0f : e * r;
        out[i] = v >= 0.0f ? r : below;
    }
}
