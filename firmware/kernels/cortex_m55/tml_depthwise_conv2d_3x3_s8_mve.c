/* Cortex-M55 (Armv8.1-M MVE, "Helium") int8 3x3 depthwise convolution (stride 1, padding 1,
 * multiplier 1): the contract, filter layout and folded requantization of
 * tml_depthwise_conv2d_3x3_s8_m4 (tml_kernels_m4.h), so the compiler prepares the same
 * constants for it.
 *
 * Channel by channel, like the M4 twin, but the four lanes of a vector are four output rows of
 * one column: the channel is gathered into a column-major int16 plane padded with the input
 * zero point, then each tap is one widening load of four rows and one VMLA by the tap's weight
 * (a scalar). The requantization runs on the four lanes at once: VQRDMULH is the M4 kernels'
 * SMMLAR on twice the accumulator, then the rounding constant, the shift and the clamp; a
 * scatter store puts the four bytes at their NHWC places. Runs in place: channel c is written
 * only after it was gathered. Elsewhere (the host) a plain C loop computes the same values, so
 * the kernel is tested against its M4 twin on the host and in QEMU. */
#include "tml_acle.h"
#include "tml_kernels_m55.h"

/* The assembly takes 13 general registers, r7 among them, which unoptimised builds keep as the
 * frame pointer: those take the C loop. */
#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1) && defined(__OPTIMIZE__)
#include <arm_mve.h>
#define TML_DW_ASM 1
#else
#define TML_DW_ASM 0
#endif

/* The plane: channel c of the input, column-major, (w + 2) columns of `col` int16 values (rows
 * -1..h, then unused), borders at the input zero point. On MVE `col` is one of a few constants,
 * so that every tap of a four-row vector is an immediate offset from one pointer. */
#define TML_DW_COL_MAX 124 /* the taps' offsets (+-2 col + 4 bytes) fit VLDRH's +-254 */

static int32_t plane_col(int32_t h)
{
#if TML_DW_ASM
    return h + 2 <= 32 ? 32 : (h + 2 <= 64 ? 64 : (h + 2 <= TML_DW_COL_MAX ? TML_DW_COL_MAX
                                                                                : h + 2));
#else
    return h + 2;
#endif
}

int32_t tml_dw3x3_mve_scratch_bytes(int32_t h, int32_t w)
{
    return (w + 2) * plane_col(h) * 2;
}

/* One channel's requantization (the M4 twin's constants in the form the vector code takes). */
typedef struct {
    int32_t half_bias; /* bias2 / 2 */
    int32_t multiplier;
    int32_t neg_shift; /* -e */
    int32_t zero_point; /* (round_add - 2^(e-1)) / 2^e */
    int32_t lo, hi;
} dw_requant;

#if TML_DW_ASM
/* Output column by output column: p at plane column x + 1, row 0 (the tap of row y - 1 + dy,
 * column x - 1 + dx is at p + (dx - 1) * col + dy). Each iteration of the tail-predicated loop
 * makes four output rows: VMLAS takes the first tap and the bias, VMLA the other eight (weights
 * in registers), then VQRDMULH / VRSHL / + zero point / clamp, and one scatter store. */
#define DW_COLUMNS_ASM(COL)                                                                       \
    static void dw_columns_##COL(const int16_t *plane, int32_t h, int32_t w, int32_t ch,          \
                                 const int32_t *k, const dw_requant *q, int8_t *out)              \
    {                                                                                             \
        const uint32x4_t rows = vmulq_n_u32(vidupq_n_u32(0u, 1), (uint32_t)(w * ch));            \
        const int32x4_t k0 = vdupq_n_s32(k[0]), sh = vdupq_n_s32(q->neg_shift);                   \
        const int32x4_t zp = vdupq_n_s32(q->zero_point), lo = vdupq_n_s32(q->lo);                 \
        const int32x4_t hi = vdupq_n_s32(q->hi);                                                  \
        register int32_t k1 __asm__("r1") = k[1], k2 __asm__("r2") = k[2], k3 __asm__("r3") = k[3];           \
        register int32_t k4 __asm__("r4") = k[4], k5 __asm__("r5") = k[5], k6 __asm__("r6") = k[6];           \
        register int32_t k7 __asm__("r7") = k[7], k8 __asm__("r8") = k[8];                                \
        register int32_t stride __asm__("r10") = 4 * w * ch, bias __asm__("r11") = q->half_bias, m __asm__("r12") = q->multiplier;               \
        int32_t x, n = h;                                                                         \
        for (x = 0; x < w; ++x) {                                                                 \
            register const int16_t *p __asm__("r0") = plane + (x + 1) * COL;                          \
            register int8_t *o __asm__("r9") = out + x * ch;                                                             \
            __asm__ volatile(                                                                     \
                "ldr lr, %[n]\n\t"                                                                \
                "dlstp.32 lr, lr\n"                                                               \
                "1:\n\t"                                                                          \
                "vldrh.s32 q0, [%[p], #-" #COL " * 2]\n\t"                                        \
                "vldrh.s32 q1, [%[p], #-" #COL " * 2 + 2]\n\t"                                    \
                "vmlas.s32 q0, %q[k0], %[bias]\n\t"                                               \
                "vmla.s32 q0, q1, %[k3]\n\t"                                                      \
                "vldrh.s32 q1, [%[p], #-" #COL " * 2 + 4]\n\t"                                    \
                "vmla.s32 q0, q1, %[k6]\n\t"                                                      \
                "vldrh.s32 q1, [%[p], #2]\n\t"                                                    \
                "vmla.s32 q0, q1, %[k4]\n\t"                                                      \
                "vldrh.s32 q1, [%[p], #4]\n\t"                                                    \
                "vmla.s32 q0, q1, %[k7]\n\t"                                                      \
                "vldrh.s32 q1, [%[p], #" #COL " * 2]\n\t"                                         \
                "vmla.s32 q0, q1, %[k2]\n\t"                                                      \
                "vldrh.s32 q1, [%[p], #" #COL " * 2 + 2]\n\t"                                     \
                "vmla.s32 q0, q1, %[k5]\n\t"                                                      \
                "vldrh.s32 q1, [%[p], #" #COL " * 2 + 4]\n\t"                                     \
                "vmla.s32 q0, q1, %[k8]\n\t"                                                      \
                "vldrh.s32 q1, [%[p]], #8\n\t"                                                    \
                "vmla.s32 q0, q1, %[k1]\n\t"                                                      \
                "vqrdmulh.s32 q0, q0, %[m]\n\t"                                                   \
                "vrshl.s32 q0, q0, %q[sh]\n\t"                                                    \
                "vadd.i32 q0, q0, %q[zp]\n\t"                                                     \
                "vmax.s32 q0, q0, %q[lo]\n\t"                                                     \
                "vmin.s32 q0, q0, %q[hi]\n\t"                                                     \
                "vstrb.32 q0, [%[o], %q[rows]]\n\t"                                               \
                "add %[o], %[o], %[stride]\n\t"                                                   \
                "letp lr, 1b\n\t"                                                                 \
                : [p] "+l"(p), [o] "+r"(o)                                                        \
                : [n] "m"(n), [k0] "w"(k0), [sh] "w"(sh), [zp] "w"(zp), [lo] "w"(lo),            \
                  [hi] "w"(hi), [rows] "w"(rows), [k1] "r"(k1), [k2] "r"(k2), [k3] "r"(k3),       \
                  [k4] "r"(k4), [k5] "r"(k5), [k6] "r"(k6), [k7] "r"(k7), [k8] "r"(k8),           \
                  [stride] "r"(stride), [bias] "r"(bias), [m] "r"(m)                              \
                : "q0", "q1", "lr", "memory");                                                    \
        }                                                                                         \
    }
DW_COLUMNS_ASM(32)
DW_COLUMNS_ASM(64)
DW_COLUMNS_ASM(124)
#undef DW_COLUMNS_ASM
#endif

/* One channel of one batch: plane -> out[(y * w + x) * ch]. k: the nine taps, row-major. */
static void dw3x3_channel(const int16_t *plane, int32_t h, int32_t w, int32_t ch,
                          const int32_t k[9], const dw_requant *q, int8_t *out)
{
    const int32_t col = plane_col(h);
    int32_t x, y;
#if TML_DW_ASM
    switch (col) {
    case 32:
        dw_columns_32(plane, h, w, ch, k, q, out);
        return;
    case 64:
        dw_columns_64(plane, h, w, ch, k, q, out);
        return;
    case TML_DW_COL_MAX:
        dw_columns_124(plane, h, w, ch, k, q, out);
        return;
    default:
        break;
    }
#endif
    for (x = 0; x < w; ++x) {
        for (y = 0; y < h; ++y) {
            const int16_t *r = plane + x * col + y;
            int32_t acc = q->half_bias, v, i;
            for (i = 0; i < 9; ++i) {
                acc += r[(i % 3) * col + i / 3] * k[i];
            }
            /* TFLite's rounding doubling high multiply (as VQRDMULH), then a rounding shift. */
            v = tml_smmlar(2 * acc, q->multiplier, 0);
            v = ((v + (1 << (-q->neg_shift - 1))) >> -q->neg_shift) + q->zero_point;
            out[(y * w + x) * ch] = (int8_t)(v < q->lo ? q->lo : (v > q->hi ? q->hi : v));
        }
    }
}

/* Channel c of the NHWC input into the plane's interior (column x + 1, rows 1..h). */
static void gather_channel(const int8_t *in, int32_t h, int32_t w, int32_t ch, int16_t *plane)
{
    const int32_t col = plane_col(h);
    int32_t x, y;
#if TML_DW_ASM
    if (7 * w * ch <= 0xffff) {
        /* Eight rows per gather (16-bit offsets), widened to int16 on the way. */
        const uint16x8_t rows = vmulq_n_u16(vidupq_n_u16(0u, 1), (uint16_t)(w * ch));
        const int32_t stride = 8 * w * ch;
        for (x = 0; x < w; ++x) {
            const int8_t *src = in + x * ch;
            int16_t *dst = plane + (x + 1) * col + 1;
            __asm__ volatile("dlstp.16 lr, %[n]\n"
                             "1:\n\t"
                             "vldrb.s16 q0, [%[src], %q[rows]]\n\t"
                             "vstrh.16 q0, [%[dst]], #16\n\t"
                             "add %[src], %[src], %[stride]\n\t"
                             "letp lr, 1b\n\t"
                             : [src] "+r"(src), [dst] "+r"(dst)
                             : [n] "r"(h), [rows] "w"(rows), [stride] "r"(stride)
                             : "q0", "lr", "memory");
        }
        return;
    }
#endif
    for (x = 0; x < w; ++x) {
        int16_t *dst = plane + (x + 1) * col + 1;
        for (y = 0; y < h; ++y) {
            dst[y] = in[(y * w + x) * ch];
        }
    }
}

int tml_depthwise_conv2d_3x3_s8_mve(const tml_context *ctx, const tml_dw_conv_params *conv,
                                    const tml_m4_requant *rq, const tml_dims *input_dims,
                                    const int8_t *input, const tml_dims *filter_dims,
                                    const int8_t *filter, const tml_dims *output_dims,
                                    int8_t *output)
{
    const int32_t h = input_dims->h, w = input_dims->w, ch = input_dims->c;
    const int32_t plane_len = (w + 2) * plane_col(h);
    int16_t *plane;
    int32_t b, c, i;
    if (!tml_dw3x3_call_ok(ctx, conv, input_dims, filter_dims, output_dims,
                           tml_dw3x3_mve_scratch_bytes(h, w))) {
        return TML_ERR_ARG;
    }
    plane = (int16_t *)ctx->buf;
    /* The border stays at the zero point for every channel; only the interior is rewritten. */
    for (i = 0; i < plane_len; ++i) {
        plane[i] = (int16_t)(-conv->input_offset);
    }
    for (b = 0; b < input_dims->n; ++b) {
        const int8_t *in_b = input + b * h * w * ch;
        int8_t *out_b = output + b * h * w * ch;
        for (c = 0; c < ch; ++c) {
            const int32_t e = tml_m4_shift(&rq[c]);
            const dw_requant q = {rq[c].bias2 / 2, rq[c].multiplier, -e,
                                  (rq[c].round_add - (1 << (e - 1))) >> e, conv->act_min,
                                  conv->act_max};
            int32_t k[9];
            for (i = 0; i < 9; ++i) {
                k[i] = filter[i * ch + c];
            }
            gather_channel(in_b + c, h, w, ch, plane);
            dw3x3_channel(plane, h, w, ch, k, &q, out_b + c);
        }
    }
    return TML_OK;
}
