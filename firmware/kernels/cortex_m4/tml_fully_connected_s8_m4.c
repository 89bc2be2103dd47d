/* Cortex-M4 int8 fully connected layer, same contract as the portable tml_fully_connected_s8.
 *
 * Each input row is widened once into the scratch as SXTB16 gives it, with the input offset
 * already added (x + input_offset fits int16): chunk k of 4 values becomes the words (x0, x2)
 * and (x1, x3). A weight word then needs two SXTB16 and two SMLAD, and four units (on
 * Armv7E-M, in an assembly loop; two elsewhere and for the last units) share every load of the
 * widened row. A non-zero filter offset (TFLite int8 weights have none) adds
 * filter_offset * sum(x + input_offset) per unit. The requantization is TFLite's, for any
 * activation range, so the result is the portable kernel's bit for bit. */
#include "tml_acle.h"
#include "tml_fixedpoint.h"
#include "tml_kernels_m4.h"

/* Widen `depth` values (rounded down to chunks of 4) with the offset added. */
static void widen_row(const int8_t *x, int32_t depth, int32_t offset, int32_t *cols)
{
    const int32_t offset2 = tml_pack16(offset, offset);
    int32_t k;
    for (k = 0; k + 4 <= depth; k += 4) {
        const int32_t word = tml_read_s8x4(x + k);
        cols[k / 2] = tml_sadd16(tml_sxtb16(word), offset2);
        cols[k / 2 + 1] = tml_sadd16(tml_sxtb16_ror8(word), offset2);
    }
}

/* sum(x + offset) over a row (only needed for a non-zero filter offset). */
static int32_t row_sum(const int8_t *x, int32_t depth, int32_t offset)
{
    int32_t sum = 0, d;
    for (d = 0; d < depth; ++d) {
        sum += (int32_t)x[d] + offset;
    }
    return sum;
}

/* acc + the dot product of one chunk of 4 weights with its widened values (even, odd). */
static inline int32_t dot_chunk(const int8_t *w, int32_t even, int32_t odd, int32_t acc)
{
    const int32_t word = tml_read_s8x4(w);
    acc = tml_smlad(tml_sxtb16(word), even, acc);
    return tml_smlad(tml_sxtb16_ror8(word), odd, acc);
}

/* Two units' dot products with the widened row, chunks [0, chunks): each widened chunk is
 * loaded once for both units; two chunks per step. */
static void dot2(const int32_t *cols, int32_t chunks, const int8_t *w0, const int8_t *w1,
                 int32_t *acc0, int32_t *acc1)
{
    int32_t a0 = *acc0, a1 = *acc1, k = 0;
    for (; k + 2 <= chunks; k += 2) {
        const int32_t e0 = cols[2 * k], o0 = cols[2 * k + 1];
        const int32_t e1 = cols[2 * k + 2], o1 = cols[2 * k + 3];
        a0 = dot_chunk(w0 + 4 * k, e0, o0, a0);
        a1 = dot_chunk(w1 + 4 * k, e0, o0, a1);
        a0 = dot_chunk(w0 + 4 * k + 4, e1, o1, a0);
        a1 = dot_chunk(w1 + 4 * k + 4, e1, o1, a1);
    }
    if (k < chunks) {
        a0 = dot_chunk(w0 + 4 * k, cols[2 * k], cols[2 * k + 1], a0);
        a1 = dot_chunk(w1 + 4 * k, cols[2 * k], cols[2 * k + 1], a1);
    }
    *acc0 = a0;
    *acc1 = a1;
}

/* Scalar tail of one unit: sum_d (x[d] + input_offset) * w[d] over d >= `from`. */
static int32_t tail_dot(const int8_t *x, const int8_t *w, int32_t from, int32_t depth,
                        int32_t input_offset)
{
    int32_t acc = 0, d;
    for (d = from; d < depth; ++d) {
        acc += ((int32_t)x[d] + input_offset) * (int32_t)w[d];
    }
    return acc;
}

/* Four units' dot products with the widened row, chunks [0, chunks) (chunks >= 1): unit i's
 * weights start at w + i * depth. On Armv7E-M one assembly loop keeps the four accumulators, the
 * two row pointers and the chunk's widened pair in registers: 23 instructions per 16 MACs. */
static void dot4(const int32_t *cols, int32_t chunks, const int8_t *w, int32_t depth,
                 int32_t acc[4])
{
#if TML_HAVE_DSP && defined(__GNUC__)
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    const int8_t *w0 = w;             /* units 0 (at w0) and 1 (at w0 + depth) */
    const int8_t *w2 = w + 2 * depth; /* units 2 and 3 */
    int32_t n = chunks, even, odd, word, wide;
    __asm__ volatile(
        "1:\n\t"
        "ldrd %[even], %[odd], [%[cols]], #8\n\t"
        "ldr %[word], [%[w0], %[depth]]\n\t" /* unit 1 */
        "sxtb16 %[wide], %[word]\n\t"
        "smlad %[a1], %[wide], %[even], %[a1]\n\t"
        "sxtb16 %[wide], %[word], ror #8\n\t"
        "smlad %[a1], %[wide], %[odd], %[a1]\n\t"
        "ldr %[word], [%[w0]], #4\n\t" /* unit 0 */
        "sxtb16 %[wide], %[word]\n\t"
        "smlad %[a0], %[wide], %[even], %[a0]\n\t"
        "sxtb16 %[wide], %[word], ror #8\n\t"
        "smlad %[a0], %[wide], %[odd], %[a0]\n\t"
        "ldr %[word], [%[w2], %[depth]]\n\t" /* unit 3 */
        "sxtb16 %[wide], %[word]\n\t"
        "smlad %[a3], %[wide], %[even], %[a3]\n\t"
        "sxtb16 %[wide], %[word], ror #8\n\t"
        "smlad %[a3], %[wide], %[odd], %[a3]\n\t"
        "ldr %[word], [%[w2]], #4\n\t" /* unit 2 */
        "sxtb16 %[wide], %[word]\n\t"
        "smlad %[a2], %[wide], %[even], %[a2]\n\t"
        "sxtb16 %[wide], %[word], ror #8\n\t"
        "smlad %[a2], %[wide], %[odd], %[a2]\n\t"
        "subs %[n], %[n], #1\n\t"
        "bne 1b"
        : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [cols] "+r"(cols),
          [w0] "+r"(w0), [w2] "+r"(w2), [n] "+r"(n), [even] "=&r"(even), [odd] "=&r"(odd),
          [word] "=&r"(word), [wide] "=&r"(wide)
        : [depth] "r"(depth)
        : "cc", "memory");
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
#else
    dot2(cols, chunks, w, w + depth, &acc[0], &acc[1]);
    dot2(cols, chunks, w + 2 * depth, w + 3 * depth, &acc[2], &acc[3]);
#endif
}

/* acc[i] (units first .. first + n - 1, weights from w) plus the values past the last whole
 * chunk and the filter offset term: only for depth % 4 != 0 or a non-zero filter offset. */
static TML_NOINLINE void finish_units(int32_t *acc, int32_t n, const int8_t *x, const int8_t *w,
                                      int32_t depth, const tml_fc_params *fc, int32_t x_sum)
{
    int32_t i;
    for (i = 0; i < n; ++i) {
        acc[i] += tail_dot(x, w + i * depth, depth & ~3, depth, fc->input_offset) +
                  fc->filter_offset * x_sum;
    }
}

/* out[i] for the accumulators of units first .. first + n - 1 with TFLite's reference
 * requantization (per-channel, or a multiplier or shift outside the one-multiply form). */
static TML_NOINLINE void requantize_units(const int32_t *acc, int32_t n, int32_t first,
                                          const tml_fc_params *fc,
                                          const tml_quant_params *quant, int8_t *out)
{
    int32_t i;
    for (i = 0; i < n; ++i) {
        const int32_t q = quant->per_channel ? first + i : 0;
        out[i] = tml_requantize_to_s8(acc[i], quant->multiplier[q], quant->shift[q],
                                      fc->output_offset, fc->act_min, fc->act_max);
    }
}

int tml_fully_connected_s8_m4(const tml_context *ctx, const tml_fc_params *fc,
                              const tml_quant_params *quant, int32_t batches, int32_t depth,
                              const int8_t *input, int32_t units, const int8_t *filter,
                              const int32_t *bias, int8_t *output)
{
    const int32_t chunks = depth / 4;
    int32_t *cols = ctx ? (int32_t *)ctx->buf : 0;
    int32_t b, u, i, width;
    tml_requant rq;
    int32_t fast, rare;
    if (batches < 0 || depth <= 0 || units <= 0 || cols == 0 ||
        ctx->size < TML_M4_FC_SCRATCH_BYTES(depth)) {
        return TML_ERR_ARG;
    }
    /* TFLite's usual case: one normalised multiplier with a right shift (one-multiply form) */
    rq = tml_requant_prepare(quant->multiplier[0], quant->shift[0]);
    fast = !quant->per_channel && rq.fast;
    rare = depth % 4 != 0 || fc->filter_offset != 0;
    for (b = 0; b < batches; ++b) {
        const int8_t *x = input + b * depth;
        const int32_t x_sum = fc->filter_offset ? row_sum(x, depth, fc->input_offset) : 0;
        int8_t *out = output + b * units;
        widen_row(x, depth, fc->input_offset, cols);
        for (u = 0; u < units; u += width) {
            /* four units at a time while four are left, then a pair, then a lone last unit
             * (computed twice) */
            const int8_t *w = filter + u * depth;
            int32_t acc[4] = {0, 0, 0, 0};
            width = units - u >= 4 ? 4 : (units - u >= 2 ? 2 : 1);
            for (i = 0; i < width && bias; ++i) {
                acc[i] = bias[u + i];
            }
            if (width == 4 && chunks > 0) {
                dot4(cols, chunks, w, depth, acc);
            } else if (width < 4) {
                dot2(cols, chunks, w, width == 2 ? w + depth : w, &acc[0], &acc[1]);
            }
            if (rare) {
                finish_units(acc, width, x, w, depth, fc, x_sum);
            }
            if (!fast) {
                requantize_units(acc, width, u, fc, quant, out + u);
                continue;
            }
            for (i = 0; i < width; ++i) {
                out[u + i] = (int8_t)tml_clamp_s32(
                    tml_requant_apply_fast(acc[i], &rq) + fc->output_offset, fc->act_min,
                    fc->act_max);
            }
        }
    }
    return TML_OK;
}
