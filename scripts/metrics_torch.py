#!/usr/bin/python3
"""metrics_torch.py - the llfc metrics report computed with PyTorch (a reference).

  metrics_torch.py A.safetensors B.safetensors [--flat FILE] [--threads N] [--repeat K]
  metrics_torch.py --train DIR [--epochs E] [--child-steps K]   train an independent and a spawned pair

Computes metrics.report(a, b, ds) of llfc on the Fashion-MNIST test set
(/usr/share/datasets/fashion-mnist, pixel/255) with the same definitions and
the same layout (interpolate, llfc, weak_additivity, commutativity; see
man llfc, section metrics), prints the tables, and with --flat writes every
number as "path value" lines (the paths of the Lua result table, 1-based) for
comparison.  theta_alpha = alpha*A + (1-alpha)*B: alpha = 1 is A.
The per-sample reductions are done in float64 like llfc's; the products in
float32.  The algorithm is llfc's: the endpoint features are computed once;
theta_alpha's first pre-activation is alpha*Ht_1(A) + (1-alpha)*Ht_1(B);
Dist_com's second matrix is Y = X - D.
"""
import argparse
import gzip
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch

FMNIST = "/usr/share/datasets/fashion-mnist"


# ---- files -------------------------------------------------------------------
def read_safetensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {}) or {}
    out = {}
    for name, h in header.items():
        if h["dtype"] != "F32":
            raise SystemExit("%s: tensor %s is %s, only F32 is supported" % (path, name, h["dtype"]))
        b, e = h["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[b:e], dtype="<f4").reshape(h["shape"]).copy())
    return out, meta


def write_safetensors(path, tensors, meta):
    header, off, blobs = {}, 0, []
    for name, t in tensors.items():
        a = t.detach().contiguous().numpy().astype("<f4")
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + a.nbytes]}
        off += a.nbytes
        blobs.append(a.tobytes())
    header["__metadata__"] = meta
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def read_idx(path):
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    nd = data[3]
    dims = struct.unpack(">" + "I" * nd, data[4:4 + 4 * nd])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)


def fashion(split):
    pre = "t10k" if split == "test" else "train"
    x = read_idx(os.path.join(FMNIST, pre + "-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(FMNIST, pre + "-labels-idx1-ubyte.gz"))
    x = torch.from_numpy(x.reshape(len(x), -1).astype(np.float32) / np.float32(255))
    return x, torch.from_numpy(y.astype(np.int64))


def mlp_layers(params):
    """[(W, b), ...] from PyTorch Sequential keys 0.weight, 0.bias, 2.weight, ..."""
    idx = sorted(int(k.split(".")[0]) for k in params if k.endswith(".weight"))
    return [(params["%d.weight" % i], params["%d.bias" % i]) for i in idx]


# ---- the report ----------------------------------------------------------------
def forward(layers, x, first_pre=None):
    """pre, post per layer (post of the logits = pre)."""
    pre, post, h = [], [], x
    for l, (W, b) in enumerate(layers):
        z = first_pre if (l == 0 and first_pre is not None) else torch.addmm(b, h, W.t())
        pre.append(z)
        h = torch.relu(z) if l < len(layers) - 1 else z
        post.append(h)
    return pre, post


def lerp(a, b, al):
    return [(al * Wa + (1 - al) * Wb, al * ba + (1 - al) * bb) for (Wa, ba), (Wb, bb) in zip(a, b)]


def stats(v):
    v = v[~torch.isnan(v)]
    if v.numel() == 0:
        return float("nan"), float("nan")
    return v.mean().item(), v.std(unbiased=False).item()


def one_minus_cos(u, v):
    uv, uu, vv = (u * v).sum(1), (u * u).sum(1), (v * v).sum(1)
    keep = (uu != 0) & (vv != 0)
    c = 1 - uv / torch.sqrt(uu * vv)
    c[~keep] = float("nan")
    return c, uv, uu, int((~keep).sum())


def ce_err(z, y):
    z = z.double()
    loss = torch.nn.functional.cross_entropy(z, y, reduction="sum").item()
    nerr = int((z.argmax(1) != y).sum())
    return nerr, loss


def dist(d2, x2, y2):
    return 0.0 if d2 == 0 else d2 / math.sqrt(x2 * y2)


def report(A, B, x, y, grid, lal, wal, nbins=20, lo=0.0, hi=2.0):
    n, L = x.shape[0], len(A)
    names = ["h%d" % (l + 1) for l in range(L - 1)] + ["logits"]
    pa, ha = forward(A, x)
    pb, hb = forward(B, x)
    fa = [t.double() for t in ha]
    fb = [t.double() for t in hb]
    # interpolation (alpha = 0, 1 reuse the endpoints)
    ea, la = ce_err(ha[-1], y)
    eb, lb = ce_err(hb[-1], y)
    ip = {"kind": "interpolate", "n": n, "alphas": grid, "err": [], "loss": [],
          "err_a": ea / n, "err_b": eb / n, "loss_a": la / n, "loss_b": lb / n}
    lay = [{"name": names[l], "dim": A[l][0].shape[0], "at": []} for l in range(L)]
    for l in range(L):
        c, _, _, sk = one_minus_cos(fa[l], fb[l])
        m, s = stats(c)
        lay[l]["ab"] = {"mean": m, "std": s}
        lay[l]["skipped"] = sk
    for al in sorted(set(grid) | set(lal)):
        if al == 1:
            pt, ht = pa, ha
        elif al == 0:
            pt, ht = pb, hb
        else:
            T = lerp(A, B, al)
            pt, ht = forward(T, x, first_pre=al * pa[0] + (1 - al) * pb[0])
        if al in grid:
            e, lo_ = ce_err(ht[-1], y)
            ip["err"].append(e / n)
            ip["loss"].append(lo_ / n)
        if al in lal:
            for l in range(L):
                ft = ht[l].double()
                mix = al * fa[l] + (1 - al) * fb[l]
                c, tm, tt, sk = one_minus_cos(ft, mix)
                coef = tm / tt
                coef[torch.isnan(c)] = float("nan")
                m, s = stats(c)
                cm, cs = stats(coef)
                cv = coef[~torch.isnan(coef)]
                edges = [lo + (hi - lo) * j / nbins for j in range(nbins + 1)]
                inside = cv[(cv >= lo) & (cv < hi)]
                bins = ((inside - lo) / (hi - lo) * nbins).long().clamp(max=nbins - 1)
                counts = torch.bincount(bins, minlength=nbins).tolist()
                lay[l]["at"].append({"alpha": al, "mean": m, "std": s, "coef_mean": cm, "coef_std": cs,
                                     "skipped": sk, "coef_hist": {"edges": edges, "counts": counts,
                                                                  "below": int((cv < lo).sum()),
                                                                  "above": int((cv >= hi).sum())}})
    bar_e = bar_l = -math.inf
    for k, al in enumerate(grid):
        ve = (ip["err"][k] - ip["err_b"]) - al * (ip["err_a"] - ip["err_b"])
        vl = (ip["loss"][k] - ip["loss_b"]) - al * (ip["loss_a"] - ip["loss_b"])
        if ve > bar_e:
            bar_e, bar_ea = ve, al
        if vl > bar_l:
            bar_l, bar_la = vl, al
    ip["barrier"] = {"err": bar_e, "err_alpha": bar_ea, "loss": bar_l, "loss_alpha": bar_la}
    eps = max(ip["err_a"], ip["err_b"])
    mx = max([eps] + ip["err"])
    ip["lemma"] = {"eps": eps, "max_err": mx, "holds": mx <= 2 * eps}
    ll = {"kind": "llfc", "n": n, "alphas": lal, "features": "post", "layers": lay}
    # weak additivity on the hidden layers
    wk = {"kind": "weak_additivity", "n": n, "alphas": wal, "layers": []}
    for l in range(L - 1):
        at = []
        qa, qb = pa[l].double(), pb[l].double()
        for al in wal:
            u = torch.relu(al * qa + (1 - al) * qb)
            v = al * fa[l] + (1 - al) * fb[l]
            c, _, _, sk = one_minus_cos(u, v)
            m, s = stats(c)
            at.append({"alpha": al, "mean": m, "std": s, "skipped": sk})
        wk["layers"].append({"name": names[l], "dim": A[l][0].shape[0], "at": at})
    # commutativity, biases excluded: X = W_A H_A + W_B H_B, D = (W_A-W_B)(H_A-H_B), Y = X - D
    cm = {"kind": "commutativity", "n": n, "layers": []}
    for l in range(L):
        (Wa, ba), (Wb, bb) = A[l], B[l]
        HA = x if l == 0 else ha[l - 1]
        HB = x if l == 0 else hb[l - 1]
        X = (pa[l] - ba).double() + (pb[l] - bb).double()
        D = ((HA - HB) @ (Wa - Wb).t()).double()
        Y = X - D
        sq = lambda t: float((t.double() ** 2).sum())
        cm["layers"].append({"layer": l + 1, "input": "x" if l == 0 else names[l - 1],
                             "dist_com": dist(sq(D), sq(X), sq(Y)),
                             "dist_w": dist(sq(Wa - Wb), sq(Wa), sq(Wb)),
                             "dist_h": dist(sq(HA - HB), sq(HA), sq(HB))})
    return {"kind": "report", "n": n, "interpolate": ip, "llfc": ll, "weak_additivity": wk,
            "commutativity": cm}


# ---- output --------------------------------------------------------------------
def fmt(v):
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, int):
        return str(v)
    if v != v:
        return "nan"
    a = abs(v)
    return "%.3e" % v if a != 0 and (a < 1e-3 or a >= 1e5) else "%.4f" % v


def show(r):
    conv = "theta_alpha = alpha*A + (1-alpha)*B  (alpha=1 is A, alpha=0 is B)"
    ip = r["interpolate"]
    print("interpolate: %s, n = %d" % (conv, r["n"]))
    print("  alpha       err      loss")
    for a, e, l in zip(ip["alphas"], ip["err"], ip["loss"]):
        print("  %5.3f  %8s  %8s" % (a, fmt(e), fmt(l)))
    b = ip["barrier"]
    print("  barrier: err %s at alpha %s, loss %s at alpha %s" % (fmt(b["err"]), fmt(b["err_alpha"]),
                                                                 fmt(b["loss"]), fmt(b["loss_alpha"])))
    print("\nllfc (1-cos(A,B) | alpha 1-cos_alpha c)")
    for ly in r["llfc"]["layers"]:
        for at in ly["at"]:
            print("  %-7s %5d  %s +- %s  %5.3f  %s +- %s  %s +- %s  %d" % (
                ly["name"], ly["dim"], fmt(ly["ab"]["mean"]), fmt(ly["ab"]["std"]), at["alpha"],
                fmt(at["mean"]), fmt(at["std"]), fmt(at["coef_mean"]), fmt(at["coef_std"]), at["skipped"]))
    print("\nweak additivity")
    for ly in r["weak_additivity"]["layers"]:
        print("  %-7s %5d  " % (ly["name"], ly["dim"]) +
              "  ".join("%s +- %s" % (fmt(a["mean"]), fmt(a["std"])) for a in ly["at"]))
    print("\ncommutativity (biases excluded)\n  layer  input     Dist_com      Dist_W      Dist_H")
    for c in r["commutativity"]["layers"]:
        print("  %5d  %-6s  %10s  %10s  %10s" % (c["layer"], c["input"], fmt(c["dist_com"]),
                                                fmt(c["dist_w"]), fmt(c["dist_h"])))


def flatten(v, path, out):
    if isinstance(v, dict):
        for k, w in v.items():
            flatten(w, path + [k], out)
    elif isinstance(v, list):
        for i, w in enumerate(v):
            flatten(w, path + [str(i + 1)], out)
    elif isinstance(v, bool):
        out.append((".".join(path), 1 if v else 0))
    elif isinstance(v, (int, float)):
        out.append((".".join(path), v))


# ---- training (for the benchmark pair) -----------------------------------------
def train(dirname, epochs, child_steps):
    """ind_a, ind_b: independent inits and data orders, `epochs` epochs each
    (a file already present is kept); spawn_a, spawn_b: copies of ind_a
    (weights; fresh momentum) trained `child_steps` more steps with two data
    orders."""
    x, y = fashion("train")
    widths = [784, 512, 512, 512, 10]

    def new(seed):
        torch.manual_seed(seed)
        mods = []
        for i in range(4):
            mods.append(torch.nn.Linear(widths[i], widths[i + 1]))
            if i < 3:
                mods.append(torch.nn.ReLU())
        return torch.nn.Sequential(*mods)

    def run(net, seed, nsteps):
        opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
        g = torch.Generator().manual_seed(seed)
        step = 0
        while step < nsteps:
            perm = torch.randperm(len(x), generator=g)
            for i in range(0, len(x), 128):
                if step >= nsteps:
                    break
                idx = perm[i:i + 128]
                opt.zero_grad()
                torch.nn.functional.cross_entropy(net(x[idx]), y[idx]).backward()
                opt.step()
                step += 1

    def load(path):
        net = new(0)
        net.load_state_dict(read_safetensors(path)[0])
        return net

    meta = {"arch": "mlp", "widths": ",".join(map(str, widths)), "act": "relu"}
    os.makedirs(dirname, exist_ok=True)
    steps_per_epoch = (len(x) + 127) // 128
    for name, seed in (("ind_a", 1), ("ind_b", 2)):
        path = os.path.join(dirname, name + ".safetensors")
        if os.path.exists(path):
            continue
        net = new(seed)
        run(net, 100 + seed, epochs * steps_per_epoch)
        write_safetensors(path, net.state_dict(), meta)
    for name, seed in (("spawn_a", 301), ("spawn_b", 302)):
        net = load(os.path.join(dirname, "ind_a.safetensors"))
        run(net, seed, child_steps)
        write_safetensors(os.path.join(dirname, name + ".safetensors"), net.state_dict(), meta)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("a", nargs="?")
    ap.add_argument("b", nargs="?")
    ap.add_argument("--flat")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--train")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--child-steps", type=int, default=235)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.train:
        train(args.train, args.epochs, args.child_steps)
        return
    if not args.b:
        ap.error("two safetensors files expected")
    A = mlp_layers(read_safetensors(args.a)[0])
    B = mlp_layers(read_safetensors(args.b)[0])
    x, y = fashion("test")
    grid = [i / 20 for i in range(21)]
    lal = [0.25, 0.5, 0.75]
    best = math.inf
    with torch.no_grad():
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            r = report(A, B, x, y, grid, lal, lal)
            best = min(best, time.perf_counter() - t0)
    if not args.quiet:
        show(r)
    print("seconds %.4f (best of %d, %d threads)" % (best, args.repeat, torch.get_num_threads()))
    if args.flat:
        out = []
        flatten(r, [], out)
        with open(args.flat, "w") as f:
            for k, v in out:
                f.write("%s %.17g\n" % (k, v))


if __name__ == "__main__":
    main()
