/* Cortex-M4 int8 fully connected layer, same contract as the portable tml_fully_connected_s8.
 *
 * Each input row is widened once into the scratch as SXTB16 gives it, with the input offset
 * already added (x + input_offset fits int16): chunk k of 4 values becomes the words (x0, x2)
 * and (x1, x3). A weight word then needs two SXTB16 and two SMLAD, and two units share every
 * load of the widened row. A non-zero filter offset (TFLite int8 weights have none) adds
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

static int8_t requantize(int32_t acc, const tml_fc_params *fc, const tml_quant_params *quant,
                         int32_t unit)
{
    const int32_t q = quant->per_channel ? unit : 0;
    acc = tml_multiply_by_quantized_multiplier(acc, quant->multiplier[q], quant->shift[q]);
    return (int8_t)tml_clamp_s32(acc + fc->output_offset, fc->act_min, fc->act_max);
}

int tml_fully_connected_s8_m4(const tml_context *ctx, const tml_fc_params *fc,
                              const tml_quant_params *quant, int32_t batches, int32_t depth,
                              const int8_t *input, int32_t units, const int8_t *filter,
                              const int32_t *bias, int8_t *output)
{
    const int32_t chunks = depth / 4;
    int32_t *cols = ctx ? (int32_t *)ctx->buf : 0;
    int32_t b, u;
    if (batches < 0 || depth <= 0 || units <= 0 || cols == 0 ||
        ctx->size < TML_M4_FC_SCRATCH_BYTES(depth)) {
        return TML_ERR_ARG;
    }
    for (b = 0; b < batches; ++b) {
        const int8_t *x = input + b * depth;
        const int32_t x_sum = fc->filter_offset ? row_sum(x, depth, fc->input_offset) : 0;
        widen_row(x, depth, fc->input_offset, cols);
        int8_t *out = output + b * units;
        for (u = 0; u < units; u += 2) {
            const int32_t pair = u + 1 < units;
            const int8_t *w0 = filter + u * depth;
            const int8_t *w1 = pair ? w0 + depth : w0; /* a lone last unit computes twice */
            int32_t acc0 = bias ? bias[u] : 0;
            int32_t acc1 = bias && pair ? bias[u + 1] : 0;
            dot2(cols, chunks, w0, w1, &acc0, &acc1);
            if (depth % 4 != 0) {
                acc0 += tail_dot(x, w0, 4 * chunks, depth, fc->input_offset);
                acc1 += tail_dot(x, w1, 4 * chunks, depth, fc->input_offset);
            }
            acc0 += fc->filter_offset * x_sum;
            acc1 += fc->filter_offset * x_sum;
            out[u] = requantize(acc0, fc, quant, u);
            if (pair) {
                out[u + 1] = requantize(acc1, fc, quant, u + 1);
            }
        }
    }
    return TML_OK;
}
