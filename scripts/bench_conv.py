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
sample per gemm, -1 = the library default).  --backends lists llfc conv
backends (-1 = the library default: oneDNN when built in; 0 = im2col, run
once per --chunks entry; 1 = oneDNN on plain layouts, 2 = oneDNN blocked).
llfc runs get OMP_NUM_THREADS (oneDNN's threads) = OPENBLAS_NUM_THREADS = the
thread count and llfc's own OpenMP wait policy (passive).

Whole networks: --net resnet20|vgg11 [--width K] times every conv layer of the
network at batch --batch (default 128) on 32x32x3 inputs and adds the layers
up (each distinct shape once, weighted by how often the network uses it):
the conv part of one training step, forward and forward + backward
(dinput + dweight, + dbias for VGG's biased convs).

  /usr/bin/python3 scripts/bench_conv.py --build BUILD --net resnet20 --rounds 3 --reps 5

--layers N,C,H,W times the other per-batch kernels instead (scripts/bench_layers.c:
BatchNorm2d training forward/backward, channel LayerNorm, 2x2 max pool, ReLU).
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


def torch_child(threads, reps, shapes):
    """One line per shape (N,C,H,W,K,R,S,stride,pad[,bias])."""
    import torch
    torch.set_num_threads(threads)
    for shape in shapes:
        N, C, H, W, K, R, S, stride, pad = shape[:9]
        bias = len(shape) > 9 and shape[9]
        g = torch.Generator().manual_seed(1)
        x = torch.randn(N, C, H, W, generator=g, requires_grad=True)
        w = (0.1 * torch.randn(K, C, R, S, generator=g)).requires_grad_()
        b = torch.zeros(K, requires_grad=True) if bias else None
        params = (x, w, b) if bias else (x, w)
        y = torch.nn.functional.conv2d(x, w, b, stride, pad)
        gy = torch.randn(y.shape, generator=g)

        def once():
            c0, t0 = time.process_time(), time.perf_counter()
            y = torch.nn.functional.conv2d(x, w, b, stride, pad)
            c1, t1 = time.process_time(), time.perf_counter()
            torch.autograd.grad(y, params, gy)
            c2, t2 = time.process_time(), time.perf_counter()
            return (t1 - t0) * 1e3, (t2 - t1) * 1e3, (c1 - c0) * 1e3, (c2 - c1) * 1e3

        once()
        tf, tb, cf, cb = zip(*[once() for _ in range(reps)])
        print("fwd_ms=%.3f bwd_ms=%.3f fwd_cpu_ms=%.3f bwd_cpu_ms=%.3f" % (
            statistics.median(tf), statistics.median(tb), statistics.median(cf), statistics.median(cb)),
            flush=True)


def torch_layers_child(threads, reps, shape):
    """BatchNorm2d (training), LayerNorm over channels, MaxPool2d(2), ReLU: one line each."""
    import torch
    torch.set_num_threads(threads)
    N, C, H, W = shape[:4]
    g = torch.Generator().manual_seed(1)
    x = torch.randn(N, C, H, W, generator=g, requires_grad=True)
    bn = torch.nn.BatchNorm2d(C).train()
    ln = torch.nn.LayerNorm(C)
    fns = [("batchnorm2d", bn),
           ("layernorm_c", lambda t: ln(t.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)),
           ("maxpool2x2", torch.nn.MaxPool2d(2)),
           ("relu_loop", torch.relu), ("relu_blocked", torch.relu)]
    for name, f in fns:
        y = f(x)
        gy = torch.randn(y.shape, generator=g)
        tf, tb = [], []
        for i in range(reps + 1):
            t0 = time.perf_counter()
            y = f(x)
            t1 = time.perf_counter()
            torch.autograd.grad(y, [x] + [p for p in getattr(f, "parameters", lambda: [])()], gy)
            t2 = time.perf_counter()
            if i:
                tf.append((t1 - t0) * 1e3), tb.append((t2 - t1) * 1e3)
        print("%s fwd_ms=%.3f bwd_ms=%.3f" % (name, statistics.median(tf), statistics.median(tb)), flush=True)


def bench_layers(a):
    """Other per-batch kernels: llfc (single-threaded) against torch at each thread count."""
    v = make_vars(a.build)
    exe = os.path.join(a.build, "scripts", "bench_layers")
    os.makedirs(os.path.dirname(exe), exist_ok=True)
    subprocess.run("%s -O2 -std=c11 -D_DEFAULT_SOURCE -I%s/src -I%s/src -o %s %s/bench_layers.c "
                   "%s/.libs/libllfc_core.a %s %s %s %s -lm" % (
                       v["CC"] or "cc", SRC, a.build, exe, HERE, a.build, v["BLAS_LIBS"],
                       v["ZLIB_LIBS"], v["CJSON_LIBS"], v["LIBS"]), shell=True, check=True)
    shape = [int(s) for s in a.layers.split(",")]
    configs = [("llfc", [exe] + [str(s) for s in shape] + [str(a.reps)], dict(os.environ))]
    for t in [int(t) for t in a.threads.split(",")]:
        configs.append(("torch t=%d" % t, [sys.executable, os.path.abspath(__file__), "--torch-layers-child",
                                           str(t), "--reps", str(a.reps), "--layers", a.layers],
                        dict(os.environ, OMP_WAIT_POLICY="passive", OMP_NUM_THREADS=str(t))))
    res = {}
    for r in range(a.rounds):
        for name, cmd, env in configs:
            out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
            for line in out.strip().splitlines():
                m = re.match(r"(\S+) fwd_ms=([0-9.]+) bwd_ms=([0-9.]+)", line)
                res.setdefault((name, m.group(1)), []).append((float(m.group(2)), float(m.group(3))))
    print("layers on %s (N,C,H,W); medians of %d alternating runs x %d reps; llfc single-threaded" % (
        a.layers, a.rounds, a.reps))
    print("| kernel | " + " | ".join("%s fwd / bwd ms" % n for n, _, _ in configs) + " |")
    print("|---|" + "---|" * len(configs))
    for k in ("batchnorm2d", "layernorm_c", "maxpool2x2", "relu_loop", "relu_blocked"):
        cells = []
        for name, _, _ in configs:
            v = res[(name, k)]
            cells.append("%.2f / %.2f" % (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v)))
        print("| %s | %s |" % (k, " | ".join(cells)))


def net_layers(net, width, batch):
    """[(count, (N,C,H,W,K,R,S,stride,pad,bias), name)] of the conv layers, 32x32x3 input."""
    c = lambda x: max(1, round(x * width))
    N = batch
    if net == "resnet20":
        a, b, d = c(16), c(32), c(64)
        return [(1, (N, 3, 32, 32, a, 3, 3, 1, 1, 0), "stem 3->%d 32x32" % a),
                (6, (N, a, 32, 32, a, 3, 3, 1, 1, 0), "layer1 %d->%d 32x32" % (a, a)),
                (1, (N, a, 32, 32, b, 3, 3, 2, 1, 0), "layer2.0.conv1 %d->%d s2" % (a, b)),
                (1, (N, a, 32, 32, b, 1, 1, 2, 0, 0), "layer2.0 shortcut 1x1 s2"),
                (5, (N, b, 16, 16, b, 3, 3, 1, 1, 0), "layer2 %d->%d 16x16" % (b, b)),
                (1, (N, b, 16, 16, d, 3, 3, 2, 1, 0), "layer3.0.conv1 %d->%d s2" % (b, d)),
                (1, (N, b, 16, 16, d, 1, 1, 2, 0, 0), "layer3.0 shortcut 1x1 s2"),
                (5, (N, d, 8, 8, d, 3, 3, 1, 1, 0), "layer3 %d->%d 8x8" % (d, d))]
    if net == "vgg11":
        cfg = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]
        out, cin, hw, seen = [], 3, 32, {}
        for v in cfg:
            if v == "M":
                hw //= 2
                continue
            k = c(v)
            sh = (N, cin, hw, hw, k, 3, 3, 1, 1, 1)
            if sh in seen:
                out[seen[sh]] = (out[seen[sh]][0] + 1,) + out[seen[sh]][1:]
            else:
                seen[sh] = len(out)
                out.append((1, sh, "%d->%d %dx%d" % (cin, k, hw, hw)))
            cin = k
        return out
    raise SystemExit("unknown --net %s (resnet20, vgg11)" % net)


def bench_net(a, exe):
    layers = net_layers(a.net, a.width, a.batch)
    threads = [int(t) for t in a.threads.split(",")]
    backends = [int(b) for b in a.backends.split(",")]
    shapes_arg = ";".join(",".join(str(v) for v in sh) for _, sh, _ in layers)
    configs = []   # name, kind, cmd(s), env
    for t in threads:
        for be in backends:
            env = dict(os.environ, OPENBLAS_NUM_THREADS=str(t), OMP_NUM_THREADS=str(t))
            if a.coretype:
                env["OPENBLAS_CORETYPE"] = a.coretype
            bname = {-1: "default", 0: "im2col", 1: "oneDNN plain", 2: "oneDNN blocked"}[be]
            cmds = [[exe] + [str(v) for v in sh[:9]] + [str(a.reps), str(t), "-1", str(be), str(sh[9])]
                    for _, sh, _ in layers]
            configs.append(("llfc %s t=%d" % (bname, t), "llfc", cmds, env))
    for t in threads:
        env = dict(os.environ, OMP_WAIT_POLICY="passive", OMP_NUM_THREADS=str(t))
        configs.append(("torch t=%d" % t, "torch",
                        [[sys.executable, os.path.abspath(__file__), "--torch-child", str(t), "--reps",
                          str(a.reps), "--shapes", shapes_arg]], env))
    res = {c[0]: [] for c in configs}   # per round: list of per-layer tuples
    for r in range(a.rounds):
        for name, kind, cmds, env in configs:
            per = []
            for cmd in cmds:
                out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
                per += [parse(line) for line in out.strip().splitlines()]
            res[name].append(per)
    print("%s width %g, batch %d, 32x32x3 input: conv layers of one training step; medians of %d "
          "alternating runs x %d reps%s" % (a.net, a.width, a.batch, a.rounds, a.reps,
                                             "; OPENBLAS_CORETYPE=" + a.coretype if a.coretype else ""))

    def med(name, li, i):
        return statistics.median(run[li][i] for run in res[name])

    def total(name, i):
        return sum(n * med(name, li, i) for li, (n, _, _) in enumerate(layers))

    tot = {name: (total(name, 0), total(name, 0) + total(name, 1),
                  total(name, 2) + total(name, 3)) for name, _, _, _ in configs}
    torch_names = [n for n, k, _, _ in configs if k == "torch"]
    best = min(torch_names, key=lambda n: tot[n][1])
    print("| config | forward ms | forward + backward ms | CPU ms (fwd+bwd) | fwd+bwd / best torch (%s) |" % best)
    print("|---|---|---|---|---|")
    for name, _, _, _ in configs:
        f, fb, cpu = tot[name]
        print("| %s | %.1f | %.1f | %.1f | %.2f |" % (name, f, fb, cpu, fb / tot[best][1]))
    if a.per_layer:
        print()
        print("| layer | count | " + " | ".join("%s fwd+bwd ms" % n for n, _, _, _ in configs) + " |")
        print("|---|---|" + "---|" * len(configs))
        for li, (n, sh, lname) in enumerate(layers):
            print("| %s | %d | %s |" % (lname, n, " | ".join(
                "%.2f" % (med(name, li, 0) + med(name, li, 1)) for name, _, _, _ in configs)))


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
    ap.add_argument("--backends", default="-1")
    ap.add_argument("--net")
    ap.add_argument("--width", type=float, default=1)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--per-layer", action="store_true")
    ap.add_argument("--layers", help="N,C,H,W: time BatchNorm2d, LayerNorm, max pool, ReLU instead")
    ap.add_argument("--torch-child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--torch-layers-child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--shapes", help=argparse.SUPPRESS)
    a = ap.parse_args()
    shape = [int(s) for s in a.shape.split(",")]
    if a.torch_child:
        shapes = [[int(v) for v in sh.split(",")] for sh in a.shapes.split(";")] if a.shapes else [shape]
        return torch_child(a.torch_child, a.reps, shapes)
    if a.torch_layers_child:
        return torch_layers_child(a.torch_layers_child, a.reps, [int(v) for v in a.layers.split(",")])
    if not a.build:
        ap.error("--build DIR (a configured and built llfc build directory) is required")
    if a.layers:
        return bench_layers(a)
    exe = build_driver(a.build)
    if a.net:
        return bench_net(a, exe)
    threads = [int(t) for t in a.threads.split(",")]
    chunks = [int(c) for c in a.chunks.split(",")]

    backends = [int(b) for b in a.backends.split(",")]

    configs = []
    for t in threads:
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(t), OMP_NUM_THREADS=str(t))
        if a.coretype:
            env["OPENBLAS_CORETYPE"] = a.coretype
        for be in backends:
            if be != 0:   # oneDNN (or the library default)
                name = "llfc t=%d %s" % (t, {-1: "default", 1: "oneDNN plain", 2: "oneDNN blocked"}[be])
                configs.append((name, t, [exe] + [str(s) for s in shape] + [str(a.reps), str(t), "-1", str(be)], env))
                continue
            for c in chunks:   # im2col, per chunk size
                name = "llfc t=%d im2col %s" % (t, "per-sample" if c == 0 else "chunk=default" if c < 0 else "chunk=%d" % c)
                configs.append((name, t, [exe] + [str(s) for s in shape] + [str(a.reps), str(t), str(c), "0"], env))
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
