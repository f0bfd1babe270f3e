#!/usr/bin/python3
"""Reads the fortunes databases and writes the train/validation split as JSON.

Corpus: every plain-text fortune file directly under --fortunes-dir (default
/usr/share/games/fortunes). Index files (*.dat), the *.u8 symlinks (they point
at the same files) and any subfolder (Debian puts offensive fortunes in off/)
are skipped. Entries are separated by lines holding just "%".

Split: an entry goes to validation when the SHA-256 of "<file>\\n<entry>"
is 0 mod 20 (about every 20th entry); everything else is training. The rule
depends only on the text, so it is the same on every machine and in every
run. Entries keep their file order (files sorted by name).

Output: <out>/train.json and <out>/val.json, each a JSON list of strings,
plus <out>/corpus.json with counts.
"""
import argparse
import hashlib
import json
import os
import sys

VAL_EVERY = 20


def read_entries(path):
    with open(path, "r", encoding="utf-8") as f:
        text = f.read()
    entries, cur = [], []
    for line in text.split("\n"):
        if line.rstrip("\r") == "%":
            entries.append("\n".join(cur))
            cur = []
        else:
            cur.append(line)
    entries.append("\n".join(cur))
    out = []
    for e in entries:
        # Drop surrounding blank lines and trailing spaces; keep the
        # indentation inside an entry (attributions are tab-indented).
        e = "\n".join(l.rstrip() for l in e.split("\n")).strip("\n")
        if e.strip():
            out.append(e)
    return out


def is_val(name, entry):
    h = hashlib.sha256((name + "\n" + entry).encode("utf-8")).digest()
    return int.from_bytes(h[:8], "little") % VAL_EVERY == 0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fortunes-dir", default="/usr/share/games/fortunes")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    names = []
    for name in sorted(os.listdir(args.fortunes_dir)):
        path = os.path.join(args.fortunes_dir, name)
        if name.endswith(".dat") or name.endswith(".u8"):
            continue
        if os.path.islink(path) or not os.path.isfile(path):
            continue  # subfolders such as off/ (offensive) and links
        names.append(name)
    if not names:
        sys.exit(f"prepare_corpus: no fortune files in {args.fortunes_dir}")

    train, val, per_file = [], [], {}
    for name in names:
        entries = read_entries(os.path.join(args.fortunes_dir, name))
        per_file[name] = len(entries)
        for e in entries:
            (val if is_val(name, e) else train).append(e)

    os.makedirs(args.out, exist_ok=True)
    for split, data in (("train", train), ("val", val)):
        with open(os.path.join(args.out, f"{split}.json"), "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False)
    stats = {
        "fortunes_dir": args.fortunes_dir,
        "files": len(names),
        "entries_per_file": per_file,
        "train_entries": len(train),
        "val_entries": len(val),
        "train_chars": sum(len(e) for e in train),
        "val_chars": sum(len(e) for e in val),
        "split_rule": f"sha256(file + '\\n' + entry) % {VAL_EVERY} == 0 -> validation",
    }
    with open(os.path.join(args.out, "corpus.json"), "w") as f:
        json.dump(stats, f, indent=1)
    print(f"prepare_corpus: {len(names)} files, {len(train)} train entries, "
          f"{len(val)} validation entries ({stats['train_chars']} + "
          f"{stats['val_chars']} characters).")


if __name__ == "__main__":
    main()
