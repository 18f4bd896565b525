// The name a C++ kernel family's copy is built under: meson passes -DTORSH_MODULE_NAME=<family> or
// <family>_avx2, and Python imports the module by that name through PyInit_<name>.
#pragma once

#define TORSH_STR2(x) #x
#define TORSH_STR(x) TORSH_STR2(x)
#define TORSH_CAT2(a, b) a##b
#define TORSH_CAT(a, b) TORSH_CAT2(a, b)
#define TORSH_MODULE_STR TORSH_STR(TORSH_MODULE_NAME)
#define TORSH_MODULE_INIT TORSH_CAT(PyInit_, TORSH_MODULE_NAME)
