/* Cortex-M4 int8 average pooling (same signature as the portable tml_avgpool_s8). For windows
 * of at most 255 values and a depth that is a multiple of 16, sums 16 channels per pass with
 * SXTAB16 (4 int8 added to 2+2 int16 sums per instruction; 255 * 128 fits int16); otherwise
 * plain C. Rounding as the portable kernel: half away from zero. */
#include "tml_acle.h"
#include "tml_fixedpoint.h"
#include "tml_kernels.h"
#include "tml_kernels_m4.h"

static int8_t average(int32_t sum, int32_t count, const tml_pool_params *pool)
{
    return (int8_t)tml_clamp_s32(tml_div_round_away(sum, count), pool->act_min, pool->act_max);
}

int tml_avgpool_s8_m4(const tml_context *ctx, const tml_pool_params *pool,
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
        const int8_t *in_b = input + b * in_h * in_w * depth;
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
                if (count <= 0) {
                    return TML_ERR_ARG;
                }
                if (count <= 255 && depth % 16 == 0) {
                    for (c = 0; c < depth; c += 16) {
                        int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
                        int32_t k;
                        for (y = y_start; y < y_end; ++y) {
                            const int8_t *px = in_b + (y * in_w + x_start) * depth + c;
                            for (x = x_start; x < x_end; ++x, px += depth) {
                                const int32_t w0 = tml_read_s8x4(px);
                                const int32_t w1 = tml_read_s8x4(px + 4);
                                const int32_t w2 = tml_read_s8x4(px + 8);
                                const int32_t w3 = tml_read_s8x4(px + 12);
                                s0 = tml_sxtab16(s0, w0);
                                s1 = tml_sxtab16_ror8(s1, w0);
                                s2 = tml_sxtab16(s2, w1);
                                s3 = tml_sxtab16_ror8(s3, w1);
                                s4 = tml_sxtab16(s4, w2);
                                s5 = tml_sxtab16_ror8(s5, w2);
                                s6 = tml_sxtab16(s6, w3);
                                s7 = tml_sxtab16_ror8(s7, w3);
                            }
                        }
                        {
                            /* s(2k) holds channels 4k, 4k+2; s(2k+1) channels 4k+1, 4k+3. */
                            const int32_t sums[8] = {s0, s1, s2, s3, s4, s5, s6, s7};
                            for (k = 0; k < 4; ++k) {
                                out_px[c + 4 * k] = average(tml_bottom16(sums[2 * k]), count, pool);
                                out_px[c + 4 * k + 1] =
                                    average(tml_bottom16(sums[2 * k + 1]), count, pool);
                                out_px[c + 4 * k + 2] = average(tml_top16(sums[2 * k]), count, pool);
                                out_px[c + 4 * k + 3] =
                                    average(tml_top16(sums[2 * k + 1]), count, pool);
                            }
                        }
                    }
                    continue;
                }
                for (c = 0; c < depth; ++c) {
                    int32_t sum = 0;
                    for (y = y_start; y < y_end; ++y) {
                        const int8_t *row = in_b + (y * in_w) * depth + c;
                        for (x = x_start; x < x_end; ++x) {
                            sum += row[x * depth];
                        }
                    }
                    out_px[c] = average(sum, count, pool);
                }
            }
        }
    }
    return TML_OK;
}
