#!/usr/bin/python3
"""torch_vgg.py - the PyTorch definition of llfc's plain conv nets (nn.vgg),
and a check that llfc computes the same function with the same state_dict.

usage: torch_vgg.py [LLFC_BINARY]   (default ./llfc)

vgg(layers, classes, input, head) is torch.nn.Sequential of
Conv2d(C, K, 3, padding=1), ReLU and MaxPool2d(2) per entry of `layers`
(an int is a conv layer's channels, "M" a max pool), then
AdaptiveAvgPool2d(1), Flatten (head "gap") or Flatten (head "flatten"), then
Linear(F, classes): its state_dict names ("0.weight" [K, C, 3, 3], ...) are
llfc's parameter names.  The check runs llfc to build a small net, write its
parameters and the logits of a fixed input as .npy, loads them into the
module with load_state_dict(strict=True) and compares the logits.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn

VGG11 = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]


def vgg(layers, classes=10, input=(3, 32, 32), head="gap", width=1.0):
    mods, c, h, w = [], input[0], input[1], input[2]
    for v in layers:
        if v == "M":
            mods.append(nn.MaxPool2d(2))
            h, w = h // 2, w // 2
        else:
            k = max(1, int(np.floor(v * width + 0.5)))
            mods += [nn.Conv2d(c, k, 3, padding=1), nn.ReLU()]
            c = k
    if head == "gap":
        mods += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        f = c
    else:
        mods.append(nn.Flatten())
        f = c * h * w
    mods.append(nn.Linear(f, classes))
    return nn.Sequential(*mods)


LUA = r"""
local dir, head = arg[1], arg[2]
local net = nn.vgg{layers = {6, "M", 8, 8, "M"}, input = {3, 12, 12}, classes = 7, head = head, seed = 5}
for _, e in ipairs(net:params()) do e.tensor:save(dir .. "/" .. e.name .. ".npy") end
local x = tensor.zeros({4, 3 * 12 * 12})
for i = 1, 4 do for j = 1, 3 * 12 * 12 do x:set(i, j, math.sin(i + 0.1 * j)) end end
net:forward(x):save(dir .. "/logits.npy")
"""


def main():
    llfc = sys.argv[1] if len(sys.argv) > 1 else "./llfc"
    worst = 0.0
    for head in ("gap", "flatten"):
        with tempfile.TemporaryDirectory() as d:
            script = os.path.join(d, "dump.lua")
            with open(script, "w") as f:
                f.write(LUA)
            subprocess.run([llfc, script, d, head], check=True)
            m = vgg([6, "M", 8, 8, "M"], classes=7, input=(3, 12, 12), head=head)
            sd = {k: torch.from_numpy(np.load(os.path.join(d, k + ".npy"))) for k in m.state_dict()}
            m.load_state_dict(sd, strict=True)
            i = np.arange(1, 5)[:, None]
            j = np.arange(1, 3 * 12 * 12 + 1)[None, :]
            x = torch.from_numpy(np.sin(i + 0.1 * j).astype(np.float32)).view(4, 3, 12, 12)
            with torch.no_grad():
                z = m(x).numpy()
            ref = np.load(os.path.join(d, "logits.npy"))
            diff = float(np.abs(z - ref).max())
            print(f"head={head}: {len(sd)} tensors loaded strictly, max |torch - llfc| logits = {diff:.3g}")
            worst = max(worst, diff)
    print("VGG-11 (width 1) parameters:", sum(p.numel() for p in vgg(VGG11).parameters()))
    sys.exit(0 if worst < 1e-4 else 1)


if __name__ == "__main__":
    main()
