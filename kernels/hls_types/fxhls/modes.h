// Quantization and overflow modes of ap_fixed, with the enumerator order of
// AMD's headers so that code passing them as integers means the same thing.
#ifndef FXSERVE_KERNELS_HLS_TYPES_FXHLS_MODES_H_
#define FXSERVE_KERNELS_HLS_TYPES_FXHLS_MODES_H_

enum ap_q_mode {
  AP_RND,          // Round half towards plus infinity.
  AP_RND_ZERO,     // Round half towards zero.
  AP_RND_MIN_INF,  // Round half towards minus infinity.
  AP_RND_INF,      // Round half away from zero.
  AP_RND_CONV,     // Round half to even (convergent).
  AP_TRN,          // Truncate towards minus infinity (drop bits).
  AP_TRN_ZERO,     // Truncate towards zero.
};

enum ap_o_mode {
  AP_SAT,       // Saturate to the minimum or maximum.
  AP_SAT_ZERO,  // Any overflow gives zero.
  AP_SAT_SYM,   // Saturate symmetrically: signed results never hold the
                // most negative code.
  AP_WRAP,      // Drop the high bits (two's complement wrap-around).
  AP_WRAP_SM,   // Sign-magnitude wrap: not supported by this emulation.
};

#endif  // FXSERVE_KERNELS_HLS_TYPES_FXHLS_MODES_H_
