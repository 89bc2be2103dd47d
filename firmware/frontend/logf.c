/* Natural logarithm without libm: see logf_impl.h. */
#include "fp_strict.h"

#include "logf_impl.h"
#include "tml_frontend.h"

float tml_frontend_logf(float x)
{
    return frontend_logf(x);
}
