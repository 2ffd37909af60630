// Data upload: batches travel to the device as bytes (4x less transfer than
// floats) and become floats in [0,1] here. x / 255 is computed as
// q = x * (1/255) plus one fma correction step, which gives the correctly
// rounded quotient for every byte (the test checks all 256 against the
// host's x / 255.0f, which is what PyTorch computes), without relying on
// the device's division accuracy.

#ifndef DATA_PER_ITEM
#define DATA_PER_ITEM 8
#endif

// y[yoff + i] = x[xoff + i] / 255 for i < n. Work-item g handles
// i = g, g + G, g + 2G, ... (G = global size): neighbours read neighbours.
__kernel void u8_to_f32(__global float *y, int yoff, __global const uchar *x, int xoff, int n)
{
    int g = get_global_id(0), G = get_global_size(0);
    for (int k = 0; k < DATA_PER_ITEM; k++) {
        int i = g + k * G;
        if (i < n) {
            float v = (float)x[xoff + i];
            float q = v * (1.0f / 255.0f);
            float r = fma(-q, 255.0f, v);
            y[yoff + i] = fma(r, 1.0f / 255.0f, q);
        }
    }
}
