/* Monotonic wall clock for progress lines and benchmarks. */
#include <time.h>

#include "glf/util.h"

double glf_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
