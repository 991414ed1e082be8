#!/usr/bin/env python3
"""png_stats.py - numbers about PNG images for the export tests (standard library only).

  png_stats.py A.png            -> "W H INK"   INK: fraction of pixels that are not near white
  png_stats.py A.png B.png      -> "DIFF FAR"  after scaling both to grey 8x8-pixel blocks:
                                   DIFF the mean absolute block difference (0..1),
                                   FAR the fraction of blocks that differ by more than 0.15
Reads 8-bit greyscale, grey+alpha, RGB and RGBA images, not interlaced (what cairo,
rsvg-convert and pdftoppm write); alpha is composed over white."""
import struct
import sys
import zlib


def read_png(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise SystemExit(path + ": not a PNG file")
    pos, idat, w = 8, [], None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or interlace != 0 or ctype not in (0, 2, 4, 6):
                raise SystemExit(path + ": unsupported PNG (depth %d, colour type %d)" % (depth, ctype))
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    ch = {0: 1, 2: 3, 4: 2, 6: 4}[ctype]
    raw = zlib.decompress(b"".join(idat))
    stride = w * ch
    rows, prev = [], bytearray(stride)
    for y in range(h):
        ft = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - ch] if i >= ch else 0
            b = prev[i]
            c = prev[i - ch] if i >= ch else 0
            if ft == 1:
                line[i] = (line[i] + a) & 255
            elif ft == 2:
                line[i] = (line[i] + b) & 255
            elif ft == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif ft == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    grey = []
    for line in rows:
        g = []
        for x in range(w):
            px = line[x * ch:(x + 1) * ch]
            if ch in (1, 2):
                v, al = px[0], (px[1] if ch == 2 else 255)
            else:
                v, al = (px[0] * 299 + px[1] * 587 + px[2] * 114) // 1000, (px[3] if ch == 4 else 255)
            g.append((v * al + 255 * (255 - al)) / 255 / 255)
        grey.append(g)
    return w, h, grey


def blocks(w, h, g, bs=8):
    out = []
    for by in range(0, h - h % bs, bs):
        row = []
        for bx in range(0, w - w % bs, bs):
            s = 0.0
            for y in range(by, by + bs):
                s += sum(g[y][bx:bx + bs])
            row.append(s / (bs * bs))
        out.append(row)
    return out


if len(sys.argv) == 2:
    w, h, g = read_png(sys.argv[1])
    ink = sum(1 for row in g for v in row if v < 0.9) / float(w * h)
    print("%d %d %.6f" % (w, h, ink))
elif len(sys.argv) == 3:
    wa, ha, ga = read_png(sys.argv[1])
    wb, hb, gb = read_png(sys.argv[2])
    if (wa, ha) != (wb, hb):
        raise SystemExit("sizes differ: %dx%d and %dx%d" % (wa, ha, wb, hb))
    ba, bb = blocks(wa, ha, ga), blocks(wb, hb, gb)
    diffs = [abs(x - y) for ra, rb in zip(ba, bb) for x, y in zip(ra, rb)]
    print("%.6f %.6f" % (sum(diffs) / len(diffs), sum(1 for d in diffs if d > 0.15) / float(len(diffs))))
else:
    raise SystemExit(__doc__)
