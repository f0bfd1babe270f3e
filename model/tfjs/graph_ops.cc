#include "model/tfjs/graph_ops.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace fxserve::model::tfjs::ops {
namespace {

std::string ShapeText(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

Tensor Make(DataType dtype, std::vector<int64_t> shape) {
  Tensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  if (dtype == DataType::kFloat32) {
    t.floats.assign(static_cast<size_t>(t.elements()), 0.0f);
  } else {
    t.ints.assign(static_cast<size_t>(t.elements()), 0);
  }
  return t;
}

double At(const Tensor& t, size_t i) {
  return t.dtype == DataType::kFloat32 ? t.floats[i] : t.ints[i];
}

// Output size and leading padding of one spatial axis (TensorFlow's rule:
// SAME pads the odd pixel at the end).
std::pair<int, int> Window(int in, int kernel, int stride, Padding padding) {
  if (padding == Padding::kValid) {
    return {(in - kernel + stride) / stride, 0};
  }
  const int out = (in + stride - 1) / stride;
  const int total = std::max((out - 1) * stride + kernel - in, 0);
  return {out, total / 2};
}

int NormalizeAxis(int axis, int rank) { return axis < 0 ? axis + rank : axis; }

}  // namespace

absl::StatusOr<Tensor> Conv2D(const Tensor& x, const Tensor& filter,
                              const Tensor* bias, const ConvSpec& spec) {
  if (x.shape.size() != 4 || filter.shape.size() != 4 ||
      filter.shape[2] != x.shape[3]) {
    return absl::InvalidArgumentError(
        absl::StrCat("conv of ", ShapeText(x.shape), " with filter ",
                     ShapeText(filter.shape)));
  }
  const int n = x.shape[0], h = x.shape[1], w = x.shape[2], c = x.shape[3];
  const int kh = filter.shape[0], kw = filter.shape[1];
  const int per = filter.shape[3];  // Outputs, or multiplier if depthwise.
  const int out_c = spec.depthwise ? c * per : per;
  if (bias != nullptr && bias->elements() != out_c) {
    return absl::InvalidArgumentError(
        absl::StrCat("conv bias has ", bias->elements(), " values for ", out_c,
                     " channels"));
  }
  const auto [oh, pad_y] = Window(h, kh, spec.stride, spec.padding);
  const auto [ow, pad_x] = Window(w, kw, spec.stride, spec.padding);
  Tensor y = Make(DataType::kFloat32, {n, oh, ow, out_c});
  for (int b = 0; b < n; ++b) {
    for (int oy = 0; oy < oh; ++oy) {
      for (int ox = 0; ox < ow; ++ox) {
        float* out =
            &y.floats[((static_cast<size_t>(b) * oh + oy) * ow + ox) * out_c];
        if (bias != nullptr) std::copy_n(bias->floats.data(), out_c, out);
        for (int ky = 0; ky < kh; ++ky) {
          const int iy = oy * spec.stride - pad_y + ky;
          if (iy < 0 || iy >= h) continue;
          for (int kx = 0; kx < kw; ++kx) {
            const int ix = ox * spec.stride - pad_x + kx;
            if (ix < 0 || ix >= w) continue;
            const float* in =
                &x.floats[((static_cast<size_t>(b) * h + iy) * w + ix) * c];
            const float* f =
                &filter.floats[(static_cast<size_t>(ky) * kw + kx) * c * per];
            for (int i = 0; i < c; ++i) {
              float* o = spec.depthwise ? out + i * per : out;
              for (int k = 0; k < per; ++k) o[k] += in[i] * f[i * per + k];
            }
          }
        }
        for (int k = 0; k < out_c; ++k) {
          if (spec.activation != Activation::kNone)
            out[k] = std::max(out[k], 0.0f);
          if (spec.activation == Activation::kRelu6)
            out[k] = std::min(out[k], 6.0f);
        }
      }
    }
  }
  return y;
}

absl::StatusOr<Tensor> BinaryOp(Binary op, const Tensor& a, const Tensor& b) {
  const size_t rank = std::max(a.shape.size(), b.shape.size());
  std::vector<int64_t> shape(rank), sa(rank, 0), sb(rank, 0);
  int64_t stride_a = 1, stride_b = 1;
  for (size_t r = rank; r-- > 0;) {
    const size_t off_a = rank - a.shape.size(), off_b = rank - b.shape.size();
    const int64_t da = r >= off_a ? a.shape[r - off_a] : 1;
    const int64_t db = r >= off_b ? b.shape[r - off_b] : 1;
    if (da != db && da != 1 && db != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("shapes ", ShapeText(a.shape), " and ",
                       ShapeText(b.shape), " do not broadcast"));
    }
    shape[r] = std::max(da, db);
    sa[r] = da == 1 ? 0 : stride_a;
    sb[r] = db == 1 ? 0 : stride_b;
    stride_a *= da;
    stride_b *= db;
  }
  const bool ints = a.dtype != DataType::kFloat32;
  if ((op == Binary::kFloorDiv || op == Binary::kFloorMod) && !ints) {
    return absl::InvalidArgumentError("FloorDiv/FloorMod need int32 inputs");
  }
  Tensor y = Make(op == Binary::kEqual ? DataType::kBool : a.dtype, shape);
  const int64_t total = y.elements();
  std::vector<int64_t> index(rank, 0);
  int64_t ia = 0, ib = 0;
  for (int64_t e = 0; e < total; ++e) {
    const double va = At(a, ia), vb = At(b, ib);
    if (op == Binary::kEqual) {
      y.ints[e] = va == vb;
    } else if (ints) {
      const int64_t x = static_cast<int64_t>(va), z = static_cast<int64_t>(vb);
      int64_t r = 0;
      switch (op) {
        case Binary::kAdd:
          r = x + z;
          break;
        case Binary::kSub:
          r = x - z;
          break;
        case Binary::kMul:
          r = x * z;
          break;
        case Binary::kFloorDiv:
          if (z == 0) return absl::InvalidArgumentError("FloorDiv by zero");
          r = x / z - ((x % z != 0) && ((x < 0) != (z < 0)));
          break;
        case Binary::kFloorMod:
          if (z == 0) return absl::InvalidArgumentError("FloorMod by zero");
          r = ((x % z) + z) % z;
          break;
        default:
          break;
      }
      y.ints[e] = static_cast<int32_t>(r);
    } else {
      const float x = a.floats[ia], z = b.floats[ib];
      y.floats[e] = op == Binary::kAdd   ? x + z
                    : op == Binary::kSub ? x - z
                                         : x * z;
    }
    // Next index, odometer style, keeping both input offsets current.
    for (size_t r = rank; r-- > 0;) {
      ia += sa[r];
      ib += sb[r];
      if (++index[r] < shape[r]) break;
      ia -= sa[r] * shape[r];
      ib -= sb[r] * shape[r];
      index[r] = 0;
    }
  }
  return y;
}

absl::StatusOr<Tensor> UnaryOp(Unary op, const Tensor& x) {
  if (op == Unary::kIdentity) return x;
  if (x.dtype != DataType::kFloat32) {
    return absl::InvalidArgumentError("activations need float32 inputs");
  }
  Tensor y = x;
  for (float& v : y.floats) {
    switch (op) {
      case Unary::kRelu:
        v = std::max(v, 0.0f);
        break;
      case Unary::kRelu6:
        v = std::min(std::max(v, 0.0f), 6.0f);
        break;
      case Unary::kSigmoid:
        v = 1.0f / (1.0f + std::exp(-v));
        break;
      default:
        break;
    }
  }
  return y;
}

absl::StatusOr<Tensor> Cast(const Tensor& x, DataType to) {
  if (to == DataType::kBool) {
    return absl::InvalidArgumentError("a cast to bool is not supported");
  }
  Tensor y = Make(to, x.shape);
  for (size_t i = 0; i < static_cast<size_t>(x.elements()); ++i) {
    if (to == DataType::kFloat32) {
      y.floats[i] = static_cast<float>(At(x, i));
    } else {
      y.ints[i] = static_cast<int32_t>(std::trunc(At(x, i)));
    }
  }
  return y;
}

absl::StatusOr<Tensor> Mean(const Tensor& x, const std::vector<int>& axes,
                            bool keep_dims) {
  const int rank = x.shape.size();
  std::vector<bool> reduce(rank, false);
  for (int axis : axes) {
    const int a = NormalizeAxis(axis, rank);
    if (a < 0 || a >= rank) return absl::InvalidArgumentError("Mean: bad axis");
    reduce[a] = true;
  }
  std::vector<int64_t> kept(rank);
  int64_t count = 1;
  for (int r = 0; r < rank; ++r) {
    kept[r] = reduce[r] ? 1 : x.shape[r];
    if (reduce[r]) count *= x.shape[r];
  }
  Tensor y = Make(DataType::kFloat32, kept);
  std::vector<double> sums(static_cast<size_t>(y.elements()), 0.0);
  std::vector<int64_t> index(rank, 0);
  for (int64_t e = 0; e < x.elements(); ++e) {
    int64_t out = 0;
    for (int r = 0; r < rank; ++r)
      out = out * kept[r] + (reduce[r] ? 0 : index[r]);
    sums[out] += x.floats[e];
    for (int r = rank; r-- > 0;) {
      if (++index[r] < x.shape[r]) break;
      index[r] = 0;
    }
  }
  for (size_t i = 0; i < sums.size(); ++i) {
    y.floats[i] = static_cast<float>(sums[i] / count);
  }
  if (!keep_dims) {
    std::vector<int64_t> squeezed;
    for (int r = 0; r < rank; ++r) {
      if (!reduce[r]) squeezed.push_back(kept[r]);
    }
    y.shape = squeezed;
  }
  return y;
}

absl::StatusOr<Tensor> Concat(const std::vector<const Tensor*>& parts,
                              int axis) {
  if (parts.empty()) return absl::InvalidArgumentError("Concat of nothing");
  const int rank = parts[0]->shape.size();
  const int a = NormalizeAxis(axis, rank);
  if (a < 0 || a >= rank) return absl::InvalidArgumentError("Concat: bad axis");
  std::vector<int64_t> shape = parts[0]->shape;
  shape[a] = 0;
  for (const Tensor* p : parts) {
    if (static_cast<int>(p->shape.size()) != rank ||
        p->dtype != parts[0]->dtype) {
      return absl::InvalidArgumentError("Concat of mismatched tensors");
    }
    for (int r = 0; r < rank; ++r) {
      if (r != a && p->shape[r] != parts[0]->shape[r]) {
        return absl::InvalidArgumentError(
            absl::StrCat("Concat of ", ShapeText(parts[0]->shape), " and ",
                         ShapeText(p->shape), " on axis ", a));
      }
    }
    shape[a] += p->shape[a];
  }
  Tensor y = Make(parts[0]->dtype, shape);
  int64_t outer = 1, inner = 1;
  for (int r = 0; r < a; ++r) outer *= shape[r];
  for (int r = a + 1; r < rank; ++r) inner *= shape[r];
  int64_t offset = 0;
  for (const Tensor* p : parts) {
    const int64_t chunk = p->shape[a] * inner;
    for (int64_t o = 0; o < outer; ++o) {
      const int64_t to = o * shape[a] * inner + offset;
      if (y.dtype == DataType::kFloat32) {
        std::copy_n(&p->floats[o * chunk], chunk, &y.floats[to]);
      } else {
        std::copy_n(&p->ints[o * chunk], chunk, &y.ints[to]);
      }
    }
    offset += chunk;
  }
  return y;
}

absl::StatusOr<Tensor> ResizeBilinear(const Tensor& x, int out_h, int out_w) {
  if (x.shape.size() != 4 || out_h < 1 || out_w < 1) {
    return absl::InvalidArgumentError("ResizeBilinear needs [n, h, w, c]");
  }
  const int n = x.shape[0], h = x.shape[1], w = x.shape[2], c = x.shape[3];
  const float scale_y = static_cast<float>(h) / out_h;
  const float scale_x = static_cast<float>(w) / out_w;
  Tensor y = Make(DataType::kFloat32, {n, out_h, out_w, c});
  auto px = [&](int b, int iy, int ix) {
    return &x.floats[((static_cast<size_t>(b) * h + iy) * w + ix) * c];
  };
  for (int b = 0; b < n; ++b) {
    for (int oy = 0; oy < out_h; ++oy) {
      const float sy = oy * scale_y;
      const int y0 = static_cast<int>(std::floor(sy));
      const int y1 = std::min(y0 + 1, h - 1);
      const float fy = sy - y0;
      for (int ox = 0; ox < out_w; ++ox) {
        const float sx = ox * scale_x;
        const int x0 = static_cast<int>(std::floor(sx));
        const int x1 = std::min(x0 + 1, w - 1);
        const float fx = sx - x0;
        float* out =
            &y.floats[((static_cast<size_t>(b) * out_h + oy) * out_w + ox) * c];
        const float *tl = px(b, y0, x0), *tr = px(b, y0, x1);
        const float *bl = px(b, y1, x0), *br = px(b, y1, x1);
        for (int k = 0; k < c; ++k) {
          const float top = tl[k] + (tr[k] - tl[k]) * fx;
          const float bottom = bl[k] + (br[k] - bl[k]) * fx;
          out[k] = top + (bottom - top) * fy;
        }
      }
    }
  }
  return y;
}

absl::StatusOr<Tensor> MaxPool(const Tensor& x, int kernel, int stride,
                               Padding padding) {
  if (x.shape.size() != 4) {
    return absl::InvalidArgumentError("MaxPool needs [n, h, w, c]");
  }
  const int n = x.shape[0], h = x.shape[1], w = x.shape[2], c = x.shape[3];
  const auto [oh, pad_y] = Window(h, kernel, stride, padding);
  const auto [ow, pad_x] = Window(w, kernel, stride, padding);
  Tensor y = Make(DataType::kFloat32, {n, oh, ow, c});
  std::fill(y.floats.begin(), y.floats.end(),
            -std::numeric_limits<float>::infinity());
  for (int b = 0; b < n; ++b) {
    for (int oy = 0; oy < oh; ++oy) {
      for (int ox = 0; ox < ow; ++ox) {
        float* out =
            &y.floats[((static_cast<size_t>(b) * oh + oy) * ow + ox) * c];
        for (int ky = 0; ky < kernel; ++ky) {
          const int iy = oy * stride - pad_y + ky;
          if (iy < 0 || iy >= h) continue;
          for (int kx = 0; kx < kernel; ++kx) {
            const int ix = ox * stride - pad_x + kx;
            if (ix < 0 || ix >= w) continue;
            const float* in =
                &x.floats[((static_cast<size_t>(b) * h + iy) * w + ix) * c];
            for (int k = 0; k < c; ++k) out[k] = std::max(out[k], in[k]);
          }
        }
      }
    }
  }
  return y;
}

absl::StatusOr<Tensor> Reshape(const Tensor& x,
                               const std::vector<int64_t>& shape) {
  std::vector<int64_t> out = shape;
  int64_t known = 1;
  int unknown = -1;
  for (size_t r = 0; r < out.size(); ++r) {
    if (out[r] == -1 && unknown < 0) {
      unknown = static_cast<int>(r);
    } else if (out[r] < 0) {
      return absl::InvalidArgumentError("Reshape: bad shape");
    } else {
      known *= out[r];
    }
  }
  if (unknown >= 0 && known > 0) out[unknown] = x.elements() / known;
  Tensor y = x;
  y.shape = out;
  if (y.elements() != x.elements()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Reshape of ", ShapeText(x.shape), " to ", ShapeText(shape)));
  }
  return y;
}

absl::StatusOr<Tensor> ExpandDims(const Tensor& x, int axis) {
  const int rank = x.shape.size();
  const int a = axis < 0 ? axis + rank + 1 : axis;
  if (a < 0 || a > rank) return absl::InvalidArgumentError("ExpandDims: axis");
  Tensor y = x;
  y.shape.insert(y.shape.begin() + a, 1);
  return y;
}

absl::StatusOr<Tensor> StridedSlice(const Tensor& x, const SliceSpec& spec) {
  const int rank = x.shape.size();
  if (static_cast<int>(spec.begin.size()) != rank ||
      spec.end.size() != spec.begin.size() ||
      spec.strides.size() != spec.begin.size()) {
    return absl::InvalidArgumentError(
        "StridedSlice: begin, end and strides must cover every axis");
  }
  std::vector<int64_t> start(rank), step(rank), count(rank), out_shape;
  for (int r = 0; r < rank; ++r) {
    const int64_t d = x.shape[r], s = spec.strides[r];
    if (s != 1) return absl::InvalidArgumentError("StridedSlice: stride != 1");
    auto clamp = [d](int64_t v) {
      return std::clamp<int64_t>(v < 0 ? v + d : v, 0, d);
    };
    int64_t b = (spec.begin_mask >> r & 1) ? 0 : clamp(spec.begin[r]);
    int64_t e = (spec.end_mask >> r & 1) ? d : clamp(spec.end[r]);
    if (spec.shrink_axis_mask >> r & 1) {
      b = clamp(spec.begin[r]);
      e = b + 1;
    }
    start[r] = b;
    step[r] = s;
    count[r] = std::max<int64_t>(e - b, 0);
    if (!(spec.shrink_axis_mask >> r & 1)) out_shape.push_back(count[r]);
  }
  Tensor y = Make(x.dtype, count);
  std::vector<int64_t> index(rank, 0);
  for (int64_t e = 0; e < y.elements(); ++e) {
    int64_t from = 0;
    for (int r = 0; r < rank; ++r)
      from = from * x.shape[r] + start[r] + index[r];
    if (x.dtype == DataType::kFloat32) {
      y.floats[e] = x.floats[from];
    } else {
      y.ints[e] = x.ints[from];
    }
    for (int r = rank; r-- > 0;) {
      if (++index[r] < count[r]) break;
      index[r] = 0;
    }
  }
  y.shape = out_shape;
  return y;
}

absl::StatusOr<Tensor> Gather(const Tensor& params, const Tensor& indices,
                              int axis) {
  const int rank = params.shape.size();
  const int a = NormalizeAxis(axis, rank);
  if (a < 0 || a >= rank || indices.dtype != DataType::kInt32) {
    return absl::InvalidArgumentError("GatherV2: bad axis or indices");
  }
  int64_t outer = 1, inner = 1;
  for (int r = 0; r < a; ++r) outer *= params.shape[r];
  for (int r = a + 1; r < rank; ++r) inner *= params.shape[r];
  std::vector<int64_t> shape(params.shape.begin(), params.shape.begin() + a);
  shape.insert(shape.end(), indices.shape.begin(), indices.shape.end());
  shape.insert(shape.end(), params.shape.begin() + a + 1, params.shape.end());
  Tensor y = Make(params.dtype, shape);
  const int64_t n = indices.elements(), dim = params.shape[a];
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < n; ++i) {
      const int64_t at = indices.ints[i];
      if (at < 0 || at >= dim) {
        return absl::InvalidArgumentError(
            absl::StrCat("GatherV2: index ", at, " outside 0..", dim - 1));
      }
      const int64_t from = (o * dim + at) * inner, to = (o * n + i) * inner;
      if (y.dtype == DataType::kFloat32) {
        std::copy_n(&params.floats[from], inner, &y.floats[to]);
      } else {
        std::copy_n(&params.ints[from], inner, &y.ints[to]);
      }
    }
  }
  return y;
}

absl::StatusOr<std::pair<Tensor, Tensor>> TopK(const Tensor& x, int k) {
  if (x.shape.empty() || x.dtype != DataType::kFloat32 || k < 0 ||
      k > x.shape.back()) {
    return absl::InvalidArgumentError("TopKV2: bad input or k");
  }
  const int64_t n = x.shape.back(), rows = x.elements() / n;
  std::vector<int64_t> shape = x.shape;
  shape.back() = k;
  Tensor values = Make(DataType::kFloat32, shape);
  Tensor indices = Make(DataType::kInt32, shape);
  std::vector<int32_t> order(n);
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = &x.floats[r * n];
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + k, order.end(),
                      [row](int32_t i, int32_t j) {
                        return row[i] > row[j] || (row[i] == row[j] && i < j);
                      });
    for (int i = 0; i < k; ++i) {
      values.floats[r * k + i] = row[order[i]];
      indices.ints[r * k + i] = order[i];
    }
  }
  return std::make_pair(std::move(values), std::move(indices));
}

}  // namespace fxserve::model::tfjs::ops
