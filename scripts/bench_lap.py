#!/usr/bin/python3
"""bench_lap.py - perm.lap against SciPy's linear_sum_assignment.

Usage: /usr/bin/python3 scripts/bench_lap.py [--llfc PATH] [--reps R] [--sizes 256,512,...]

Writes dense uniform random float32 matrices to .npy files (the same files
for both solvers: llfc reads them with tensor.load, SciPy gets them as
float64, which holds the float32 values exactly), then alternates whole
runs: one llfc process timing perm.lap on every size, one Python process
timing linear_sum_assignment on every size, R times.  Only the solve is
timed, as CPU seconds of the process (both solvers are single-threaded;
CPU time is less disturbed by other jobs on a shared machine than wall
time).  Prints the median per size, the ratio SciPy/llfc and checks that
the optimal totals agree.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile

import numpy as np

LUA = r"""
local dir, sizes = arg[1], {}
for s in arg[2]:gmatch("%d+") do sizes[#sizes + 1] = tonumber(s) end
for _, n in ipairs(sizes) do
  local C = llfc.tensor.load(dir .. "/c" .. n .. ".npy")
  local t0 = os.clock()
  local _, total = llfc.perm.lap(C)
  local t = os.clock() - t0
  print(string.format("%d %.6f %.17g", n, t, total))
end
"""

PY = r"""
import sys, time
import numpy as np
from scipy.optimize import linear_sum_assignment
d = sys.argv[1]
for n in map(int, sys.argv[2].split(",")):
    c = np.load(f"{d}/c{n}.npy").astype(np.float64)
    t0 = time.process_time()
    r, k = linear_sum_assignment(c)
    t = time.process_time() - t0
    print(n, "%.6f" % t, repr(float(c[r, k].sum())))
"""


def run(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    res = {}
    for line in out.split("\n"):
        if line.strip():
            n, t, tot = line.split()
            res[int(n)] = (float(t), float(tot))
    return res


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--llfc", default=os.environ.get("LLFC", os.path.join(here, "..", "llfc")))
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--sizes", default="256,512,1024,2048,4096")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(",")]
    with tempfile.TemporaryDirectory() as d:
        rng = np.random.default_rng(a.seed)
        for n in sizes:
            np.save(f"{d}/c{n}.npy", rng.random((n, n), dtype=np.float32))
        with open(f"{d}/bench.lua", "w") as f:
            f.write(LUA)
        with open(f"{d}/bench.py", "w") as f:
            f.write(PY)
        env = ["env", "-u", "OPENBLAS_CORETYPE", "-u", "OPENBLAS_L2_SIZE"]
        tl = {n: [] for n in sizes}
        ts = {n: [] for n in sizes}
        totals = {}
        for r in range(a.reps):
            rl = run(env + [a.llfc, f"{d}/bench.lua", d, a.sizes])
            rs = run(env + [sys.executable, f"{d}/bench.py", d, a.sizes])
            for n in sizes:
                tl[n].append(rl[n][0])
                ts[n].append(rs[n][0])
                totals[n] = (rl[n][1], rs[n][1])
            print(f"run {r + 1}/{a.reps}: " + "  ".join(f"{n}: {rl[n][0]:.4f}/{rs[n][0]:.4f}" for n in sizes),
                  flush=True)
        print(f"\n{'n':>6} {'llfc s':>10} {'scipy s':>10} {'scipy/llfc':>11}  totals agree")
        for n in sizes:
            ml, ms = statistics.median(tl[n]), statistics.median(ts[n])
            a1, a2 = totals[n]
            agree = abs(a1 - a2) <= 1e-9 * max(1.0, abs(a2))
            print(f"{n:>6} {ml:>10.4f} {ms:>10.4f} {ms / ml:>10.2f}x  {'yes' if agree else 'NO'} ({a1:.10g} vs {a2:.10g})")


if __name__ == "__main__":
    main()
