#!/usr/bin/python3
"""wm_numpy.py - a NumPy + SciPy reference of llfc's weight matching and
activation matching for MLPs (Git Re-Basin style), used by scripts/bench_perm.

Usage: /usr/bin/python3 scripts/wm_numpy.py DIR [--seed S] [--max-iter N]
                                                 [--am-n N] [--method inner|corr]

DIR holds a{k}.npy and b{k}.npy (k = 0 .. nparams-1, the parameters in
state_dict order: 0.weight, 0.bias, 2.weight, ...) and optionally x.npy
[n, in] for activation matching.  Prints the timings and writes
wm_perm.txt / am_perm.txt (one line per group: name and 1-based indices).

The group order of each sweep comes from the same PRNG as llfc
(xoshiro256** seeded through splitmix64, unbiased bounded draws,
Fisher-Yates from the end), so the same seed gives the same order and, up to
floating-point ties, the same permutation.
"""
import argparse
import glob
import os
import sys
import time

import numpy as np
from scipy.optimize import linear_sum_assignment

M64 = (1 << 64) - 1


class Rng:
    """llfc_rng: xoshiro256** seeded by splitmix64 (src/core/core.c)."""

    def __init__(self, seed):
        x = seed & M64
        self.s = []
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & M64
            z = x
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
            self.s.append(z ^ (z >> 31))

    @staticmethod
    def _rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & M64

    def next(self):
        s = self.s
        result = (self._rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = self._rotl(s[3], 45)
        return result

    def below(self, n):
        limit = M64 - M64 % n
        while True:
            v = self.next()
            if v < limit:
                return v % n

    def shuffle(self, a):
        for i in range(len(a) - 1, 0, -1):
            j = self.below(i + 1)
            a[i], a[j] = a[j], a[i]
        return a


def mlp_spec(params):
    """groups P1..P(L-1); axes[k] = per axis the group index or None."""
    L = len(params) // 2
    axes = []
    for l in range(L):
        out_g = l if l < L - 1 else None
        in_g = l - 1 if l > 0 else None
        axes.append((out_g, in_g))  # weight [out, in]
        axes.append((out_g,))       # bias [out]
    sizes = [params[2 * l].shape[0] for l in range(L - 1)]
    return sizes, axes


def permuted(w, axes, perm, except_axis=None):
    for d, g in enumerate(axes):
        if g is not None and d != except_axis:
            w = np.take(w, perm[g], axis=d)
    return w


def weight_matching(pa, pb, seed=0, max_iter=100):
    sizes, axes = mlp_spec(pa)
    G = len(sizes)
    members = [[(k, d) for k in range(len(pa)) for d, g in enumerate(axes[k]) if g == gi] for gi in range(G)]
    perm = [np.arange(n) for n in sizes]
    rng = Rng(seed)
    objective = []
    it = 0
    for it in range(1, max_iter + 1):
        progress = False
        for g in rng.shuffle(list(range(G))):
            n = sizes[g]
            A = np.zeros((n, n), dtype=np.float32)
            for k, d in members[g]:
                wa = np.moveaxis(pa[k], d, 0).reshape(n, -1)
                wb = np.moveaxis(permuted(pb[k], axes[k], perm, d), d, 0).reshape(n, -1)
                A += wa @ wb.T
            _, ci = linear_sum_assignment(A, maximize=True)
            old = A[np.arange(n), perm[g]].astype(np.float64).sum()
            new = A[np.arange(n), ci].astype(np.float64).sum()
            progress = progress or new > old + 1e-12
            perm[g] = ci
        objective.append(sum(float(np.vdot(pa[k].astype(np.float64), permuted(pb[k], axes[k], perm)))
                             for k in range(len(pa))))
        if not progress:
            break
    return perm, it, objective


def forward_features(params, x):
    L = len(params) // 2
    feats = []
    h = x
    for l in range(L - 1):
        h = np.maximum(h @ params[2 * l].T + params[2 * l + 1], 0)
        feats.append(h)
    return feats


def activation_matching(pa, pb, x, method="inner"):
    fa, fb = forward_features(pa, x), forward_features(pb, x)
    n = x.shape[0]
    perm = []
    for ha, hb in zip(fa, fb):
        if method == "inner":
            C = (ha.T @ hb) / n
        else:
            ma, mb = ha.mean(0, dtype=np.float64), hb.mean(0, dtype=np.float64)
            sa, sb = ha.std(0, dtype=np.float64), hb.std(0, dtype=np.float64)
            cov = (ha.T @ hb).astype(np.float64) / n - np.outer(ma, mb)
            den = np.outer(sa, sb)
            C = np.divide(cov, den, out=np.zeros_like(cov), where=den > 0)
        _, ci = linear_sum_assignment(C, maximize=True)
        perm.append(ci)
    return perm


def load(d, prefix):
    files = sorted(glob.glob(os.path.join(d, f"{prefix}*.npy")), key=lambda f: int(os.path.basename(f)[1:-4]))
    return [np.ascontiguousarray(np.load(f), dtype=np.float32) for f in files]


def write_perm(path, perm):
    with open(path, "w") as f:
        for g, p in enumerate(perm):
            f.write(f"P{g + 1} " + " ".join(str(int(i) + 1) for i in p) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-iter", type=int, default=100)
    ap.add_argument("--am-n", type=int, default=10000)
    ap.add_argument("--method", default="inner")
    a = ap.parse_args()
    pa, pb = load(a.dir, "a"), load(a.dir, "b")
    t0 = time.perf_counter()
    perm, it, obj = weight_matching(pa, pb, a.seed, a.max_iter)
    t = time.perf_counter() - t0
    write_perm(os.path.join(a.dir, "wm_perm.txt"), perm)
    print(f"wm {t:.6f} {it} {obj[-1]:.9g}")
    xf = os.path.join(a.dir, "x.npy")
    if os.path.exists(xf):
        x = np.ascontiguousarray(np.load(xf)[: a.am_n], dtype=np.float32)
        t0 = time.perf_counter()
        perm = activation_matching(pa, pb, x, a.method)
        t = time.perf_counter() - t0
        write_perm(os.path.join(a.dir, "am_perm.txt"), perm)
        print(f"am {t:.6f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
