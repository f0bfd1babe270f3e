// Compiles every kernel header in one translation unit, so a kernel that
// stops compiling with fxserve's or AMD's type headers fails the build.
#include "kernels/attention/attention_head.h"  // IWYU pragma: keep
#include "kernels/common/constexpr_math.h"     // IWYU pragma: keep
#include "kernels/conv/conv2d.h"               // IWYU pragma: keep
#include "kernels/conv/conv_epilogue.h"        // IWYU pragma: keep
#include "kernels/conv/depthwise_conv2d.h"     // IWYU pragma: keep
#include "kernels/conv/feature_map.h"          // IWYU pragma: keep
#include "kernels/conv/line_buffer.h"          // IWYU pragma: keep
#include "kernels/conv/pointwise_conv.h"       // IWYU pragma: keep
#include "kernels/conv/same_padding.h"         // IWYU pragma: keep
#include "kernels/detect/add.h"                // IWYU pragma: keep
#include "kernels/detect/concat_relu.h"        // IWYU pragma: keep
#include "kernels/detect/decode.h"             // IWYU pragma: keep
#include "kernels/detect/resize2x.h"           // IWYU pragma: keep
#include "kernels/detect/sigmoid.h"            // IWYU pragma: keep
#include "kernels/detect/squeeze_excite.h"     // IWYU pragma: keep
#include "kernels/embed/embedding.h"           // IWYU pragma: keep
#include "kernels/linalg/gemm_w8a8.h"          // IWYU pragma: keep
#include "kernels/linalg/gemv_w4a8.h"          // IWYU pragma: keep
#include "kernels/linalg/mac.h"                // IWYU pragma: keep
#include "kernels/nonlinear/gelu.h"            // IWYU pragma: keep
#include "kernels/nonlinear/softmax.h"         // IWYU pragma: keep
#include "kernels/norm/layer_norm.h"           // IWYU pragma: keep
#include "kernels/quant/requantize.h"          // IWYU pragma: keep
#include "kernels/residual/residual_add.h"     // IWYU pragma: keep
#include "kernels/top/centernet_layers.h"      // IWYU pragma: keep
#include "kernels/top/centernet_top.h"         // IWYU pragma: keep
