#!/usr/bin/python3
"""bench_conv.py - llfc's conv2d kernels against PyTorch on one layer shape.

Times forward and backward (dinput + dweight, no bias) of one conv layer, by
default a ResNet-20 layer: batch 128, 16 -> 16 channels, 32x32, 3x3, pad 1.
llfc runs through scripts/bench_conv.c linked against a build's
libllfc_core.a; PyTorch (Debian's python3-torch) runs in a child process with
OMP_WAIT_POLICY=passive and OMP_NUM_THREADS set.  Runs of every configuration
alternate, each run reports the median of --reps timings (wall clock and
process CPU time), and the table shows the median over --rounds runs.  On a
shared, loaded machine wall times mostly measure the other processes; the CPU
times of 1-thread runs are the steadier comparison.

  /usr/bin/python3 scripts/bench_conv.py --build /path/to/build [--threads 1,2]
      [--rounds 5] [--reps 7] [--shape N,C,H,W,K,R,S,stride,pad] [--coretype NAME]

--coretype sets OPENBLAS_CORETYPE for the llfc runs (OpenBLAS's own kernel
choice is used otherwise).  --chunks lists llfc chunk sizes in floats (0 = one
sample per gemm, -1 = the library default).
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)


def torch_child(threads, reps, shape):
    import torch
    torch.set_num_threads(threads)
    N, C, H, W, K, R, S, stride, pad = shape
    g = torch.Generator().manual_seed(1)
    x = torch.randn(N, C, H, W, generator=g, requires_grad=True)
    w = (0.1 * torch.randn(K, C, R, S, generator=g)).requires_grad_()
    y = torch.nn.functional.conv2d(x, w, None, stride, pad)
    gy = torch.randn(y.shape, generator=g)

    def once():
        c0, t0 = time.process_time(), time.perf_counter()
        y = torch.nn.functional.conv2d(x, w, None, stride, pad)
        c1, t1 = time.process_time(), time.perf_counter()
        torch.autograd.grad(y, (x, w), gy)
        c2, t2 = time.process_time(), time.perf_counter()
        return (t1 - t0) * 1e3, (t2 - t1) * 1e3, (c1 - c0) * 1e3, (c2 - c1) * 1e3

    once()
    tf, tb, cf, cb = zip(*[once() for _ in range(reps)])
    print("fwd_ms=%.3f bwd_ms=%.3f fwd_cpu_ms=%.3f bwd_cpu_ms=%.3f" % (
        statistics.median(tf), statistics.median(tb), statistics.median(cf), statistics.median(cb)))


def make_vars(build):
    text = open(os.path.join(build, "Makefile")).read()
    out = {}
    for name in ("CC", "BLAS_LIBS", "ZLIB_LIBS", "CJSON_LIBS", "LIBS"):
        m = re.search(r"^%s = (.*)$" % name, text, re.M)
        out[name] = m.group(1).strip() if m else ""
    return out


def build_driver(build):
    v = make_vars(build)
    exe = os.path.join(build, "scripts", "bench_conv")
    os.makedirs(os.path.dirname(exe), exist_ok=True)
    cmd = "%s -O2 -std=c11 -D_DEFAULT_SOURCE -I%s/src -I%s/src -o %s %s/bench_conv.c %s/.libs/libllfc_core.a %s %s %s %s -lm" % (
        v["CC"] or "cc", SRC, build, exe, HERE, build, v["BLAS_LIBS"], v["ZLIB_LIBS"],
        v["CJSON_LIBS"], v["LIBS"])
    subprocess.run(cmd, shell=True, check=True)
    return exe


def parse(out):
    m = re.search(r"fwd_ms=([0-9.]+) bwd_ms=([0-9.]+) fwd_cpu_ms=([0-9.]+) bwd_cpu_ms=([0-9.]+)", out)
    if not m:
        raise RuntimeError("unexpected output: " + out)
    return tuple(float(m.group(i)) for i in range(1, 5))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--shape", default="128,16,32,32,16,3,3,1,1")
    ap.add_argument("--chunks", default="0,-1")
    ap.add_argument("--coretype")
    ap.add_argument("--torch-child", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    shape = [int(s) for s in a.shape.split(",")]
    if a.torch_child:
        return torch_child(a.torch_child, a.reps, shape)
    if not a.build:
        ap.error("--build DIR (a configured and built llfc build directory) is required")
    exe = build_driver(a.build)
    threads = [int(t) for t in a.threads.split(",")]
    chunks = [int(c) for c in a.chunks.split(",")]

    configs = []
    for t in threads:
        for c in chunks:
            env = dict(os.environ, OPENBLAS_NUM_THREADS=str(t))
            if a.coretype:
                env["OPENBLAS_CORETYPE"] = a.coretype
            name = "llfc t=%d %s" % (t, "per-sample" if c == 0 else "chunk=default" if c < 0 else "chunk=%d" % c)
            configs.append((name, t, [exe] + [str(s) for s in shape] + [str(a.reps), str(t), str(c)], env))
        env = dict(os.environ, OMP_WAIT_POLICY="passive", OMP_NUM_THREADS=str(t))
        configs.append(("torch t=%d" % t, t, [sys.executable, os.path.abspath(__file__), "--torch-child",
                                                str(t), "--reps", str(a.reps), "--shape", a.shape], env))
    res = {c[0]: [] for c in configs}
    for r in range(a.rounds):
        for name, t, cmd, env in configs:
            out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
            res[name].append(parse(out))
    print("conv2d %s (N,C,H,W,K,R,S,stride,pad); medians of %d alternating runs x %d reps%s" % (
        a.shape, a.rounds, a.reps, "; OPENBLAS_CORETYPE=" + a.coretype if a.coretype else ""))
    print("| config | forward ms | backward ms | total ms | total / torch | CPU ms (fwd+bwd) | CPU / torch |")
    print("|---|---|---|---|---|---|---|")

    def med(name, i):
        return statistics.median(x[i] for x in res[name])

    for name, t, _, _ in configs:
        f, b, cf, cb = (med(name, i) for i in range(4))
        ref = "torch t=%d" % t
        wall_ref = med(ref, 0) + med(ref, 1)
        cpu_ref = med(ref, 2) + med(ref, 3)
        print("| %s | %.1f | %.1f | %.1f | %.2f | %.1f | %.2f |" % (
            name, f, b, f + b, (f + b) / wall_ref, cf + cb, (cf + cb) / cpu_ref))


if __name__ == "__main__":
    main()
