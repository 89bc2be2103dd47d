/* tinyml int8 kernels: plain parameter structs and one prototype per kernel.
 *
 * Every kernel takes, in this order: the context (scratch memory), the op parameters, the
 * quantization parameters, then (dims, data) for input, filter, bias, output. The compiler
 * computes every parameter at compile time; kernels only do arithmetic. Optimised variants for a
 * CPU feature (e.g. kernels/cortex_m4/) keep these exact signatures.
 *
 * Tensor layout is NHWC (filters OHWI, depthwise filters 1HW(C*M)), int8 activations, int32 bias.
 */
#ifndef TML_KERNELS_H
#define TML_KERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TML_OK 0
#define TML_ERR_ARG (-1)

/* Scratch memory planned by the compiler (size from the kernel's scratch-size query). */
typedef struct {
    void *buf;
    int32_t size;
} tml_context;

/* Shape of a 4-D NHWC tensor (or OHWI filter). */
typedef struct {
    int32_t n;
    int32_t h;
    int32_t w;
    int32_t c;
} tml_dims;

/* Requantization of an int32 accumulator: per output channel (per_channel != 0) or one value. */
typedef struct {
    const int32_t *multiplier; /* Q31 fixed-point multipliers */
    const int32_t *shift;      /* > 0: left shift, < 0: rounding right shift */
    int32_t per_channel;
} tml_quant_params;

typedef struct {
    int32_t stride_h, stride_w;
    int32_t pad_h, pad_w; /* top/left padding */
    int32_t dilation_h, dilation_w;
    int32_t input_offset;  /* -input zero point */
    int32_t output_offset; /* output zero point */
    int32_t act_min, act_max;
} tml_conv_params;

typedef struct {
    int32_t stride_h, stride_w;
    int32_t pad_h, pad_w;
    int32_t dilation_h, dilation_w;
    int32_t depth_multiplier;
    int32_t input_offset;
    int32_t output_offset;
    int32_t act_min, act_max;
} tml_dw_conv_params;

typedef struct {
    int32_t input_offset;
    int32_t filter_offset; /* -filter zero point (0 for symmetric int8 weights) */
    int32_t output_offset;
    int32_t act_min, act_max;
} tml_fc_params;

typedef struct {
    int32_t stride_h, stride_w;
    int32_t pad_h, pad_w;
    int32_t filter_h, filter_w;
    int32_t act_min, act_max;
} tml_pool_params;

/* Softmax on int8 input; output scale 1/256, zero point -128 (the TFLite int8 convention). */
typedef struct {
    int32_t input_multiplier; /* beta * input scale, in Q31 with 5 integer bits */
    int32_t input_left_shift;
    int32_t diff_min; /* differences below this give exp() == 0 */
} tml_softmax_params;

/* The same softmax with exp() tabulated at compile time for the model's input scale. */
typedef struct {
    const int32_t *exps; /* exps[d] = exp(-d * beta * input scale) in Q0.31, d = 0 .. count-1 */
    int32_t count;       /* min(1 - diff_min, 256): larger differences give exp() == 0 */
} tml_softmax_lut_params;

typedef struct {
    int32_t input1_offset, input2_offset;
    int32_t left_shift;
    int32_t input1_multiplier, input1_shift;
    int32_t input2_multiplier, input2_shift;
    int32_t output_multiplier, output_shift;
    int32_t output_offset;
    int32_t act_min, act_max;
} tml_add_params;

typedef struct {
    int32_t input_offset;
    int32_t output_offset;
    int32_t multiplier;
    int32_t shift;
} tml_requantize_params;

/* The input rows (or columns) [*start, *end) that the pooling window of output position `out`
 * covers: the window clipped to the input, so padding is never read or counted. */
static inline void tml_pool_window(int32_t out, int32_t stride, int32_t pad, int32_t filter,
                                   int32_t in_size, int32_t *start, int32_t *end)
{
    const int32_t first = out * stride - pad;
    *start = first < 0 ? 0 : first;
    *end = first + filter < in_size ? first + filter : in_size;
}

int tml_conv2d_s8(const tml_context *ctx, const tml_conv_params *conv,
                  const tml_quant_params *quant, const tml_dims *input_dims, const int8_t *input,
                  const tml_dims *filter_dims, const int8_t *filter, const int32_t *bias,
                  const tml_dims *output_dims, int8_t *output);

int tml_depthwise_conv2d_s8(const tml_context *ctx, const tml_dw_conv_params *conv,
                            const tml_quant_params *quant, const tml_dims *input_dims,
                            const int8_t *input, const tml_dims *filter_dims,
                            const int8_t *filter, const int32_t *bias,
                            const tml_dims *output_dims, int8_t *output);

/* input: [batches, depth]; filter: [units, depth]; output: [batches, units]. */
int tml_fully_connected_s8(const tml_context *ctx, const tml_fc_params *fc,
                           const tml_quant_params *quant, int32_t batches, int32_t depth,
                           const int8_t *input, int32_t units, const int8_t *filter,
                           const int32_t *bias, int8_t *output);

int tml_avgpool_s8(const tml_context *ctx, const tml_pool_params *pool,
                   const tml_dims *input_dims, const int8_t *input,
                   const tml_dims *output_dims, int8_t *output);

int tml_maxpool_s8(const tml_context *ctx, const tml_pool_params *pool,
                   const tml_dims *input_dims, const int8_t *input,
                   const tml_dims *output_dims, int8_t *output);

/* rows independent softmaxes over depth contiguous values. */
int tml_softmax_s8(const tml_context *ctx, const tml_softmax_params *softmax, int32_t rows,
                   int32_t depth, const int8_t *input, int8_t *output);
int tml_softmax_s8_lut(const tml_context *ctx, const tml_softmax_lut_params *softmax,
                       int32_t rows, int32_t depth, const int8_t *input, int8_t *output);

/* Element-wise sum of two tensors of the same size. */
int tml_add_s8(const tml_context *ctx, const tml_add_params *add, int32_t size,
               const int8_t *input1, const int8_t *input2, int8_t *output);

/* int8 -> int8 with a new scale and zero point (the QUANTIZE op). */
int tml_requantize_s8(const tml_context *ctx, const tml_requantize_params *rq, int32_t size,
                      const int8_t *input, int8_t *output);

#ifdef __cplusplus
}
#endif

#endif /* TML_KERNELS_H */
