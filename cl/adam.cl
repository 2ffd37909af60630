// Adam over one range of a flat parameter buffer, in the order of
// torch.optim.Adam's single-tensor path (PyTorch 1.13). The host passes the
// scalars PyTorch would form in Python doubles, rounded to float as
// PyTorch's scalar ops do. One work-item per element, no reductions.
//
// Rounding follows PyTorch 1.13's CPU kernels as measured against them: add
// with alpha and addcmul end in a fused multiply-add, addcdiv does not. So
// contraction is off and every fma is explicit; on PoCL the result is then
// bit-identical to torch (tests/test_ops_adam.c checks it with a tolerance).
#pragma OPENCL FP_CONTRACT OFF

__kernel void adam_step(__global float *p, __global const float *g, __global float *m,
                        __global float *v, int off, int n, float beta1, float one_m_beta1,
                        float beta2, float one_m_beta2, float weight_decay, float neg_step_size,
                        float bc2_sqrt, float eps)
{
    int i = get_global_id(0);
    if (i >= n)
        return;
    int k = off + i;
    float pk = p[k];
    float gk = g[k];
    if (weight_decay != 0.0f)
        gk = fma(pk, weight_decay, gk);                  // grad.add(param, alpha=wd)
    float mk = fma(gk, one_m_beta1, m[k] * beta1);       // m.mul_(b1).add_(g, alpha=1-b1)
    float vk = fma(one_m_beta2 * gk, gk, v[k] * beta2); // v.mul_(b2).addcmul_(g, g, value=1-b2)
    float denom = sqrt(vk) / bc2_sqrt + eps;             // (v.sqrt() / sqrt(bc2)).add_(eps)
    m[k] = mk;
    v[k] = vk;
    p[k] = pk + (neg_step_size * mk) / denom;            // p.addcdiv_(m, denom, value=-step_size)
}
