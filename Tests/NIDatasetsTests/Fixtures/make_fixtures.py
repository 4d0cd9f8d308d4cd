#!/usr/bin/env python3
"""Cuts the NIDatasets test fixtures from the real data and prints the reference numbers the tests check.

Run from the package root (needs python3 + numpy only):

    mkdir -p /tmp/gtsrb && tar -xJf ../shared/data/gtsrb/GTSRB-subset.tar.xz -C /tmp/gtsrb
    python3 Tests/NIDatasetsTests/Fixtures/make_fixtures.py \
        --mnist ../shared/data/mnist --gtsrb /tmp/gtsrb/GTSRB --out Tests/NIDatasetsTests/Fixtures

Everything it writes is deterministic (gzip mtime 0). With --reference-only it writes nothing and only prints
the reference values (the bilinear ROI crop + resize numbers used in NIDatasetsTests).
"""
import argparse
import csv
import gzip
import os
import re
import shutil
import struct
import zlib

import numpy as np

# ----------------------------------------------------------------------------------------------------------
# MNIST: the first 20 test images and labels, with the IDX count field rewritten to 20.

def cut_idx(src_gz, dst, count, item_bytes):
    data = gzip.open(src_gz).read()
    ndims = data[3]
    header = bytearray(data[:4 + 4 * ndims])
    header[4:8] = struct.pack(">I", count)
    body = data[4 + 4 * ndims: 4 + 4 * ndims + count * item_bytes]
    raw = bytes(header) + body
    os.makedirs(os.path.join(dst, "plain"), exist_ok=True)
    os.makedirs(os.path.join(dst, "gz"), exist_ok=True)
    name = os.path.basename(src_gz)[:-3]
    open(os.path.join(dst, "plain", name), "wb").write(raw)
    open(os.path.join(dst, "gz", name + ".gz"), "wb").write(gzip.compress(raw, mtime=0))
    return raw


# ----------------------------------------------------------------------------------------------------------
# GTSRB: a few rows of 3 training classes and of the test CSV, in the official layout.

TRAIN_PICK = {"00000": ["00000_00009.ppm", "00002_00011.ppm"],       # 00002_00011 is stored at its declared size
              "00001": ["00000_00000.ppm", "00003_00009.ppm", "00010_00020.ppm"],
              "00014": ["00000_00000.ppm", "00007_00002.ppm"]}
TEST_PICK = ["00000.ppm", "00001.ppm", "00018.ppm", "00002.ppm"]       # 00018 is stored at its declared size


def copy_rows(src_csv, src_dir, dst_dir, names, csv_name, newline="\n"):
    os.makedirs(dst_dir, exist_ok=True)
    lines = open(src_csv, newline="").read().splitlines()
    header, rows = lines[0], lines[1:]
    by_name = {r.split(";")[0]: r for r in rows}
    kept = [by_name[n] for n in names]
    with open(os.path.join(dst_dir, csv_name), "w", newline="") as f:
        f.write(newline.join([header] + kept) + newline)
    for n in names:
        shutil.copyfile(os.path.join(src_dir, n), os.path.join(dst_dir, n))


def read_ppm(path):
    b = open(path, "rb").read()
    m = re.match(rb"P6\s+(\d+)\s+(\d+)\s+(\d+)\s", b)      # GTSRB headers have no comments
    w, h, maxval = (int(g) for g in m.groups())
    return np.frombuffer(b[m.end(): m.end() + w * h * 3], np.uint8).reshape(h, w, 3), maxval


def crop_rect(row, w, h):
    """GTSRB.cropRect: scale the CSV ROI (declared-size pixels, X2/Y2 inclusive) to the stored size."""
    W, H = int(row["Width"]), int(row["Height"])
    x1, y1, x2, y2 = (int(row[k]) for k in ("Roi.X1", "Roi.Y1", "Roi.X2", "Roi.Y2"))
    if (w, h) == (W, H):
        return x1, y1, x2 + 1, y2 + 1
    s = lambda v, stored, declared: (2 * v * stored + declared) // (2 * declared)   # floor(v*stored/declared + 1/2)
    a, b = min(max(s(x1, w, W), 0), w - 1), min(max(s(y1, h, H), 0), h - 1)
    c, d = min(max(s(x2 + 1, w, W), a + 1), w), min(max(s(y2 + 1, h, H), b + 1), h)
    return a, b, c, d


def bilinear(img, out_h, out_w):
    """Reference of F.interpolate(mode='bilinear', align_corners=False, antialias=False), in float64, HWC."""
    in_h, in_w = img.shape[:2]

    def axis(n_in, n_out):
        src = np.maximum((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0)
        i0 = np.minimum(np.floor(src).astype(int), n_in - 1)
        i1 = np.minimum(i0 + 1, n_in - 1)
        return i0, i1, src - i0

    y0, y1, ly = axis(in_h, out_h)
    x0, x1, lx = axis(in_w, out_w)
    f = img.astype(np.float64)
    top = f[y0][:, x0] * (1 - lx)[None, :, None] + f[y0][:, x1] * lx[None, :, None]
    bot = f[y1][:, x0] * (1 - lx)[None, :, None] + f[y1][:, x1] * lx[None, :, None]
    return top * (1 - ly)[:, None, None] + bot * ly[:, None, None]


def gtsrb_reference(folder, csv_name, filename, size=32):
    rows = {r["Filename"]: r for r in csv.DictReader(open(os.path.join(folder, csv_name)), delimiter=";")}
    img, maxval = read_ppm(os.path.join(folder, filename))
    a, b, c, d = crop_rect(rows[filename], img.shape[1], img.shape[0])
    out = bilinear(img[b:d, a:c], size, size) / maxval          # HWC in [0, 1]
    chw = out.transpose(2, 0, 1)
    print(f"{folder}/{filename}: crop x {a}..<{c}, y {b}..<{d}; "
          f"[0,0,0]={chw[0,0,0]:.7f} [1,15,16]={chw[1,15,16]:.7f} [2,31,31]={chw[2,31,31]:.7f} "
          f"[0,7,20]={chw[0,7,20]:.7f} mean={chw.mean():.7f}")


# ----------------------------------------------------------------------------------------------------------
# PNG files in every colour type (written here with zlib, not with the Swift writer under test).

def png_bytes(width, height, bit_depth, color_type, rows, extra_chunks=()):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + r for r in rows)                     # filter type 0 on every row
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    body = chunk(b"IHDR", ihdr)
    for kind, data in extra_chunks:
        body += chunk(kind, data)
    return b"\x89PNG\r\n\x1a\n" + body + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


W, H = 5, 3   # odd width on purpose: no row is a multiple of 4 bytes


def gray(x, y): return (x * 50 + y * 7) % 256
def rgb(x, y): return (x * 50 % 256, y * 80 % 256, (x + y) * 20 % 256)
def alpha(x, y): return (x * 60 + y * 17) % 256                   # includes 0 (fully transparent) at (0, 0)
def low(x, y): return (x + y) % 100                               # low byte noise for 16-bit (< 128: rounds away)


def make_pngs(out):
    os.makedirs(out, exist_ok=True)
    files = {}
    files["gray8.png"] = png_bytes(W, H, 8, 0, [bytes(gray(x, y) for x in range(W)) for y in range(H)])
    files["gray16.png"] = png_bytes(W, H, 16, 0, [b"".join(struct.pack(">H", gray(x, y) * 257 + low(x, y))
                                                           for x in range(W)) for y in range(H)])
    bits = [[(x + y) % 2 for x in range(W)] for y in range(H)]
    files["gray1.png"] = png_bytes(W, H, 1, 0, [bytes([sum(b << (7 - i) for i, b in enumerate(r))]) for r in bits])
    files["graya8.png"] = png_bytes(W, H, 8, 4, [bytes(v for x in range(W) for v in (gray(x, y), alpha(x, y)))
                                                 for y in range(H)])
    files["rgb8.png"] = png_bytes(W, H, 8, 2, [bytes(v for x in range(W) for v in rgb(x, y)) for y in range(H)])
    files["rgba8.png"] = png_bytes(W, H, 8, 6, [bytes(v for x in range(W) for v in rgb(x, y) + (alpha(x, y),))
                                                for y in range(H)])
    files["rgb16.png"] = png_bytes(W, H, 16, 2, [b"".join(struct.pack(">HHH", *(c * 257 + low(x, y) for c in rgb(x, y)))
                                                          for x in range(W)) for y in range(H)])
    files["graya16.png"] = png_bytes(W, H, 16, 4, [b"".join(struct.pack(">HH", gray(x, y) * 257 + low(x, y), alpha(x, y) * 257)
                                                            for x in range(W)) for y in range(H)])
    files["rgba16.png"] = png_bytes(W, H, 16, 6, [b"".join(struct.pack(">HHHH", *(c * 257 + low(x, y) for c in rgb(x, y)),
                                                                       alpha(x, y) * 257)
                                                           for x in range(W)) for y in range(H)])
    palette = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (10, 20, 30)]
    files["palette8.png"] = png_bytes(W, H, 8, 3, [bytes((x + y) % 4 for x in range(W)) for y in range(H)],
                                      [(b"PLTE", bytes(v for c in palette for v in c)), (b"tRNS", bytes([0, 128]))])
    # gray8 again with a gAMA chunk declaring linear data (gamma 1.0): decoders must still return stored values.
    files["gray8_gamma1.png"] = png_bytes(W, H, 8, 0, [bytes(gray(x, y) for x in range(W)) for y in range(H)],
                                          [(b"gAMA", struct.pack(">I", 100000))])
    for name, data in files.items():
        open(os.path.join(out, name), "wb").write(data)


def make_ppms(out):
    os.makedirs(out, exist_ok=True)
    data = bytes(v for y in range(2) for x in range(3) for v in rgb(x, y))
    open(os.path.join(out, "p6_comments.ppm"), "wb").write(
        b"P6\n# written by make_fixtures.py\n3 2 # width height\n# maxval next\n255\n" + data)
    open(os.path.join(out, "p5_maxval15.pgm"), "wb").write(b"P5 8 2 15\n" + bytes(range(8)) + bytes(range(8, 16)))


def make_folder(out, png_dir):
    """An image folder: an RGB PNG, a gray PGM, an RGB PPM (all 5x3), and a text file that must be ignored."""
    os.makedirs(out, exist_ok=True)
    shutil.copyfile(os.path.join(png_dir, "rgb8.png"), os.path.join(out, "a_rgb.png"))
    open(os.path.join(out, "b_gray.PGM"), "wb").write(b"P5\n5 3\n255\n" + bytes(gray(x, y) for y in range(H) for x in range(W)))
    open(os.path.join(out, "c_rgb.ppm"), "wb").write(b"P6\n5 3\n255\n" + bytes(v for y in range(H) for x in range(W) for v in rgb(x, y)))
    open(os.path.join(out, "notes.txt"), "w").write("not an image: ImageFolder must skip this file\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mnist", default="../shared/data/mnist")
    ap.add_argument("--gtsrb", default="/tmp/gtsrb/GTSRB")
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--reference-only", action="store_true")
    a = ap.parse_args()
    out = a.out
    fx_gtsrb = os.path.join(out, "gtsrb", "GTSRB")
    if not a.reference_only:
        cut_idx(os.path.join(a.mnist, "t10k-images-idx3-ubyte.gz"), os.path.join(out, "mnist"), 20, 28 * 28)
        cut_idx(os.path.join(a.mnist, "t10k-labels-idx1-ubyte.gz"), os.path.join(out, "mnist"), 20, 1)
        for cls, names in TRAIN_PICK.items():
            src = os.path.join(a.gtsrb, "Final_Training", "Images", cls)
            copy_rows(os.path.join(src, f"GT-{cls}.csv"), src,
                      os.path.join(fx_gtsrb, "Final_Training", "Images", cls), names, f"GT-{cls}.csv")
        src = os.path.join(a.gtsrb, "Final_Test", "Images")
        copy_rows(os.path.join(src, "GT-final_test.csv"), src, os.path.join(fx_gtsrb, "Final_Test", "Images"),
                  TEST_PICK, "GT-final_test.csv", newline="\r\n")   # CRLF here, to test that it is accepted
        make_pngs(os.path.join(out, "png"))
        make_ppms(os.path.join(out, "ppm"))
        make_folder(os.path.join(out, "folder"), os.path.join(out, "png"))

    # Reference numbers for NIDatasetsTests.
    img = np.frombuffer(open(os.path.join(out, "mnist", "plain", "t10k-images-idx3-ubyte"), "rb").read()[16:],
                        np.uint8).reshape(-1, 28, 28)
    print("MNIST test[0] row 7, cols 6..11:", [int(v) for v in img[0, 7, 6:12]], "sum:", int(img[0].sum()))
    gtsrb_reference(os.path.join(fx_gtsrb, "Final_Training", "Images", "00001"), "GT-00001.csv", "00000_00000.ppm")
    gtsrb_reference(os.path.join(fx_gtsrb, "Final_Training", "Images", "00000"), "GT-00000.csv", "00002_00011.ppm")
    gtsrb_reference(os.path.join(fx_gtsrb, "Final_Test", "Images"), "GT-final_test.csv", "00001.ppm")


if __name__ == "__main__":
    main()
