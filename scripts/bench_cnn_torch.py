#!/usr/bin/python3
"""bench_cnn_torch.py - the PyTorch side of scripts/bench_cnn: the modules of
torch_cnn.py, WARMUP then STEPS training steps of batch 128 (SGD lr 0.01,
momentum 0.9, cross-entropy) on random inputs and labels, then EVAL_N random
inputs in eval mode in batches of EVAL_BATCH (after one warm-up batch).

usage: bench_cnn_torch.py NET WIDTH NORM C H W STEPS WARMUP EVAL_N EVAL_BATCH THREADS
BENCH_CNN_LAYOUT=cl: channels_last memory format for the model and the inputs.
prints "train_seconds=<s for STEPS steps> eval_seconds=<s>"
"""
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_cnn  # noqa: E402


def main():
    which, width, norm = sys.argv[1], sys.argv[2], sys.argv[3]
    c, h, w, steps, warmup, evaln, evalb, threads = (int(v) for v in sys.argv[4:12])
    torch.set_num_threads(threads)
    cl = os.environ.get("BENCH_CNN_LAYOUT", "nchw") == "cl"
    torch.manual_seed(1)
    if which == "resnet20":
        cfg = f"resnet20 width={width} norm={norm} classes=10 input={c},{h},{w}"
    else:
        cfg = f"vgg depth=11 norm={norm} width={width} classes=10 input={c},{h},{w} head=gap"
    model = torch_cnn.from_config(cfg)
    g = torch.Generator().manual_seed(1)
    n = 128 * max(steps, warmup, 1)
    x = torch.randn(n, c, h, w, generator=g)
    fmt = torch.channels_last if cl else torch.contiguous_format
    model = model.to(memory_format=fmt)
    x = x.contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (n,), generator=g)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    lossf = torch.nn.CrossEntropyLoss()

    def train(k):
        model.train()
        perm = torch.randperm(n, generator=g)
        for s in range(k):
            i = perm[(s * 128) % n:(s * 128) % n + 128]
            out = model(x[i])
            loss = lossf(out, y[i])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    ts = 0.0
    if steps > 0:
        train(warmup)
        t0 = time.perf_counter()
        train(steps)
        ts = time.perf_counter() - t0
    es = 0.0
    if evaln > 0:
        model.eval()
        xe = torch.randn(evaln, c, h, w, generator=g).contiguous(memory_format=fmt)
        with torch.inference_mode():
            model(xe[:evalb])
            t0 = time.perf_counter()
            for s in range(0, evaln, evalb):
                model(xe[s:s + evalb]).argmax(1)
            es = time.perf_counter() - t0
    print(f"train_seconds={ts:.4f} eval_seconds={es:.4f}")


if __name__ == "__main__":
    main()
