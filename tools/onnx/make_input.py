#!/usr/bin/python3
"""Makes <stem>.input.f32 files for run_ort.mjs without fxtool.

    /usr/bin/python3 tools/onnx/make_input.py OUT_DIR photo.jpg ... [--random N]

A JPEG is decoded with Debian's djpeg (package libjpeg-turbo-progs) and
resized to 512x512 with TensorFlow's legacy bilinear rule (src = dst * in /
out, in float32, as fxserve's detector does), giving raw float32
[1,512,512,3] RGB 0..255. --random N adds N images of seeded uniform noise
(random-0.input.f32, ...). For trying the ONNX side on its own; the real
check uses fxtool's own inputs (fxtool detect --dump-tensors).
"""

import argparse
import os
import subprocess
import sys

import numpy as np

SIZE = 512


def decode_jpeg(path):
    ppm = subprocess.run(["djpeg", "-pnm", path], check=True,
                         stdout=subprocess.PIPE).stdout
    # Binary PPM: "P6" width height maxval, one whitespace, then RGB bytes.
    fields, pos = [], 0
    while len(fields) < 4:
        while ppm[pos:pos + 1].isspace():
            pos += 1
        if ppm[pos:pos + 1] == b"#":
            pos = ppm.index(b"\n", pos)
            continue
        end = pos
        while not ppm[end:end + 1].isspace():
            end += 1
        fields.append(ppm[pos:end])
        pos = end
    if fields[0] != b"P6" or fields[3] != b"255":
        raise ValueError(f"{path}: djpeg gave {fields[0]!r} (a grayscale JPEG?)")
    w, h = int(fields[1]), int(fields[2])
    pixels = np.frombuffer(ppm, np.uint8, w * h * 3, pos + 1)
    return pixels.reshape(h, w, 3).astype(np.float32)


def legacy_bilinear(img, out_h, out_w):
    h, w, _ = img.shape
    scale_y = np.float32(h) / np.float32(out_h)
    scale_x = np.float32(w) / np.float32(out_w)
    sy = np.arange(out_h, dtype=np.float32) * scale_y
    sx = np.arange(out_w, dtype=np.float32) * scale_x
    y0 = np.floor(sy).astype(np.int64)
    x0 = np.floor(sx).astype(np.int64)
    y1 = np.minimum(y0 + 1, h - 1)
    x1 = np.minimum(x0 + 1, w - 1)
    fy = (sy - y0.astype(np.float32))[:, None, None]
    fx = (sx - x0.astype(np.float32))[None, :, None]
    tl, tr = img[y0][:, x0], img[y0][:, x1]
    bl, br = img[y1][:, x0], img[y1][:, x1]
    top = tl + (tr - tl) * fx
    bottom = bl + (br - bl) * fx
    return (top + (bottom - top) * fy).astype(np.float32)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out_dir")
    parser.add_argument("photos", nargs="*")
    parser.add_argument("--random", type=int, default=0)
    args = parser.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    made = []
    for photo in args.photos:
        stem = os.path.splitext(os.path.basename(photo))[0]
        x = legacy_bilinear(decode_jpeg(photo), SIZE, SIZE)
        made.append((stem, x))
    rng = np.random.default_rng(20240601)
    for i in range(args.random):
        made.append((f"random-{i}", rng.uniform(0, 255, (SIZE, SIZE, 3))
                     .astype(np.float32)))
    for stem, x in made:
        path = os.path.join(args.out_dir, f"{stem}.input.f32")
        x.astype("<f4").tofile(path)
        print(f"make_input: {path}")
    if not made:
        print("make_input: nothing to make", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
