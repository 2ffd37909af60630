// Training losses and the VAE reparameterisation. A loss is a two-pass
// fixed-order sum: work-item p of P sums elements p, p+P, p+2P, ... (and
// writes their gradients), then loss_finish sums the P partials in order.
// P depends only on the sizes, so the bits do not depend on the device's
// scheduling or work-group size. No atomics, no barriers.

// Element terms follow PyTorch 1.13's CPU kernels (aten/src/ATen/native/Loss.cpp);
// BCE there takes log(1 - xhat), not log1p(-xhat) (checked: xhat = 1e-8 gives 0).

__kernel void loss_mse_partial(__global float *part, int poff, __global float *dx, int dxoff,
                               __global const float *xh, int xhoff, __global const float *x,
                               int xoff, int n, int P, float gs, int want_grad)
{
    int p = get_global_id(0);
    if (p >= P)
        return;
    float acc = 0.0f;
    for (int i = p; i < n; i += P) {
        float d = xh[xhoff + i] - x[xoff + i];
        acc += d * d;
        if (want_grad)
            dx[dxoff + i] = (2.0f * d) * gs;
    }
    part[poff + p] = acc;
}

__kernel void loss_bce_partial(__global float *part, int poff, __global float *dx, int dxoff,
                               __global const float *xh, int xhoff, __global const float *x,
                               int xoff, int n, int P, float gs, int want_grad)
{
    int p = get_global_id(0);
    if (p >= P)
        return;
    float acc = 0.0f;
    for (int i = p; i < n; i += P) {
        float a = xh[xhoff + i], y = x[xoff + i];
        acc += (y - 1.0f) * fmax(log(1.0f - a), -100.0f) - y * fmax(log(a), -100.0f);
        if (want_grad)
            dx[dxoff + i] = gs * (a - y) / fmax((1.0f - a) * a, 1e-12f);
    }
    part[poff + p] = acc;
}

// Gaussian NLL's data term: partials of 0.5 z^2; dz = gs * z; dldj[i] = fill.
__kernel void loss_gauss_partial(__global float *part, int poff, __global float *dz, int dzoff,
                                 __global float *dl, int dloff, __global const float *z,
                                 int zoff, int n, int P, int B, float gs, float fill, int want)
{
    int p = get_global_id(0);
    if (p >= P)
        return;
    float acc = 0.0f;
    for (int i = p; i < n; i += P) {
        float a = z[zoff + i];
        acc += 0.5f * (a * a);
        if (want & 1)
            dz[dzoff + i] = gs * a;
    }
    if (want & 2)
        for (int i = p; i < B; i += P)
            dl[dloff + i] = fill;
    part[poff + p] = acc;
}

// Plain sums (VAE entropy term); the gradient is a constant fill.
__kernel void loss_sum_partial(__global float *part, int poff, __global float *dx, int dxoff,
                               __global const float *x, int xoff, int n, int P, float fill,
                               int want_grad)
{
    int p = get_global_id(0);
    if (p >= P)
        return;
    float acc = 0.0f;
    for (int i = p; i < n; i += P) {
        acc += x[xoff + i];
        if (want_grad)
            dx[dxoff + i] = fill;
    }
    part[poff + p] = acc;
}

// loss = coef * (sum(part) + cst - sum(sub[0..nsub))), all sums in order.
__kernel void loss_finish(__global float *loss, int loff, __global const float *part, int poff,
                          int P, __global const float *sub, int soff, int nsub, float cst,
                          float coef)
{
    if (get_global_id(0) != 0)
        return;
    float s = 0.0f;
    for (int i = 0; i < P; i++)
        s += part[poff + i];
    float m = 0.0f;
    for (int i = 0; i < nsub; i++)
        m += sub[soff + i];
    loss[loff] = coef * ((s + cst) - m);
}

// z = mu + exp(0.5 logvar) * eps, in PyTorch's order: std = exp(0.5*logvar),
// z = mu + eps*std. mu and logvar rows have stride ld; z and eps are dense.
__kernel void reparam_forward(__global float *z, int zoff, __global const float *mu, int muoff,
                              __global const float *lv, int lvoff, __global const float *eps,
                              int eoff, int B, int D, int ld)
{
    int i = get_global_id(0);
    if (i >= B * D)
        return;
    int b = i / D, j = i - b * D;
    float sd = exp(0.5f * lv[lvoff + b * ld + j]);
    z[zoff + i] = mu[muoff + b * ld + j] + eps[eoff + i] * sd;
}

// dmu = dz; dlogvar (+)= 0.5 * (dz*eps) * std, as autograd chains it.
// want: bit 0 dmu, bit 1 dlogvar.
__kernel void reparam_backward(__global float *dmu, int dmuoff, __global float *dlv, int dlvoff,
                               __global const float *dz, int dzoff, __global const float *lv,
                               int lvoff, __global const float *eps, int eoff, int B, int D,
                               int ld, int want, int acc)
{
    int i = get_global_id(0);
    if (i >= B * D)
        return;
    int b = i / D, j = i - b * D;
    int r = b * ld + j;
    float g = dz[dzoff + i];
    if (want & 1)
        dmu[dmuoff + r] = g;
    if (want & 2) {
        float sd = exp(0.5f * lv[lvoff + r]);
        float d = 0.5f * ((g * eps[eoff + i]) * sd);
        dlv[dlvoff + r] = acc ? dlv[dlvoff + r] + d : d;
    }
}
