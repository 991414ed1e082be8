#!/usr/bin/python3
"""torch_mlp.py - show that llfc's MLP files are PyTorch state_dicts.

usage: torch_mlp.py IN.safetensors [OUT.safetensors]

Reads IN (written by llfc's net:save) with numpy, builds the equivalent
torch.nn.Sequential(Linear, ReLU, ..., Linear) from the "widths" and "act"
metadata, loads the tensors with load_state_dict(strict=True), and prints the
logits of a fixed input (x[i, j] = sin(i + 0.1 j)) so they can be compared
with llfc's net:forward.  With OUT, writes the module's state_dict back as
safetensors (by hand: header + raw little-endian float32) for nn.load.
"""
import json
import struct
import sys

import numpy as np
import torch


def read_safetensors(path):
    with open(path, "rb") as f:
        b = f.read()
    (n,) = struct.unpack("<Q", b[:8])
    header = json.loads(b[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = b[8 + n:]
    tensors = {}
    for name, e in header.items():
        assert e["dtype"] == "F32", e["dtype"]
        lo, hi = e["data_offsets"]
        tensors[name] = np.frombuffer(data[lo:hi], dtype="<f4").reshape(e["shape"]).copy()
    return tensors, meta


def write_safetensors(path, tensors, meta):
    header, off, blobs = {}, 0, []
    for name, a in tensors.items():
        raw = np.ascontiguousarray(a, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        off += len(raw)
        blobs.append(raw)
    header["__metadata__"] = meta
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def sequential(widths, act):
    layers = []
    for i in range(len(widths) - 1):
        layers.append(torch.nn.Linear(widths[i], widths[i + 1]))
        if i < len(widths) - 2:
            layers.append({"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "identity": torch.nn.Identity}[act]())
    return torch.nn.Sequential(*layers)


def main():
    tensors, meta = read_safetensors(sys.argv[1])
    widths = [int(w) for w in meta["widths"].split(",")]
    model = sequential(widths, meta.get("act", "relu"))
    model.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=True)
    x = torch.tensor([[np.sin(i + 0.1 * j) for j in range(widths[0])] for i in range(4)], dtype=torch.float32)
    with torch.no_grad():
        z = model(x)
    print("load_state_dict(strict=True): ok")
    for row in z.tolist():
        print(" ".join(f"{v:.6f}" for v in row))
    if len(sys.argv) > 2:
        sd = {k: v.detach().numpy() for k, v in model.state_dict().items()}
        write_safetensors(sys.argv[2], sd, {"format": "pt"})
        print("wrote", sys.argv[2])


if __name__ == "__main__":
    main()
