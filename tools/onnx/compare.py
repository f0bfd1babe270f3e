#!/usr/bin/python3
"""Compares fxserve's float detector with ONNX Runtime's run of the same graph.

    /usr/bin/python3 tools/onnx/compare.py DIR

For each <stem> in DIR with <stem>.detections.f32 (fxserve's, from fxtool
detect --dump-tensors) or <stem>.ort.detections.f32 (run_ort.mjs's), both
raw float32 [100, 6] rows x1 y1 x2 y2 score class in 512-px coordinates:

  - every fxserve row scoring above --threshold (0.3) must have an ORT row of
    the same class, the one with the highest IoU, with IoU >= --iou (0.95)
    and |score difference| <= --score-tol (0.02);
  - and every ORT row above the threshold the same way round;
  - a row scoring within --margin (0.02) above the threshold (0.30..0.32)
    whose counterpart is missing is allowed (the other side may have it just
    under the threshold or past its 100 rows) and reported as borderline;
  - keypoints (<stem>.keypoints.f32 and <stem>.ort.keypoints.f32, [1,128,
    128,80]): the largest |difference| is reported, and must be within
    --keypoints-tol (0.02, the score tolerance: scores are keypoint values).

Prints a table per image and a summary; exits 1 on any failure.
"""

import argparse
import glob
import os
import sys

import numpy as np

ROWS, COLS = 100, 6
KEYPOINTS_SHAPE = (128, 128, 80)


def read_f32(path, count):
    data = np.fromfile(path, dtype="<f4")
    if data.size != count:
        raise ValueError(f"{path} holds {data.size} floats, not {count}")
    return data


def iou(a, b):
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    overlap = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - overlap
    return float(overlap / union) if union > 0 else 0.0


def best_match(row, others):
    """Index and IoU of the same-class row of `others` overlapping `row` most."""
    best, best_iou = None, -1.0
    for j, other in enumerate(others):
        if other[5] != row[5]:
            continue
        v = iou(row, other)
        if v > best_iou:
            best, best_iou = j, v
    return best, best_iou


def class_names(dir_hint):
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    cache = os.environ.get("FXSERVE_CACHE_DIR", os.path.join(repo, ".cache"))
    for path in (os.path.join(dir_hint, "coco.names"),
                 os.path.join(cache, "centernet", "coco.names"),
                 os.path.join(cache, "darknet", "coco.names")):
        if os.path.exists(path):
            with open(path) as f:
                return [line.strip() for line in f if line.strip()]
    return []


class Checker:
    def __init__(self, args, names):
        self.args = args
        self.names = names
        self.failures = []
        self.borderline = []
        self.matched = 0
        self.worst_keypoints = 0.0

    def label(self, cls):
        c = int(cls)
        name = self.names[c] if 0 <= c < len(self.names) else "class"
        return f"{name} ({c})"

    def check_rows(self, stem, side, rows, other_side, others, printed):
        """Matches `rows` above the threshold against `others`; prints each."""
        a = self.args
        for i, row in enumerate(rows):
            score = float(row[4])
            if not score > a.threshold or (side, i) in printed:
                continue
            j, v = best_match(row, others)
            other_score = float(others[j][4]) if j is not None else float("nan")
            diff = other_score - score
            if j is not None and v >= a.iou:
                # The same pair seen from the other side needs no second line.
                printed.add((other_side, j))
            if j is not None and v >= a.iou and abs(diff) <= a.score_tol:
                result = "ok"
                self.matched += 1
            elif (j is None or v < a.iou) and score <= a.threshold + a.margin:
                result = f"borderline: missing from {other_side}"
                self.borderline.append(f"{stem}: {side} {self.label(row[5])} "
                                       f"{score:.4f}")
            else:
                why = ("no same-class row" if j is None else
                       f"IoU {v:.3f} < {a.iou}" if v < a.iou else
                       f"|score diff| {abs(diff):.4f} > {a.score_tol}")
                result = "FAIL: " + why
                self.failures.append(f"{stem}: {side} {self.label(row[5])} "
                                     f"{score:.4f}: {why}")
            box = " ".join(f"{x:.1f}" for x in row[:4])
            other = f"{other_score:.4f}" if j is not None else "-"
            iou_text = f"{v:.3f}" if j is not None else "-"
            diff_text = f"{diff:+.4f}" if j is not None else "-"
            print(f"  {side:<8} {self.label(row[5]):<22} {score:.4f}  {other:<7} "
                  f"{diff_text:<8} {iou_text:<6} [{box}]  {result}")

    def check_keypoints(self, stem, directory):
        a = os.path.join(directory, f"{stem}.keypoints.f32")
        b = os.path.join(directory, f"{stem}.ort.keypoints.f32")
        if not (os.path.exists(a) and os.path.exists(b)):
            missing = a if not os.path.exists(a) else b
            self.failures.append(f"{stem}: no {os.path.basename(missing)}")
            return f"keypoints: {os.path.basename(missing)} missing"
        count = int(np.prod(KEYPOINTS_SHAPE))
        x = read_f32(a, count)
        y = read_f32(b, count)
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            self.failures.append(f"{stem}: keypoints not finite")
        d = np.abs(x.astype(np.float64) - y.astype(np.float64))
        k = int(np.argmax(d))
        worst = float(d[k])
        self.worst_keypoints = max(self.worst_keypoints, worst)
        yy, xx, c = np.unravel_index(k, KEYPOINTS_SHAPE)
        text = (f"keypoints max |diff| {worst:.2e} at y={yy} x={xx} "
                f"{self.label(c)} ({x[k]:.6f} vs {y[k]:.6f}), "
                f"mean {d.mean():.1e}")
        if not worst <= self.args.keypoints_tol:
            self.failures.append(f"{stem}: keypoints differ by {worst:.4f} > "
                                 f"{self.args.keypoints_tol}")
            text += "  FAIL"
        return text

    def check_image(self, stem, directory):
        fx_path = os.path.join(directory, f"{stem}.detections.f32")
        ort_path = os.path.join(directory, f"{stem}.ort.detections.f32")
        for p in (fx_path, ort_path):
            if not os.path.exists(p):
                self.failures.append(f"{stem}: no {os.path.basename(p)}")
                print(f"{stem}: FAIL: {os.path.basename(p)} is missing")
                return
        fx = read_f32(fx_path, ROWS * COLS).reshape(ROWS, COLS)
        ort = read_f32(ort_path, ROWS * COLS).reshape(ROWS, COLS)
        t = self.args.threshold
        n_fx = int((fx[:, 4] > t).sum())
        n_ort = int((ort[:, 4] > t).sum())
        print(f"{stem}: fxserve {n_fx} rows > {t}, ORT {n_ort}; "
              f"{self.check_keypoints(stem, directory)}")
        for name, rows in (("fxserve", fx), ("ORT", ort)):
            if not np.isfinite(rows).all():
                self.failures.append(f"{stem}: {name} detections not finite")
        if n_fx or n_ort:
            print(f"  {'side':<8} {'class':<22} {'score':<7} {'other':<7} "
                  f"{'diff':<8} {'IoU':<6} box (x1 y1 x2 y2, 512 px)")
        printed = set()
        self.check_rows(stem, "fxserve", fx, "ORT", ort, printed)
        self.check_rows(stem, "ORT", ort, "fxserve", fx, printed)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dir")
    parser.add_argument("--threshold", type=float, default=0.3)
    parser.add_argument("--iou", type=float, default=0.95)
    parser.add_argument("--score-tol", type=float, default=0.02)
    parser.add_argument("--margin", type=float, default=0.02)
    parser.add_argument("--keypoints-tol", type=float, default=0.02)
    args = parser.parse_args()

    stems = set()
    for path in glob.glob(os.path.join(args.dir, "*.detections.f32")):
        base = os.path.basename(path)[:-len(".detections.f32")]
        stems.add(base[:-len(".ort")] if base.endswith(".ort") else base)
    if not stems:
        print(f"compare: no *.detections.f32 in {args.dir}", file=sys.stderr)
        sys.exit(1)
    checker = Checker(args, class_names(args.dir))
    for stem in sorted(stems):
        try:
            checker.check_image(stem, args.dir)
        except ValueError as e:
            checker.failures.append(f"{stem}: {e}")
            print(f"{stem}: FAIL: {e}")

    print()
    print(f"compare: {len(stems)} images, {checker.matched} rows matched "
          f"(IoU >= {args.iou}, |score diff| <= {args.score_tol}), "
          f"{len(checker.borderline)} borderline, {len(checker.failures)} "
          f"failures; keypoints max |diff| {checker.worst_keypoints:.2e}")
    for b in checker.borderline:
        print(f"compare: borderline (within {args.margin} of the threshold, "
              f"allowed): {b}")
    for f in checker.failures:
        print(f"compare: FAIL {f}")
    print("compare: " + ("PASS" if not checker.failures else "FAIL"))
    sys.exit(1 if checker.failures else 0)


if __name__ == "__main__":
    main()
