#!/usr/bin/env python3
# Expected values for test_ops_adam.c from torch.optim.Adam (PyTorch 1.13,
# single-tensor path: foreach=False). Run once; the output is committed.
# Regenerate with:
#   /usr/bin/python3 tests/gen_adam_fixture.py > tests/data/adam_torch_1_13.txt
# Format (whitespace-separated, floats as %.9g, which round-trips float32):
#   glf-adam-fixture 1
#   groups G steps T
#   G lines: group lr beta1 beta2 eps weight_decay n
#   G lines: init <n params>
#   per step t = 1..T, per group: grad t g <n floats>, then param t g <n floats>
#   per group: m g <n floats>, v g <n floats>   (state after the last step)
import torch

torch.manual_seed(20260611)
GROUPS = [  # lr, beta1, beta2, eps, weight_decay, n, gradient scale
    ("1e-3", "0.9", "0.999", "1e-8", "0", 37, 0.1),      # GLF auto-encoder
    ("1e-3", "0.8", "0.9", "1e-6", "2e-5", 29, 1e-3),    # GLF flow
    ("0.01", "0.5", "0.7", "1e-3", "0.1", 23, 1.0),      # strong decay and eps
]
STEPS = 5


def row(tag, t):
    return " ".join([tag] + ["%.9g" % x for x in t.tolist()])


params = [torch.randn(g[5]) for g in GROUPS]
for p in params:
    p.requires_grad_(True)
opt = torch.optim.Adam(
    [{"params": [p], "lr": float(g[0]), "betas": (float(g[1]), float(g[2])), "eps": float(g[3]),
      "weight_decay": float(g[4])} for p, g in zip(params, GROUPS)],
    foreach=False)
print("glf-adam-fixture 1")
print("groups %d steps %d" % (len(GROUPS), STEPS))
for g in GROUPS:
    print("group %s %s %s %s %s %d" % g[:6])
for p in params:
    print(row("init", p.detach()))
for t in range(1, STEPS + 1):
    for i, (p, g) in enumerate(zip(params, GROUPS)):
        p.grad = torch.randn(g[5]) * g[6]
    opt.step()
    for i, p in enumerate(params):
        print(row("grad %d %d" % (t, i), p.grad))
        print(row("param %d %d" % (t, i), p.detach()))
for i, p in enumerate(params):
    print(row("m %d" % i, opt.state[p]["exp_avg"]))
    print(row("v %d" % i, opt.state[p]["exp_avg_sq"]))
