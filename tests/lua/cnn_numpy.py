#!/usr/bin/python3
"""cnn_numpy.py - a NumPy reference forward of llfc's conv nets (nn.vgg,
nn.resnet20) for test_cnn_numpy.lua, written independently of llfc's C code
and of PyTorch: explicit convolution over padded windows, BatchNorm in eval
mode, LayerNorm over channels, max pool, global average pool, residual sums.
Safetensors are read and written by hand.

  cnn_numpy.py run A.safetensors X.npy Z.npy B.safetensors C.safetensors ZB.npy
    1. reads A (written by llfc's Net:save), checks that its keys, shapes and
       dtypes are exactly the PyTorch state_dict of the architecture named by
       its metadata config, computes the logits of X and compares them with
       llfc's Z: prints "names ok" and "match <maxdiff>" (or what differs);
    2. writes B: fresh parameters and BatchNorm statistics with the PyTorch
       names, metadata {"arch": "cnn", "config": <A's config>} (as a PyTorch
       user's save with metadata), C: the same tensors without metadata, and
       ZB: their logits of X, for llfc to load and compare.
"""
import json
import struct
import sys

import numpy as np

VGG_CFG = {
    11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    13: [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
}
EPS = 1e-5


# ---- the architecture as a list of steps ------------------------------------------
# ("conv", prefix, cin, cout, r, stride, pad, bias)  ("bn" | "ln", prefix, c)
# ("relu",)  ("pool",)  ("gap",)  ("linear", prefix, fin, fout)
# ("save", k) keeps the current value, ("add", k) adds a kept one, ("load", k)
# makes a kept value current (the shortcut path)

def config(text):
    words = text.split()
    o = dict(w.partition("=")[::2] for w in words[1:])
    return words[0], o


def steps_of(text):
    fam, o = config(text)
    norm = o.get("norm", "none") or "none"
    classes = int(o.get("classes", 10))
    c, h, w = (int(v) for v in o.get("input", "3,32,32").split(","))
    st = []

    def normstep(prefix, ch):
        if norm != "none":
            st.append((norm, prefix, ch))

    if fam.startswith("vgg"):
        width = float(o.get("width", 1))
        if "layers" in o:  # channel counts as they are (already scaled)
            layers = [v if v == "M" else int(v) for v in o["layers"].split(",")]
        else:
            layers = [v if v == "M" else max(1, int(np.floor(v * width + 0.5)))
                      for v in VGG_CFG[int(o.get("depth", 11))]]
        i = 0
        for v in layers:
            if v == "M":
                if h < 2 or w < 2:
                    continue
                st.append(("pool",))
                h, w = h // 2, w // 2
                i += 1
                continue
            k = v
            st.append(("conv", f"features.{i}", c, k, 3, 1, 1, True))
            i += 1
            if norm != "none":
                normstep(f"features.{i}", k)
                i += 1
            st.append(("relu",))
            i += 1
            c = k
        if o.get("head", "gap") == "gap":
            st.append(("gap",))
            f = c
        else:
            f = c * h * w
        st.append(("linear", "classifier", f, classes))
        return st
    k = int(o.get("width", 1))
    bias = norm == "none"
    st.append(("conv", "conv1", c, 16 * k, 3, 1, 1, bias))
    normstep(norm + "1", 16 * k)
    st.append(("relu",))
    cin = 16 * k
    for s, (cout, stride) in enumerate([(16 * k, 1), (32 * k, 2), (64 * k, 2)]):
        for b in range(3):
            p = f"layer{s + 1}.{b}"
            sd = stride if b == 0 else 1
            st.append(("save", "x"))
            st.append(("conv", p + ".conv1", cin, cout, 3, sd, 1, bias))
            normstep(f"{p}.{norm}1", cout)
            st.append(("relu",))
            st.append(("conv", p + ".conv2", cout, cout, 3, 1, 1, bias))
            normstep(f"{p}.{norm}2", cout)
            if sd != 1 or cin != cout:
                st.append(("save", "y"))
                st.append(("load", "x"))
                st.append(("conv", p + ".shortcut.0", cin, cout, 1, sd, 0, bias))
                normstep(p + ".shortcut.1", cout)
                st.append(("add", "y"))
            else:
                st.append(("add", "x"))
            st.append(("relu",))
            cin = cout
    st.append(("gap",))
    st.append(("linear", "linear", cin, classes))
    return st


def param_shapes(text):
    """the PyTorch state_dict of the architecture: name -> (shape, dtype)"""
    shapes = {}
    for s in steps_of(text):
        if s[0] == "conv":
            _, p, cin, cout, r, _, _, bias = s
            shapes[p + ".weight"] = ((cout, cin, r, r), "F32")
            if bias:
                shapes[p + ".bias"] = ((cout,), "F32")
        elif s[0] in ("bn", "ln"):
            _, p, c = s
            shapes[p + ".weight"] = ((c,), "F32")
            shapes[p + ".bias"] = ((c,), "F32")
            if s[0] == "bn":
                shapes[p + ".running_mean"] = ((c,), "F32")
                shapes[p + ".running_var"] = ((c,), "F32")
                shapes[p + ".num_batches_tracked"] = ((), "I64")
        elif s[0] == "linear":
            _, p, f, k = s
            shapes[p + ".weight"] = ((k, f), "F32")
            shapes[p + ".bias"] = ((k,), "F32")
    return shapes


# ---- the layers, written out ---------------------------------------------------------

def conv2d(x, w, b, stride, pad):
    """x [n, C, H, W], w [K, C, R, R] -> [n, K, P, Q]: the sum over kernel
    offsets (i, j) of the strided window of the zero-padded input times w[:, :, i, j]"""
    n, _, h, wd = x.shape
    k, _, r, _ = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    p = (h + 2 * pad - r) // stride + 1
    q = (wd + 2 * pad - r) // stride + 1
    out = np.zeros((n, k, p, q))
    for i in range(r):
        for j in range(r):
            win = xp[:, :, i:i + stride * (p - 1) + 1:stride, j:j + stride * (q - 1) + 1:stride]
            out += np.einsum("ncpq,kc->nkpq", win, w[:, :, i, j])
    if b is not None:
        out += b[None, :, None, None]
    return out


def batchnorm_eval(x, sd, p):
    m, v = sd[p + ".running_mean"], sd[p + ".running_var"]
    g, b = sd[p + ".weight"], sd[p + ".bias"]
    return (x - m[None, :, None, None]) / np.sqrt(v[None, :, None, None] + EPS) * g[None, :, None, None] \
        + b[None, :, None, None]


def layernorm_channels(x, sd, p):
    mu = x.mean(axis=1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=1, keepdims=True)
    g, b = sd[p + ".weight"], sd[p + ".bias"]
    return (x - mu) / np.sqrt(var + EPS) * g[None, :, None, None] + b[None, :, None, None]


def maxpool2(x):
    n, c, h, w = x.shape
    h2, w2 = h // 2, w // 2
    return x[:, :, :2 * h2, :2 * w2].reshape(n, c, h2, 2, w2, 2).max(axis=(3, 5))


def forward(text, sd, x):
    _, o = config(text)
    c, h, w = (int(v) for v in o.get("input", "3,32,32").split(","))
    sd = {k: np.asarray(v, dtype=np.float64) for k, v in sd.items()}
    a = np.asarray(x, dtype=np.float64).reshape(-1, c, h, w)
    kept = {}
    for s in steps_of(text):
        kind = s[0]
        if kind == "conv":
            p, stride, pad, bias = s[1], s[5], s[6], s[7]
            a = conv2d(a, sd[p + ".weight"], sd[p + ".bias"] if bias else None, stride, pad)
        elif kind == "bn":
            a = batchnorm_eval(a, sd, s[1])
        elif kind == "ln":
            a = layernorm_channels(a, sd, s[1])
        elif kind == "relu":
            a = np.maximum(a, 0)
        elif kind == "pool":
            a = maxpool2(a)
        elif kind == "gap":
            a = a.mean(axis=(2, 3))
        elif kind == "linear":
            a = a.reshape(len(a), -1) @ sd[s[1] + ".weight"].T + sd[s[1] + ".bias"]
        elif kind == "save":
            kept[s[1]] = a
        elif kind == "load":
            a = kept[s[1]]
        elif kind == "add":
            a = a + kept[s[1]]
    return a


# ---- safetensors by hand -------------------------------------------------------------

DT = {"F32": "<f4", "I64": "<i8", "F64": "<f8"}


def read(path):
    b = open(path, "rb").read()
    (n,) = struct.unpack("<Q", b[:8])
    header = json.loads(b[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = b[8 + n:]
    sd, dtypes = {}, {}
    for k, e in header.items():
        lo, hi = e["data_offsets"]
        sd[k] = np.frombuffer(data[lo:hi], dtype=DT[e["dtype"]]).reshape(e["shape"])
        dtypes[k] = e["dtype"]
    return sd, dtypes, meta


def write(path, sd, meta):
    header, off, blobs = {}, 0, []
    if meta:
        header["__metadata__"] = meta
    for k in sorted(sd, reverse=True):  # not the module order: the reader must use the names
        a = sd[k]
        dt = "I64" if a.dtype.kind == "i" else "F32"
        raw = np.ascontiguousarray(a.astype(DT[dt])).tobytes()
        header[k] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        off += len(raw)
        blobs.append(raw)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def fresh(text, seed):
    """parameters as a PyTorch user would have them after training: weights of
    the fan-in scale, norm affine params and running statistics away from 1, 0"""
    rng = np.random.default_rng(seed)
    sd = {}
    for k, (shape, dt) in param_shapes(text).items():
        if dt == "I64":
            sd[k] = np.array(123, dtype=np.int64)
        elif k.endswith("running_var"):
            sd[k] = rng.uniform(0.5, 2.0, shape).astype(np.float32)
        elif k.endswith("running_mean"):
            sd[k] = rng.uniform(-0.5, 0.5, shape).astype(np.float32)
        elif len(shape) == 1 and not (k.startswith("classifier") or k.startswith("linear")) \
                and k.endswith("weight"):
            sd[k] = rng.uniform(0.5, 1.5, shape).astype(np.float32)
        elif len(shape) == 1:
            sd[k] = rng.uniform(-0.3, 0.3, shape).astype(np.float32)
        else:
            fan_in = int(np.prod(shape[1:]))
            sd[k] = (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
    return sd


def run(a_path, x_path, z_path, b_path, c_path, zb_path):
    sd, dtypes, meta = read(a_path)
    text = meta.get("config", "")
    if meta.get("arch") != "cnn" or not text:
        print(f"bad metadata {meta}")
        return
    want = param_shapes(text)
    bad = [k for k in want if k not in sd] + [k for k in sd if k not in want]
    bad += [k for k in want if k in sd and (tuple(sd[k].shape) != want[k][0] or dtypes[k] != want[k][1])]
    if bad:
        print("names differ: " + ", ".join(
            f"{k} {sd[k].shape if k in sd else 'missing'} {dtypes.get(k)} want {want.get(k)}" for k in bad[:8]))
    else:
        print(f"names ok ({len(want)} tensors)")
    x = np.load(x_path)
    z = np.load(z_path)
    ref = forward(text, sd, x)
    diff = float(np.abs(ref - z).max()) if ref.shape == z.shape else float("inf")
    print(f"{'match' if diff <= 1e-4 else 'differ'} {diff:.3g} (logits up to {np.abs(ref).max():.3g})")
    sd2 = fresh(text, 7)
    write(b_path, sd2, {"arch": "cnn", "config": text})
    write(c_path, sd2, None)
    np.save(zb_path, forward(text, sd2, x).astype(np.float32))
    print("wrote")


if __name__ == "__main__":
    if len(sys.argv) != 8 or sys.argv[1] != "run":
        sys.exit(__doc__)
    run(*sys.argv[2:])
