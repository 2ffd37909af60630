#!/usr/bin/python3
"""PyTorch reference of glf's Generative Latent Flow model (CPU, float32).

Same modules, state_dict names, losses and optimizer as the C/OpenCL trainer
(see ../../shared docs glf-method.md and the API contract): it starts from the
same weights by reading a glf checkpoint, writes golden files for the C test,
and times training steps for the images/s comparison.

Run it with Debian's interpreter, which has python3-torch and python3-numpy:

  # the golden file the C test reads (tests/golden/glf_tiny.bin); this is THE
  # command that regenerates it:
  /usr/bin/python3 bench/reference/glf_reference.py --golden tests/golden/glf_tiny.bin

  # a glf checkpoint with the C trainer's exact initialisation (seeded Philox,
  # bit-identical to glf_init_params / glf_flow_permutations):
  /usr/bin/python3 bench/reference/glf_reference.py --init out.ckpt [--size 8 ...]

  # golden values starting from a checkpoint written by the C trainer:
  /usr/bin/python3 bench/reference/glf_reference.py --ckpt in.ckpt --golden g.bin

  # images/s of the full 28x28 model (batch 256) on random data:
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_WAIT_POLICY=PASSIVE \\
      /usr/bin/python3 bench/reference/glf_reference.py --bench --threads 2

File format (checkpoint and golden file share it; see include/glf/checkpoint.h;
all integers little-endian):
  char[8] magic ("GLFCKPT1" checkpoint, "GLFGOLD1" golden), u32 version (1),
  u32 record count R, u64 payload bytes P, P bytes of records, 32-byte SHA-256
  of everything before it. Record: u32 kind (1 f32 tensor, 2 i32 array,
  3 string, 4 i64), u32 name length, name, then f32: u32 ndim, u64 dims[ndim],
  float32 data; i32: u64 n, int32 data; str: u64 n, bytes; i64: int64.

Golden records (golden.format = 1), all from ONE fixed batch reused for every
step: "config" (JSON), "golden.format", "golden.steps", "golden.init_seed"
(-1 when the weights came from --ckpt), "input.x" (B,C,S,S) in [0,1],
"input.eps" (steps,B,d) only in vae-flow mode, "flow.perm" (blocks*d int32),
"init.<param>" and "init.<bn state>" (the starting point), after the first
forward/backward: "step1.loss" = [recon, nll, total] (recon = sum over pixels
/ B before any beta; total is what is minimised), "step1.entropy" (vae-flow
only), "grad.<param>" for EVERY parameter, "step1.<bn state>" (running stats
after the first training forward), "fwd.z" (latents; vae-flow: the sampled
z), "fwd.xhat", "fwd.zhat" (flow output), "fwd.logdet" (B), vae-flow also
"fwd.mu" and "fwd.logvar"; over all steps: "losses" (steps, 3) taken before
each Adam update; and "final.<param>", "final.<bn state>" after the last update.
"""
import argparse
import hashlib
import json
import math
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

CKPT_MAGIC = b"GLFCKPT1"
GOLD_MAGIC = b"GLFGOLD1"
VERSION = 1
K_F32, K_I32, K_STR, K_I64 = 1, 2, 3, 4

# ---- checkpoint container ------------------------------------------------


def read_container(path, magic):
    """Ordered dict name -> numpy f32 array / numpy int32 array / str / int."""
    data = open(path, "rb").read()
    if len(data) < 24:
        raise ValueError(f"{path}: truncated: {len(data)} bytes, a header needs 24")
    if data[:8] != magic:
        raise ValueError(f"{path}: bad magic {data[:8]!r}, expected {magic!r}")
    version, count, payload = struct.unpack_from("<IIQ", data, 8)
    if version != VERSION:
        raise ValueError(f"{path}: unknown version {version}, expected {VERSION}")
    if 24 + payload + 32 != len(data):
        raise ValueError(f"{path}: file has {len(data)} bytes, header says {24 + payload + 32}")
    if hashlib.sha256(data[:24 + payload]).digest() != data[24 + payload:]:
        raise ValueError(f"{path}: checksum mismatch")
    out, at, end = {}, 24, 24 + payload
    for i in range(count):
        kind, nlen = struct.unpack_from("<II", data, at)
        at += 8
        name = data[at:at + nlen].decode()
        at += nlen
        if kind == K_F32:
            (ndim,) = struct.unpack_from("<I", data, at)
            at += 4
            shape = struct.unpack_from(f"<{ndim}Q", data, at)
            at += 8 * ndim
            n = int(np.prod(shape)) if ndim else 1
            out[name] = np.frombuffer(data, "<f4", n, at).reshape(shape).astype(np.float32)
            at += 4 * n
        elif kind == K_I32:
            (n,) = struct.unpack_from("<Q", data, at)
            at += 8
            out[name] = np.frombuffer(data, "<i4", n, at).astype(np.int32)
            at += 4 * n
        elif kind == K_STR:
            (n,) = struct.unpack_from("<Q", data, at)
            at += 8
            out[name] = data[at:at + n].decode()
            at += n
        elif kind == K_I64:
            (out[name],) = struct.unpack_from("<q", data, at)
            at += 8
        else:
            raise ValueError(f"{path}: record {i} ('{name}'): unknown kind {kind}")
        if at > end:
            raise ValueError(f"{path}: record {i} ('{name}') runs past the payload")
    if at != end:
        raise ValueError(f"{path}: {end - at} bytes left after the last record")
    return out


def write_container(path, magic, records):
    """records: list of (name, value); value f32 ndarray / int32 ndarray / str / int."""
    body = bytearray()
    for name, v in records:
        nb = name.encode()
        if isinstance(v, str):
            b = v.encode()
            body += struct.pack("<II", K_STR, len(nb)) + nb + struct.pack("<Q", len(b)) + b
        elif isinstance(v, (int, np.integer)):
            body += struct.pack("<II", K_I64, len(nb)) + nb + struct.pack("<q", int(v))
        elif isinstance(v, np.ndarray) and v.dtype == np.int32:
            body += struct.pack("<II", K_I32, len(nb)) + nb + struct.pack("<Q", v.size)
            body += v.astype("<i4").tobytes()
        else:
            a = np.ascontiguousarray(np.asarray(v, dtype=np.float32))
            body += struct.pack("<II", K_F32, len(nb)) + nb + struct.pack("<I", a.ndim)
            body += struct.pack(f"<{a.ndim}Q", *a.shape) + a.astype("<f4").tobytes()
    head = magic + struct.pack("<IIQ", VERSION, len(records), len(body))
    blob = bytes(head) + bytes(body)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(blob + hashlib.sha256(blob).digest())
    import os
    os.replace(tmp, path)


# ---- glf_rng (Philox4x32-10), bit-identical to host/util/rng.c ------------

M32, M64 = 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF


def philox4x32(key, hi, lo):
    c0, c1, c2, c3 = lo & M32, (lo >> 32) & M32, hi & M32, (hi >> 32) & M32
    k0, k1 = key & M32, (key >> 32) & M32
    for _ in range(10):
        p0 = 0xD2511F53 * c0
        p1 = 0xCD9E8D57 * c2
        c0, c1, c2, c3 = ((p1 >> 32) ^ c1 ^ k0) & M32, p1 & M32, ((p0 >> 32) ^ c3 ^ k1) & M32, p0 & M32
        k0 = (k0 + 0x9E3779B9) & M32
        k1 = (k1 + 0xBB67AE85) & M32
    return [c0, c1, c2, c3]


class GlfRng:
    def __init__(self, seed, stream):
        self.seed, self.stream, self.counter, self.buf, self.used = seed & M64, stream & M64, 0, [0] * 4, 4

    def u32(self):
        if self.used >= 4:
            self.buf = philox4x32(self.seed, self.stream, self.counter)
            self.counter += 1
            self.used = 0
        self.used += 1
        return self.buf[self.used - 1]

    def u64(self):
        hi = self.u32()
        return (hi << 32) | self.u32()

    def uniform_f64(self):
        return (self.u64() >> 11) * (1.0 / 9007199254740992.0)

    def normal(self):
        u1 = 1.0 - self.uniform_f64()
        u2 = self.uniform_f64()
        return math.sqrt(-2.0 * math.log(u1)) * math.cos(6.283185307179586 * u2)

    def below(self, n):
        limit = M64 - (M64 % n)
        while True:
            x = self.u64()
            if x < limit:
                return x % n


def fnv1a64(s):
    h = 0xCBF29CE484222325
    for ch in s.encode():
        h = ((h ^ ch) * 0x100000001B3) & M64
    return h


def flow_permutations(cfg):
    d, perms = cfg["latent"], []
    for k in range(cfg["flow_blocks"]):
        r, p = GlfRng(k, 0), list(range(d))
        for i in range(d, 1, -1):
            j = r.below(i)
            p[i - 1], p[j] = p[j], p[i - 1]
        perms += p
    return np.array(perms, dtype=np.int32)


def init_tensor(name, shape, seed):
    """glf_init_params for one tensor (same kind rules as host/model/layout.c)."""
    n = int(np.prod(shape)) if len(shape) else 1
    flow = name.startswith("flow.")
    if not flow and (name.endswith(".bias") or name.endswith("running_mean")):
        return np.zeros(shape, np.float32)
    if not flow and ((".bn" in name and name.endswith(".weight")) or name.endswith("running_var")):
        return np.ones(shape, np.float32)
    if flow and name.endswith("running_mean"):
        return np.zeros(shape, np.float32)
    if flow and name.endswith("running_var"):
        return np.ones(shape, np.float32)
    r, scale = GlfRng(seed, fnv1a64(name)), 0.05 if flow else 0.02
    return np.array([scale * r.normal() for _ in range(n)], dtype=np.float32).reshape(shape)


# ---- the model --------------------------------------------------------------


def default_config(channels=1, size=28):
    small = channels == 1
    return dict(channels=channels, height=size, width=size, latent=20 if small else 64,
                flow_width=64 if small else 256, flow_blocks=4, conv1=64, conv2=128, fc=1024,
                mode="glf", recon="mse", beta=1.0, batch=256, epochs=100, seed=123,
                lr_ae=1e-3, lr_flow=1e-3, lr_step_epochs=50, lr_gamma=0.5,
                adam_ae_lr=1e-3, adam_ae_beta1=0.9, adam_ae_beta2=0.999, adam_ae_eps=1e-8,
                adam_ae_weight_decay=0.0, adam_flow_lr=1e-3, adam_flow_beta1=0.8,
                adam_flow_beta2=0.9, adam_flow_eps=1e-6, adam_flow_weight_decay=2e-5,
                bn_momentum=0.1, bn_eps=1e-5)


def bn1d(n, cfg):
    return nn.BatchNorm1d(n, eps=cfg["bn_eps"], momentum=cfg["bn_momentum"])


class Encoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        q, d = (cfg["height"] // 4) ** 2, cfg["latent"]
        self.conv1 = nn.Conv2d(cfg["channels"], cfg["conv1"], 4, 2, 1)
        self.conv2 = nn.Conv2d(cfg["conv1"], cfg["conv2"], 4, 2, 1)
        self.bn2 = nn.BatchNorm2d(cfg["conv2"], eps=cfg["bn_eps"], momentum=cfg["bn_momentum"])
        self.fc1 = nn.Linear(cfg["conv2"] * q, cfg["fc"])
        self.bn3 = bn1d(cfg["fc"], cfg)
        self.fc2 = nn.Linear(cfg["fc"], 2 * d if cfg["mode"] == "vae-flow" else d)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.bn2(self.conv2(x)))
        x = F.relu(self.bn3(self.fc1(x.flatten(1))))
        return self.fc2(x)


class Decoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.side, q = cfg["height"] // 4, (cfg["height"] // 4) ** 2
        self.c2 = cfg["conv2"]
        self.fc1 = nn.Linear(cfg["latent"], cfg["fc"])
        self.bn1 = bn1d(cfg["fc"], cfg)
        self.fc2 = nn.Linear(cfg["fc"], cfg["conv2"] * q)
        self.bn2 = bn1d(cfg["conv2"] * q, cfg)
        self.deconv1 = nn.ConvTranspose2d(cfg["conv2"], cfg["conv1"], 4, 2, 1)
        self.bn3 = nn.BatchNorm2d(cfg["conv1"], eps=cfg["bn_eps"], momentum=cfg["bn_momentum"])
        self.deconv2 = nn.ConvTranspose2d(cfg["conv1"], cfg["channels"], 4, 2, 1)

    def forward(self, z):
        h = F.relu(self.bn1(self.fc1(z)))
        h = F.relu(self.bn2(self.fc2(h)))
        h = h.view(-1, self.c2, self.side, self.side)
        h = F.relu(self.bn3(self.deconv1(h)))
        return torch.tanh(self.deconv2(h)) * 0.5 + 0.5


class MLP(nn.Module):
    def __init__(self, n_in, n_out, h, cfg):
        super().__init__()
        self.fc1 = nn.Linear(n_in, h)
        self.bn1 = bn1d(h, cfg)
        self.fc2 = nn.Linear(h, h)
        self.bn2 = bn1d(h, cfg)
        self.fc3 = nn.Linear(h, n_out)

    def forward(self, x):
        x = self.bn1(F.relu(self.fc1(x)))
        x = self.bn2(F.relu(self.fc2(x)))
        return self.fc3(x)


def soft_clamp(s):
    # The FrEIA version the authors used: clamp * 0.636 * atan(s), clamp = 2.
    return 2.0 * 0.636 * torch.atan(s)


class Coupling(nn.Module):
    """RealNVP-style affine coupling (both halves), then a fixed permutation."""

    def __init__(self, cfg):
        super().__init__()
        d, h = cfg["latent"], cfg["flow_width"]
        self.d1 = d // 2
        d2 = d - self.d1
        self.s1, self.t1 = MLP(self.d1, d2, h, cfg), MLP(self.d1, d2, h, cfg)
        self.s2, self.t2 = MLP(d2, self.d1, h, cfg), MLP(d2, self.d1, h, cfg)
        self.register_buffer("perm", torch.arange(d), persistent=False)

    def forward(self, z):
        u1, u2 = z[:, :self.d1], z[:, self.d1:]
        c2 = soft_clamp(self.s2(u2))
        v1 = u1 * torch.exp(c2) + self.t2(u2)
        c1 = soft_clamp(self.s1(v1))
        v2 = u2 * torch.exp(c1) + self.t1(v1)
        logdet = c2.sum(1) + c1.sum(1)
        return torch.cat([v1, v2], 1)[:, self.perm], logdet

    def inverse(self, v):
        v = v[:, torch.argsort(self.perm)]
        v1, v2 = v[:, :self.d1], v[:, self.d1:]
        u2 = (v2 - self.t1(v1)) * torch.exp(-soft_clamp(self.s1(v1)))
        u1 = (v1 - self.t2(u2)) * torch.exp(-soft_clamp(self.s2(u2)))
        return torch.cat([u1, u2], 1)


class Flow(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.blocks = nn.ModuleList([Coupling(cfg) for _ in range(cfg["flow_blocks"])])

    def forward(self, z):
        logdet = torch.zeros(z.shape[0])
        for b in self.blocks:
            z, ld = b(z)
            logdet = logdet + ld
        return z, logdet


class GLF(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.enc = Encoder(cfg)
        self.dec = Decoder(cfg)
        if cfg["mode"] != "ae-gauss":
            self.flow = Flow(cfg)

    def set_permutations(self, perm):
        d = self.cfg["latent"]
        for k, b in enumerate(self.flow.blocks):
            b.perm.copy_(torch.from_numpy(perm[k * d:(k + 1) * d].astype(np.int64)))

    def losses(self, x, eps=None):
        """Returns (total, recon, nll, extras dict). recon is sum/B before beta."""
        cfg, B, d = self.cfg, x.shape[0], self.cfg["latent"]
        mode, ex = cfg["mode"], {}
        h = self.enc(x)
        if mode == "vae-flow":
            mu, logvar = h[:, :d], h[:, d:]
            z = mu + torch.exp(0.5 * logvar) * eps
            ex.update(mu=mu, logvar=logvar)
        else:
            z = h
        xhat = self.dec(z)
        if cfg["recon"] == "bce":
            recon = F.binary_cross_entropy(xhat, x, reduction="sum") / B
        else:
            recon = ((xhat - x) ** 2).sum() / B
        ex.update(z=z, xhat=xhat)
        if mode == "ae-gauss":
            return recon, recon, torch.zeros(()), ex
        zhat, logdet = self.flow(z.detach() if mode == "glf" else z)
        nll = (0.5 * (zhat ** 2).sum(1) + 0.5 * d * math.log(2 * math.pi) - logdet).sum() / B
        ex.update(zhat=zhat, logdet=logdet)
        if mode == "glf":
            total = recon + nll
        elif mode == "regularized":
            total = 0.5 * cfg["beta"] * recon + nll
        else:
            ent = -0.5 * logvar.sum() / B
            ex["entropy"] = ent
            total = cfg["beta"] * recon + nll + ent
        return total, recon, nll, ex

    def optimizer(self):
        cfg = self.cfg
        ae = list(self.enc.parameters()) + list(self.dec.parameters())
        groups = [dict(params=ae, lr=cfg["adam_ae_lr"], betas=(cfg["adam_ae_beta1"], cfg["adam_ae_beta2"]),
                       eps=cfg["adam_ae_eps"], weight_decay=cfg["adam_ae_weight_decay"])]
        if cfg["mode"] != "ae-gauss":
            groups.append(dict(params=list(self.flow.parameters()), lr=cfg["adam_flow_lr"],
                               betas=(cfg["adam_flow_beta1"], cfg["adam_flow_beta2"]),
                               eps=cfg["adam_flow_eps"], weight_decay=cfg["adam_flow_weight_decay"]))
        # foreach=False: the single-tensor path, which the C Adam mirrors.
        return torch.optim.Adam(groups, foreach=False)


def split_state(model):
    """(params, bn_state) as ordered name -> tensor, in state_dict order."""
    params = dict(model.named_parameters())
    state = {k: v for k, v in model.state_dict().items()
             if k.endswith("running_mean") or k.endswith("running_var")}
    return params, state


def load_weights(model, rec, prefix=""):
    params, state = split_state(model)
    with torch.no_grad():
        for name, t in list(params.items()) + list(state.items()):
            key = prefix + name
            if key not in rec:
                raise ValueError(f"checkpoint has no tensor '{key}' (another architecture?)")
            a = rec[key]
            if tuple(a.shape) != tuple(t.shape):
                raise ValueError(f"tensor '{key}' has shape {tuple(a.shape)}, the model expects {tuple(t.shape)}")
            t.copy_(torch.from_numpy(np.array(a)))


def init_records(cfg, seed):
    """A C-identical initial checkpoint: config, params, BN state, permutations."""
    torch.manual_seed(0)
    model = GLF(cfg)
    params, state = split_state(model)
    recs = [("config", json.dumps(cfg))]
    for name, t in list(params.items()) + list(state.items()):
        recs.append((name, init_tensor(name, tuple(t.shape), seed)))
    recs.append(("flow.perm", flow_permutations(cfg)))
    recs += [("step", 0), ("epoch", 0)]
    return recs


def build_from(rec):
    cfg = default_config()
    cfg.update(json.loads(rec["config"]))
    model = GLF(cfg)
    load_weights(model, rec)
    if cfg["mode"] != "ae-gauss":
        model.set_permutations(rec["flow.perm"])
    return cfg, model


# ---- golden file --------------------------------------------------------------


def golden(rec, steps, init_seed, out):
    cfg, model = build_from(rec)
    model.train()
    B, C, S, d = cfg["batch"], cfg["channels"], cfg["height"], cfg["latent"]
    g = torch.Generator().manual_seed(1234)
    x = torch.rand(B, C, S, S, generator=g)
    eps = torch.randn(steps, B, d, generator=g) if cfg["mode"] == "vae-flow" else None
    params, state = split_state(model)
    recs = [("config", json.dumps(cfg)), ("golden.format", 1), ("golden.steps", steps),
            ("golden.init_seed", init_seed), ("input.x", x.numpy())]
    if eps is not None:
        recs.append(("input.eps", eps.numpy()))
    if cfg["mode"] != "ae-gauss":
        recs.append(("flow.perm", rec["flow.perm"]))
    recs += [("init." + k, v.detach().numpy().copy()) for k, v in params.items()]
    recs += [("init." + k, v.detach().numpy().copy()) for k, v in state.items()]
    opt = model.optimizer()
    losses = np.zeros((steps, 3), np.float32)
    for step in range(steps):
        opt.zero_grad(set_to_none=False)
        total, recon, nll, ex = model.losses(x, eps[step] if eps is not None else None)
        total.backward()
        losses[step] = [recon.item(), nll.item(), total.item()]
        if step == 0:
            recs.append(("step1.loss", losses[0].copy()))
            if "entropy" in ex:
                recs.append(("step1.entropy", np.array([ex["entropy"].item()], np.float32)))
            for k, p in params.items():
                gr = p.grad if p.grad is not None else torch.zeros_like(p)
                recs.append(("grad." + k, gr.numpy().copy()))
            _, st = split_state(model)
            recs += [("step1." + k, v.numpy().copy()) for k, v in st.items()]
            for k in ("z", "xhat", "zhat", "logdet", "mu", "logvar"):
                if k in ex:
                    recs.append(("fwd." + k, ex[k].detach().numpy().copy()))
        opt.step()
    recs.append(("losses", losses))
    params, state = split_state(model)
    recs += [("final." + k, v.detach().numpy().copy()) for k, v in params.items()]
    recs += [("final." + k, v.detach().numpy().copy()) for k, v in state.items()]
    write_container(out, GOLD_MAGIC, recs)
    print(f"wrote {out}: {len(recs)} records; losses (recon, nll, total) per step:")
    for s in range(steps):
        print(f"  step {s + 1:2d}: {losses[s, 0]:.6f} {losses[s, 1]:.6f} {losses[s, 2]:.6f}")


# ---- benchmark ------------------------------------------------------------------


def bench(args):
    torch.set_num_threads(args.threads)
    cfg = default_config(1, 28)
    cfg["mode"], cfg["batch"] = args.mode, args.bench_batch
    torch.manual_seed(0)
    model = GLF(cfg)
    model.train()
    opt = model.optimizer()
    x = torch.rand(cfg["batch"], 1, 28, 28)
    eps = torch.randn(cfg["batch"], cfg["latent"]) if args.mode == "vae-flow" else None

    def step():
        opt.zero_grad(set_to_none=False)
        total, _, _, _ = model.losses(x, eps)
        total.backward()
        opt.step()

    for _ in range(args.warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        step()
    dt = time.perf_counter() - t0
    ips = args.steps * cfg["batch"] / dt
    print(f"pytorch {torch.__version__} threads {args.threads} batch {cfg['batch']} "
          f"steps {args.steps}: {dt / args.steps * 1e3:.1f} ms/step, {ips:.1f} images/s")
    return ips


# ---- command line -------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--init", metavar="CKPT", help="write an initial glf checkpoint (C-identical init)")
    ap.add_argument("--ckpt", metavar="CKPT", help="start from this glf checkpoint")
    ap.add_argument("--golden", metavar="OUT", help="write a golden file")
    ap.add_argument("--bench", action="store_true", help="time training steps of the 28x28 model")
    ap.add_argument("--seed", type=int, default=123, help="init seed (without --ckpt)")
    ap.add_argument("--steps", type=int, default=10)
    # The tiny golden config (every field can be changed).
    ap.add_argument("--channels", type=int, default=1)
    ap.add_argument("--size", type=int, default=8)
    ap.add_argument("--latent", type=int, default=4)
    ap.add_argument("--flow-width", type=int, default=8)
    ap.add_argument("--flow-blocks", type=int, default=4)
    ap.add_argument("--conv1", type=int, default=4)
    ap.add_argument("--conv2", type=int, default=8)
    ap.add_argument("--fc", type=int, default=32)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--mode", default="glf", choices=["glf", "regularized", "vae-flow", "ae-gauss"])
    ap.add_argument("--recon", default="mse", choices=["mse", "bce"])
    ap.add_argument("--beta", type=float, default=None, help="default 1 (regularized) / 400 (vae-flow)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (--bench)")
    ap.add_argument("--bench-batch", type=int, default=256)
    ap.add_argument("--warmup", type=int, default=3)
    args = ap.parse_args()
    torch.set_default_dtype(torch.float32)
    if args.bench:
        if args.steps == 10:
            args.steps = 20
        bench(args)
        return 0
    if not (args.init or args.golden):
        ap.error("nothing to do: give --init, --golden or --bench")
    if args.ckpt:
        rec, init_seed = read_container(args.ckpt, CKPT_MAGIC), -1
    else:
        cfg = default_config(args.channels, args.size)
        cfg.update(latent=args.latent, flow_width=args.flow_width, flow_blocks=args.flow_blocks,
                   conv1=args.conv1, conv2=args.conv2, fc=args.fc, batch=args.batch,
                   mode=args.mode, recon=args.recon, seed=args.seed)
        cfg["beta"] = args.beta if args.beta is not None else (400.0 if args.mode == "vae-flow" else 1.0)
        # The C config holds float32: use exactly those values here too.
        cfg = {k: float(np.float32(v)) if isinstance(v, float) else v for k, v in cfg.items()}
        recs = init_records(cfg, args.seed)
        rec, init_seed = dict(recs), args.seed
        if args.init:
            write_container(args.init, CKPT_MAGIC, recs)
            print(f"wrote {args.init}")
    if args.golden:
        torch.set_num_threads(1)  # one thread: the same sums every run
        golden(rec, args.steps, init_seed, args.golden)
    return 0


if __name__ == "__main__":
    sys.exit(main())
