#!/usr/bin/python3
"""torch_cnn.py - the PyTorch definitions of llfc's conv nets (nn.vgg,
nn.resnet20) with llfc's state_dict names, and checks that llfc and PyTorch
compute the same function from the same file.

usage:
  torch_cnn.py check FILE.safetensors [DATA] [--llfc BIN] [--logits L.npy] [--n N]
      Build the module from FILE's metadata config, load FILE with
      load_state_dict(strict=True), and compare its eval-mode logits with
      llfc's (nn.load(FILE) and Net:forward, run through BIN, or read from
      L.npy computed by llfc on the same inputs).  Inputs: DATA as an .npy
      array [n, c*h*w] or [n, c, h, w], or a Fashion-MNIST directory (its
      first N test images / 255), else x[i, j] = sin(i + 0.1 j) (1-based).
  torch_cnn.py export CONFIG OUT.safetensors [--seed S] [--steps K] [--llfc BIN]
      A torch-initialised model (torch.manual_seed(S)), trained K SGD steps
      on random data in training mode, its norm parameters and BatchNorm
      statistics then spread away from their defaults, saved as llfc saves (header + raw little-endian tensors,
      __metadata__ {"arch": "cnn", "config": CONFIG}); with --llfc, llfc
      loads it with nn.load and the logits are compared.
  torch_cnn.py all [--llfc BIN]
      Both directions for VGG-11 (norm none, bn, ln) and ResNet-20 (bn, ln,
      width 1 and 2): llfc builds, perturbs its norm parameters and buffers,
      saves, PyTorch checks; PyTorch exports, llfc checks.  Prints the max
      logit differences.

CONFIG is llfc's config text (llfc_cnn.config, the "config" metadata of a
model file), e.g. "vgg depth=11 norm=bn width=1 classes=10 input=3,32,32 head=gap",
"vgg layers=16,M,32,M norm=none head=flatten classes=10 input=1,28,28" (channel
counts as given, no width) or "resnet20 width=1 norm=ln classes=10 input=1,28,28".

The modules (their state_dict keys are llfc's parameter names):
  VGG: features = Sequential of [Conv2d(C, K, 3, padding=1), (BatchNorm2d(K) |
    LayerNorm2d(K)), ReLU, (MaxPool2d(2))] ... (a pool is left out where the
    map is already smaller than 2x2), the head (AdaptiveAvgPool2d(1) +
    Flatten, or Flatten), classifier = Linear.
  ResNet-20: conv1, bn1|ln1, layer1..layer3 (3 BasicBlocks each: conv1,
    bn1|ln1, conv2, bn2|ln2, shortcut = Sequential(Conv2d 1x1 stride 2,
    norm) where the shape changes), global average pool, linear.  Convs have
    no bias with a norm, a bias without.
  LayerNorm2d: nn.LayerNorm(C) (eps 1e-5) over channels, applied to
    x.permute(0, 2, 3, 1).
Uses Debian's python3-torch and numpy only (no safetensors package).
"""
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn

VGG_CFG = {
    11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    13: [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
}


def scaled(c, width):
    return max(1, int(math.floor(c * width + 0.5)))


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of each pixel of an NCHW tensor."""

    def forward(self, x):
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def norm2d(norm, c):
    return nn.BatchNorm2d(c) if norm == "bn" else LayerNorm2d(c)


class VGG(nn.Module):
    def __init__(self, layers, norm="none", classes=10, input=(3, 32, 32), head="gap"):
        super().__init__()
        mods, c, h, w = [], input[0], input[1], input[2]
        for v in layers:
            if v == "M":
                if h < 2 or w < 2:
                    continue
                mods.append(nn.MaxPool2d(2))
                h, w = h // 2, w // 2
            else:
                mods.append(nn.Conv2d(c, v, 3, padding=1))
                if norm != "none":
                    mods.append(norm2d(norm, v))
                mods.append(nn.ReLU())
                c = v
        self.features = nn.Sequential(*mods)
        if head == "gap":
            self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
            f = c
        else:
            self.head = nn.Flatten()
            f = c * h * w
        self.classifier = nn.Linear(f, classes)

    def forward(self, x):
        return self.classifier(self.head(self.features(x)))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride, norm):
        super().__init__()
        bias = norm == "none"
        self.norm = norm
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=bias)
        self.conv2 = nn.Conv2d(cout, cout, 3, stride=1, padding=1, bias=bias)
        if norm != "none":
            setattr(self, norm + "1", norm2d(norm, cout))
            setattr(self, norm + "2", norm2d(norm, cout))
        sc = []
        if stride != 1 or cin != cout:
            sc.append(nn.Conv2d(cin, cout, 1, stride=stride, bias=bias))
            if norm != "none":
                sc.append(norm2d(norm, cout))
        self.shortcut = nn.Sequential(*sc)

    def n(self, i, x):
        return x if self.norm == "none" else getattr(self, self.norm + str(i))(x)

    def forward(self, x):
        out = torch.relu(self.n(1, self.conv1(x)))
        out = self.n(2, self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class ResNet20(nn.Module):
    def __init__(self, width=1, norm="bn", classes=10, input=(3, 32, 32)):
        super().__init__()
        self.norm = norm
        c = 16 * width
        self.conv1 = nn.Conv2d(input[0], c, 3, padding=1, bias=norm == "none")
        if norm != "none":
            setattr(self, norm + "1", norm2d(norm, c))
        cin = c
        for s, (cout, stride) in enumerate([(16 * width, 1), (32 * width, 2), (64 * width, 2)]):
            blocks = []
            for b in range(3):
                blocks.append(BasicBlock(cin, cout, stride if b == 0 else 1, norm))
                cin = cout
            setattr(self, f"layer{s + 1}", nn.Sequential(*blocks))
        self.linear = nn.Linear(cin, classes)

    def forward(self, x):
        out = self.conv1(x)
        if self.norm != "none":
            out = getattr(self, self.norm + "1")(out)
        out = torch.relu(out)
        out = self.layer3(self.layer2(self.layer1(out)))
        out = torch.flatten(nn.functional.adaptive_avg_pool2d(out, 1), 1)
        return self.linear(out)


# ---- configs ----------------------------------------------------------------

def parse_config(text):
    """llfc's config text -> (family, dict of options)"""
    words = text.split()
    fam, opts = words[0], {}
    for wd in words[1:]:
        k, _, v = wd.partition("=")
        opts[k] = v
    return fam, opts


def from_config(text):
    fam, o = parse_config(text)
    norm = o.get("norm", "none") or "none"
    classes = int(o.get("classes", 10))
    inp = tuple(int(v) for v in o.get("input", "3,32,32").split(","))
    if fam.startswith("vgg"):
        width = float(o.get("width", 1))
        if "layers" in o:  # channel counts as they are (already scaled)
            layers = [v if v == "M" else int(v) for v in o["layers"].split(",")]
        else:
            layers = [v if v == "M" else scaled(v, width) for v in VGG_CFG[int(o.get("depth", 11))]]
        return VGG(layers, norm, classes, inp, o.get("head", "gap"))
    if fam.startswith("resnet"):
        return ResNet20(int(o.get("width", 1)), norm, classes, inp)
    raise ValueError(f"unknown family in config {text!r}")


def lua_builder(text, seed=1):
    """the Lua call that builds the same net in llfc"""
    fam, o = parse_config(text)
    args = []
    if fam.startswith("vgg"):
        if "layers" in o:
            args.append("layers = {" + ", ".join(v if v != "M" else '"M"' for v in o["layers"].split(",")) + "}")
        else:
            args.append(f"depth = {int(o.get('depth', 11))}")
        if o.get("head"):
            args.append(f'head = "{o["head"]}"')
        call = "nn.vgg"
    else:
        call = "nn.resnet20"
    norm = o.get("norm", "none") or "none"
    if norm != "none" or call == "nn.resnet20":
        args.append(f'norm = "{norm}"')
    args.append(f"width = {o.get('width', 1)}")
    args.append(f"classes = {int(o.get('classes', 10))}")
    args.append("input = {" + o.get("input", "3,32,32") + "}")
    args.append(f"seed = {seed}")
    return call + "{" + ", ".join(args) + "}"


# ---- safetensors by hand ------------------------------------------------------

DT = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I64": "<i8", "I32": "<i4", "U8": "u1"}


def read_safetensors(path):
    with open(path, "rb") as f:
        b = f.read()
    (n,) = struct.unpack("<Q", b[:8])
    header = json.loads(b[8:8 + n])
    meta = header.pop("__metadata__", {}) or {}
    data = b[8 + n:]
    out = {}
    for name, e in header.items():
        lo, hi = e["data_offsets"]
        out[name] = np.frombuffer(data[lo:hi], dtype=DT[e["dtype"]]).reshape(e["shape"]).copy()
    return out, meta


def write_safetensors(path, tensors, meta=None):
    header, off, blobs = {}, 0, []
    if meta:
        header["__metadata__"] = meta
    for name, a in tensors.items():
        a = np.asarray(a)
        if a.dtype.kind in "iu":
            a, dt = a.astype("<i8"), "I64"
        else:
            a, dt = a.astype("<f4"), "F32"
        raw = np.ascontiguousarray(a).tobytes()
        header[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        off += len(raw)
        blobs.append(raw)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    os.replace(tmp, path)


def to_state_dict(model, tensors):
    """numpy arrays -> a state_dict with the module's dtypes and shapes
    (llfc's num_batches_tracked may be [1] float; torch's is an int64 scalar)"""
    sd = {}
    ref = model.state_dict()
    for k, a in tensors.items():
        if k in ref:
            t = torch.from_numpy(np.asarray(a)).to(ref[k].dtype)
            if t.shape != ref[k].shape and t.numel() == ref[k].numel():
                t = t.reshape(ref[k].shape)
            sd[k] = t
        else:
            sd[k] = torch.from_numpy(np.asarray(a))
    return sd


def from_state_dict(model):
    return {k: v.detach().numpy() for k, v in model.state_dict().items()}


# ---- inputs and llfc ------------------------------------------------------------

def sin_input(n, dim):
    i = np.arange(1, n + 1)[:, None]
    j = np.arange(1, dim + 1)[None, :]
    return np.sin(i + 0.1 * j).astype(np.float32)


def idx_images(path):
    import gzip
    with gzip.open(path, "rb") as f:
        b = f.read()
    nd = b[3]
    dims = [int.from_bytes(b[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(b, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)


def inputs(data, n, chw):
    dim = chw[0] * chw[1] * chw[2]
    if data is None:
        return sin_input(n, dim)
    if os.path.isdir(data):
        x = idx_images(os.path.join(data, "t10k-images-idx3-ubyte.gz"))[:n]
        return (x.reshape(len(x), -1) / 255.0).astype(np.float32)
    x = np.load(data).astype(np.float32)
    return x.reshape(len(x), -1)[:n]


LUA_LOGITS = r"""
local net = assert(nn.load(arg[1]))
local x = assert(tensor.load(arg[2]))
net:forward(x):save(arg[3])
"""


def llfc_logits(llfc, model_path, x):
    with tempfile.TemporaryDirectory() as d:
        script, xp, zp = (os.path.join(d, f) for f in ("logits.lua", "x.npy", "z.npy"))
        with open(script, "w") as f:
            f.write(LUA_LOGITS)
        np.save(xp, x)
        subprocess.run([llfc, script, model_path, xp, zp], check=True)
        return np.load(zp)


def torch_logits(model, x, chw):
    model.eval()
    with torch.no_grad():
        return model(torch.from_numpy(x).view(-1, *chw)).numpy()


def model_input(model_or_cfg):
    _, o = parse_config(model_or_cfg)
    return tuple(int(v) for v in o.get("input", "3,32,32").split(","))


def compare(name, z, ref):
    diff = float(np.abs(z.astype(np.float64) - ref).max())
    scale = float(np.abs(ref).max())
    agree = float((z.argmax(1) == ref.argmax(1)).mean())
    print(f"{name}: max |torch - llfc| logits = {diff:.3g} (logits up to {scale:.3g}), "
          f"argmax agrees on {agree:.0%}")
    return diff, scale


# ---- modes ------------------------------------------------------------------------

def check(path, data=None, llfc="./llfc", logits=None, n=16):
    tensors, meta = read_safetensors(path)
    if meta.get("arch") != "cnn":
        sys.exit(f"check: {path} has arch {meta.get('arch')!r}, not cnn")
    cfg = meta["config"]
    model = from_config(cfg)
    model.load_state_dict(to_state_dict(model, tensors), strict=True)
    chw = model_input(cfg)
    x = inputs(data, n, chw)
    z = torch_logits(model, x, chw)
    ref = np.load(logits) if logits else llfc_logits(llfc, path, x)
    print(f"{cfg}: {len(tensors)} tensors loaded strictly")
    return compare("check", z, ref)


def export(cfg, out, seed=1, steps=2, llfc=None, n=16):
    torch.manual_seed(seed)
    model = from_config(cfg)
    chw = model_input(cfg)
    g = torch.Generator().manual_seed(seed)
    if steps > 0:
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        for _ in range(steps):
            xb = torch.randn(8, *chw, generator=g) * 1.5 + 0.3
            yb = torch.randint(0, model_classes(model), (8,), generator=g)
            loss = nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
    # norm parameters and statistics stay near their defaults after a few
    # small steps: spread them, as a longer training would
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (LayerNorm2d, nn.BatchNorm2d)):
                m.weight.mul_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.add_(0.3 * torch.randn(m.bias.shape, generator=g))
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.add_(0.3 * torch.randn(m.running_mean.shape, generator=g))
                m.running_var.mul_(torch.rand(m.running_var.shape, generator=g) * 1.5 + 0.5)
    write_safetensors(out, from_state_dict(model), {"arch": "cnn", "config": cfg})
    print(f"{cfg}: wrote {out} ({len(model.state_dict())} tensors)")
    if llfc:
        x = inputs(None, n, chw)
        return compare("export", torch_logits(model, x, chw), llfc_logits(llfc, out, x))
    return None


def model_classes(model):
    return (model.classifier if isinstance(model, VGG) else model.linear).out_features


LUA_BUILD = r"""
local out = arg[1]
local net = %s
-- norm parameters and buffers away from their defaults (1, 0, 0, 1, 0)
local k = 0
for _, e in ipairs(net:params()) do
  local t, name = e.tensor, e.name
  k = k + 1
  if t:dim() == 1 and not name:find("^classifier") and not name:find("^linear") then
    local r = tensor.rand(t:shape(), {seed = 100 + k})
    if name:find("running_var$") then t:copy(r:add(0.5))
    elseif name:find("num_batches_tracked$") then t:fill(7)
    elseif name:find("weight$") then t:copy(r:mul(1.5):add(0.25))
    else t:copy(r:sub(0.5):mul(0.6)) end
  end
end
assert(net:save(out))
"""


def llfc_build(llfc, cfg, out, seed):
    with tempfile.TemporaryDirectory() as d:
        script = os.path.join(d, "build.lua")
        with open(script, "w") as f:
            f.write(LUA_BUILD % lua_builder(cfg, seed))
        subprocess.run([llfc, script, out], check=True)


def all_checks(llfc):
    cfgs = [f"vgg depth=11 norm={nm} width=1 classes=10 input=3,32,32 head=gap" for nm in ("none", "bn", "ln")]
    cfgs += [f"resnet20 width={w} norm={nm} classes=10 input=3,32,32" for nm in ("bn", "ln") for w in (1, 2)]
    worst, rows = 0.0, []
    with tempfile.TemporaryDirectory() as d:
        for i, cfg in enumerate(cfgs):
            p = os.path.join(d, f"m{i}.safetensors")
            llfc_build(llfc, cfg, p, seed=i + 1)
            # the config llfc wrote (it may spell defaults differently)
            _, meta = read_safetensors(p)
            a, sa = check(p, llfc=llfc, n=16)
            q = os.path.join(d, f"t{i}.safetensors")
            b, sb = export(meta["config"], q, seed=i + 1, steps=2, llfc=llfc, n=16)
            rows.append((meta["config"], a, sa, b, sb))
            worst = max(worst, a / max(1, sa), b / max(1, sb))
    print("\n| config | llfc -> torch max diff | torch -> llfc max diff |")
    print("|---|---|---|")
    for cfg, a, sa, b, sb in rows:
        print(f"| {cfg} | {a:.2g} (logits {sa:.3g}) | {b:.2g} (logits {sb:.3g}) |")
    return worst


def main():
    argv = sys.argv[1:]
    opts = {}
    pos = []
    i = 0
    while i < len(argv):
        if argv[i].startswith("--"):
            opts[argv[i][2:]] = argv[i + 1]
            i += 2
        else:
            pos.append(argv[i])
            i += 1
    if not pos or pos[0] not in ("check", "export", "all"):
        sys.exit(__doc__)
    torch.set_num_threads(int(opts.get("threads", 1)))
    llfc = opts.get("llfc", "./llfc")
    if pos[0] == "check":
        if len(pos) < 2:
            sys.exit(__doc__)
        diff, scale = check(pos[1], pos[2] if len(pos) > 2 else None, llfc, opts.get("logits"),
                            int(opts.get("n", 16)))
        sys.exit(0 if diff <= 1e-4 * max(1, scale) else 1)
    if pos[0] == "export":
        if len(pos) < 3:
            sys.exit(__doc__)
        r = export(pos[1], pos[2], int(opts.get("seed", 1)), int(opts.get("steps", 2)), opts.get("llfc"))
        sys.exit(0 if r is None or r[0] <= 1e-4 * max(1, r[1]) else 1)
    worst = all_checks(llfc)
    sys.exit(0 if worst <= 1e-4 else 1)


if __name__ == "__main__":
    main()
