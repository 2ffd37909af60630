/* Class histogram of predicted labels and its entropy: how evenly samples
 * cover the modes (classes) of the data. */
#include "glf/eval.h"

#include <math.h>
#include <string.h>

glf_status glf_class_histogram(const int *labels, size_t n, int classes, size_t *counts,
                               double *entropy)
{
    if (!labels || !counts || classes < 1 || n < 1)
        return glf_fail(GLF_ERR_INVALID_ARG,
                        "glf_class_histogram: n = %zu labels, %d classes; expected n >= 1, "
                        "classes >= 1 and non-NULL arrays", n, classes);
    for (size_t i = 0; i < n; i++) /* check first: a failure leaves counts untouched */
        if (labels[i] < 0 || labels[i] >= classes)
            return glf_fail(GLF_ERR_INVALID_ARG,
                            "glf_class_histogram: label %zu is %d, expected 0..%d", i,
                            labels[i], classes - 1);
    memset(counts, 0, (size_t)classes * sizeof *counts);
    for (size_t i = 0; i < n; i++)
        counts[labels[i]]++;
    if (entropy) {
        double h = 0.0;
        for (int c = 0; c < classes; c++)
            if (counts[c]) {
                double p = (double)counts[c] / (double)n;
                h -= p * log(p);
            }
        *entropy = h;
    }
    return GLF_OK;
}
