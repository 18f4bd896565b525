"""2-D convolution and pooling kernels: im2col/col2im, max pooling, the gather/scatter of
values at flat spatial indices that max pooling differentiates into, and average pooling's
window mean with its adjoint.

Layouts (all C-contiguous, float32 or float64):

Arrays arrive flattened (1-D, with their shapes as arguments) for im2col/col2im/max pooling:
explicit offsets into flat arrays compile to plain pointer arithmetic, where nested views of
4-D arrays measured 2x slower than NumPy's strided copies. The innermost loops over a row run on
1-D slices of the flat arrays (``_copy_row``, ``_add_row``), which Pythran indexes without the
negative-index wrap of computed offsets, so that GCC vectorises them.

* ``x``    (N, C, H, W) input planes; ``dx`` its gradient, same shape.
* ``cols``: row ``(c*KH + ki)*KW + kj`` of sample n holds x[n, c, oi*SH - PH + ki*DH, oj*SW - PW + kj*DW]
  at position oi*OW + oj (zero where that falls in the padding), starting at flat offset
  ``n * sample_stride + row * row_stride``. Two layouts use this: sample-major (N, C*KH*KW, OH*OW)
  (sample_stride = C*KH*KW*OH*OW, row_stride = OH*OW), per sample the matrix that W (O, C*KH*KW)
  multiplies from the left; and channel-major (C*KH*KW, N, OH*OW) (sample_stride = OH*OW,
  row_stride = N*OH*OW), the matrix of one GEMM over the whole batch. ``col2im`` is the adjoint
  (adds back, overlapping windows summed).
* pooling works on planes: ``x`` (P, H, W) with P = N*C, output (P, OH, OW); max pooling's
  indices are flat positions ``ih*W + iw`` in the plane, as PyTorch's. Average pooling takes
  ``scale`` (OH*OW,): 1/divisor per output position, computed by the caller (so ceil_mode,
  count_include_pad and divisor_override never reach the kernel).

``parallel`` shares the outer loop (samples, planes, or average pooling's groups of four planes)
among OpenMP threads; each iteration writes only its own sample/plane(s), so no two threads write
the same element. The valid column range of each row (or window) is computed once, so the inner
loops have no bounds tests.
"""

# pythran export im2col2d(float32[:], float32[:], int, int, int, int, int, int, int, int, int, int, int, int, int, int, int, int, bool)
# pythran export im2col2d(float64[:], float64[:], int, int, int, int, int, int, int, int, int, int, int, int, int, int, int, int, bool)
# pythran export col2im2d(float32[:], float32[:], int, int, int, int, int, int, int, int, int, int, int, int, int, int, int, int, bool)
# pythran export col2im2d(float64[:], float64[:], int, int, int, int, int, int, int, int, int, int, int, int, int, int, int, int, bool)
# pythran export max_pool2d_planes(float32[:], float32[:], int64[:], int, int, int, int, int, int, int, int, int, int, int, int, int, bool)
# pythran export max_pool2d_planes(float64[:], float64[:], int64[:], int, int, int, int, int, int, int, int, int, int, int, int, int, bool)
# pythran export avg_pool2d_planes(float32[:], float32[:], float32[:], int, int, int, int, int, int, int, int, int, int, int, bool)
# pythran export avg_pool2d_planes(float64[:], float64[:], float64[:], int, int, int, int, int, int, int, int, int, int, int, bool)
# pythran export avg_pool2d_adjoint_planes(float32[:], float32[:], float32[:], int, int, int, int, int, int, int, int, int, int, int, bool)
# pythran export avg_pool2d_adjoint_planes(float64[:], float64[:], float64[:], int, int, int, int, int, int, int, int, int, int, int, bool)
# pythran export gather_planes(float32[:,:], int64[:,:], float32[:,:], bool)
# pythran export gather_planes(float64[:,:], int64[:,:], float64[:,:], bool)
# pythran export scatter_add_planes(float32[:,:], int64[:,:], float32[:,:], bool)
# pythran export scatter_add_planes(float64[:,:], int64[:,:], float64[:,:], bool)

import numpy as np


# -- argument checks: every exported entry point checks, in O(1), that its buffers hold what its
# geometry makes it read and write, and raises ValueError instead of going out of bounds (the
# Python callers check the geometry first; these checks catch a caller that did not). Sizes are
# multiplied with a cap, so huge arguments cannot overflow int64 into a small product.
_GEOMETRY_LIMIT = 1 << 31  # per size, stride, padding or dilation argument: keeps offset products in int64


def _capped_product(a, b, cap):
    """a * b for a, b >= 0, or ``cap`` when that is smaller."""
    if a == 0 or b == 0:
        return 0
    if a > cap // b:
        return cap
    p = a * b
    if p > cap:
        return cap
    return p


def _volume(a, b, c, d, cap):
    """a * b * c * d (all >= 0), capped at ``cap``."""
    return _capped_product(_capped_product(_capped_product(a, b, cap), c, cap), d, cap)


def _in_range(v, lo):
    return lo <= v <= _GEOMETRY_LIMIT


def _window_args_ok(kh, kw, sh, sw, ph, pw, dh, dw):
    """Kernel sizes, strides and dilations >= 1, paddings >= 0, none above the limit."""
    return (_in_range(kh, 1) and _in_range(kw, 1) and _in_range(sh, 1) and _in_range(sw, 1) and _in_range(ph, 0)
            and _in_range(pw, 0) and _in_range(dh, 1) and _in_range(dw, 1))


def _sizes_ok(n, channels, height, width, oh, ow):
    return (_in_range(n, 0) and _in_range(channels, 0) and _in_range(height, 0) and _in_range(width, 0)
            and _in_range(oh, 0) and _in_range(ow, 0))


def _columns_needed(n, rows, oh, ow, sample_stride, row_stride, cap):
    """One past the last element of the columns that im2col2d writes (col2im2d reads): the last
    sample's last row ends at (n-1)*sample_stride + (rows-1)*row_stride + oh*ow."""
    length = _capped_product(oh, ow, cap)
    if n == 0 or rows == 0 or length == 0:
        return 0
    last = _capped_product(n - 1, sample_stride, cap) + _capped_product(rows - 1, row_stride, cap)
    if last >= cap:
        return cap
    return last + length


def _check_im2col_args(planes_size, cols_size, n, channels, height, width, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow,
                       sample_stride, row_stride):
    """Whether im2col2d/col2im2d may run: the (N, C, H, W) buffer holds ``planes_size`` elements,
    the columns ``cols_size``."""
    if not (_window_args_ok(kh, kw, sh, sw, ph, pw, dh, dw) and _sizes_ok(n, channels, height, width, oh, ow)
            and sample_stride >= 0 and row_stride >= 0):
        return False
    cap = planes_size + cols_size + 1
    rows = _capped_product(_capped_product(channels, kh, cap), kw, cap)
    return (_volume(n, channels, height, width, cap) <= planes_size
            and _columns_needed(n, rows, oh, ow, sample_stride, row_stride, cap) <= cols_size)


def _check_pool_args(in_size, out_size, planes, height, width, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw):
    """Whether a pooling kernel over ``planes`` (H, W) planes into (OH, OW) planes may run on
    buffers of ``in_size`` and ``out_size`` elements."""
    if not (_window_args_ok(kh, kw, sh, sw, ph, pw, dh, dw) and _sizes_ok(planes, 1, height, width, oh, ow)):
        return False
    cap = in_size + out_size + 1
    return _volume(planes, 1, height, width, cap) <= in_size and _volume(planes, 1, oh, ow, cap) <= out_size


def _indices_within(idx, size):
    """Whether every index is in [0, size): one vectorised pass, since indices are data."""
    if idx.shape[0] == 0 or idx.shape[1] == 0:
        return True
    return idx.min() >= 0 and idx.max() < size


def _valid_range(size, out, stride, offset):
    """[lo, hi) of the output positions o with 0 <= o*stride + offset < size."""
    lo = 0
    if offset < 0:
        lo = (-offset + stride - 1) // stride
    hi = 0
    if size - offset > 0:
        hi = (size - offset - 1) // stride + 1
    if hi > out:
        hi = out
    if lo > hi:
        lo = hi
    return lo, hi


def _copy_row(dst, src, count):
    # dst and src are views, which Pythran indexes without the negative-index wrap it adds to
    # computed flat offsets: GCC vectorises these loops, not the flat ones (LeNet-5's first
    # convolution's im2col, 1.25M floats: 1.05 -> 0.44 ms; its col2im 0.87 -> 0.33 ms)
    for p in range(count):
        dst[p] = src[p]


def _add_row(dst, src, count):
    for p in range(count):
        dst[p] += src[p]


def _zero_row(dst, count):
    for p in range(count):
        dst[p] = 0


def _im2col_sample(x, col, xo, co, channels, height, width, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, row_stride):
    for c in range(channels):
        for ki in range(kh):
            oi_lo, oi_hi = _valid_range(height, oh, sh, ki * dh - ph)
            for kj in range(kw):
                off = kj * dw - pw
                lo, hi = _valid_range(width, ow, sw, off)
                rbase = co + ((c * kh + ki) * kw + kj) * row_stride
                _zero_row(col[rbase:rbase + oi_lo * ow], oi_lo * ow)  # output rows whose window row is padding
                _zero_row(col[rbase + oi_hi * ow:rbase + oh * ow], (oh - oi_hi) * ow)
                for oi in range(oi_lo, oi_hi):
                    base = rbase + oi * ow
                    src = xo + (c * height + oi * sh + ki * dh - ph) * width + off
                    if sw == 1:
                        for oj in range(lo):
                            col[base + oj] = 0
                        _copy_row(col[base + lo:base + hi], x[src + lo:src + hi], hi - lo)
                        for oj in range(hi, ow):
                            col[base + oj] = 0
                    else:
                        for oj in range(ow):
                            col[base + oj] = 0
                        for oj in range(lo, hi):
                            col[base + oj] = x[src + oj * sw]


def im2col2d(x, cols, n, channels, height, width, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, sample_stride, row_stride,
             parallel):
    """Fill ``cols`` (either layout above), flat, with the windows of ``x`` (N, C, H, W), flat; zero padding."""
    if not _check_im2col_args(x.shape[0], cols.shape[0], n, channels, height, width, kh, kw, sh, sw, ph, pw, dh, dw,
                              oh, ow, sample_stride, row_stride):
        raise ValueError("im2col2d: the buffers are smaller than the geometry needs, or the geometry is invalid")
    xs = channels * height * width
    if parallel:
        # omp parallel for schedule(static)
        for i in range(n):
            _im2col_sample(x, cols, i * xs, i * sample_stride, channels, height, width, kh, kw, sh, sw, ph, pw, dh, dw,
                           oh, ow, row_stride)
    else:
        for i in range(n):
            _im2col_sample(x, cols, i * xs, i * sample_stride, channels, height, width, kh, kw, sh, sw, ph, pw, dh, dw,
                           oh, ow, row_stride)


def _col2im_sample(col, dx, co, xo, channels, height, width, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, row_stride):
    _zero_row(dx[xo:xo + channels * height * width], channels * height * width)
    for c in range(channels):
        for ki in range(kh):
            oi_lo, oi_hi = _valid_range(height, oh, sh, ki * dh - ph)
            for kj in range(kw):
                off = kj * dw - pw
                lo, hi = _valid_range(width, ow, sw, off)
                rbase = co + ((c * kh + ki) * kw + kj) * row_stride
                for oi in range(oi_lo, oi_hi):
                    dst = xo + (c * height + oi * sh + ki * dh - ph) * width + off
                    base = rbase + oi * ow
                    if sw == 1:
                        _add_row(dx[dst + lo:dst + hi], col[base + lo:base + hi], hi - lo)
                    else:
                        for oj in range(lo, hi):
                            dx[dst + oj * sw] += col[base + oj]


def col2im2d(cols, dx, n, channels, height, width, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, sample_stride, row_stride,
             parallel):
    """dx (N, C, H, W), flat = the adjoint of im2col2d applied to ``cols``: overlapping windows add up."""
    if not _check_im2col_args(dx.shape[0], cols.shape[0], n, channels, height, width, kh, kw, sh, sw, ph, pw, dh, dw,
                              oh, ow, sample_stride, row_stride):
        raise ValueError("col2im2d: the buffers are smaller than the geometry needs, or the geometry is invalid")
    xs = channels * height * width
    if parallel:
        # omp parallel for schedule(static)
        for i in range(n):
            _col2im_sample(cols, dx, i * sample_stride, i * xs, channels, height, width, kh, kw, sh, sw, ph, pw, dh, dw,
                           oh, ow, row_stride)
    else:
        for i in range(n):
            _col2im_sample(cols, dx, i * sample_stride, i * xs, channels, height, width, kh, kw, sh, sw, ph, pw, dh, dw,
                           oh, ow, row_stride)


def _max_pool_plane(x, out, idx, xo, oo, height, width, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw):
    for oi in range(oh):
        h0 = oi * sh - ph
        hs = h0
        while hs < 0:
            hs += dh
        he = min(h0 + (kh - 1) * dh + 1, height)
        for oj in range(ow):
            w0 = oj * sw - pw
            ws = w0
            while ws < 0:
                ws += dw
            we = min(w0 + (kw - 1) * dw + 1, width)
            # PyTorch's CPU kernel: start at the first in-bounds element with -inf, then take an
            # element when it is greater or NaN (so NaN wins, the last NaN of the window)
            best = -np.inf
            best_i = hs * width + ws
            ih = hs
            while ih < he:
                iw = ws
                while iw < we:
                    k = ih * width + iw
                    v = x[xo + k]
                    if v > best or v != v:
                        best = v
                        best_i = k
                    iw += dw
                ih += dh
            out[oo + oi * ow + oj] = best
            idx[oo + oi * ow + oj] = best_i


def _max_pool_plane_2x2(x, out, idx, width, oh, ow):
    # 2x2 windows, stride 2, all in bounds: straight-line compares over row views instead of the
    # general loops (64x6x28x28: 1.83 -> 0.44 ms); the same order and NaN rule as _max_pool_plane
    for oi in range(oh):
        k0 = 2 * oi * width
        r0 = x[k0:k0 + width]
        r1 = x[k0 + width:k0 + 2 * width]
        out_row = out[oi * ow:oi * ow + ow]
        idx_row = idx[oi * ow:oi * ow + ow]
        for oj in range(ow):
            best = r0[2 * oj]
            best_i = k0 + 2 * oj
            v = r0[2 * oj + 1]
            if v > best or v != v:
                best = v
                best_i = k0 + 2 * oj + 1
            v = r1[2 * oj]
            if v > best or v != v:
                best = v
                best_i = k0 + width + 2 * oj
            v = r1[2 * oj + 1]
            if v > best or v != v:
                best = v
                best_i = k0 + width + 2 * oj + 1
            out_row[oj] = best
            idx_row[oj] = best_i


def _max_pool_one_plane(x, out, idx, p, height, width, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw):
    if (kh == 2 and kw == 2 and sh == 2 and sw == 2 and ph == 0 and pw == 0 and dh == 1 and dw == 1
            and 2 * oh <= height and 2 * ow <= width):
        xs = height * width
        os_ = oh * ow
        _max_pool_plane_2x2(x[p * xs:(p + 1) * xs], out[p * os_:(p + 1) * os_], idx[p * os_:(p + 1) * os_], width,
                            oh, ow)
    else:
        _max_pool_plane(x, out, idx, p * height * width, p * oh * ow, height, width, oh, ow, kh, kw, sh, sw, ph, pw,
                        dh, dw)


def max_pool2d_planes(x, out, idx, planes, height, width, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw, parallel):
    """Window maxima of x (P, H, W), flat, into ``out`` (P, OH, OW), flat, and their in-plane flat
    indices into ``idx``."""
    if not (_check_pool_args(x.shape[0], out.shape[0], planes, height, width, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw)
            and _check_pool_args(x.shape[0], idx.shape[0], planes, height, width, oh, ow, kh, kw, sh, sw, ph, pw, dh,
                                 dw)):
        raise ValueError("max_pool2d_planes: the buffers are smaller than the geometry needs, or the geometry "
                         "is invalid")
    if parallel:
        # omp parallel for schedule(static)
        for p in range(planes):
            _max_pool_one_plane(x, out, idx, p, height, width, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw)
    else:
        for p in range(planes):
            _max_pool_one_plane(x, out, idx, p, height, width, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw)


def _avg_pool_plane(x, out, scale, xo, oo, height, width, oh, ow, kh, kw, sh, sw, ph, pw):
    for oi in range(oh):
        h0 = oi * sh - ph
        hs = max(h0, 0)
        he = min(h0 + kh, height)
        for oj in range(ow):
            w0 = oj * sw - pw
            ws = max(w0, 0)
            we = min(w0 + kw, width)
            o = oi * ow + oj
            # accumulate in the array dtype, in window row-major order, as PyTorch's CPU kernel does
            acc = scale[o] * 0
            for ih in range(hs, he):
                row = xo + ih * width
                for iw in range(ws, we):
                    acc += x[row + iw]
            out[oo + o] = acc * scale[o]


def _avg_pool_4planes(x, out, scale, xo, oo, height, width, oh, ow, kh, kw, sh, sw, ph, pw):
    # four planes at once: four independent add chains, where one plane's window sum is a chain
    # of dependent adds that waits on the add latency (best of 30, 1024 14x14 planes, k3 s1 p1:
    # 1.93 -> 1.05 ms; 32x32, k2 s2: 1.58 -> 0.86 ms)
    xs = height * width
    os_ = oh * ow
    for oi in range(oh):
        h0 = oi * sh - ph
        hs = max(h0, 0)
        he = min(h0 + kh, height)
        for oj in range(ow):
            w0 = oj * sw - pw
            ws = max(w0, 0)
            we = min(w0 + kw, width)
            o = oi * ow + oj
            a0 = scale[o] * 0
            a1 = a0
            a2 = a0
            a3 = a0
            for ih in range(hs, he):
                row = xo + ih * width
                for iw in range(ws, we):
                    a0 += x[row + iw]
                    a1 += x[row + xs + iw]
                    a2 += x[row + 2 * xs + iw]
                    a3 += x[row + 3 * xs + iw]
            out[oo + o] = a0 * scale[o]
            out[oo + os_ + o] = a1 * scale[o]
            out[oo + 2 * os_ + o] = a2 * scale[o]
            out[oo + 3 * os_ + o] = a3 * scale[o]


def _avg_pool_group(x, out, scale, q, planes, height, width, oh, ow, kh, kw, sh, sw, ph, pw):
    """Planes 4q .. 4q + 3 (those below ``planes``)."""
    first = 4 * q
    if first + 4 <= planes:
        _avg_pool_4planes(x, out, scale, first * height * width, first * oh * ow, height, width, oh, ow, kh, kw,
                          sh, sw, ph, pw)
    else:
        for p in range(first, planes):
            _avg_pool_plane(x, out, scale, p * height * width, p * oh * ow, height, width, oh, ow, kh, kw, sh, sw,
                            ph, pw)


def avg_pool2d_planes(x, out, scale, planes, height, width, oh, ow, kh, kw, sh, sw, ph, pw, parallel):
    """out[p, o] = scale[o] * (sum of x (P, H, W), flat, over the zero-padded window of output position o)."""
    if not (_check_pool_args(x.shape[0], out.shape[0], planes, height, width, oh, ow, kh, kw, sh, sw, ph, pw, 1, 1)
            and _capped_product(oh, ow, scale.shape[0] + 1) <= scale.shape[0]):
        raise ValueError("avg_pool2d_planes: the buffers are smaller than the geometry needs, or the geometry "
                         "is invalid")
    groups = (planes + 3) // 4
    if parallel:
        # omp parallel for schedule(static)
        for q in range(groups):
            _avg_pool_group(x, out, scale, q, planes, height, width, oh, ow, kh, kw, sh, sw, ph, pw)
    else:
        for q in range(groups):
            _avg_pool_group(x, out, scale, q, planes, height, width, oh, ow, kh, kw, sh, sw, ph, pw)


def _avg_pool_adjoint_plane(g, dx, scale, go, xo, height, width, oh, ow, kh, kw, sh, sw, ph, pw):
    for j in range(xo, xo + height * width):
        dx[j] = 0
    for oi in range(oh):
        h0 = oi * sh - ph
        hs = max(h0, 0)
        he = min(h0 + kh, height)
        for oj in range(ow):
            w0 = oj * sw - pw
            ws = max(w0, 0)
            we = min(w0 + kw, width)
            o = oi * ow + oj
            v = g[go + o] * scale[o]
            for ih in range(hs, he):
                row = xo + ih * width
                for iw in range(ws, we):
                    dx[row + iw] += v


def _avg_pool_adjoint_4planes(g, dx, scale, go, xo, height, width, oh, ow, kh, kw, sh, sw, ph, pw):
    # four planes at once, as _avg_pool_4planes: overlapping windows make each plane's adds a chain
    # through memory (every dx element is added to by neighbouring outputs); four chains interleave
    # (best of 30, 1024 14x14 planes, k3 s1 p1: 1.93 -> 1.12 ms)
    xs = height * width
    os_ = oh * ow
    for j in range(xo, xo + 4 * xs):
        dx[j] = 0
    for oi in range(oh):
        h0 = oi * sh - ph
        hs = max(h0, 0)
        he = min(h0 + kh, height)
        for oj in range(ow):
            w0 = oj * sw - pw
            ws = max(w0, 0)
            we = min(w0 + kw, width)
            o = oi * ow + oj
            v0 = g[go + o] * scale[o]
            v1 = g[go + os_ + o] * scale[o]
            v2 = g[go + 2 * os_ + o] * scale[o]
            v3 = g[go + 3 * os_ + o] * scale[o]
            for ih in range(hs, he):
                row = xo + ih * width
                for iw in range(ws, we):
                    dx[row + iw] += v0
                    dx[row + xs + iw] += v1
                    dx[row + 2 * xs + iw] += v2
                    dx[row + 3 * xs + iw] += v3


def _avg_pool_adjoint_group(g, dx, scale, q, planes, height, width, oh, ow, kh, kw, sh, sw, ph, pw):
    """Planes 4q .. 4q + 3 (those below ``planes``)."""
    first = 4 * q
    if first + 4 <= planes:
        _avg_pool_adjoint_4planes(g, dx, scale, first * oh * ow, first * height * width, height, width, oh, ow, kh,
                                  kw, sh, sw, ph, pw)
    else:
        for p in range(first, planes):
            _avg_pool_adjoint_plane(g, dx, scale, p * oh * ow, p * height * width, height, width, oh, ow, kh, kw,
                                    sh, sw, ph, pw)


def avg_pool2d_adjoint_planes(g, dx, scale, planes, height, width, oh, ow, kh, kw, sh, sw, ph, pw, parallel):
    """dx (P, H, W), flat = the adjoint of avg_pool2d_planes applied to g (P, OH, OW), flat:
    each g[p, o] * scale[o] added to every input position of window o."""
    if not (_check_pool_args(dx.shape[0], g.shape[0], planes, height, width, oh, ow, kh, kw, sh, sw, ph, pw, 1, 1)
            and _capped_product(oh, ow, scale.shape[0] + 1) <= scale.shape[0]):
        raise ValueError("avg_pool2d_adjoint_planes: the buffers are smaller than the geometry needs, or the geometry "
                         "is invalid")
    groups = (planes + 3) // 4
    if parallel:
        # omp parallel for schedule(static)
        for q in range(groups):
            _avg_pool_adjoint_group(g, dx, scale, q, planes, height, width, oh, ow, kh, kw, sh, sw, ph, pw)
    else:
        for q in range(groups):
            _avg_pool_adjoint_group(g, dx, scale, q, planes, height, width, oh, ow, kh, kw, sh, sw, ph, pw)


def _gather_plane(x, idx, out):
    for j in range(idx.shape[0]):
        out[j] = x[idx[j]]


def gather_planes(x, idx, out, parallel):
    """out[p, j] = x[p, idx[p, j]] for planes x (P, L_in), idx and out (P, L_out)."""
    if idx.shape[0] < x.shape[0] or out.shape[0] < x.shape[0] or out.shape[1] < idx.shape[1]:
        raise ValueError("gather_planes: idx and out need a row of idx.shape[1] elements per plane of x")
    if not _indices_within(idx[:x.shape[0]], x.shape[1]):
        raise ValueError("gather_planes: an index is outside the plane")
    planes = x.shape[0]
    if parallel:
        # omp parallel for schedule(static)
        for p in range(planes):
            _gather_plane(x[p], idx[p], out[p])
    else:
        for p in range(planes):
            _gather_plane(x[p], idx[p], out[p])


def _scatter_add_plane(g, idx, out):
    out[:] = 0
    for j in range(idx.shape[0]):
        out[idx[j]] += g[j]


def scatter_add_planes(g, idx, out, parallel):
    """out (P, L_in) = zeros, then out[p, idx[p, j]] += g[p, j]: the adjoint of gather_planes."""
    if idx.shape[0] < g.shape[0] or out.shape[0] < g.shape[0] or g.shape[1] < idx.shape[1]:
        raise ValueError("scatter_add_planes: idx, g and out need a row per plane of g")
    if not _indices_within(idx[:g.shape[0]], out.shape[1]):
        raise ValueError("scatter_add_planes: an index is outside the plane")
    planes = g.shape[0]
    if parallel:
        # omp parallel for schedule(static)
        for p in range(planes):
            _scatter_add_plane(g[p], idx[p], out[p])
    else:
        for p in range(planes):
            _scatter_add_plane(g[p], idx[p], out[p])
