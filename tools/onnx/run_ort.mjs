// Runs the CenterNet ONNX graph (tfjs_to_onnx.py's) with ONNX Runtime on raw
// inputs, and benchmarks it.
//
//   node tools/onnx/run_ort.mjs [--model centernet.onnx] [--threads N]
//       [--bench SECONDS] [DIR/<stem>.input.f32 ...]
//
// Each input is a raw little-endian float32 [1,512,512,3] tensor (RGB
// 0..255, NHWC); the run writes DIR/<stem>.ort.detections.f32 ([1,100,6]:
// x1 y1 x2 y2 score class in 512-px coordinates) and
// DIR/<stem>.ort.keypoints.f32 ([1,128,128,80]) beside it.
//
// --bench SECONDS: images/s at intraOpNumThreads 1 and 2 (graph
// optimization level "all", sequential execution, after warm-up runs), on
// the first input or, without one, on a fixed pseudo-random image.
//
// onnxruntime-node is loaded from $FXSERVE_CACHE_DIR/onnxruntime (default
// .cache/onnxruntime), where tools/onnx/setup.sh installs it.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const cacheDir = process.env.FXSERVE_CACHE_DIR || path.join(repo, '.cache');
const ortDir = path.join(cacheDir, 'onnxruntime');

const INPUT_SHAPE = [1, 512, 512, 3];
const INPUT_FLOATS = INPUT_SHAPE.reduce((a, b) => a * b);
const SCORE_SHOWN = 0.3;

function usage(message) {
  if (message) console.error(`run_ort: ${message}`);
  console.error(
    'usage: node run_ort.mjs [--model centernet.onnx] [--threads N] ' +
      '[--bench SECONDS] [INPUT.input.f32 ...]');
  process.exit(2);
}

function parseArgs(argv) {
  const args = {
    model: path.join(ortDir, 'centernet.onnx'),
    threads: 1,
    bench: 0,
    inputs: [],
  };
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--model') {
      args.model = value();
    } else if (a === '--threads') {
      args.threads = Number(value());
      if (!Number.isInteger(args.threads) || args.threads < 1) {
        usage('--threads must be a positive integer');
      }
    } else if (a === '--bench') {
      args.bench = Number(value());
      if (!(args.bench > 0)) usage('--bench must be a positive number of seconds');
    } else if (a === '-h' || a === '--help') {
      usage();
    } else if (a.startsWith('--')) {
      usage(`unknown flag ${a}`);
    } else {
      args.inputs.push(a);
    }
  }
  if (args.inputs.length === 0 && !args.bench) usage('nothing to do');
  return args;
}

function loadOrt() {
  const require = createRequire(import.meta.url);
  const pkg = path.join(ortDir, 'node_modules', 'onnxruntime-node');
  try {
    return require(pkg);
  } catch (e) {
    console.error(`run_ort: cannot load onnxruntime-node from ${pkg} ` +
                  `(tools/onnx/setup.sh installs it): ${e.message}`);
    process.exit(1);
  }
}

function readInput(file) {
  const bytes = fs.readFileSync(file);
  if (bytes.length !== INPUT_FLOATS * 4) {
    throw new Error(`${file} has ${bytes.length} bytes, not ${INPUT_FLOATS * 4} ` +
                    `(float32 [${INPUT_SHAPE}])`);
  }
  const data = new Float32Array(INPUT_FLOATS);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  for (let i = 0; i < INPUT_FLOATS; ++i) data[i] = view.getFloat32(4 * i, true);
  return data;
}

function writeFloats(file, data) {
  const out = Buffer.alloc(data.length * 4);
  for (let i = 0; i < data.length; ++i) out.writeFloatLE(data[i], 4 * i);
  fs.writeFileSync(file, out);
}

function stemOf(file) {
  const base = path.basename(file);
  if (base.endsWith('.input.f32')) return base.slice(0, -'.input.f32'.length);
  if (base.endsWith('.f32')) return base.slice(0, -'.f32'.length);
  return base;
}

// coco.names beside the photos, if the cache has it: labels for the summary.
function classNames() {
  for (const f of [path.join(cacheDir, 'centernet', 'coco.names'),
                   path.join(cacheDir, 'darknet', 'coco.names')]) {
    if (fs.existsSync(f)) {
      return fs.readFileSync(f, 'utf8').split('\n').map((s) => s.trim())
        .filter((s) => s);
    }
  }
  return [];
}

async function createSession(ort, model, threads) {
  return ort.InferenceSession.create(model, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
  });
}

async function runOnce(ort, session, data) {
  const feeds = {
    [session.inputNames[0]]: new ort.Tensor('float32', data, INPUT_SHAPE),
  };
  return session.run(feeds);
}

function summarize(detections, names) {
  const rows = [];
  for (let r = 0; r + 6 <= detections.length; r += 6) {
    const [x1, y1, x2, y2, score, cls] = detections.subarray(r, r + 6);
    if (!(score >= SCORE_SHOWN)) continue;
    const label = names[cls] ?? `class ${cls}`;
    rows.push(`${label} ${score.toFixed(3)} ` +
              `[${[x1, y1, x2, y2].map((v) => v.toFixed(0)).join(' ')}]`);
  }
  return rows.length ? rows.join(', ') : 'none';
}

async function runInputs(ort, args) {
  const session = await createSession(ort, args.model, args.threads);
  const names = classNames();
  for (const file of args.inputs) {
    const data = readInput(file);
    const start = performance.now();
    const out = await runOnce(ort, session, data);
    const ms = performance.now() - start;
    const dir = path.dirname(file);
    const stem = stemOf(file);
    const detections = out.detections.data;
    const keypoints = out.keypoints.data;
    if (detections.length !== 600 || keypoints.length !== 128 * 128 * 80) {
      throw new Error(`unexpected output sizes ${detections.length}, ` +
                      `${keypoints.length}`);
    }
    writeFloats(path.join(dir, `${stem}.ort.detections.f32`), detections);
    writeFloats(path.join(dir, `${stem}.ort.keypoints.f32`), keypoints);
    let lo = Infinity, hi = -Infinity, bad = 0;
    for (const v of keypoints) {
      if (!Number.isFinite(v)) ++bad;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    console.log(`run_ort: ${stem}: ${ms.toFixed(0)} ms; keypoints in ` +
                `[${lo.toExponential(2)}, ${hi.toFixed(4)}]` +
                (bad ? `, ${bad} NOT FINITE` : '') +
                `; >= ${SCORE_SHOWN}: ${summarize(detections, names)}`);
  }
}

// A fixed pseudo-random image (0..255), so a bench needs no input file.
function syntheticImage() {
  const data = new Float32Array(INPUT_FLOATS);
  let s = 12345;
  for (let i = 0; i < INPUT_FLOATS; ++i) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    data[i] = (s >>> 16) % 256;
  }
  return data;
}

async function bench(ort, args) {
  const data = args.inputs.length ? readInput(args.inputs[0]) : syntheticImage();
  const source = args.inputs.length ? path.basename(args.inputs[0]) : 'synthetic';
  const warmup = 3;
  const cores = os.availableParallelism ? os.availableParallelism() : os.cpus().length;
  console.log(`run_ort: bench ${path.basename(args.model)} on ${source}, ` +
              `${args.bench} s per row, ${warmup} warm-up runs, ${cores} cores`);
  const rows = [];
  for (const threads of [1, 2]) {
    const session = await createSession(ort, args.model, threads);
    for (let i = 0; i < warmup; ++i) await runOnce(ort, session, data);
    const times = [];
    const start = performance.now();
    while (performance.now() - start < args.bench * 1000 || times.length < 3) {
      const t = performance.now();
      await runOnce(ort, session, data);
      times.push(performance.now() - t);
    }
    const total = (performance.now() - start) / 1000;
    times.sort((a, b) => a - b);
    rows.push({
      threads,
      runs: times.length,
      ips: times.length / total,
      mean: times.reduce((a, b) => a + b) / times.length,
      median: times[Math.floor(times.length / 2)],
      best: times[0],
    });
    await session.release();
  }
  const pad = (v, n) => String(v).padStart(n);
  console.log('threads   runs   images/s   mean ms   median ms   best ms');
  for (const r of rows) {
    console.log(`${pad(r.threads, 7)} ${pad(r.runs, 6)} ${pad(r.ips.toFixed(2), 10)} ` +
                `${pad(r.mean.toFixed(1), 9)} ${pad(r.median.toFixed(1), 11)} ` +
                `${pad(r.best.toFixed(1), 9)}`);
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(args.model)) {
    console.error(`run_ort: no model ${args.model} (tools/onnx/setup.sh makes it)`);
    process.exit(1);
  }
  const ort = loadOrt();
  if (args.inputs.length) await runInputs(ort, args);
  if (args.bench) await bench(ort, args);
}

main().catch((e) => {
  console.error(`run_ort: ${e.message}`);
  process.exit(1);
});
