// What the C++ kernel families share, included once at file scope after <Python.h>: the module's name
// (module_name.h), the choice among a family's builds per instruction set (this copy's own loops and, in the
// x86-64-v3 copy, an AVX-512 build chosen at import where the CPU has it), the module with its ``ISA``
// constant, and the checks of the buffers an entry point receives. The loops themselves are built once per
// instruction set through isa_builds.h; the math they share (Cephes' expf) is in cephes_exp.h.
//
// Everything here has internal linkage (the anonymous namespace): each family's module keeps its own copy, and
// no symbol of one module can stand in for another's in the same process.
#pragma once

#include <Python.h>

#include <cstring>
#include <initializer_list>

#include "module_name.h"

// The x86-64-v3 copy (AVX2) also holds an AVX-512 build of its family's loops
#if defined(__AVX2__) && defined(__GNUC__)
#define HAVE_AVX512_BUILD 1
#endif

namespace {

// The name of this copy's own loops
#ifdef __AVX2__
constexpr const char* kNativeIsa = "avx2";
#else
constexpr const char* kNativeIsa = "baseline";
#endif

// Whether the CPU runs this copy's AVX-512 build (false in a copy without one)
bool cpu_has_avx512() {
#ifdef HAVE_AVX512_BUILD
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw");
#else
    return false;
#endif
}

// A family's loops for each instruction set it is built for. ``Loops`` is a struct of function pointers whose
// member ``isa`` names the set; ``active`` points to the loops in use: this copy's own, AVX-512's from import
// where the CPU has it (``choose``), or those ``set_isa`` asks for (tests).
template <class Loops>
struct IsaLoops {
    const Loops native;
    const Loops* const avx512;  // nullptr where this copy holds no AVX-512 build
    const Loops* active;

    constexpr IsaLoops(const Loops& own, const Loops* wide) : native(own), avx512(wide), active(&native) {}

    void choose() {
        if (avx512 && cpu_has_avx512()) active = avx512;
    }

    // set_isa(name): "avx512" where the CPU has it, or this copy's own loops ("avx2", or "baseline" in the
    // baseline copy); returns the previous name, or nullptr with a ValueError
    PyObject* set(const char* name) {
        const char* previous = active->isa;
        if (avx512 && std::strcmp(name, "avx512") == 0 && cpu_has_avx512()) {
            active = avx512;
            return PyUnicode_FromString(previous);
        }
        if (std::strcmp(name, native.isa) != 0) {
            PyErr_Format(PyExc_ValueError, "set_isa: %s is not available here (this copy has %s%s)", name,
                         native.isa, cpu_has_avx512() ? " and avx512" : "");
            return nullptr;
        }
        active = &native;
        return PyUnicode_FromString(previous);
    }
};

// The module of ``definition`` with its string constant ``ISA`` (the loops in use); nullptr on failure
PyObject* module_with_isa(PyModuleDef* definition, const char* isa) {
    PyObject* m = PyModule_Create(definition);
    if (m && PyModule_AddStringConstant(m, "ISA", isa) < 0) {
        Py_DECREF(m);
        return nullptr;
    }
    return m;
}

// -- argument checks ------------------------------------------------------------------------------------------

// The buffers PyArg_ParseTuple filled, released on every return of the entry point: ``HeldBuffers held{&a, &b};``
template <int N>
struct HeldBuffers {
    Py_buffer* views[N];
    ~HeldBuffers() {
        for (Py_buffer* view : views) PyBuffer_Release(view);
    }
};
template <class... Views>
HeldBuffers(Views*...) -> HeldBuffers<sizeof...(Views)>;

// The product of ``dims`` as a count of float32 values, or -1 when a dim is negative or the product (or its
// bytes) overflows: a wrapped count could match a small buffer while the loops run over the real sizes
long float_count(std::initializer_list<long> dims) {
    long count = 1;
    for (long dim : dims)
        if (dim < 0 || __builtin_mul_overflow(count, dim, &count)) return -1;
    return count > PY_SSIZE_T_MAX / static_cast<long>(sizeof(float)) ? -1 : count;
}

// Whether buf holds at least ``count`` float32 values (count < 0: the size arguments overflowed); otherwise a
// ValueError "<op>: <name> holds <len> bytes, too few for the <count> float32 values <counted>"
bool holds_at_least(const Py_buffer& buf, long count, const char* name, const char* op,
                    const char* counted = "asked for") {
    if (count < 0 || buf.len / static_cast<Py_ssize_t>(sizeof(float)) < count) {
        PyErr_Format(PyExc_ValueError, "%s: %s holds %zd bytes, too few for the %ld float32 values %s", op, name,
                     buf.len, count, counted);
        return false;
    }
    return true;
}

// Whether buf holds exactly ``count`` float32 values; otherwise a ValueError
// "<op>: <name> holds <len> bytes, expected <count> float32 values"
bool holds_exactly(const Py_buffer& buf, long count, const char* name, const char* op) {
    if (buf.len != count * static_cast<Py_ssize_t>(sizeof(float))) {
        PyErr_Format(PyExc_ValueError, "%s: %s holds %zd bytes, expected %ld float32 values", op, name, buf.len,
                     count);
        return false;
    }
    return true;
}

}  // namespace
