// Adam over one range of a flat parameter buffer, in the order of
// torch.optim.Adam's single-tensor path (PyTorch 1.13). The host passes the
// scalars PyTorch would form in Python doubles, rounded to float as
// PyTorch's scalar ops do. One work-item per element, no reductions.

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
        gk = gk + weight_decay * pk;                 // grad.add(param, alpha=wd)
    float mk = m[k] * beta1 + one_m_beta1 * gk;      // m.mul_(b1).add_(g, alpha=1-b1)
    float vk = v[k] * beta2 + (one_m_beta2 * gk) * gk; // v.mul_(b2).addcmul_(g, g, value=1-b2)
    float denom = sqrt(vk) / bc2_sqrt + eps;         // (v.sqrt() / sqrt(bc2)).add_(eps)
    m[k] = mk;
    v[k] = vk;
    p[k] = pk + (neg_step_size * mk) / denom;        // p.addcdiv_(m, denom, value=-step_size)
}
