// The CPU detector's per-ISA kernels (cpu_detector.h): what they take and
// the packed layouts they read. Plain data only, so that the files built
// with AVX flags (detector_kernels_avx2.cc, detector_kernels_avx512.cc)
// instantiate no inline code shared with the rest of the program.
//
// Activations. Every tensor is NHWC, batch 1, channels dense (a pixel's C
// codes follow each other, the next pixel follows). 8-bit tensors are
// stored as bytes u = v + offset: offset 0 for uint8 tensors and the input
// image, 128 for int8 ones (so every 8-bit tensor is an unsigned operand of
// vpdpbusd, and a conv folds -offset * sum_i w_i into its bias). Logit
// tensors (the head convs' Q(16, 8) outputs) are int16. Every buffer a
// kernel reads is followed by readable slack of kMaxTileRows rows plus
// kSlackExtra bytes: the kernels compute whole register tiles, whole
// groups of 4 inputs and whole vectors of channels, and read (never use)
// bytes past a tensor's last code.
//
// Epilogues. Every layer ends in a per-channel requantization of an exact
// value v (a conv's int32 sum times its 16-bit multiplier, a squeeze-
// excite's product with its gate, an add's aligned sum, a resize's
// weighted sum): requant(v, s) = clamp(rne(v / 2^s)) for s > 0, clamp(v *
// 2^-s) for s <= 0, and for hard-swish a second one of h * r * 2730. The
// planner bounds |v| per channel from the weights, biases and input
// ranges; the SIMD kernels then take one of two exact paths:
//  - fast (EpilogueTable::fast, see FastEntry): when every channel's v fits
//    in 48 bits, its shifts lie in [1, 49] (a shift s <= 0 becomes shift 1
//    of v * 2^(1 - s), which the bounds keep in range) and every result
//    fits in int32: int64 lanes only for the multiply and the rounding;
//  - general (EpilogueTable::rows, see EpilogueRow): any shift, in int64
//    lanes throughout, with a pre-clamp for left shifts:
//      v' = min(max(v, plo), phi)                (only if `left`)
//      q  = v' >> rsh                            (floor)
//      q += ((v' & mask) + (q & 1)) > half        (ties to even)
//      q  = q << lsh                              (only if `left`)
//      y  = min(max(q, lo), hi)
//    with, for s > 0: rsh = min(s, 50) (|v| < 2^48 gives 0 for s >= 49
//    either way), mask = 2^rsh - 1, half = 2^(rsh - 1), lsh = 0, no
//    pre-clamp; for s <= 0: rsh = 0, half = INT64_MAX (never rounds), lsh
//    = min(-s, 15), pre-clamp to +-2^15 (|v| > 2^15 saturates every range
//    here, and so does any v != 0 shifted by 15 or more). qbias = 2^(63 -
//    rsh) mod 2^64 lets AVX2 shift arithmetically with a logical shift:
//    ((v + 2^63) >> rsh) - qbias.
// Tables have c_pad entries per row (channels rounded up to 16, plus 16, so
// that a kernel may read a whole vector from any chunk; padded with
// harmless values). The raw rows (kRowShift*, kRowP) are for the scalar
// kernels, which follow the integer reference literally in int64 and run
// any layer whose values the SIMD kernels' int32 sums cannot hold.
#ifndef FXSERVE_BACKENDS_CPU_DETECTOR_DETECTOR_KERNELS_H_
#define FXSERVE_BACKENDS_CPU_DETECTOR_DETECTOR_KERNELS_H_

#include <cstddef>
#include <cstdint>

namespace fxserve::backends::cpu::detector_internal {

inline constexpr int kChannelAlign = 16;  // c_pad of epilogue tables.
inline constexpr int kMaxTileRows = 16;   // Rows a GEMM tile may read.
inline constexpr int kSlackExtra = 64;    // Bytes past the slack rows.

// Rows of an epilogue table, each c_pad int64 entries.
enum EpilogueRow : int {
  kRowMult,  // v = x * mult (1 for pow2 convs and elementwise layers).
  // First requantization: of mult * x into the output (or, for hard-swish,
  // into the 16-bit pre-activation h).
  kRowRsh1,
  kRowMask1,
  kRowHalf1,
  kRowQbias1,
  kRowLsh1,
  kRowPlo1,
  kRowPhi1,
  kRowLo1,
  kRowHi1,
  // Hard-swish: r = min(max(h + p3, 0), p6); v2 = h * r * 2730, then the
  // second requantization into the output.
  kRowP3,
  kRowP6,
  kRowRsh2,
  kRowMask2,
  kRowHalf2,
  kRowQbias2,
  kRowLsh2,
  kRowPlo2,
  kRowPhi2,
  kRowLo2,
  kRowHi2,
  // Raw registers for the scalar kernels: the shifts s1, s2 and P.
  kRowShift1,
  kRowShift2,
  kRowP,
  kEpilogueRows
};

enum OutKind : int {
  kOutBytes = 0,  // u = y + offset, one byte per code.
  kOutInt16 = 1,  // Logits: int16 codes.
};

// The fast path's registers (EpilogueTable::fast), for layers whose every
// channel has shifts in [1, 49], |v| < 2^48 and results that fit in int32
// (the planner bounds them): blocks of kFastEntries vectors per chunk of
// `fast_width` channels (16: AVX-512, 8: AVX2), each vector fast_width
// int32 (or fast_width / 2 int64: the even channels' then the odd ones'
// values, one per 64-bit lane, as vpmuldq pairs them). The kernels
// multiply even and odd channels' int32 values by their multipliers into
// int64 lanes, round (q = (v + hm1 + ((v >> s) & 1)) >> s, hm1 = 2^(s-1) -
// 1: ties to even), merge the int32 results and clamp them in int32.
// AVX2 shifts logically: v + 2^50 is non-negative, so H holds 2^50 + hm1
// and Q the low 32 bits of 2^(50 - s), subtracted after the merge.
enum FastEntry : int {
  kFastM,   // int32 multipliers.
  kFastSe,  // int64 shifts, even channels.
  kFastSo,  // Odd channels.
  kFastHe,  // int64 hm1 (AVX2: 2^50 + hm1), even channels.
  kFastHo,
  kFastLo1,  // int32 range.
  kFastHi1,
  kFastQ1,  // AVX2: int32 2^(50 - s) mod 2^32.
  kFastP3,  // Hard-swish: int32 3 << P, 6 << P.
  kFastP6,
  kFastS2e,
  kFastS2o,
  kFastH2e,
  kFastH2o,
  kFastLo2,
  kFastHi2,
  kFastQ2,
  kFastEntries
};

struct EpilogueTable {
  const int64_t* rows;  // [kEpilogueRows][c_pad].
  const int32_t* fast;  // Fast-path blocks, or null.
  int fast_width;       // Channels per fast block.
  int c_pad;
  bool left1;    // Some channel's first shift is <= 0.
  bool left2;    // Some channel's second shift is <= 0.
  bool hswish;   // Two-stage hard-swish epilogue.
  int out_kind;  // OutKind.
  int offset;    // Added to y for kOutBytes (0 or 128).
};

// Pointwise product: y[m][o] = epilogue(bias[o] + sum_i x[m][i] * w[o][i])
// for rows m in [0, rows), x bytes with the input's offset.
//
// Packed weights, per ISA:
//   avx512vnni: output blocks of 16; groups of up to 4 blocks (64
//     outputs); group G starts at byte G * k4 * 64 and holds, for each run
//     of 4 inputs j (k4 / 4 of them), for each block b of the group, 16
//     outputs x 4 inputs int8 (one zmm: vpdpbusd's signed operand).
//   avx2: output blocks of 8; groups of up to 2 blocks (16 outputs);
//     group G starts at int16 G * k2 * 16 and holds, for each pair of
//     inputs j, for each block b, 8 outputs x 2 inputs int16 (one ymm:
//     vpmaddwd's operand); x is widened to int16 in `scratch16`.
//   scalar: w_raw, [n][k] int8.
// k4 / k2: k rounded up to 4 / 2; weights past k are 0.
struct GemmArgs {
  const uint8_t* x;  // Row 0; rows are x_stride bytes apart.
  size_t x_stride;
  int k;
  int x_offset;  // Scalar kernel: the value is x - x_offset.
  int rows;
  int n;
  const void* w_packed;
  const int8_t* w_raw;
  const int32_t* bias_folded;  // SIMD: bias - x_offset * sum_i w[o][i].
  const int32_t* bias_raw;     // Scalar.
  EpilogueTable epi;
  uint8_t* y;  // Row 0; rows are y_stride bytes apart.
  size_t y_stride;
  int16_t* scratch16;  // AVX2: at least (rows + 16) * (k + 32) int16.
};

// Depthwise k x k conv, output rows [oy_begin, oy_end). Taps outside the
// map read `pad` (the code of 0, the offset), so every output sums all
// k * k taps and the SIMD kernels fold -offset * sum_t w[c][t] into their
// bias. Packed weights, per ISA:
//   avx512vnni: G = c / 64 whole groups of 64 channels, then chunks of 16.
//     Group g at byte g * quads * 256, then for each run of 4 taps q
//     (quads = ceil(k * k / 4)) 4 zmm j: dword d of zmm j is channel
//     64 g + 16 (d / 4) + 4 j + d % 4, its bytes taps 4 q .. 4 q + 3 (the
//     order vpunpck{l,h}bw / wd give 4 taps' bytes of 64 channels). Chunk
//     i (channels 64 G + 16 i ..) at byte G * quads * 256 + i * quads * 64,
//     then per quad 4 x 16 bytes j: dword d of j is channel 4 j + d, taps
//     4 q .. (broadcast to the 4 lanes, which hold 4 output pixels).
//   avx2: groups of 16 channels; group g at int16 g * pairs * 32, then for
//     each pair of taps p (pairs = ceil(k * k / 2)) 2 ymm h: word pair k
//     of ymm h is channel 16 g + 8 h + k, taps 2 p and 2 p + 1.
//   scalar: w_raw, [c][k * k].
// Taps past k * k have weight 0.
struct DepthwiseArgs {
  const uint8_t* x;
  int h, w, c;
  int x_offset;
  int k, stride, pad_y, pad_x;
  int oh, ow;
  const void* w_packed;
  const int8_t* w_raw;
  const int32_t* bias_folded;  // SIMD: bias - x_offset * sum_t w[c][t].
  // avx512vnni: bias_folded in the accumulators' order, 4 x 16 int32 per
  // group of 64 channels, then per chunk of 16.
  const int32_t* bias_packed;
  const int32_t* bias_raw;  // Scalar.
  const uint8_t* pad;       // c + 64 bytes of x_offset.
  // SIMD scratch: room for kMaxDepthwiseTaps + (ow + 4) * (k * k + 8)
  // pointers.
  const uint8_t** taps;
  EpilogueTable epi;
  uint8_t* y;  // Output map (oh x ow x c, element size by epi.out_kind).
  int oy_begin, oy_end;
};

inline constexpr int kMaxDepthwiseTaps = 124;  // SIMD kernels: k <= 11.

// y[p][c0 + i] = epilogue_i(x[p][i] - x_offset) for i < c, pixels p in
// [0, pixels): a concat's copy of one input (c0 its first channel) and a
// squeeze-excite's gating (mult = the gate).
struct MapArgs {
  const uint8_t* x;
  size_t x_stride;
  int x_offset;
  int c, c0;
  int pixels;
  EpilogueTable epi;
  uint8_t* y;  // Pixel 0, channel 0.
  size_t y_stride;
};

// y = epilogue((a - oa) << sa[c] + (b - ob) << sb[c]) for elements
// [0, pixels * c): a residual add.
struct AddArgs {
  const uint8_t* a;
  const uint8_t* b;
  int a_offset, b_offset;
  const int32_t* sa;  // [c_pad] left shifts (SIMD: <= 22; scalar: <= 40).
  const int32_t* sb;
  int c;
  int pixels;
  EpilogueTable epi;
  uint8_t* y;
};

// x2 bilinear resize (legacy rule) of an h x w x c map, output rows
// [oy_begin, oy_end): acc = sum x * wy * wx with weights in halves, then
// the epilogue.
struct ResizeArgs {
  const uint8_t* x;
  int h, w, c;
  int x_offset;
  EpilogueTable epi;
  uint8_t* y;
  int oy_begin, oy_end;
};

struct Kernels {
  void (*gemm)(const GemmArgs&);
  void (*depthwise)(const DepthwiseArgs&);
  void (*map)(const MapArgs&);
  void (*add)(const AddArgs&);
  void (*resize)(const ResizeArgs&);
};

// Scalar kernels follow the integer reference literally (int64 sums, its
// requant); they also run, on every ISA, any layer whose sums could leave
// int32 or whose registers fall outside the SIMD kernels' bounds.
const Kernels& ScalarKernels();
// requant(c, s) saturated to [lo, hi] (s >= -62), as the reference has it.
int64_t RequantScalar(int64_t c, int64_t s, int64_t lo, int64_t hi);
const Kernels& Avx2Kernels();
const Kernels& Avx512VnniKernels();

}  // namespace fxserve::backends::cpu::detector_internal

#endif  // FXSERVE_BACKENDS_CPU_DETECTOR_DETECTOR_KERNELS_H_
