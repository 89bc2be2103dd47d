/* Portable int8 average pooling; the window is clipped to the input (padding is not counted). */
#include "tml_fixedpoint.h"
#include "tml_kernels.h"

int tml_avgpool_s8(const tml_context *ctx, const tml_pool_params *pool,
                   const tml_dims *input_dims, const int8_t *input,
                   const tml_dims *output_dims, int8_t *output)
{
    const int32_t in_h = input_dims->h, in_w = input_dims->w, depth = input_dims->c;
    const int32_t out_h = output_dims->h, out_w = output_dims->w;
    int32_t b, oy, ox, c, y, x;
    (void)ctx;
    if (output_dims->c != depth || input_dims->n != output_dims->n) {
        return TML_ERR_ARG;
    }
    for (b = 0; b < input_dims->n; ++b) {
        for (oy = 0; oy < out_h; ++oy) {
            int32_t y_start, y_end;
            tml_pool_window(oy, pool->stride_h, pool->pad_h, pool->filter_h, in_h,
                            &y_start, &y_end);
            for (ox = 0; ox < out_w; ++ox) {
                int32_t x_start, x_end;
                tml_pool_window(ox, pool->stride_w, pool->pad_w, pool->filter_w, in_w,
                                &x_start, &x_end);
                const int32_t count = (y_end - y_start) * (x_end - x_start);
                int8_t *out_px = output + ((b * out_h + oy) * out_w + ox) * depth;
                for (c = 0; c < depth; ++c) {
                    int32_t sum = 0;
                    for (y = y_start; y < y_end; ++y) {
                        const int8_t *row = input + ((b * in_h + y) * in_w) * depth + c;
                        for (x = x_start; x < x_end; ++x) {
                            sum += row[x * depth];
                        }
                    }
                    if (count == 0) {
                        return TML_ERR_ARG;
                    }
                    out_px[c] = (int8_t)tml_clamp_s32(tml_div_round_away(sum, count),
                                                      pool->act_min, pool->act_max);
                }
            }
        }
    }
    return TML_OK;
}
