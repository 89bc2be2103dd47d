/* Portable int8 softmax in 32-bit fixed point (the arithmetic is in tml_softmax_common.h). */
#include "tml_softmax_common.h"

/* Rows up to this depth keep their exps from the first pass for the second (on the stack). */
#define TML_SOFTMAX_CACHED_DEPTH 64

int tml_softmax_s8(const tml_context *ctx, const tml_softmax_params *softmax, int32_t rows,
                   int32_t depth, const int8_t *input, int8_t *output)
{
    int32_t r, c;
    (void)ctx;
    if (rows < 0 || depth <= 0) {
        return TML_ERR_ARG;
    }
    for (r = 0; r < rows; ++r) {
        const int8_t *in = input + r * depth;
        int8_t *out = output + r * depth;
        int32_t exps[TML_SOFTMAX_CACHED_DEPTH];
        const int32_t max_in = tml_softmax_row_max(in, depth);
        int32_t sum_of_exps = 0; /* Q12.19 */
        tml_softmax_norm norm;
        for (c = 0; c < depth; ++c) {
            const int32_t e = tml_softmax_exp_of_diff(softmax, (int32_t)in[c] - max_in);
            if (c < TML_SOFTMAX_CACHED_DEPTH) {
                exps[c] = e;
            }
            sum_of_exps += tml_rounding_divide_by_pot(e, 12);
        }
        norm = tml_softmax_normalizer(sum_of_exps);
        for (c = 0; c < depth; ++c) {
            const int32_t e = c < TML_SOFTMAX_CACHED_DEPTH
                                  ? exps[c]
                                  : tml_softmax_exp_of_diff(softmax, (int32_t)in[c] - max_in);
            out[c] = tml_softmax_output(&norm, e);
        }
    }
    return TML_OK;
}
