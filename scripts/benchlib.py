"""benchlib.py - what the benchmark scripts share: the machine line, the
environments of llfc (nothing set) and of its peers (their best
configuration), and llfc's own sgemm peak.

llfc runs as a user runs it: no BLAS, OpenMP or llfc variable set.  A peer
(PyTorch, NumPy/SciPy) is run in every configuration that could be its best
on this machine: 1 and 2 threads with OMP_WAIT_POLICY=passive, and with
OPENBLAS_CORETYPE unset or set to each OpenBLAS kernel family this CPU can
run (coretypes(): a family is offered only when /proc/cpuinfo has every
instruction set its kernels use, so no peer dies of an illegal instruction);
the best configuration is compared.  The variable goes into the peer's
command only.

Command line: `python3 scripts/benchlib.py coretypes` prints the families,
`... machine` the machine line, `... peak LLFC` llfc's sgemm rates.
"""
import os
import platform
import subprocess
import sys
import time

# variables that change what a BLAS library or OpenMP does, and llfc's own
TUNING = ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "OPENBLAS_VERBOSE", "OPENBLAS_L2_SIZE", "GOTO_NUM_THREADS",
          "OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_PROC_BIND", "LLFC_BLAS", "DNNL_MAX_CPU_ISA")


def cpuinfo():
    """(model name with family/model, vendor, set of flags) of the first CPU in /proc/cpuinfo."""
    model, vendor, flags, fm = platform.processor() or "?", "?", set(), {}
    try:
        for line in open("/proc/cpuinfo"):
            k, _, v = line.partition(":")
            k = k.strip()
            if k in ("cpu family", "model") and k not in fm:
                fm[k] = v.strip()
            if k == "model name" and model in ("?", platform.processor()):
                model = v.strip()
            elif k == "vendor_id" and vendor == "?":
                vendor = v.strip()
            elif k == "flags" and not flags:
                flags = set(v.split())
    except OSError:
        pass
    if fm:
        model += f" [family {fm.get('cpu family', '?')} model {fm.get('model', '?')}]"
    return model, vendor, flags


def coretypes():
    """OpenBLAS 0.3.21 kernel families this CPU can run, widest first."""
    _, vendor, f = cpuinfo()
    out = []
    if {"avx512f", "avx512bw", "avx512dq", "avx512vl"} <= f:
        out.append("SkylakeX")
        if "avx512_bf16" in f:
            out.append("Cooperlake")
    if {"avx2", "fma"} <= f:
        out.append("Haswell")
        if vendor == "AuthenticAMD":
            out.append("Zen")
    if "avx" in f and not out:
        out.append("Sandybridge")
    return out


def machine():
    """One line: date, host, CPU model and vector flags, CPUs, load."""
    model, _, f = cpuinfo()
    vec = " ".join(x for x in ("avx512f", "avx512bw", "avx512vl", "avx512_bf16", "amx_tile", "avx2", "fma")
                   if x in f) or "no avx2"
    try:
        load = " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        load = "?"
    return (f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  {platform.node()}  {model} ({vec}), "
            f"{os.cpu_count()} cpus, load {load}")


def llfc_env():
    """The environment llfc runs in: nothing that tunes BLAS, OpenMP or llfc."""
    env = dict(os.environ)
    for k in TUNING:
        env.pop(k, None)
    return env


def peer_configs(threads=(1, 2), cores=None):
    """[(label, env)] for a peer: each thread count, OMP_WAIT_POLICY=passive,
    OPENBLAS_CORETYPE unset and set to each family of coretypes()."""
    cores = coretypes() if cores is None else cores
    out = []
    for core in [""] + list(cores):
        for t in threads:
            env = dict(llfc_env(), OMP_WAIT_POLICY="passive", OMP_NUM_THREADS=str(t), OPENBLAS_NUM_THREADS=str(t))
            if core:
                env["OPENBLAS_CORETYPE"] = core
            out.append((f"{t} thr" + (f" CORETYPE={core}" if core else ""), env))
    return out


PEAK_LUA = """local b = llfc.blas{measure = %s, threads = %s}
io.write("gemm=", b.gemm:gsub(" ", "_"), " backend=", b.backend)
for _, k in ipairs{"2048x2048x2048", "128x512x784", "128x512x512"} do io.write(" ", k, "=", b.gflops[k]) end
print()"""


def llfc_peak(llfc, seconds=0.5, env=None, threads=None):
    """llfc's sgemm rates through llfc_gemm (llfc.blas{measure}), with its
    default threads or `threads`:
    {"gemm": description, "backend": ..., "2048x2048x2048": GFLOP/s, ...}."""
    out = subprocess.run([llfc, "-e", PEAK_LUA % (seconds, threads or "nil")], env=env or llfc_env(),
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{llfc}: llfc.blas{{measure}} failed:\n{out.stderr}")
    vals = dict(kv.split("=", 1) for kv in out.stdout.split())
    res = {k: float(v) for k, v in vals.items() if "x" in k}
    res["gemm"], res["backend"] = vals["gemm"].replace("_", " "), vals["backend"]
    return res


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "machine"
    if what == "coretypes":
        print(" ".join(coretypes()))
    elif what == "machine":
        print(machine())
    elif what == "peak" and len(sys.argv) > 2:
        print(llfc_peak(sys.argv[2]))
    else:
        sys.exit("usage: benchlib.py coretypes | machine | peak LLFC")
