/* Portable int8 fully connected layer: output[b][u] = sum_d input[b][d] * filter[u][d] + bias. */
#include "tml_fixedpoint.h"
#include "tml_kernels.h"

int tml_fully_connected_s8(const tml_context *ctx, const tml_fc_params *fc,
                           const tml_quant_params *quant, int32_t batches, int32_t depth,
                           const int8_t *input, int32_t units, const int8_t *filter,
                           const int32_t *bias, int8_t *output)
{
    int32_t b, u, d;
    (void)ctx;
    if (batches < 0 || depth <= 0 || units <= 0) {
        return TML_ERR_ARG;
    }
    for (b = 0; b < batches; ++b) {
        const int8_t *in_row = input + b * depth;
        for (u = 0; u < units; ++u) {
            const int8_t *f_row = filter + u * depth;
            const int32_t q = quant->per_channel ? u : 0;
            int32_t acc = 0;
            for (d = 0; d < depth; ++d) {
                acc += ((int32_t)f_row[d] + fc->filter_offset) *
                       ((int32_t)in_row[d] + fc->input_offset);
            }
            if (bias) {
                acc += bias[u];
            }
            acc = tml_multiply_by_quantized_multiplier(acc, quant->multiplier[q], quant->shift[q]);
            acc += fc->output_offset;
            output[b * units + u] = (int8_t)tml_clamp_s32(acc, fc->act_min, fc->act_max);
        }
    }
    return TML_OK;
}
