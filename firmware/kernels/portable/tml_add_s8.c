/* Portable int8 element-wise add: both inputs are moved to a common scale with 20 bits of
 * headroom, summed, and requantized to the output scale. */
#include "tml_fixedpoint.h"
#include "tml_kernels.h"

int tml_add_s8(const tml_context *ctx, const tml_add_params *add, int32_t size,
               const int8_t *input1, const int8_t *input2, int8_t *output)
{
    int32_t i;
    (void)ctx;
    if (size < 0) {
        return TML_ERR_ARG;
    }
    for (i = 0; i < size; ++i) {
        const int32_t a = ((int32_t)input1[i] + add->input1_offset) * ((int32_t)1 << add->left_shift);
        const int32_t b = ((int32_t)input2[i] + add->input2_offset) * ((int32_t)1 << add->left_shift);
        const int32_t a_scaled =
            tml_multiply_by_quantized_multiplier(a, add->input1_multiplier, add->input1_shift);
        const int32_t b_scaled =
            tml_multiply_by_quantized_multiplier(b, add->input2_multiplier, add->input2_shift);
        const int32_t sum = tml_multiply_by_quantized_multiplier(
                                a_scaled + b_scaled, add->output_multiplier, add->output_shift) +
                            add->output_offset;
        output[i] = (int8_t)tml_clamp_s32(sum, add->act_min, add->act_max);
    }
    return TML_OK;
}
