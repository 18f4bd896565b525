// Builds a family's loops once per instruction set: include it with TORSH_ISA_LOOPS naming the family's loops
// header (written once, plain loops GCC vectorises). It defines namespace native (this copy's own instruction
// set: SSE2 baseline, or AVX2 in the x86-64-v3 copy) and, in the x86-64-v3 copy (HAVE_AVX512_BUILD, common.h),
// namespace avx512: the same loops under an AVX-512 target pragma, which GCC vectorises 16 lanes wide.
#ifndef TORSH_ISA_LOOPS
#error "define TORSH_ISA_LOOPS as the loops header to build"
#endif

namespace native {
#include TORSH_ISA_LOOPS
}  // namespace native

#ifdef HAVE_AVX512_BUILD
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512dq,avx512bw,prefer-vector-width=512")
namespace avx512 {
#include TORSH_ISA_LOOPS
}  // namespace avx512
#pragma GCC pop_options
#endif

#undef TORSH_ISA_LOOPS
