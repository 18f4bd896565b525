// Cephes' single-precision exp polynomial (~1 ulp), shared by the families' vector loops. No include guard and
// no #include: each *_impl.h includes it inside its instruction set's namespace (and target pragma), so every
// build gets its own copy compiled for its instructions. Needs <cmath>, <cstdint>, <cstring> from the includer.

// e^x / 2^n for x = n ln2 + r (n a whole number, |r| <= ln2 / 2): r is reduced in two steps (ln2 split in a
// short and a tiny part), e^r by the polynomial. F is float or a GCC vector of floats; the caller scales by 2^n.
template <class F>
inline __attribute__((always_inline)) F exp_reduced(F x, F n) {
    F r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    F p = F{} + 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    return p * r * r + r + 1.0f;
}

// exp(x) for x <= 0: x = n ln2 + r, 2^n through the exponent bits. Results below FLT_MIN (x < -87.33) are
// flushed to 0; NaN stays NaN.
inline float exp_nonpositive(float x) {
    const float lo = -87.3365447504f;
    const float xc = x < lo ? lo : x;
    const float n = std::floor(xc * 1.44269504088896341f + 0.5f);
    const float p = exp_reduced(xc, n);
    const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
    float scale;
    std::memcpy(&scale, &bits, sizeof scale);
    const float y = p * scale;
    return x < lo ? 0.0f : y;
}
