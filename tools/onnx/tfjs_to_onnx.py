#!/usr/bin/python3
"""Converts the CenterNet TF.js graph model (centernet.json + .bin) to ONNX.

    /usr/bin/python3 tools/onnx/tfjs_to_onnx.py \
        .cache/centernet/centernet.json .cache/onnxruntime/centernet.onnx

An independent reading of the graph for ONNX Runtime: it does not use
fxserve's executor, only the TensorFlow semantics of each op.

Layouts. The ONNX graph keeps TensorFlow's NHWC at its boundary (input
`images` [1,512,512,3], outputs `keypoints` [1,128,128,80], `wh`
[1,128,128,4], `detections` [1,100,6]) and runs the convolutional interior in
NCHW: one Transpose after the input, and Transposes back to NHWC only where an
op's meaning depends on the element order (Reshape, TopK's flat indices,
Gather, StridedSlice) or at an output. Per-channel and scalar constants that
meet an NCHW tensor are rearranged here, in numpy, so no Transpose runs on
them. Axis attributes (Concat, Mean) are remapped.

Numerics. float32 weights stored as float16 are widened exactly; the graph's
own float16 constants stay as they are (hard-swish's 1/6 is 0.1666259765625),
so no op is replaced by an "equivalent" one with different rounding (no
HardSwish / HardSigmoid). TF's SAME padding becomes explicit pads (the odd
pixel at the end). ResizeBilinear without align_corners / half_pixel_centers
is TF's legacy rule src = dst * in / out: ONNX Resize, mode linear,
coordinate_transformation_mode asymmetric. TopKV2's int32 indices are TopK's
int64 ones cast to int32; ONNX TopK also puts the lower index first on ties.
Integer FloorDiv is (a - floor_mod(a, b)) / b, exact for any signs.

The script checks the result with onnx.checker (full check) and with ONNX's
strict shape inference against the shapes it tracked itself.
"""

import argparse
import base64
import hashlib
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13

# TF's NHWC axis -> its position in NCHW, and the two permutations.
NHWC_TO_NCHW_AXIS = {0: 0, 1: 2, 2: 3, 3: 1}
TO_NCHW = [0, 3, 1, 2]
TO_NHWC = [0, 2, 3, 1]

TF_DTYPES = {"DT_FLOAT": np.float32, "DT_INT32": np.int32, "DT_BOOL": np.bool_}
ONNX_DTYPES = {
    np.dtype(np.float32): TensorProto.FLOAT,
    np.dtype(np.int32): TensorProto.INT32,
    np.dtype(np.int64): TensorProto.INT64,
    np.dtype(np.bool_): TensorProto.BOOL,
}

# The graph's outputs: ONNX name -> TF node.
OUTPUTS = {
    "keypoints": "tower_0/keypoints",
    "wh": "tower_0/wh",
    "detections": "tower_0/detections",
}
INPUT_NAME = "images"


class ConversionError(Exception):
    def __init__(self, message, located=False):
        super().__init__(message)
        self.located = located  # Already names the node it arose in.


# ---------------------------------------------------------------------------
# Reading the TF.js model.


def decode_attr(value):
    """A NodeDef AttrValue in TF.js JSON to a Python value."""
    if "s" in value:
        return base64.b64decode(value["s"]).decode()
    if "list" in value:
        items = value["list"]
        if "s" in items:
            return [base64.b64decode(x).decode() for x in items["s"]]
        if "i" in items:
            return [int(x) for x in items["i"]]
        if "f" in items:
            return [float(x) for x in items["f"]]
        return []
    if "i" in value:
        return int(value["i"])
    if "b" in value:
        return bool(value["b"])
    if "f" in value:
        return float(value["f"])
    if "type" in value:
        return value["type"]
    if "shape" in value:
        dims = value["shape"].get("dim", [])
        return [int(d.get("size", -1)) for d in dims]
    return value


def load_weights(model, model_dir):
    """Const name -> numpy array, in manifest order across each group's shards."""
    weights = {}
    for group in model["weightsManifest"]:
        data = b"".join(
            open(os.path.join(model_dir, p), "rb").read() for p in group["paths"]
        )
        offset = 0
        for spec in group["weights"]:
            shape = [int(d) for d in spec["shape"]]
            count = int(np.prod(shape)) if shape else 1
            quant = spec.get("quantization")
            if quant is not None:
                if quant.get("dtype") != "float16" or spec["dtype"] != "float32":
                    raise ConversionError(
                        f"weight {spec['name']}: quantization {quant} "
                        "(only float32 stored as float16 is supported)")
                stored, size = np.float16, 2
            elif spec["dtype"] == "float32":
                stored, size = np.float32, 4
            elif spec["dtype"] == "int32":
                stored, size = np.int32, 4
            else:
                raise ConversionError(
                    f"weight {spec['name']}: dtype {spec['dtype']}")
            if offset + count * size > len(data):
                raise ConversionError(
                    f"weight {spec['name']} needs bytes {offset}.."
                    f"{offset + count * size}, the shards hold {len(data)}")
            raw = np.frombuffer(data, dtype=np.dtype(stored).newbyteorder("<"),
                                count=count, offset=offset)
            offset += count * size
            # float16 -> float32 is exact.
            array = raw.astype(np.float32 if spec["dtype"] == "float32"
                               else np.int32)
            weights[spec["name"]] = array.reshape(shape)
        if offset != len(data):
            raise ConversionError(
                f"the manifest describes {offset} bytes, the shards hold "
                f"{len(data)}")
    return weights


class Node:
    def __init__(self, proto):
        self.name = proto["name"]
        self.op = proto["op"]
        self.inputs = [i for i in proto.get("input", []) if not i.startswith("^")]
        self.attrs = {k: decode_attr(v) for k, v in proto.get("attr", {}).items()}


# ---------------------------------------------------------------------------
# Conversion.


class Val:
    """A TF tensor as the ONNX graph holds it.

    shape is always TensorFlow's (NHWC for rank 4); nchw says whether the
    ONNX tensor `name` is stored permuted to NCHW. const holds the value of a
    constant (then name is None until some op needs it as a tensor)."""

    def __init__(self, name, dtype, shape, nchw=False, const=None):
        self.name = name
        self.dtype = np.dtype(dtype)
        self.shape = tuple(int(d) for d in shape)
        self.nchw = nchw
        self.const = const

    def onnx_shape(self):
        if self.nchw:
            return tuple(self.shape[p] for p in TO_NCHW)
        return self.shape


def broadcast_shape(a, b):
    rank = max(len(a), len(b))
    a = (1,) * (rank - len(a)) + tuple(a)
    b = (1,) * (rank - len(b)) + tuple(b)
    out = []
    for x, y in zip(a, b):
        if x != y and x != 1 and y != 1:
            raise ConversionError(f"shapes {a} and {b} do not broadcast")
        out.append(max(x, y))
    return tuple(out)


def same_pads(size, kernel, stride, dilation, padding):
    """(out, pad_before, pad_after) of one spatial axis, TF's rule."""
    effective = (kernel - 1) * dilation + 1
    if padding == "VALID":
        return (size - effective) // stride + 1, 0, 0
    if padding != "SAME":
        raise ConversionError(f"padding {padding}")
    out = -(-size // stride)
    total = max((out - 1) * stride + effective - size, 0)
    return out, total // 2, total - total // 2


class Converter:
    def __init__(self, nodes, weights):
        self.nodes = {n.name: n for n in nodes}
        self.weights = weights
        self.vals = {}  # TF ref -> Val
        self.onnx_nodes = []
        self.initializers = {}
        self.cache = {}  # (kind, name) -> ONNX tensor name
        self.tracked = {}  # ONNX name -> (shape, dtype), for the self-check
        self.used_names = set()

    # -- helpers ------------------------------------------------------------

    def unique(self, name):
        base, k = name, 1
        while name in self.used_names:
            name = f"{base}_{k}"
            k += 1
        self.used_names.add(name)
        return name

    def init(self, name, array):
        """An initializer (deduplicated by name); returns its name."""
        if name in self.initializers:
            old = numpy_helper.to_array(self.initializers[name])
            if old.dtype != array.dtype or not np.array_equal(old, array):
                raise ConversionError(f"two different initializers {name}")
        else:
            self.used_names.add(name)
            self.initializers[name] = numpy_helper.from_array(
                np.array(array, order="C"), name)
            self.tracked[name] = (tuple(array.shape), np.dtype(array.dtype))
        return name

    def i64(self, name, values):
        """An int64 initializer (ONNX's type for shapes, axes and k)."""
        return self.init(name + "/i64", np.asarray(values, dtype=np.int64))

    def emit(self, op, inputs, output, shape, dtype, **attrs):
        """One ONNX node with a single output; returns the output's name."""
        output = self.unique(output)
        self.onnx_nodes.append(
            helper.make_node(op, inputs, [output], name=output, **attrs))
        self.tracked[output] = (tuple(shape), np.dtype(dtype))
        return output

    def const_of(self, ref, what):
        v = self.get(ref)
        if v.const is None:
            raise ConversionError(f"{what} ({ref}) must be a constant")
        return v.const

    def get(self, ref):
        if ref.endswith(":0"):
            ref = ref[:-2]
        if ref in self.vals:
            return self.vals[ref]
        name = ref.split(":")[0]
        if name not in self.nodes:
            raise ConversionError(f"no node makes {ref}")
        self.convert(self.nodes[name])
        if ref not in self.vals:
            raise ConversionError(f"node {name} has no output {ref}")
        return self.vals[ref]

    # Layout views of a value.

    def tf(self, v):
        """v's ONNX tensor in TensorFlow's layout."""
        if v.const is not None:
            return v.name
        if not v.nchw:
            return v.name
        key = ("nhwc", v.name)
        if key not in self.cache:
            self.cache[key] = self.emit("Transpose", [v.name], v.name + "/nhwc",
                                        v.shape, v.dtype, perm=TO_NHWC)
        return self.cache[key]

    def nchw(self, v):
        """v (rank 4) as an NCHW ONNX tensor."""
        if len(v.shape) != 4:
            raise ConversionError(f"{v.name}: NCHW needs rank 4, not {v.shape}")
        if v.nchw:
            return v.name
        key = ("nchw", v.name)
        if key not in self.cache:
            if v.const is not None:
                self.cache[key] = self.init(v.name + "/nchw",
                                            v.const.transpose(TO_NCHW))
            else:
                self.cache[key] = self.emit(
                    "Transpose", [v.name], v.name + "/nchw",
                    tuple(v.shape[p] for p in TO_NCHW), v.dtype, perm=TO_NCHW)
        return self.cache[key]

    def operand(self, v, as_nchw):
        """v as an input of an elementwise op running in NCHW or not."""
        if not as_nchw:
            return self.tf(v)
        if v.nchw:
            return v.name
        if v.const is not None and v.const.ndim < 4:
            if v.const.ndim == 0:
                return v.name
            # Broadcasting right-aligns TF's dims: pad to rank 4, permute.
            array = v.const.reshape((1,) * (4 - v.const.ndim) + v.const.shape)
            key = ("nchw", v.name)
            if key not in self.cache:
                self.cache[key] = self.init(v.name + "/nchw",
                                            array.transpose(TO_NCHW))
            return self.cache[key]
        if len(v.shape) == 4:
            return self.nchw(v)
        raise ConversionError(
            f"{v.name}: a rank-{len(v.shape)} tensor meets an NCHW one")

    def put(self, ref, name, dtype, shape, nchw=False):
        self.vals[ref] = Val(name, dtype, shape, nchw)
        return self.vals[ref]

    # -- ops ----------------------------------------------------------------

    def convert(self, node):
        handler = getattr(self, "op_" + node.op.lstrip("_"), None)
        if handler is None:
            raise ConversionError(f"node {node.name}: op {node.op} is not "
                                  "supported")
        try:
            handler(node)
        except ConversionError as e:
            if e.located:
                raise
            raise ConversionError(f"node {node.name} ({node.op}): {e}",
                                  located=True) from None

    def op_Const(self, node):
        if node.name not in self.weights:
            raise ConversionError("constant without a weight")
        array = self.weights[node.name]
        self.vals[node.name] = Val(node.name, array.dtype, array.shape,
                                   const=array)
        self.init(node.name, array)

    def op_Placeholder(self, node):
        shape = node.attrs.get("shape")
        if not shape or any(d < 0 for d in shape):
            raise ConversionError("the input needs a static shape")
        dtype = TF_DTYPES[node.attrs.get("dtype", "DT_FLOAT")]
        self.graph_input = (INPUT_NAME, dtype, shape)
        self.used_names.add(INPUT_NAME)
        self.tracked[INPUT_NAME] = (tuple(shape), np.dtype(dtype))
        self.put(node.name, INPUT_NAME, dtype, shape)

    def op_Identity(self, node):
        self.vals[node.name] = self.get(node.inputs[0])

    def conv(self, node, depthwise):
        x = self.get(node.inputs[0])
        filt = self.const_of(node.inputs[1], "a filter")
        if node.attrs.get("data_format", "NHWC") != "NHWC":
            raise ConversionError("only NHWC convolutions")
        strides = node.attrs.get("strides", [1, 1, 1, 1])
        dilations = node.attrs.get("dilations", [1, 1, 1, 1]) or [1, 1, 1, 1]
        if strides[0] != 1 or strides[3] != 1:
            raise ConversionError(f"strides {strides}")
        n, h, w, c = x.shape
        kh, kw, fc, per = filt.shape
        if fc != c:
            raise ConversionError(f"filter {filt.shape} on input {x.shape}")
        oh, top, bottom = same_pads(h, kh, strides[1], dilations[1],
                                    node.attrs.get("padding"))
        ow, left, right = same_pads(w, kw, strides[2], dilations[2],
                                    node.attrs.get("padding"))
        if depthwise:
            # [kh, kw, C, M] -> [C*M, 1, kh, kw]; output channel c*M + m.
            out_c = c * per
            weight = filt.reshape(kh, kw, out_c).transpose(2, 0, 1)[:, None]
            group = c
        else:
            out_c = per
            weight = filt.transpose(3, 2, 0, 1)  # HWIO -> OIHW
            group = 1
        inputs = [self.nchw(x), self.init(node.inputs[1] + "/oihw", weight)]
        fused = node.attrs.get("fused_ops", [])
        activation = None
        for i, f in enumerate(fused):
            if i == 0 and f == "BiasAdd":
                bias = self.const_of(node.inputs[2], "a bias")
                if bias.shape != (out_c,):
                    raise ConversionError(f"bias {bias.shape} for {out_c}")
                inputs.append(self.init(node.inputs[2], bias))
            elif i == 1 and f in ("Relu", "Relu6"):
                activation = f
            else:
                raise ConversionError(f"fused op {f} at position {i}")
        if len(node.inputs) != 2 + (1 if fused else 0):
            raise ConversionError(f"{len(node.inputs)} inputs")
        shape = (n, oh, ow, out_c)
        onnx_shape = (n, out_c, oh, ow)
        out = self.emit("Conv", inputs,
                        node.name + ("/conv" if activation else ""),
                        onnx_shape, np.float32,
                        kernel_shape=[kh, kw], strides=strides[1:3],
                        dilations=dilations[1:3],
                        pads=[top, left, bottom, right], group=group)
        if activation == "Relu":
            out = self.emit("Relu", [out], node.name, onnx_shape, np.float32)
        elif activation == "Relu6":
            out = self.relu6(out, node.name, onnx_shape)
        self.put(node.name, out, np.float32, shape, nchw=True)

    def relu6(self, x, name, onnx_shape):
        lo = self.init("relu6/min", np.array(0, np.float32))
        hi = self.init("relu6/max", np.array(6, np.float32))
        return self.emit("Clip", [x, lo, hi], name, onnx_shape, np.float32)

    def op_Conv2D(self, node):
        self.conv(node, depthwise=False)

    def op_FusedConv2D(self, node):
        self.conv(node, depthwise=False)

    def op_DepthwiseConv2dNative(self, node):
        self.conv(node, depthwise=True)

    def op_FusedDepthwiseConv2dNative(self, node):
        self.conv(node, depthwise=True)

    def elementwise(self, node, op, dtype=None, **attrs):
        vals = [self.get(r) for r in node.inputs]
        as_nchw = any(v.nchw for v in vals)
        shape = vals[0].shape
        for v in vals[1:]:
            shape = broadcast_shape(shape, v.shape)
        if as_nchw and len(shape) != 4:
            raise ConversionError(f"NCHW operand with result shape {shape}")
        out_dtype = dtype or vals[0].dtype
        onnx_shape = tuple(shape[p] for p in TO_NCHW) if as_nchw else shape
        out = self.emit(op, [self.operand(v, as_nchw) for v in vals], node.name,
                        onnx_shape, out_dtype, **attrs)
        self.put(node.name, out, out_dtype, shape, nchw=as_nchw)

    def op_Add(self, node):
        self.elementwise(node, "Add")

    def op_AddV2(self, node):
        self.elementwise(node, "Add")

    def op_Sub(self, node):
        self.elementwise(node, "Sub")

    def op_Mul(self, node):
        self.elementwise(node, "Mul")

    def op_Relu(self, node):
        self.elementwise(node, "Relu")

    def op_Sigmoid(self, node):
        self.elementwise(node, "Sigmoid")

    def op_Equal(self, node):
        self.elementwise(node, "Equal", dtype=np.bool_)

    def op_Relu6(self, node):
        x = self.get(node.inputs[0])
        out = self.relu6(x.name, node.name, x.onnx_shape())
        self.put(node.name, out, np.float32, x.shape, nchw=x.nchw)

    def op_Cast(self, node):
        x = self.get(node.inputs[0])
        to = np.dtype(TF_DTYPES[node.attrs["DstT"]])
        out = self.emit("Cast", [x.name], node.name, x.onnx_shape(), to,
                        to=ONNX_DTYPES[to])
        self.put(node.name, out, to, x.shape, nchw=x.nchw)

    def floor_div_mod(self, node, want_div):
        a, b = (self.get(r) for r in node.inputs)
        if a.dtype != b.dtype:
            raise ConversionError(f"dtypes {a.dtype} and {b.dtype}")
        as_nchw = a.nchw or b.nchw
        shape = broadcast_shape(a.shape, b.shape)
        onnx_shape = tuple(shape[p] for p in TO_NCHW) if as_nchw else shape
        x, y = self.operand(a, as_nchw), self.operand(b, as_nchw)
        if a.dtype.kind == "f":
            # floor(a / b); a - floor(a / b) * b.
            q = self.emit("Div", [x, y], node.name + "/div", onnx_shape, a.dtype)
            q = self.emit("Floor", [q], node.name + ("" if want_div else "/floor"),
                          onnx_shape, a.dtype)
            if not want_div:
                qb = self.emit("Mul", [q, y], node.name + "/qb", onnx_shape,
                               a.dtype)
                q = self.emit("Sub", [x, qb], node.name, onnx_shape, a.dtype)
            out = q
        else:
            # Integer Mod with fmod=0 has the divisor's sign: TF's FloorMod.
            # a - floor_mod(a, b) is then a multiple of b, so Div is exact.
            mod = self.emit("Mod", [x, y], node.name + ("/mod" if want_div else ""),
                            onnx_shape, a.dtype, fmod=0)
            out = mod
            if want_div:
                diff = self.emit("Sub", [x, mod], node.name + "/sub", onnx_shape,
                                 a.dtype)
                out = self.emit("Div", [diff, y], node.name, onnx_shape, a.dtype)
        self.put(node.name, out, a.dtype, shape, nchw=as_nchw)

    def op_FloorDiv(self, node):
        self.floor_div_mod(node, want_div=True)

    def op_FloorMod(self, node):
        self.floor_div_mod(node, want_div=False)

    def op_Mean(self, node):
        x = self.get(node.inputs[0])
        rank = len(x.shape)
        axes = sorted({int(a) % rank for a in
                       np.atleast_1d(self.const_of(node.inputs[1], "axes"))})
        keep = bool(node.attrs.get("keep_dims", False))
        shape = tuple(1 if r in axes else d for r, d in enumerate(x.shape)
                      if keep or r not in axes)
        if rank == 4 and keep and axes == [1, 2]:
            # The spatial mean of squeeze-excite: GlobalAveragePool in NCHW.
            out = self.emit("GlobalAveragePool", [self.nchw(x)], node.name,
                            (shape[0], shape[3], 1, 1), np.float32)
            self.put(node.name, out, np.float32, shape, nchw=True)
            return
        if x.nchw and keep:
            onnx_axes = sorted(NHWC_TO_NCHW_AXIS[a] for a in axes)
            out = self.emit("ReduceMean", [x.name], node.name,
                            tuple(shape[p] for p in TO_NCHW), np.float32,
                            axes=onnx_axes, keepdims=1)
            self.put(node.name, out, np.float32, shape, nchw=True)
            return
        out = self.emit("ReduceMean", [self.tf(x)], node.name, shape, np.float32,
                        axes=axes, keepdims=int(keep))
        self.put(node.name, out, np.float32, shape)

    def op_ConcatV2(self, node):
        vals = [self.get(r) for r in node.inputs[:-1]]
        axis = int(self.const_of(node.inputs[-1], "axis"))
        rank = len(vals[0].shape)
        axis %= rank
        shape = list(vals[0].shape)
        shape[axis] = sum(v.shape[axis] for v in vals)
        as_nchw = rank == 4 and any(v.nchw for v in vals)
        if as_nchw:
            inputs = [self.nchw(v) for v in vals]
            onnx_axis = NHWC_TO_NCHW_AXIS[axis]
            onnx_shape = tuple(shape[p] for p in TO_NCHW)
        else:
            inputs = [self.tf(v) for v in vals]
            onnx_axis, onnx_shape = axis, tuple(shape)
        out = self.emit("Concat", inputs, node.name, onnx_shape, vals[0].dtype,
                        axis=onnx_axis)
        self.put(node.name, out, vals[0].dtype, shape, nchw=as_nchw)

    def op_ResizeBilinear(self, node):
        x = self.get(node.inputs[0])
        if node.attrs.get("align_corners") or node.attrs.get("half_pixel_centers"):
            raise ConversionError("only the legacy rule (no align_corners, no "
                                  "half_pixel_centers) is supported")
        oh, ow = (int(s) for s in self.const_of(node.inputs[1], "size"))
        n, _, _, c = x.shape
        sizes = self.i64(node.name + "/sizes", [n, c, oh, ow])
        out = self.emit("Resize", [self.nchw(x), "", "", sizes], node.name,
                        (n, c, oh, ow), np.float32, mode="linear",
                        coordinate_transformation_mode="asymmetric")
        self.put(node.name, out, np.float32, (n, oh, ow, c), nchw=True)

    def op_MaxPool(self, node):
        x = self.get(node.inputs[0])
        k = node.attrs.get("ksize")
        s = node.attrs.get("strides")
        if node.attrs.get("data_format", "NHWC") != "NHWC" or k[0] != 1 or \
                k[3] != 1 or s[0] != 1 or s[3] != 1:
            raise ConversionError("only spatial NHWC pooling")
        n, h, w, c = x.shape
        oh, top, bottom = same_pads(h, k[1], s[1], 1, node.attrs.get("padding"))
        ow, left, right = same_pads(w, k[2], s[2], 1, node.attrs.get("padding"))
        # ONNX MaxPool ignores the padding, as TF's SAME pooling does.
        out = self.emit("MaxPool", [self.nchw(x)], node.name, (n, c, oh, ow),
                        np.float32, kernel_shape=k[1:3], strides=s[1:3],
                        pads=[top, left, bottom, right])
        self.put(node.name, out, np.float32, (n, oh, ow, c), nchw=True)

    def op_Reshape(self, node):
        x = self.get(node.inputs[0])
        target = [int(d) for d in np.atleast_1d(self.const_of(node.inputs[1],
                                                              "shape"))]
        if 0 in target or sum(d == -1 for d in target) > 1 or \
                any(d < -1 for d in target):
            raise ConversionError(f"shape {target}")
        total = int(np.prod(x.shape))
        known = int(np.prod([d for d in target if d != -1]))
        shape = [total // known if d == -1 else d for d in target]
        if int(np.prod(shape)) != total:
            raise ConversionError(f"{x.shape} to {target}")
        out = self.emit("Reshape", [self.tf(x), self.i64(node.inputs[1],
                                                        target)],
                        node.name, shape, x.dtype)
        self.put(node.name, out, x.dtype, shape)

    def op_ExpandDims(self, node):
        x = self.get(node.inputs[0])
        axis = int(self.const_of(node.inputs[1], "dim"))
        rank = len(x.shape)
        axis = axis + rank + 1 if axis < 0 else axis
        shape = list(x.shape)
        shape.insert(axis, 1)
        out = self.emit("Unsqueeze", [self.tf(x),
                                      self.i64(node.name + "/axes", [axis])],
                        node.name, shape, x.dtype)
        self.put(node.name, out, x.dtype, shape)

    def op_StridedSlice(self, node):
        x = self.get(node.inputs[0])
        begin, end, strides = (
            [int(v) for v in np.atleast_1d(self.const_of(r, "slice bounds"))]
            for r in node.inputs[1:4])
        if node.attrs.get("ellipsis_mask", 0) or node.attrs.get("new_axis_mask", 0):
            raise ConversionError("ellipsis or new-axis masks")
        begin_mask = node.attrs.get("begin_mask", 0)
        end_mask = node.attrs.get("end_mask", 0)
        shrink = node.attrs.get("shrink_axis_mask", 0)
        starts, ends, steps, shape, squeeze = [], [], [], [], []
        for r, d in enumerate(x.shape):
            if r >= len(begin):
                starts.append(0), ends.append(d), steps.append(1)
                shape.append(d)
                continue
            s = strides[r]
            if s <= 0:
                raise ConversionError("only positive strides")

            def norm(v):
                return min(max(v + d if v < 0 else v, 0), d)

            if shrink >> r & 1:
                b = begin[r] + d if begin[r] < 0 else begin[r]
                if not 0 <= b < d:
                    raise ConversionError(f"shrink index {begin[r]} of {d}")
                e = b + 1
                squeeze.append(r)
            else:
                b = 0 if begin_mask >> r & 1 else norm(begin[r])
                e = d if end_mask >> r & 1 else norm(end[r])
                shape.append(max(0, -(-(e - b) // s)))
            starts.append(b), ends.append(e), steps.append(s)
        full = [max(0, -(-(e - b) // s)) for b, e, s in zip(starts, ends, steps)]
        tag = node.name
        out = self.emit("Slice", [self.tf(x),
                                  self.i64(tag + "/starts", starts),
                                  self.i64(tag + "/ends", ends),
                                  self.i64(tag + "/axes", list(range(len(starts)))),
                                  self.i64(tag + "/steps", steps)],
                        tag + ("/slice" if squeeze else ""), full, x.dtype)
        if squeeze:
            out = self.emit("Squeeze", [out, self.i64(tag + "/squeeze", squeeze)],
                            tag, shape, x.dtype)
        self.put(node.name, out, x.dtype, shape)

    def op_GatherV2(self, node):
        params, indices = self.get(node.inputs[0]), self.get(node.inputs[1])
        axis = int(self.const_of(node.inputs[2], "axis"))
        if node.attrs.get("batch_dims", 0):
            raise ConversionError("batch_dims != 0")
        axis %= len(params.shape)
        shape = params.shape[:axis] + indices.shape + params.shape[axis + 1:]
        out = self.emit("Gather", [self.tf(params), self.tf(indices)], node.name,
                        shape, params.dtype, axis=axis)
        self.put(node.name, out, params.dtype, shape)

    def op_TopKV2(self, node):
        x = self.get(node.inputs[0])
        k = int(self.const_of(node.inputs[1], "k"))
        if not node.attrs.get("sorted", True):
            raise ConversionError("unsorted top-k")
        shape = x.shape[:-1] + (k,)
        values = self.unique(node.name)
        indices = self.unique(node.name + "/indices_i64")
        self.onnx_nodes.append(helper.make_node(
            "TopK", [self.tf(x), self.i64(node.name + "/k", [k])],
            [values, indices], name=node.name, axis=-1, largest=1, sorted=1))
        self.tracked[values] = (shape, np.dtype(np.float32))
        self.tracked[indices] = (shape, np.dtype(np.int64))
        self.put(node.name, values, np.float32, shape)
        # TF's indices are int32.
        out = self.emit("Cast", [indices], node.name + ":1", shape, np.int32,
                        to=TensorProto.INT32)
        self.put(node.name + ":1", out, np.int32, shape)

    # -- the model ----------------------------------------------------------

    def build(self, source_note):
        outputs = []
        for onnx_name, ref in OUTPUTS.items():
            v = self.get(ref)
            self.used_names.add(onnx_name)
            src = self.tf(v)
            self.onnx_nodes.append(helper.make_node(
                "Identity", [src], [onnx_name], name=onnx_name))
            self.tracked[onnx_name] = (v.shape, v.dtype)
            outputs.append(helper.make_tensor_value_info(
                onnx_name, ONNX_DTYPES[v.dtype], list(v.shape)))
        name, dtype, shape = self.graph_input
        inputs = [helper.make_tensor_value_info(name, ONNX_DTYPES[np.dtype(dtype)],
                                                list(shape))]
        # Only initializers some node reads (Consts used as attributes are not).
        read = {i for n in self.onnx_nodes for i in n.input}
        inits = [t for n, t in self.initializers.items() if n in read]
        graph = helper.make_graph(self.onnx_nodes, "centernet", inputs, outputs,
                                  initializer=inits)
        model = helper.make_model(
            graph, producer_name="fxserve tools/onnx/tfjs_to_onnx.py",
            opset_imports=[helper.make_opsetid("", OPSET)])
        model.doc_string = source_note
        return model


def self_check(model, tracked):
    """onnx.checker plus strict shape inference against the tracked shapes."""
    onnx.checker.check_model(model, full_check=True)
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    elem = {v: k for k, v in ONNX_DTYPES.items()}
    seen = 0
    for info in list(inferred.graph.value_info) + list(inferred.graph.output):
        if info.name not in tracked:
            continue
        t = info.type.tensor_type
        shape = tuple(d.dim_value for d in t.shape.dim)
        want_shape, want_dtype = tracked[info.name]
        if shape != tuple(want_shape) or elem[t.elem_type] != want_dtype:
            raise ConversionError(
                f"{info.name}: ONNX infers {shape} {elem[t.elem_type]}, the "
                f"converter tracked {tuple(want_shape)} {want_dtype}")
        seen += 1
    return seen


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model_json", help="centernet.json (TF.js graph model)")
    parser.add_argument("output", help="the .onnx file to write")
    args = parser.parse_args()

    with open(args.model_json, "rb") as f:
        raw = f.read()
    model_json = json.loads(raw)
    if model_json.get("format") != "graph-model":
        raise ConversionError(f"{args.model_json} is not a TF.js graph model")
    nodes = [Node(n) for n in model_json["modelTopology"]["node"]]
    weights = load_weights(model_json, os.path.dirname(os.path.abspath(
        args.model_json)))
    conv = Converter(nodes, weights)
    note = (f"CenterNet from {os.path.basename(args.model_json)} (sha256 "
            f"{hashlib.sha256(raw).hexdigest()}), converted with NHWC at the "
            "boundary and an NCHW interior.")
    model = conv.build(note)
    checked = self_check(model, conv.tracked)
    tmp = args.output + ".tmp"
    onnx.save(model, tmp)
    os.replace(tmp, args.output)
    ops = {}
    for n in model.graph.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    size = os.path.getsize(args.output)
    print(f"tfjs_to_onnx: {args.output}: {len(model.graph.node)} nodes, "
          f"{len(model.graph.initializer)} initializers, {size / 1e6:.1f} MB, "
          f"opset {OPSET}; checker ok, {checked} inferred shapes match")
    print("tfjs_to_onnx: ops " + ", ".join(f"{k} {v}" for k, v in
                                           sorted(ops.items())))


if __name__ == "__main__":
    try:
        main()
    except ConversionError as e:
        print(f"tfjs_to_onnx: {e}", file=sys.stderr)
        sys.exit(1)
