/* int8 softmax with the exps looked up: the model compiler knows the input scale, so it
 * tabulates exp(d) for every difference d = max - x that does not give 0 (at most 256 values),
 * with the arithmetic of tml_softmax_common.h; the outputs are tml_softmax_s8's bit for bit. */
#include "tml_softmax_common.h"

/* exp of the difference max - x (>= 0), 0 past the table. */
static inline int32_t lookup(const tml_softmax_lut_params *softmax, int32_t difference)
{
    return difference < softmax->count ? softmax->exps[difference] : 0;
}

int tml_softmax_s8_lut(const tml_context *ctx, const tml_softmax_lut_params *softmax,
                       int32_t rows, int32_t depth, const int8_t *input, int8_t *output)
{
    int32_t r, c;
    (void)ctx;
    if (rows < 0 || depth <= 0 || softmax->count < 1 || softmax->count > 256) {
        return TML_ERR_ARG;
    }
    for (r = 0; r < rows; ++r) {
        const int8_t *in = input + r * depth;
        int8_t *out = output + r * depth;
        const int32_t max_in = tml_softmax_row_max(in, depth);
        int32_t sum_of_exps = 0; /* Q12.19 */
        tml_softmax_norm norm;
        for (c = 0; c < depth; ++c) {
            sum_of_exps += tml_rounding_divide_by_pot(lookup(softmax, max_in - in[c]), 12);
        }
        norm = tml_softmax_normalizer(sum_of_exps);
        for (c = 0; c < depth; ++c) {
            out[c] = tml_softmax_output(&norm, lookup(softmax, max_in - in[c]));
        }
    }
    return TML_OK;
}
