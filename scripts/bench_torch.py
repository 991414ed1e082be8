#!/usr/bin/python3
"""bench_torch.py - the PyTorch side of scripts/bench: one epoch of the
784-512-512-512-10 MLP on Fashion-MNIST (batch 128, SGD lr 0.01 momentum 0.9)
and the evaluation of the 10,000 test images, timed.  Data are preloaded
tensors sliced with a per-epoch randperm (faster than a DataLoader).

Spawn: a parent trained for one epoch on the first 10,000 training images
(data order seed 1), copied with its optimiser state, and the two copies
trained for one more epoch each (data orders 2 and 3), one after the other,
as nn.spawn does.

usage: bench_torch.py DIR THREADS [train|eval|spawn]   prints "seconds=<s> acc=<a>"
"""
import gzip
import os
import sys
import time

import numpy as np
import torch


def idx(path):
    with gzip.open(path, "rb") as f:
        b = f.read()
    nd = b[3]
    dims = [int.from_bytes(b[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(b, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)


def load(d, split):
    x = idx(os.path.join(d, f"{split}-images-idx3-ubyte.gz")).reshape(-1, 784).astype(np.float32) / 255.0
    y = idx(os.path.join(d, f"{split}-labels-idx1-ubyte.gz")).astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


def mlp():
    torch.manual_seed(1)
    return torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512),
                               torch.nn.ReLU(), torch.nn.Linear(512, 512), torch.nn.ReLU(),
                               torch.nn.Linear(512, 10))


def epoch(net, opt, x, y, seed):
    """One epoch in batches of 128 in the order of a randperm seeded with seed;
    returns the training accuracy over the epoch."""
    lossf = torch.nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(x.shape[0], generator=g)
    correct = 0
    for s in range(0, x.shape[0], 128):
        i = perm[s:s + 128]
        xb, yb = x[i], y[i]
        out = net(xb)
        loss = lossf(out, yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        correct += (out.argmax(1) == yb).sum().item()
    return correct / x.shape[0]


def main():
    d, threads, what = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    torch.set_num_threads(threads)
    net = mlp()
    if what == "spawn":
        import copy
        x, y = load(d, "train")
        x, y = x[:10000], y[:10000]
        t0 = time.perf_counter()
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
        epoch(net, opt, x, y, 1)
        accs = []
        for seed in (2, 3):
            child = copy.deepcopy(net)
            copt = torch.optim.SGD(child.parameters(), lr=0.01, momentum=0.9)
            copt.load_state_dict(opt.state_dict())
            accs.append(epoch(child, copt, x, y, seed))
        secs = time.perf_counter() - t0
        print(f"seconds={secs:.4f} acc={min(accs):.4f}")
        return
    if what == "train":
        x, y = load(d, "train")
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
        t0 = time.perf_counter()
        acc = epoch(net, opt, x, y, 1)
        secs = time.perf_counter() - t0
        print(f"seconds={secs:.4f} acc={acc:.4f}")
    else:
        x, y = load(d, "t10k")
        with torch.inference_mode():
            net(x[:1000])
            t0 = time.perf_counter()
            correct = 0
            for s in range(0, x.shape[0], 1000):
                out = net(x[s:s + 1000])
                correct += (out.argmax(1) == y[s:s + 1000]).sum().item()
            secs = time.perf_counter() - t0
        print(f"seconds={secs:.4f} acc={correct / x.shape[0]:.4f}")


if __name__ == "__main__":
    main()
