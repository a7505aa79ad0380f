#!/usr/bin/env python3
"""pngstat.py FILE.png [RRGGBB...] - decodes a PNG with zlib alone (no PIL on the test
machine) and prints "WIDTHxHEIGHT nonwhite=N colours=N": how much of a
screenshot is not blank; then "RRGGBB=N" for each colour asked for. 8-bit RGB/RGBA/grey, non-interlaced (what Chromium
writes); anything else is an error, not a guess."""
import struct
import sys
import zlib


def decode(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, hdr = 8, [], None
    while pos + 8 <= len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if not hdr:
        raise ValueError("no IHDR")
    w, h, depth, ctype, _, _, interlace = hdr
    bpp = {0: 1, 2: 3, 4: 2, 6: 4}.get(ctype)
    if depth != 8 or bpp is None or interlace:
        raise ValueError("unsupported PNG (depth %d, colour type %d)" % (depth, ctype))
    raw = zlib.decompress(b"".join(idat))
    stride = w * bpp
    rows, prev, off = [], bytearray(stride), 0
    for _ in range(h):
        f, line = raw[off], bytearray(raw[off + 1:off + 1 + stride])
        off += 1 + stride
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
            elif f != 0:
                raise ValueError("bad filter %d" % f)
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


def main():
    w, h, bpp, rows = decode(sys.argv[1])
    want = {bytes.fromhex(c): 0 for c in sys.argv[2:]}
    colours, nonwhite = set(), 0
    for r in rows:
        for x in range(0, len(r), bpp):
            px = r[x:x + 3] if bpp >= 3 else r[x:x + 1] * 3
            colours.add(px)
            if any(v < 240 for v in px):
                nonwhite += 1
            if px in want:
                want[px] += 1
    print("%dx%d nonwhite=%d colours=%d" % (w, h, nonwhite, len(colours)))
    for c, n in want.items():
        print("%s=%d" % (c.hex(), n))


if __name__ == "__main__":
    main()
