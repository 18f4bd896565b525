// The vectorised kernels of conv_direct.cpp, included once per instruction set inside a namespace
// that first defines the vector type V (L float lanes), its lane mask type Mask and the operations
// vload, vmaskload, vstore, vmaskstore, vfma, vbroadcast, vzero, vadd and vmask(count) (the first
// ``count`` lanes), WEIGHT_TAPS (3-6: taps per weight-gradient tile) and NARROW_VECTORS (4-6: output
// vectors per forward tile of 1-2 channels). Geometry, Layout and Plan
// come from conv_direct.cpp; the plan's vectors are L wide.

// NC output channels x NV output vectors: NC*NV accumulators stay in registers over all taps. The
// loops over q and v must unroll for that; GCC 12 left them rolled without the pragmas. MASKED: one
// vector of a row narrower than L (loads and stores only its ``lanes``). Output columns ``col``
// apart (the phases conv2d_input_grad interleaves into dx) are stored lane by lane.
template <int NC, int NV, bool MASKED>
void forward_tile(const float* xb, const long* toff, long taps, const float* wpk, const float* bias, float* y,
                  long plane, long col, const long* poff, const long* yoff, Mask mask, long lanes) {
    V acc[NC][NV];
#pragma GCC unroll 4
    for (int q = 0; q < NC; ++q)
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) acc[q][v] = vbroadcast(bias + q);
    long off[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) off[v] = poff[v];
    for (long t = 0; t < taps; ++t) {
        const float* base = xb + toff[t];
        V xv[NV];
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) xv[v] = MASKED ? vmaskload(base + off[v], mask) : vload(base + off[v]);
        const float* wt = wpk + t * NC;
#pragma GCC unroll 4
        for (int q = 0; q < NC; ++q) {
            const V wv = vbroadcast(wt + q);
#pragma GCC unroll 8
            for (int v = 0; v < NV; ++v) acc[q][v] = vfma(wv, xv[v], acc[q][v]);
        }
    }
#pragma GCC unroll 4
    for (int q = 0; q < NC; ++q)
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) {
            float* out = y + q * plane + yoff[v];
            if (col != 1) {
                float lane[L];
                vstore(lane, acc[q][v]);
                for (long l = 0; l < (MASKED ? lanes : L); ++l) out[l * col] = lane[l];
            } else if (MASKED) {
                vmaskstore(out, mask, acc[q][v]);
            } else {
                vstore(out, acc[q][v]);
            }
        }
}

// All output vectors of NC channels: in threes (1-2 channels: NARROW_VECTORS first, so that their tiles keep
// as many accumulators as the 4-channel ones: LeNet-5's 6 output channels are a block of 4 and one of 2),
// then the 1-2 left (4 left as 2 + 2: a tile of one vector has too few accumulators to hide the FMA
// latency), then the masked ones
template <int NC>
void forward_channels(const float* xb, const Plan& p, long taps, const float* wpk, const float* bias, float* y,
                      long plane, long col, Mask mask, long lanes) {
    const long* toff = p.toff.data();
    const long count = p.poff.size();
    long v = 0;
    if constexpr (NC <= 2)
        for (; v + NARROW_VECTORS <= count; v += NARROW_VECTORS)
            forward_tile<NC, NARROW_VECTORS, false>(xb, toff, taps, wpk, bias, y, plane, col, &p.poff[v], &p.yoff[v],
                                                    mask, lanes);
    for (; v + 3 <= count && count - v != 4; v += 3)
        forward_tile<NC, 3, false>(xb, toff, taps, wpk, bias, y, plane, col, &p.poff[v], &p.yoff[v], mask, lanes);
    for (; v + 2 <= count; v += 2)
        forward_tile<NC, 2, false>(xb, toff, taps, wpk, bias, y, plane, col, &p.poff[v], &p.yoff[v], mask, lanes);
    if (count - v == 1)
        forward_tile<NC, 1, false>(xb, toff, taps, wpk, bias, y, plane, col, &p.poff[v], &p.yoff[v], mask, lanes);
    for (size_t m = 0; m < p.mpoff.size(); ++m)
        forward_tile<NC, 1, true>(xb, toff, taps, wpk, bias, y, plane, col, &p.mpoff[m], &p.myoff[m], mask, lanes);
}

// Output channel blocks [b0, b1) (of 4 channels) of one sample from its padded buffer
void forward_blocks(const float* xb, const Plan& p, const Geometry& g, const Layout& out, const float* wpk,
                    const float* b, float* ys, long b0, long b1) {
    const long taps = g.taps(), plane = out.plane, lanes = p.tail;
    const Mask mask = vmask(lanes);
    for (long blk = b0; blk < b1; ++blk) {
        const long o0 = blk * 4;
        const float* wb = wpk + o0 * taps;
        float* y = ys + o0 * plane;
        switch (std::min(4L, g.O - o0)) {
            case 4: forward_channels<4>(xb, p, taps, wb, b + o0, y, plane, out.col, mask, lanes); break;
            case 3: forward_channels<3>(xb, p, taps, wb, b + o0, y, plane, out.col, mask, lanes); break;
            case 2: forward_channels<2>(xb, p, taps, wb, b + o0, y, plane, out.col, mask, lanes); break;
            default: forward_channels<1>(xb, p, taps, wb, b + o0, y, plane, out.col, mask, lanes); break;
        }
    }
}

// NO output channels x NK taps of the weight gradient over all positions of ``count`` samples (padded
// buffers ``xstep`` floats apart, output gradients ``gstep`` apart): NO*NK accumulators in registers
// (lanes = positions), added at the end to the vector partial sums ``part`` (L floats per (channel, tap)),
// whose lanes are summed once after the last sample.
template <int NO, int NK>
void weight_tile(const float* xb, const float* gys, long plane, const long* toff, const Plan& p, Mask tail,
                 float* part, long taps, long count, long xstep, long gstep) {
    V acc[NO][NK];
#pragma GCC unroll 4
    for (int q = 0; q < NO; ++q)
#pragma GCC unroll 6
        for (int k = 0; k < NK; ++k) acc[q][k] = vzero();
    for (long s = 0; s < count; ++s, xb += xstep, gys += gstep) {
    const float* xk[NK];
#pragma GCC unroll 6
    for (int k = 0; k < NK; ++k) xk[k] = xb + toff[k];
    const long full = p.gpoff.size();
    for (long v = 0; v < full; ++v) {
        const long po = p.gpoff[v], yo = p.gyoff[v];
        V xv[NK];
#pragma GCC unroll 6
        for (int k = 0; k < NK; ++k) xv[k] = vload(xk[k] + po);
#pragma GCC unroll 4
        for (int q = 0; q < NO; ++q) {
            const V gv = vload(gys + q * plane + yo);
#pragma GCC unroll 6
            for (int k = 0; k < NK; ++k) acc[q][k] = vfma(gv, xv[k], acc[q][k]);
        }
    }
    const long tails = p.tpoff.size();
    for (long v = 0; v < tails; ++v) {
        const long po = p.tpoff[v], yo = p.tyoff[v];
        V xv[NK];
#pragma GCC unroll 6
        for (int k = 0; k < NK; ++k) xv[k] = vmaskload(xk[k] + po, tail);
#pragma GCC unroll 4
        for (int q = 0; q < NO; ++q) {
            const V gv = vmaskload(gys + q * plane + yo, tail);
#pragma GCC unroll 6
            for (int k = 0; k < NK; ++k) acc[q][k] = vfma(gv, xv[k], acc[q][k]);
        }
    }
    }
#pragma GCC unroll 4
    for (int q = 0; q < NO; ++q)
#pragma GCC unroll 6
        for (int k = 0; k < NK; ++k) {
            float* pp = part + (q * taps + k) * L;
            vstore(pp, vadd(vload(pp), acc[q][k]));
        }
}

// The taps [t0, t1) in chunks of WEIGHT_TAPS (the includer's choice: as many accumulators as its registers
// hold), then one chunk of the rest
template <int NO>
void weight_taps(const float* xb, const float* gys, long plane, const Plan& p, Mask tail, float* part, long taps,
                 long t0, long t1, long count, long xstep, long gstep) {
    const long* toff = p.toff.data();
    long t = t0;
    for (; t + WEIGHT_TAPS <= t1; t += WEIGHT_TAPS)
        weight_tile<NO, WEIGHT_TAPS>(xb, gys, plane, toff + t, p, tail, part + t * L, taps, count, xstep, gstep);
    switch (t1 - t) {
        case 5: if constexpr (WEIGHT_TAPS > 5) weight_tile<NO, 5>(xb, gys, plane, toff + t, p, tail, part + t * L, taps, count, xstep, gstep); break;
        case 4: if constexpr (WEIGHT_TAPS > 4) weight_tile<NO, 4>(xb, gys, plane, toff + t, p, tail, part + t * L, taps, count, xstep, gstep); break;
        case 3: if constexpr (WEIGHT_TAPS > 3) weight_tile<NO, 3>(xb, gys, plane, toff + t, p, tail, part + t * L, taps, count, xstep, gstep); break;
        case 2: weight_tile<NO, 2>(xb, gys, plane, toff + t, p, tail, part + t * L, taps, count, xstep, gstep); break;
        case 1: weight_tile<NO, 1>(xb, gys, plane, toff + t, p, tail, part + t * L, taps, count, xstep, gstep); break;
        default: break;
    }
}

// The weight gradient of ``count`` samples (see weight_tile) for the output channels [o0, o0 + nc) (nc <= 4) and
// the taps [t0, t1), added to ``part`` (L lanes per (o, tap), laid out for all O channels)
void weight_block(const float* xb, const float* gys, const Plan& p, const Geometry& g, float* part, long count,
                  long xstep, long gstep, long o0, long nc, long t0, long t1) {
    const long taps = g.taps(), plane = g.plane();
    const Mask tail = vmask(p.tail);
    const float* gyo = gys + o0 * plane;
    float* po = part + o0 * taps * L;
    switch (nc) {
        case 4: weight_taps<4>(xb, gyo, plane, p, tail, po, taps, t0, t1, count, xstep, gstep); break;
        case 3: weight_taps<3>(xb, gyo, plane, p, tail, po, taps, t0, t1, count, xstep, gstep); break;
        case 2: weight_taps<2>(xb, gyo, plane, p, tail, po, taps, t0, t1, count, xstep, gstep); break;
        case 1: weight_taps<1>(xb, gyo, plane, p, tail, po, taps, t0, t1, count, xstep, gstep); break;
        default: break;
    }
}
