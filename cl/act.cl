// Elementwise activations, forward and backward, with PyTorch's formulas
// (backward of tanh and sigmoid from the output, as autograd does). One
// kernel per activation, all in one program, so the choice costs no branch
// and one build. In place is fine: each work-item reads before it writes.

// 2.0 * 0.636 evaluated in double, then used as a float (FrEIA's clamp*0.636).
#define GLF_SOFTCLAMP_K ((float)(2.0 * 0.636))

#define GLF_ACT_FWD(name, expr)                                                          \
    __kernel void act_##name##_fwd(__global float *y, int offy, __global const float *x, \
                                   int offx, int n)                                      \
    {                                                                                    \
        int i = get_global_id(0);                                                        \
        if (i >= n)                                                                      \
            return;                                                                      \
        float v = x[offx + i];                                                           \
        y[offy + i] = (expr);                                                            \
    }

// v = x[i], o = y[i], g = dy[i]; unused inputs are never read.
#define GLF_ACT_BWD(name, read_x, read_y, expr)                                        \
    __kernel void act_##name##_bwd(__global float *dx, int offdx,                      \
                                   __global const float *dy, int offdy,                \
                                   __global const float *x, int offx,                  \
                                   __global const float *y, int offy, int n)           \
    {                                                                                  \
        int i = get_global_id(0);                                                      \
        if (i >= n)                                                                    \
            return;                                                                    \
        float g = dy[offdy + i];                                                       \
        float v = (read_x) ? x[offx + i] : 0.0f;                                       \
        float o = (read_y) ? y[offy + i] : 0.0f;                                       \
        (void)v;                                                                       \
        (void)o;                                                                       \
        dx[offdx + i] = (expr);                                                        \
    }

// ReLU keeps NaN like torch.relu (clamp_min); its gradient is dy where x > 0.
GLF_ACT_FWD(relu, v < 0.0f ? 0.0f : v)
GLF_ACT_FWD(tanh, tanh(v))
GLF_ACT_FWD(sigmoid, 1.0f / (1.0f + exp(-v)))
GLF_ACT_FWD(outmap, v * 0.5f + 0.5f)
GLF_ACT_FWD(tanh_outmap, tanh(v) * 0.5f + 0.5f)
GLF_ACT_FWD(softclamp, GLF_SOFTCLAMP_K * atan(v))

GLF_ACT_BWD(relu, 1, 0, v > 0.0f ? g : 0.0f)
// Same, when only the output is at hand (y > 0 exactly where x > 0).
GLF_ACT_BWD(relu_y, 0, 1, o > 0.0f ? g : 0.0f)
GLF_ACT_BWD(tanh, 0, 1, g * (1.0f - o * o))
GLF_ACT_BWD(sigmoid, 0, 1, g * (1.0f - o) * o)
GLF_ACT_BWD(outmap, 0, 0, g * 0.5f)
// autograd: mul by 0.5 first, then tanh's backward with t = tanh(x) (the
// same bits as the forward's t; rebuilding t from y = t*0.5+0.5 would not be).
float act_tanh_outmap_grad_(float g, float v)
{
    float t = tanh(v);
    return (g * 0.5f) * (1.0f - t * t);
}
GLF_ACT_BWD(tanh_outmap, 1, 0, act_tanh_outmap_grad_(g, v))
// autograd: mul by the constant, then atan's backward grad / (x^2 + 1).
GLF_ACT_BWD(softclamp, 1, 0, (g * GLF_SOFTCLAMP_K) / (v * v + 1.0f))
