#!/usr/bin/env python3
# Expected values for tests/test_ops_flow.c: one affine coupling block built
# from torch.nn modules (PyTorch 1.13) in float64, as glf-method.md defines
# it, to pin the C reference (tests/ref_flow.c) to PyTorch's semantics.
# Run once; the output is committed. Regenerate with:
#   /usr/bin/python3 tests/gen_coupling_fixture.py > tests/data/coupling_torch_1_13.txt
# Format: a header line "glf-coupling-fixture 1 B d h", then lines
# "<name> <count> <values as %.17g>", names in this order: z, dv, dlogdet;
# per sub-network k in s1 t1 s2 t2: <k>.<state_dict name> for every entry
# except num_batches_tracked (parameters, then running stats, at init);
# then train mode: v, logdet, dz, grad.<k>.<param name>..., <k>.bn1.running_mean
# ... after the forward; then eval mode (running stats at init): v_eval,
# logdet_eval.
import collections

import torch
from torch import nn

torch.manual_seed(4242)
B, d, h = 6, 5, 7
d1, d2 = d // 2, d - d // 2
NAMES = ["s1", "t1", "s2", "t2"]


def mlp(i, o):
    return nn.Sequential(collections.OrderedDict([
        ("fc1", nn.Linear(i, h)), ("relu1", nn.ReLU()), ("bn1", nn.BatchNorm1d(h)),
        ("fc2", nn.Linear(h, h)), ("relu2", nn.ReLU()), ("bn2", nn.BatchNorm1d(h)),
        ("fc3", nn.Linear(h, o))])).double()


nets = {"s1": mlp(d1, d2), "t1": mlp(d1, d2), "s2": mlp(d2, d1), "t2": mlp(d2, d1)}
with torch.no_grad():
    for net in nets.values():
        for name, p in net.named_parameters():
            p.copy_(0.5 * torch.randn_like(p) + (1.0 if name.endswith("bn1.weight") or
                                                 name.endswith("bn2.weight") else 0.0))
        for bn in (net.bn1, net.bn2):
            bn.running_mean.copy_(0.3 * torch.randn(h))
            bn.running_var.copy_(0.5 + torch.rand(h))
init_state = {k: {n: t.clone() for n, t in nets[k].state_dict().items()} for k in NAMES}


def c(s):
    return 2.0 * 0.636 * torch.atan(s)


def block(z):
    u1, u2 = z[:, :d1], z[:, d1:]
    s2, t2 = nets["s2"](u2), nets["t2"](u2)
    v1 = u1 * torch.exp(c(s2)) + t2
    s1, t1 = nets["s1"](v1), nets["t1"](v1)
    v2 = u2 * torch.exp(c(s1)) + t1
    return torch.cat([v1, v2], 1), c(s2).sum(1) + c(s1).sum(1)


def out(name, t):
    t = t.detach().reshape(-1)
    print(name, t.numel(), " ".join("%.17g" % x for x in t.tolist()))


z = torch.randn(B, d, dtype=torch.float64) * 1.5
dv = torch.randn(B, d, dtype=torch.float64)
dl = torch.randn(B, dtype=torch.float64)
print("glf-coupling-fixture 1 %d %d %d" % (B, d, h))
out("z", z)
out("dv", dv)
out("dlogdet", dl)
for k in NAMES:
    for n, t in init_state[k].items():
        if not n.endswith("num_batches_tracked"):
            out("%s.%s" % (k, n), t)
zz = z.clone().requires_grad_(True)
for net in nets.values():
    net.train()
v, ld = block(zz)
((v * dv).sum() + (ld * dl).sum()).backward()
out("v", v)
out("logdet", ld)
out("dz", zz.grad)
for k in NAMES:
    for n, p in nets[k].named_parameters():
        out("grad.%s.%s" % (k, n), p.grad)
for k in NAMES:
    for bn in ("bn1", "bn2"):
        for s in ("running_mean", "running_var"):
            out("%s.%s.%s" % (k, bn, s), getattr(getattr(nets[k], bn), s))
with torch.no_grad():
    for k in NAMES:
        nets[k].load_state_dict(init_state[k])
        nets[k].eval()
    v, ld = block(z)
out("v_eval", v)
out("logdet_eval", ld)
