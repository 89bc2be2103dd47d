/* Portable int8 -> int8 requantization (new scale and zero point). */
#include "tml_fixedpoint.h"
#include "tml_kernels.h"

int tml_requantize_s8(const tml_context *ctx, const tml_requantize_params *rq, int32_t size,
                      const int8_t *input, int8_t *output)
{
    int32_t i;
    (void)ctx;
    if (size < 0) {
        return TML_ERR_ARG;
    }
    for (i = 0; i < size; ++i) {
        const int32_t x = (int32_t)input[i] + rq->input_offset;
        const int32_t y =
            tml_multiply_by_quantized_multiplier(x, rq->multiplier, rq->shift) + rq->output_offset;
        output[i] = (int8_t)tml_clamp_s32(y, -128, 127);
    }
    return TML_OK;
}
