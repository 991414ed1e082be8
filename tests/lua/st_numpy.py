#!/usr/bin/python3
"""st_numpy.py - safetensors written and read with NumPy alone, for test_train.lua.

  st_numpy.py write DIR : DIR/torch.safetensors (keys 0.weight, 0.bias, 2.weight, ...
                          as PyTorch's state_dict, no metadata), DIR/x.npy and
                          DIR/logits.npy computed by a numpy forward pass
  st_numpy.py read DIR  : reads DIR/llfc.safetensors, checks keys, shapes and
                          metadata, recomputes the logits of DIR/x.npy and
                          compares with DIR/llfc_logits.npy
"""
import json
import struct
import sys

import numpy as np


def forward(sd, x, nlayers, act=lambda z: np.maximum(z, 0)):
    a = x.astype(np.float64)
    for l in range(nlayers):
        z = a @ sd[f"{2 * l}.weight"].T.astype(np.float64) + sd[f"{2 * l}.bias"]
        a = act(z) if l < nlayers - 1 else z
    return a


def write(d):
    rng = np.random.default_rng(0)
    widths = [6, 9, 8, 4]
    sd = {}
    for l in range(3):
        sd[f"{2 * l}.weight"] = rng.standard_normal((widths[l + 1], widths[l])).astype("<f4")
        sd[f"{2 * l}.bias"] = rng.standard_normal(widths[l + 1]).astype("<f4")
    header, off, blobs = {}, 0, []
    for k in ["4.bias", "0.weight", "2.bias", "0.bias", "2.weight", "4.weight"]:  # any order
        raw = sd[k].tobytes()
        header[k] = {"dtype": "F32", "shape": list(sd[k].shape), "data_offsets": [off, off + len(raw)]}
        off += len(raw)
        blobs.append(raw)
    h = json.dumps(header).encode()
    with open(f"{d}/torch.safetensors", "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    x = rng.standard_normal((5, 6)).astype(np.float32)
    np.save(f"{d}/x.npy", x)
    np.save(f"{d}/logits.npy", forward(sd, x, 3).astype(np.float32))
    print("wrote")


def read(d):
    b = open(f"{d}/llfc.safetensors", "rb").read()
    (n,) = struct.unpack("<Q", b[:8])
    header = json.loads(b[8:8 + n])
    meta = header.pop("__metadata__")
    assert meta["arch"] == "mlp" and meta["widths"] == "6,5,5,3" and meta["act"] == "relu", meta
    assert sorted(header) == ["0.bias", "0.weight", "2.bias", "2.weight", "4.bias", "4.weight"], sorted(header)
    data = b[8 + n:]
    sd = {}
    for k, e in header.items():
        assert e["dtype"] == "F32"
        lo, hi = e["data_offsets"]
        sd[k] = np.frombuffer(data[lo:hi], dtype="<f4").reshape(e["shape"])
    assert sd["0.weight"].shape == (5, 6) and sd["4.bias"].shape == (3,)
    x = np.load(f"{d}/x.npy")
    want = np.load(f"{d}/llfc_logits.npy")
    got = forward(sd, x, 3)
    diff = np.abs(got - want).max()
    print("match" if diff < 1e-5 else f"differ by {diff}")


if __name__ == "__main__":
    {"write": write, "read": read}[sys.argv[1]](sys.argv[2])
