/*
 * Rectifier's OpenCL kernels: every function of the contract, forward and backward, float32 and
 * float64. The numerics are those of the CPU backend (src/main/java/dev/rectifier/cpu/Formulas.java,
 * ElementwiseKernels.java, ChannelKernels.java), line for line where it matters:
 *  - piecewise-linear functions in the element type (one rounding: bit-exact);
 *  - smooth functions in double, float32 rounded once at the end;
 *  - double-double corrections where a rounded argument is amplified, and Taylor series around the
 *    roots of f'.
 * Devices without cl_khr_fp64 (and any device when the program is built with -DRECTIFIER_NO_FP64,
 * which is how the tests run it on PoCL) get float32 only, through the float-only path at the end of
 * this file: the same functions in float-float arithmetic (about 48 bits), rounded once.
 * FP_CONTRACT is off so that no a*b+c is fused behind our back: the double-double and float-float
 * steps and the bit-exact products depend on each rounding.
 *
 * Kernel names: <function>_<forward|backward>_<f32|f64>. Elementwise kernels take
 *   forward (x, y, n, p0, p1, seed, index0, ba, bb), backward (x, g, dx, n, p0, p1, seed, index0, ba, bb),
 * with p0, p1 the function's parameters already rounded to the type (see OpenClBackend.params) and
 * index0 the flat index of element 0 within the call (RReLU training's counter), and ba, bb the
 * output blend's alpha and beta (Activation.blend; every write of y or dx goes through STORE).
 * elu_backward_from_output_<type> is ELU's backward from y = f(x): x is y there.
 * <relu|leaky_relu|hardtanh>_forward_mask_<type> take the forward's arguments then the mask's words;
 * mask_backward_<type> takes the backward's with the mask for x and p0 the slope where a bit is 0.
 * <function>_forward_stats_<type> (every forward but crelu's) take the forward's arguments then the
 * statistics records of their work-groups; stats_<type> takes those of an array, stats_reduce_<type>
 * folds them (see STATS_FOLD). widen_<f16|bf16> and narrow_<f16|bf16> convert 16-bit buffers to
 * and from double (see f16_value).
 */
#pragma OPENCL FP_CONTRACT OFF

// ------------------------------------------------------------------ Philox4x32-10 (RReLU)

inline uint4 philox(uint4 c, uint2 k) {
  for (int r = 0; r < 10; r++) {
    uint hi0 = mul_hi(0xD2511F53u, c.x);
    uint lo0 = 0xD2511F53u * c.x;
    uint hi1 = mul_hi(0xCD9E8D57u, c.z);
    uint lo1 = 0xCD9E8D57u * c.z;
    c = (uint4)(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
    k.x += 0x9E3779B9u;
    k.y += 0xBB67AE85u;
  }
  return c;
}

inline uint4 philox_at(ulong seed, ulong index) {
  return philox((uint4)((uint)index, (uint)(index >> 32), 0u, 0u), (uint2)((uint)seed, (uint)(seed >> 32)));
}

inline float rrelu_slope_f32(ulong seed, ulong index, float lower, float width) {
  uint4 r = philox_at(seed, index);
  return fma((float)(r.x >> 8) * 0x1p-24f, width, lower);
}

#define ELEMENTWISE_ARGS_F(T) __global const T* x, __global T* y, const ulong n, const T p0, const T p1, const ulong seed, const ulong index0, const T ba, const T bb
#define ELEMENTWISE_ARGS_B(T) __global const T* x, __global const T* g, __global T* dx, const ulong n, const T p0, const T p1, const ulong seed, const ulong index0, const T ba, const T bb

/* Every write of y or dx (Activation.blend): alpha * v + beta * out, each operation rounded in T
   (no fused multiply-add); beta == 0 never reads out, alpha == 1 multiplies by nothing. */
#define STORE(T, OUT, AT, VALUE) do { T v_ = (VALUE); \
  OUT[AT] = bb == 0 ? (ba == 1 ? v_ : ba * v_) : ba * v_ + bb * OUT[AT]; } while (0)

/* 1-bit masks (Activation.maskAllowed): bit (i & 31) of word i >> 5 is ON for element i. OpenCL 1.2
   has no ballot, so a work-group gathers its bits in local memory, one byte each (no atomics), and
   one work-item per word packs them; the mask kernels are launched in work-groups of MASK_GROUP
   (OpenClBackend.LOCAL), and no work-item returns before the barrier. */
#define MASK_GROUP 64
#define MASK_BITS(ON) __local uchar b_[MASK_GROUP]; size_t l_ = get_local_id(0); \
  b_[l_] = (ON) ? 1 : 0; \
  barrier(CLK_LOCAL_MEM_FENCE); \
  if (l_ < MASK_GROUP / 32 && i - l_ + 32 * l_ < n) { \
    uint w_ = 0u; for (int j_ = 0; j_ < 32; j_++) w_ |= (uint)b_[32 * l_ + j_] << j_; \
    mask[(i - l_) / 32 + l_] = w_; }
#define MASK_KERNEL __kernel __attribute__((reqd_work_group_size(MASK_GROUP, 1, 1)))

/* Fused statistics (Rectifier.forwardWithStats; StatsRecords in Java computes the same records in
   the same order). A work-group of STATS_GROUP folds one output per work-item into one record: the
   sum of |y| over finite y (in T), min and max over non-NaN y (-0 below +0), and the counts of
   zeros, NaNs and infinities. The fold is the tree that halves the lanes, lane l taking lane l + d
   for d = STATS_GROUP/2, ..., 1: a fixed order, so every backend gets the same sums bit for bit.
   Record r is rs[3r..3r+2] = (sum, min, max) and rc[3r..3r+2] = (zeros, NaNs, infinities).
   Every work-item reaches every barrier: a forward's body may return early, the kernel does not. */
#define STATS_GROUP 256
#define STATS_KERNEL __kernel __attribute__((reqd_work_group_size(STATS_GROUP, 1, 1)))
#define STATS_SYNC barrier(CLK_LOCAL_MEM_FENCE)
#define STATS_MIN(a, b) ((b) < (a) || ((b) == (a) && signbit(b)) ? (b) : (a))
#define STATS_MAX(a, b) ((b) > (a) || ((b) == (a) && !signbit(b)) ? (b) : (a))
#define STATS_LOCALS(T) __local T s_[STATS_GROUP]; __local T lo_[STATS_GROUP]; __local T hi_[STATS_GROUP]; \
  __local ulong c_[STATS_GROUP]; size_t l_ = get_local_id(0);
/* A lane's three counts in one word, 21 bits each: a record counts at most 65,536 of each. */
#define STATS_COUNTS(zeros, nans, infinities) ((ulong)(zeros) | (ulong)(nans) << 21 | (ulong)(infinities) << 42)
/* Lane l_'s leaf: output V when IN, else the identities (0, +inf, -inf, no counts). */
#define STATS_LEAF(T, IN, V) { bool in_ = (IN); T v_ = in_ ? (V) : (T)0; bool nan_ = v_ != v_; \
  bool inf_ = in_ && isinf(v_); \
  s_[l_] = in_ && !nan_ && !inf_ ? fabs(v_) : (T)0; \
  lo_[l_] = in_ && !nan_ ? v_ : (T)INFINITY; hi_[l_] = in_ && !nan_ ? v_ : -(T)INFINITY; \
  c_[l_] = STATS_COUNTS(in_ && v_ == 0, nan_, inf_); }
/* Lane l_'s leaf: record R of rs, rc when IN, else the identities. */
#define STATS_RECORD(T, IN, rs, rc, R) { bool in_ = (IN); \
  s_[l_] = in_ ? rs[3 * (R)] : (T)0; lo_[l_] = in_ ? rs[3 * (R) + 1] : (T)INFINITY; \
  hi_[l_] = in_ ? rs[3 * (R) + 2] : -(T)INFINITY; \
  c_[l_] = in_ ? STATS_COUNTS(rc[3 * (R)], rc[3 * (R) + 1], rc[3 * (R) + 2]) : 0; }
/* Lane L folds lanes L + STRIDE * j, j = 0..15, into lane L: the halving tree over those 16, which
   is what the halving tree over all lanes does with them (STATS_GROUP = 16 * 16). */
#define STATS_HALVE(T, L, STRIDE) { T t_[16]; T lo2_ = (T)INFINITY; T hi2_ = -(T)INFINITY; ulong c2_ = 0; \
  for (uint j_ = 0; j_ < 16; j_++) { size_t k_ = (L) + (STRIDE) * j_; t_[j_] = s_[k_]; \
    lo2_ = STATS_MIN(lo2_, lo_[k_]); hi2_ = STATS_MAX(hi2_, hi_[k_]); c2_ += c_[k_]; } \
  for (uint d_ = 8; d_ > 0; d_ >>= 1) for (uint j_ = 0; j_ < d_; j_++) t_[j_] = t_[j_] + t_[j_ + d_]; \
  s_[L] = t_[0]; lo_[L] = lo2_; hi_[L] = hi2_; c_[L] = c2_; }
/* The fold in two steps of 16 (two barriers, not eight: PoCL runs a work-group's lanes as a loop
   per barrier), then lane 0 writes the group's record R. */
#define STATS_FOLD(T, rs, rc, R) \
  STATS_SYNC; \
  if (l_ < 16) STATS_HALVE(T, l_, 16) \
  STATS_SYNC; \
  if (l_ == 0) { STATS_HALVE(T, 0, 1) \
    rs[3 * (R)] = s_[0]; rs[3 * (R) + 1] = lo_[0]; rs[3 * (R) + 2] = hi_[0]; \
    rc[3 * (R)] = (uint)(c_[0] & 0x1fffff); rc[3 * (R) + 1] = (uint)((c_[0] >> 21) & 0x1fffff); \
    rc[3 * (R) + 2] = (uint)(c_[0] >> 42); }
/* NAME_SUFFIX is a forward kernel with parameters PARAMS, whose body is the block after the macro
   and writes y[0, COUNT); NAME_stats_SUFFIX takes the same parameters then the records of its work-groups,
   runs the same body and folds each work-item's own output back in (just written: in cache). */
#define STRIP(...) __VA_ARGS__
#define WITH_STATS(T, NAME, SUFFIX, PARAMS, ARGS, COUNT) \
void NAME##_body_##SUFFIX PARAMS; \
__kernel void NAME##_##SUFFIX PARAMS { NAME##_body_##SUFFIX ARGS; } \
STATS_KERNEL void NAME##_stats_##SUFFIX(STRIP PARAMS, __global T* rs, __global uint* rc) { \
  NAME##_body_##SUFFIX ARGS; STATS_LOCALS(T) size_t i_ = get_global_id(0); \
  STATS_LEAF(T, i_ < (COUNT), y[i_]) STATS_FOLD(T, rs, rc, get_group_id(0)) } \
void NAME##_body_##SUFFIX PARAMS
#define FORWARD_KERNEL(T, NAME, SUFFIX) WITH_STATS(T, NAME, SUFFIX, (ELEMENTWISE_ARGS_F(T)), (x, y, n, p0, p1, seed, index0, ba, bb), n)

/* The records of an array as it is (crelu's outputs, which its work-items write apart); the same
   per channel of y as [outer, channels, inner], channel c's outputs taken in memory order as an
   array of their own, leaves records each (group g: channel g / leaves); and one record from each
   STATS_GROUP records in order (the level above: StatsRecords.PER_RECORD elements), segment by
   segment of records records, groups records out each (a channel's; one segment for a whole array). */
#define DEFINE_STATS_KERNELS(T, SUFFIX) \
STATS_KERNEL void stats_##SUFFIX(__global const T* y, const ulong n, __global T* rs, __global uint* rc) { \
  STATS_LOCALS(T) size_t i_ = get_global_id(0); \
  STATS_LEAF(T, i_ < n, y[i_]) STATS_FOLD(T, rs, rc, get_group_id(0)) } \
STATS_KERNEL void channel_stats_##SUFFIX(__global const T* y, const ulong per_channel, const ulong channels, \
    const ulong inner, const ulong leaves, __global T* rs, __global uint* rc) { \
  STATS_LOCALS(T) size_t g_ = get_group_id(0); ulong ch_ = g_ / leaves; \
  ulong j_ = (g_ - ch_ * leaves) * STATS_GROUP + l_; ulong o_ = j_ / inner; \
  STATS_LEAF(T, j_ < per_channel, y[(o_ * channels + ch_) * inner + (j_ - o_ * inner)]) \
  STATS_FOLD(T, rs, rc, g_) } \
STATS_KERNEL void stats_reduce_##SUFFIX(__global const T* rs, __global const uint* rc, const ulong records, \
    const ulong groups, __global T* out_s, __global uint* out_c) { \
  STATS_LOCALS(T) size_t g_ = get_group_id(0); ulong seg_ = g_ / groups; \
  ulong r_ = (g_ - seg_ * groups) * STATS_GROUP + l_; \
  STATS_RECORD(T, r_ < records, rs, rc, seg_ * records + r_) STATS_FOLD(T, out_s, out_c, g_) }

/* The piecewise-linear and channel kernels, in the element type T alone. */
#define DEFINE_LINEAR_KERNELS(T, SUFFIX, RRELU_SLOPE) \
FORWARD_KERNEL(T, relu_forward, SUFFIX) { \
  size_t i = get_global_id(0); if (i >= n) return; T v = x[i]; STORE(T, y, i, v < 0 ? (T)0 : v); } \
__kernel void relu_backward_##SUFFIX(ELEMENTWISE_ARGS_B(T)) { \
  size_t i = get_global_id(0); if (i >= n) return; T v = x[i]; STORE(T, dx, i, v > 0 ? g[i] : (v <= 0 ? (T)0 : v)); } \
FORWARD_KERNEL(T, leaky_relu_forward, SUFFIX) { \
  size_t i = get_global_id(0); if (i >= n) return; T v = x[i]; STORE(T, y, i, v < 0 ? p0 * v : v); } \
__kernel void leaky_relu_backward_##SUFFIX(ELEMENTWISE_ARGS_B(T)) { \
  size_t i = get_global_id(0); if (i >= n) return; T v = x[i]; \
  STORE(T, dx, i, v > 0 ? g[i] : (v <= 0 ? (p0 == 0 ? (T)0 : p0 * g[i]) : v)); } \
FORWARD_KERNEL(T, rrelu_train_forward, SUFFIX) { \
  size_t i = get_global_id(0); if (i >= n) return; T v = x[i]; \
  STORE(T, y, i, v < 0 ? RRELU_SLOPE(seed, index0 + i, p0, p1 - p0) * v : v); } \
__kernel void rrelu_train_backward_##SUFFIX(ELEMENTWISE_ARGS_B(T)) { \
  size_t i = get_global_id(0); if (i >= n) return; T v = x[i]; T d; \
  if (v > 0) d = g[i]; \
  else if (v <= 0) { T a = RRELU_SLOPE(seed, index0 + i, p0, p1 - p0); d = a == 0 ? (T)0 : a * g[i]; } \
  else d = v; \
  STORE(T, dx, i, d); } \
FORWARD_KERNEL(T, hardtanh_forward, SUFFIX) { \
  size_t i = get_global_id(0); if (i >= n) return; T v = x[i]; STORE(T, y, i, v < p0 ? p0 : (v > p1 ? p1 : v)); } \
__kernel void hardtanh_backward_##SUFFIX(ELEMENTWISE_ARGS_B(T)) { \
  size_t i = get_global_id(0); if (i >= n) return; T v = x[i]; \
  STORE(T, dx, i, (v > p0 && v < p1) ? g[i] : (v != v ? v : (T)0)); } \
FORWARD_KERNEL(T, threshold_forward, SUFFIX) { \
  size_t i = get_global_id(0); if (i >= n) return; T v = x[i]; STORE(T, y, i, v <= p0 ? p1 : v); } \
__kernel void threshold_backward_##SUFFIX(ELEMENTWISE_ARGS_B(T)) { \
  size_t i = get_global_id(0); if (i >= n) return; T v = x[i]; STORE(T, dx, i, v > p0 ? g[i] : (v <= p0 ? (T)0 : v)); } \
/* ---- forward with a 1-bit mask (the bit is PyTorch's backward test), and backward from it ---- */ \
MASK_KERNEL void relu_forward_mask_##SUFFIX(ELEMENTWISE_ARGS_F(T), __global uint* mask) { \
  size_t i = get_global_id(0); bool on = false; \
  if (i < n) { T v = x[i]; on = !(v <= 0); STORE(T, y, i, v < 0 ? (T)0 : v); } \
  MASK_BITS(on) } \
MASK_KERNEL void leaky_relu_forward_mask_##SUFFIX(ELEMENTWISE_ARGS_F(T), __global uint* mask) { \
  size_t i = get_global_id(0); bool on = false; \
  if (i < n) { T v = x[i]; on = v > 0; STORE(T, y, i, v < 0 ? p0 * v : v); } \
  MASK_BITS(on) } \
MASK_KERNEL void hardtanh_forward_mask_##SUFFIX(ELEMENTWISE_ARGS_F(T), __global uint* mask) { \
  size_t i = get_global_id(0); bool on = false; \
  if (i < n) { T v = x[i]; on = !(v <= p0 || v >= p1); STORE(T, y, i, v < p0 ? p0 : (v > p1 ? p1 : v)); } \
  MASK_BITS(on) } \
__kernel void mask_backward_##SUFFIX(__global const uint* mask, __global const T* g, __global T* dx, \
    const ulong n, const T p0, const T p1, const ulong seed, const ulong index0, const T ba, const T bb) { \
  size_t i = get_global_id(0); if (i >= n) return; \
  STORE(T, dx, i, ((mask[i >> 5] >> (i & 31)) & 1u) ? g[i] : (p0 == 0 ? (T)0 : p0 * g[i])); } \
/* ---- channel functions on [outer, channels, inner] ---- */ \
WITH_STATS(T, prelu_forward, SUFFIX, (__global const T* x, __global const T* w, __global T* y, \
    const ulong n, const ulong channels, const ulong inner, const ulong weights, const T ba, const T bb), \
    (x, w, y, n, channels, inner, weights, ba, bb), n) { \
  size_t i = get_global_id(0); if (i >= n) return; \
  T wc = w[weights == 1 ? 0 : (i / inner) % channels]; T v = x[i]; STORE(T, y, i, v < 0 ? wc * v : v); } \
__kernel void prelu_backward_##SUFFIX(__global const T* x, __global const T* w, __global const T* g, \
    __global T* dx, const ulong n, const ulong channels, const ulong inner, const ulong weights, const T ba, const T bb) { \
  size_t i = get_global_id(0); if (i >= n) return; \
  T wc = w[weights == 1 ? 0 : (i / inner) % channels]; T v = x[i]; \
  STORE(T, dx, i, v > 0 ? g[i] : (v <= 0 ? (wc == 0 ? (T)0 : wc * g[i]) : v)); } \
__kernel void crelu_forward_##SUFFIX(__global const T* x, __global T* y, const ulong n, \
    const ulong channels, const ulong inner, const T ba, const T bb) { \
  size_t i = get_global_id(0); if (i >= n) return; \
  ulong o = i / (channels * inner); ulong rest = i - o * channels * inner; \
  ulong pos = o * 2 * channels * inner + rest; ulong neg = pos + channels * inner; \
  T v = x[i]; STORE(T, y, pos, v < 0 ? (T)0 : v); STORE(T, y, neg, -v < 0 ? (T)0 : -v); } \
__kernel void crelu_backward_##SUFFIX(__global const T* x, __global const T* g, __global T* dx, \
    const ulong n, const ulong channels, const ulong inner, const T ba, const T bb) { \
  size_t i = get_global_id(0); if (i >= n) return; \
  ulong o = i / (channels * inner); ulong rest = i - o * channels * inner; \
  ulong pos = o * 2 * channels * inner + rest; ulong neg = pos + channels * inner; \
  T v = x[i]; \
  STORE(T, dx, i, v > 0 ? g[pos] : (v < 0 ? -g[neg] : (v == 0 ? (T)0 : v))); } \
/* Maxout: one work-item per output element; NaN wins, the first of equals wins. */ \
WITH_STATS(T, maxout_forward, SUFFIX, (__global const T* x, __global T* y, const ulong m, \
    const ulong channels, const ulong inner, const ulong pieces, const T ba, const T bb), \
    (x, y, m, channels, inner, pieces, ba, bb), m) { \
  size_t j = get_global_id(0); if (j >= m) return; \
  ulong groups = channels / pieces; ulong o = j / (groups * inner); ulong r = j - o * groups * inner; \
  ulong grp = r / inner; ulong i = r - grp * inner; \
  ulong first = (o * channels + grp * pieces) * inner + i; \
  T best = x[first]; \
  for (ulong k = 1; k < pieces && best == best; k++) { T v = x[first + k * inner]; if (v > best || v != v) best = v; } \
  STORE(T, y, j, best); } \
__kernel void maxout_backward_##SUFFIX(__global const T* x, __global const T* g, __global T* dx, \
    const ulong m, const ulong channels, const ulong inner, const ulong pieces, const T ba, const T bb) { \
  size_t j = get_global_id(0); if (j >= m) return; \
  ulong groups = channels / pieces; ulong o = j / (groups * inner); ulong r = j - o * groups * inner; \
  ulong grp = r / inner; ulong i = r - grp * inner; \
  ulong first = (o * channels + grp * pieces) * inner + i; \
  T best = x[first]; ulong at = 0; \
  for (ulong k = 1; k < pieces && best == best; k++) { T v = x[first + k * inner]; if (v > best || v != v) { best = v; at = k; } } \
  T grad = best != best ? best : g[j]; \
  for (ulong k = 0; k < pieces; k++) STORE(T, dx, first + k * inner, k == at ? grad : (T)0); }

#ifndef RECTIFIER_NO_FP64
// ================================================================== double path
#pragma OPENCL EXTENSION cl_khr_fp64 : enable

#define SELU_SCALE 1.0507009873554805
#define SELU_SCALE_ALPHA (1.0507009873554805 * 1.6732632423543772)
#define INV_SQRT2_HI 0.7071067811865476
#define INV_SQRT2_LO (-4.833646656726457e-17)
#define SQRT_2_OVER_PI_HI 0.7978845608028654
#define SQRT_2_OVER_PI_LO (-4.98465440455546e-17)
#define GELU_K_HI 0.044715
#define GELU_K_LO 2.1960211427085595e-18
#define TWO_OVER_SQRT_PI 1.1283791670955126
#define INV_SQRT_PI 0.5641895835477563
#define INV_SQRT_2PI 0.3989422804014327
#define INV_SQRT_2PI_LO (-2.49232720227773e-17)
#define GELU_TAIL (-36.5)
#define GELU_ZERO_DERIVATIVE_BELOW (-40.0)
#define GELU_TANH_ZERO_DERIVATIVE_BELOW (-30.0)
#define ROOT_RADIUS 0.5

// Taylor series of f' around its root: the same constants as RootSeries.java (both generated by
// tools/reference/extra_golden.py; RootSeriesTest checks they agree).
#define SILU_ROOT_HI -1.2784645427610737
#define SILU_ROOT_LO -1.0946994183093437e-16
__constant double SILU_SERIES[28] = {
    0.2178117057198001, 0.1466487969969469, 0.018874814223782312,
    -0.015222655223188032, -0.006606589138356696, 0.000126627410081122,
    0.0007985218818397998, 0.00018570724361186496, -4.090534237428612e-05,
    -2.9733542213263917e-05, -2.942631888842464e-06, 2.346029682463866e-06,
    8.599695028268575e-07, -3.051244750055421e-08, -9.266646309267441e-08,
    -1.8877622907727957e-08, 4.619379769031606e-09, 2.9177603026903803e-09,
    2.3648315053103244e-10, -2.251366201881081e-10, -7.50344609385287e-11,
    3.998547874723996e-12, 8.04274075537398e-12, 1.4842855116792256e-12,
    -4.1428341124873365e-13, -2.3496573817834053e-13, -1.5376365106809265e-14,
    1.8397842645887054e-14,
};
#define MISH_ROOT_HI -1.1924312145154952
#define MISH_ROOT_LO -4.8484829848031044e-17
__constant double MISH_SERIES[28] = {
    0.2669479140495345, 0.20473126408010586, 0.04190782104360987,
    -0.020271822716684245, -0.01582112656173338, -0.0033606849270232685,
    0.0010924055409445854, 0.0009898181021289196, 0.00025412936386191073,
    -4.1961496031696126e-05, -5.582891567360688e-05, -1.72992708103044e-05,
    9.427361327376651e-07, 2.9088199364912223e-06, 1.071676702702074e-06,
    2.6879417855557728e-08, -1.4117255919499382e-07, -6.174424363104907e-08,
    -5.460186173028381e-09, 6.3895954615089855e-09, 3.3604012383661332e-09,
    4.817646300218697e-10, -2.6751871594311224e-10, -1.7442209713382678e-10,
    -3.3904729895707114e-11, 1.0101727316036154e-11, 8.681382594457511e-12,
    2.124385967466607e-12,
};
#define GELU_ROOT_HI -0.7517915246935645
#define GELU_ROOT_LO 1.4956759177009883e-17
__constant double GELU_SERIES[28] = {
    0.4314939923140469, 0.388284982990552, -0.018199676398671087,
    -0.1140082332972217, -0.014771522148244337, 0.019421679838189067,
    0.004539228379125415, -0.002239538068073497, -0.0007448268386746817,
    0.00018633974623233514, 8.615947861116571e-05, -1.121438018842664e-05,
    -7.74846130700372e-06, 4.3284506257392273e-07, 5.702764979242107e-07,
    -1.6044265494246427e-09, -3.5459866461783865e-08, -1.396942086426202e-09,
    1.90319840501314e-09, 1.4506418938779426e-10, -8.950037692726255e-11,
    -9.950340824808053e-12, 3.725967039270119e-12, 5.482292964742324e-13,
    -1.3820118240601056e-13, -2.5871508475507507e-14, 4.578167824271334e-15,
    1.0789662518230159e-15,
};
#define GELU_TANH_ROOT_HI -0.7524614220710163
#define GELU_TANH_ROOT_LO 3.635560509207687e-17
__constant double GELU_TANH_SERIES[28] = {
    0.4304000910248585, 0.38751844613578895, -0.01578285352184803,
    -0.11394448308095899, -0.01661932834305256, 0.019682309459833118,
    0.005261059254921912, -0.0024227318458750974, -0.0009274420230205449,
    0.00026392764052681053, 0.00012425227802639782, -3.4956171694436116e-05,
    -1.5950896871645105e-05, 5.918611710894005e-06, 2.4335516344299543e-06,
    -9.898647747433667e-07, -4.3102482988029016e-07, 1.4157556987729473e-07,
    7.520740909289922e-08, -1.6978217459781023e-08, -1.196180847972441e-08,
    1.7637802707907564e-09, 1.744987137846621e-09, -1.708811216951738e-10,
    -2.433873557833449e-10, 1.687283177355558e-11, 3.393384490409003e-11,
    -1.6704708256434772e-12,
};

// ------------------------------------------------------------------ double-double helpers

inline double two_sum_err(double a, double b, double s) {
  double bb = s - a;
  return (a - (s - bb)) + (b - bb);
}

/* (n + nLo) / (d + dLo), rounded once. */
inline double dd_divide(double n, double nLo, double d, double dLo) {
  double q = n / d;
  if (q == 0.0 || !isfinite(q)) return q;
  return q + (fma(-q, d, n) + nLo - q * dLo) / d;
}

/* (n + nLo) / (1 + e)^2 with the square in double-double, rounded once. */
inline double over_one_plus_e_squared(double n, double nLo, double e) {
  double b = 1.0 + e;
  double bLo = two_sum_err(1.0, e, b);
  double d = b * b;
  double dLo = fma(b, b, -d) + 2.0 * b * bLo;
  return dd_divide(n, nLo, d, dLo);
}

inline double series(__constant const double* c, int len, double hi, double lo, double x) {
  double d = (x - hi) - lo;
  double p = c[len - 1];
  for (int k = len - 2; k >= 0; k--) p = fma(p, d, c[k]);
  return p * d;
}

// ------------------------------------------------------------------ exponential linear units

/* ELU's negative branch at both zeros gives -0 (as the CPU's Math.min(x, -0.0)); not fmin, which
   would return -0 for NaN. */
inline double non_positive(double x) { return x == 0.0 ? -0.0 : x; }

inline double elu_d(double x, double alpha) { return x > 0 ? x : alpha * expm1(non_positive(x)); }
inline double elu_prime(double x, double alpha) { return x > 0 ? 1.0 : alpha * exp(x); }
inline double selu_d(double x) { return x > 0 ? SELU_SCALE * x : SELU_SCALE_ALPHA * expm1(non_positive(x)); }
inline double selu_prime(double x) { return x > 0 ? SELU_SCALE : SELU_SCALE_ALPHA * exp(x); }

inline double celu_d(double x, double alpha) {
  if (x > 0) return x;
  double v = non_positive(x);
  double q = v / alpha;
  double qLo = fma(-q, alpha, v) / alpha;
  double em = expm1(q);
  // em infinite (alpha < 0, x far below 0): the correction would make inf - inf
  return alpha * ((qLo == 0.0 || !isfinite(qLo * em)) ? em : em + qLo * (em + 1.0));
}

inline double celu_prime(double x, double alpha) {
  if (x > 0) return 1.0;
  double q = x / alpha;
  double qLo = fma(-q, alpha, x) / alpha;
  double e = exp(q);
  return (qLo == 0.0 || !isfinite(qLo * e)) ? e : e + e * qLo;
}

// ------------------------------------------------------------------ GELU (erf form)

inline double phi_cdf(double x) {
  double p = x * INV_SQRT2_HI;
  double pLo = fma(x, INV_SQRT2_HI, -p) + x * INV_SQRT2_LO;
  double z = -p;
  double zLo = -pLo;
  double e = erfc(z);
  if (zLo != 0.0 && z > -30.0 && z < 30.0) e -= zLo * TWO_OVER_SQRT_PI * exp(-z * z);
  return 0.5 * e;
}

/* erfcx(z) = exp(z^2) erfc(z) for z >= 25 by its asymptotic series (terms below 1e-19 by k = 8). */
inline double erfcx_large(double z) {
  double t = 1.0 / (2.0 * z * z);
  double sum = 1.0;
  double term = 1.0;
  for (int k = 1; k <= 9; k++) {
    term *= -(2.0 * k - 1.0) * t;
    sum += term;
  }
  return sum * INV_SQRT_PI / z;
}

inline double gelu_d(double x) {
  if (x < -40.0) return -0.0;
  if (x < GELU_TAIL) {
    double s = x * x;
    double sLo = fma(x, x, -s);
    double h = exp(-0.25 * s);
    return ((0.5 * x * erfcx_large(-x * INV_SQRT2_HI) * (1.0 - 0.5 * sLo)) * h) * h;
  }
  return x * phi_cdf(x);
}

inline double gelu_prime(double x) {
  if (isinf(x)) return x < 0 ? 0.0 : 1.0;
  if (x > 40.0) return 1.0;
  if (fabs(x - GELU_ROOT_HI) <= ROOT_RADIUS) return series(GELU_SERIES, 28, GELU_ROOT_HI, GELU_ROOT_LO, x);
  if (x < GELU_TAIL) {
    double s = x * x;
    double sLo = fma(x, x, -s);
    double h = exp(-0.25 * s);
    double a = 0.5 * erfcx_large(-x * INV_SQRT2_HI) + x * INV_SQRT_2PI;
    return ((a * (1.0 - 0.5 * sLo)) * h) * h;
  }
  double s = x * x;
  double sLo = fma(x, x, -s);
  double e = exp(-0.5 * s);
  double p = x * e;
  double pLo = fma(x, e, -p) - p * 0.5 * sLo;
  double q = p * INV_SQRT_2PI;
  double qLo = fma(p, INV_SQRT_2PI, -q) + p * INV_SQRT_2PI_LO + pLo * INV_SQRT_2PI;
  double cdf = phi_cdf(x);
  double sum = q + cdf;
  return sum + (two_sum_err(q, cdf, sum) + qLo);
}

// ------------------------------------------------------------------ GELU (tanh form)

inline double gelu_tanh_exp_minus_2u(double x) {
  double s = x * x;
  double sLo = fma(x, x, -s);
  double c = s * x;
  double cLo = fma(s, x, -c) + sLo * x;
  double kc = GELU_K_HI * c;
  double kcLo = fma(GELU_K_HI, c, -kc) + GELU_K_HI * cLo + GELU_K_LO * c;
  double t = x + kc;
  double tLo = two_sum_err(x, kc, t) + kcLo;
  double u = SQRT_2_OVER_PI_HI * t;
  double uLo = fma(SQRT_2_OVER_PI_HI, t, -u) + SQRT_2_OVER_PI_HI * tLo + SQRT_2_OVER_PI_LO * t;
  double e = exp(-2.0 * u);
  return isinf(e) ? e : e - 2.0 * (e * uLo); // e * 2 may overflow
}

inline double gelu_tanh_d(double x) {
  if (!(x >= -30.0 && x <= 30.0)) {
    if (x > 30.0) return x;
    if (x < -30.0) return -0.0;
    return x;
  }
  return x / (1.0 + gelu_tanh_exp_minus_2u(x));
}

inline double gelu_tanh_prime(double x) {
  if (!(x >= -30.0 && x <= 30.0)) {
    if (x > 30.0) return 1.0;
    if (x < -30.0) return -0.0;
    return x;
  }
  if (fabs(x - GELU_TANH_ROOT_HI) <= ROOT_RADIUS) {
    return series(GELU_TANH_SERIES, 28, GELU_TANH_ROOT_HI, GELU_TANH_ROOT_LO, x);
  }
  double e = gelu_tanh_exp_minus_2u(x);
  if (e > 1e100) {
    if (isinf(e)) return -0.0;
    return (1.0 / (1.0 + e)) * (1.0 + 2.0 * x * SQRT_2_OVER_PI_HI * (1.0 + 3.0 * GELU_K_HI * x * x));
  }
  double s = x * x;
  double sLo = fma(x, x, -s);
  double p = 3.0 * GELU_K_HI * s;
  double pLo = fma(3.0 * GELU_K_HI, s, -p) + 3.0 * (GELU_K_HI * sLo + GELU_K_LO * s);
  double q = 1.0 + p;
  double qLo = two_sum_err(1.0, p, q) + pLo;
  double r = 2.0 * SQRT_2_OVER_PI_HI * x;
  double rLo = fma(2.0 * SQRT_2_OVER_PI_HI, x, -r) + 2.0 * SQRT_2_OVER_PI_LO * x;
  double a = fma(r, q, 1.0);
  double aLo = fma(r, q, 1.0 - a) + (r * qLo + rLo * q);
  double ea = e * a;
  double eaLo = fma(e, a, -ea) + e * aLo;
  double n = 1.0 + ea;
  return over_one_plus_e_squared(n, two_sum_err(1.0, ea, n) + eaLo, e);
}

// ------------------------------------------------------------------ SiLU, Mish, Softplus

inline double silu_d(double x) {
  if (isinf(x) && x < 0) return -0.0;
  return x / (1.0 + exp(-x));
}

inline double silu_prime(double x) {
  if (isinf(x)) return x < 0 ? 0.0 : 1.0;
  if (fabs(x - SILU_ROOT_HI) <= ROOT_RADIUS) return series(SILU_SERIES, 28, SILU_ROOT_HI, SILU_ROOT_LO, x);
  double e = exp(x >= 0 ? -x : x);
  double a = 1.0 + x;
  double aLo = two_sum_err(1.0, x, a);
  double n, nLo;
  if (x >= 0) {
    double m = e * a;
    double mLo = fma(e, a, -m) + e * aLo;
    n = 1.0 + m;
    nLo = two_sum_err(1.0, m, n) + mLo;
  } else {
    double t = a + e;
    double tLo = two_sum_err(a, e, t) + aLo;
    n = e * t;
    nLo = fma(e, t, -n) + e * tLo;
  }
  return over_one_plus_e_squared(n, nLo, e);
}

inline double mish_d(double x) {
  if (x > 40.0) return x;
  if (isinf(x) && x < 0) return -0.0;
  double e = exp(x);
  double n = fma(e, e, 2.0 * e);
  return x * (n / (n + 2.0));
}

inline double mish_prime(double x) {
  if (x > 40.0) return 1.0;
  if (isinf(x) && x < 0) return 0.0;
  if (fabs(x - MISH_ROOT_HI) <= ROOT_RADIUS) return series(MISH_SERIES, 28, MISH_ROOT_HI, MISH_ROOT_LO, x);
  double e = exp(x);
  if (e == 0.0) return -0.0;
  double t = e + 4.0;
  double tLo = two_sum_err(e, 4.0, t);
  double u = e * t;
  double uLo = fma(e, t, -u) + e * tLo;
  double c = 6.0 + 4.0 * x;
  double cLo = two_sum_err(6.0, 4.0 * x, c);
  double v = u + c;
  double vLo = two_sum_err(u, c, v) + uLo + cLo;
  double w = e * v;
  double wLo = fma(e, v, -w) + e * vLo;
  double a = 4.0 + 4.0 * x;
  double aLo = two_sum_err(4.0, 4.0 * x, a);
  double bb = w + a;
  double bbLo = two_sum_err(w, a, bb) + wLo + aLo;
  double num = e * bb;
  double numLo = fma(e, bb, -num) + e * bbLo;
  double e2 = e * e;
  double e2Lo = fma(e, e, -e2);
  double m = e2 + 2.0 * e;
  double mLo = two_sum_err(e2, 2.0 * e, m) + e2Lo;
  double k = m + 2.0;
  double kLo = two_sum_err(m, 2.0, k) + mLo;
  double den = k * k;
  double denLo = fma(k, k, -den) + 2.0 * k * kLo;
  double r = dd_divide(num, numLo, den, denLo);
  return r == 0.0 ? copysign(0.0, x) : r;
}

inline double sigmoid_d(double v) {
  if (v >= 0) return 1.0 / (1.0 + exp(-v));
  double e = exp(v);
  return e / (1.0 + e);
}

inline double softplus_d(double x, double beta, double threshold) {
  double bx = beta * x;
  if (bx > threshold) return x;
  double bxLo = isfinite(bx) ? fma(beta, x, -bx) : 0.0;
  double e = exp(bx);
  double sp = log1p(e);
  if (bxLo != 0.0) sp += bxLo * (e / (1.0 + e));
  return sp / beta;
}

inline double softplus_prime(double x, double beta, double threshold) {
  double bx = beta * x;
  if (bx > threshold) return 1.0;
  if (isinf(bx) && bx < 0) return 0.0;
  double bxLo = isfinite(bx) ? fma(beta, x, -bx) : 0.0;
  double s = sigmoid_d(bx);
  if (bxLo != 0.0) s += bxLo * s * (1.0 - s);
  return s;
}


inline double rrelu_slope_f64(ulong seed, ulong index, double lower, double width) {
  uint4 r = philox_at(seed, index);
  return fma(((double)(r.x >> 5) * 0x1p26 + (double)(r.y >> 6)) * 0x1p-53, width, lower);
}

/* grad * f'(x) rounded once; +0 where the derivative is 0 by definition (its limits at +-inf). */
#define TIMES(T, gv, d, xv) (((d) == 0.0 && isinf((double)(xv))) ? (T)0 : (T)((double)(gv) * (d)))

/* The smooth kernels, computed in double and rounded once to T, and PReLU's weight gradient. */
#define DEFINE_SMOOTH_KERNELS(T, SUFFIX) \
/* ELU's backward from its output y (alpha >= 0, so y <= 0 exactly where x <= 0): f' = y + alpha */ \
/* there, in double, the product rounded once; +0 where y + alpha is 0 (x = -inf, or far below). */ \
__kernel void elu_backward_from_output_##SUFFIX(ELEMENTWISE_ARGS_B(T)) { \
  size_t i = get_global_id(0); if (i >= n) return; T v = x[i]; \
  if (!(v <= 0)) { STORE(T, dx, i, v > 0 ? g[i] : v); return; } \
  double d = (double)v + (double)p0; STORE(T, dx, i, d == 0 ? (T)0 : (T)((double)g[i] * d)); } \
FORWARD_KERNEL(T, elu_forward, SUFFIX) { \
  size_t i = get_global_id(0); if (i >= n) return; STORE(T, y, i, (T)elu_d((double)x[i], (double)p0)); } \
__kernel void elu_backward_##SUFFIX(ELEMENTWISE_ARGS_B(T)) { \
  size_t i = get_global_id(0); if (i >= n) return; T v = x[i]; \
  if (p0 == 0) { STORE(T, dx, i, v > 0 ? g[i] : (v <= 0 ? (T)0 : v)); return; } \
  STORE(T, dx, i, TIMES(T, g[i], elu_prime((double)v, (double)p0), v)); } \
FORWARD_KERNEL(T, selu_forward, SUFFIX) { \
  size_t i = get_global_id(0); if (i >= n) return; STORE(T, y, i, (T)selu_d((double)x[i])); } \
__kernel void selu_backward_##SUFFIX(ELEMENTWISE_ARGS_B(T)) { \
  size_t i = get_global_id(0); if (i >= n) return; T v = x[i]; STORE(T, dx, i, TIMES(T, g[i], selu_prime((double)v), v)); } \
FORWARD_KERNEL(T, celu_forward, SUFFIX) { \
  size_t i = get_global_id(0); if (i >= n) return; STORE(T, y, i, (T)celu_d((double)x[i], (double)p0)); } \
__kernel void celu_backward_##SUFFIX(ELEMENTWISE_ARGS_B(T)) { \
  size_t i = get_global_id(0); if (i >= n) return; T v = x[i]; STORE(T, dx, i, TIMES(T, g[i], celu_prime((double)v, (double)p0), v)); } \
FORWARD_KERNEL(T, gelu_forward, SUFFIX) { \
  size_t i = get_global_id(0); if (i >= n) return; STORE(T, y, i, (T)gelu_d((double)x[i])); } \
__kernel void gelu_backward_##SUFFIX(ELEMENTWISE_ARGS_B(T)) { \
  size_t i = get_global_id(0); if (i >= n) return; T v = x[i]; \
  STORE(T, dx, i, v < GELU_ZERO_DERIVATIVE_BELOW ? (T)0 : TIMES(T, g[i], gelu_prime((double)v), v)); } \
FORWARD_KERNEL(T, gelu_tanh_forward, SUFFIX) { \
  size_t i = get_global_id(0); if (i >= n) return; STORE(T, y, i, (T)gelu_tanh_d((double)x[i])); } \
__kernel void gelu_tanh_backward_##SUFFIX(ELEMENTWISE_ARGS_B(T)) { \
  size_t i = get_global_id(0); if (i >= n) return; T v = x[i]; \
  STORE(T, dx, i, v < GELU_TANH_ZERO_DERIVATIVE_BELOW ? (T)0 : TIMES(T, g[i], gelu_tanh_prime((double)v), v)); } \
FORWARD_KERNEL(T, silu_forward, SUFFIX) { \
  size_t i = get_global_id(0); if (i >= n) return; STORE(T, y, i, (T)silu_d((double)x[i])); } \
__kernel void silu_backward_##SUFFIX(ELEMENTWISE_ARGS_B(T)) { \
  size_t i = get_global_id(0); if (i >= n) return; T v = x[i]; STORE(T, dx, i, TIMES(T, g[i], silu_prime((double)v), v)); } \
FORWARD_KERNEL(T, mish_forward, SUFFIX) { \
  size_t i = get_global_id(0); if (i >= n) return; STORE(T, y, i, (T)mish_d((double)x[i])); } \
__kernel void mish_backward_##SUFFIX(ELEMENTWISE_ARGS_B(T)) { \
  size_t i = get_global_id(0); if (i >= n) return; T v = x[i]; STORE(T, dx, i, TIMES(T, g[i], mish_prime((double)v), v)); } \
FORWARD_KERNEL(T, softplus_forward, SUFFIX) { \
  size_t i = get_global_id(0); if (i >= n) return; STORE(T, y, i, (T)softplus_d((double)x[i], (double)p0, (double)p1)); } \
__kernel void softplus_backward_##SUFFIX(ELEMENTWISE_ARGS_B(T)) { \
  size_t i = get_global_id(0); if (i >= n) return; T v = x[i]; \
  STORE(T, dx, i, TIMES(T, g[i], softplus_prime((double)v, (double)p0, (double)p1), v)); } \
/* One work-item per weight, summing in double in flat C order: the CPU backend's order, so the */ \
/* result is the same bit for bit, and the same for any launch geometry. */ \
__kernel void prelu_weight_##SUFFIX(__global const T* x, __global const T* g, __global T* gw, \
    const ulong outer, const ulong channels, const ulong inner, const ulong weights) { \
  size_t c = get_global_id(0); if (c >= weights) return; \
  double sum = 0.0; \
  if (weights == 1) { \
    ulong total = outer * channels * inner; \
    for (ulong i = 0; i < total; i++) { double v = x[i]; if (!(v > 0)) sum += (double)g[i] * v; } \
  } else { \
    for (ulong o = 0; o < outer; o++) { \
      ulong base = (o * channels + c) * inner; \
      for (ulong i = base; i < base + inner; i++) { double v = x[i]; if (!(v > 0)) sum += (double)g[i] * v; } \
    } \
  } \
  gw[c] = (T)sum; }

DEFINE_LINEAR_KERNELS(float, f32, rrelu_slope_f32)
DEFINE_LINEAR_KERNELS(double, f64, rrelu_slope_f64)
DEFINE_SMOOTH_KERNELS(float, f32)
DEFINE_SMOOTH_KERNELS(double, f64)
DEFINE_STATS_KERNELS(float, f32)
DEFINE_STATS_KERNELS(double, f64)

// ------------------------------------------------------------------ float16 and bfloat16 buffers
/* A float16 or bfloat16 buffer (Rectifier's 16-bit paths) is widened exactly to double by
   widen_<f16|bf16>(h, from, w, n), computed by the f64 kernels, and rounded back once by
   narrow_<f16|bf16>(w, x, tie, h, from, n): to nearest, ties to even, as HalfFloats does in Java
   (scaled by a power of two so that the type's last place is 1, then rint, which rounds ties to
   even). Only on the double path: without double there is nothing exact to widen to. */
#define F16_OVERFLOW 65520.0
#define BF16_OVERFLOW 0x1.ffp+127
#define HALF_TINY 0x1p-64

inline double f16_value(ushort h) {
  int e = (h >> 10) & 0x1f;
  int m = h & 0x3ff;
  double a = e == 0 ? m * 0x1p-24 : e == 31 ? (m == 0 ? (double)INFINITY : (double)NAN) : ldexp((double)(1024 + m), e - 25);
  return (h & 0x8000) != 0 ? -a : a;
}

inline double bf16_value(ushort b) {
  int e = (b >> 7) & 0xff;
  int m = b & 0x7f;
  double a = e == 0 ? m * 0x1p-133 : e == 255 ? (m == 0 ? (double)INFINITY : (double)NAN) : ldexp((double)(128 + m), e - 134);
  return (b & 0x8000) != 0 ? -a : a;
}

inline ushort f16_bits(double v) {
  int sign = signbit(v) ? 0x8000 : 0;
  if (isnan(v)) return (ushort)(sign | 0x7e00);
  double a = fabs(v);
  if (a >= F16_OVERFLOW) return (ushort)(sign | 0x7c00);
  int bits = a < 0x1p-14 ? (int)rint(a * 0x1p24) : ((ilogb(a) + 15) << 10) + (int)rint(ldexp(a, 10 - ilogb(a))) - 1024;
  return (ushort)(sign | bits);
}

inline ushort bf16_bits(double v) {
  int sign = signbit(v) ? 0x8000 : 0;
  if (isnan(v)) return (ushort)(sign | 0x7fc0);
  double a = fabs(v);
  if (a >= BF16_OVERFLOW) return (ushort)(sign | 0x7f80);
  int bits = a < 0x1p-126 ? (int)rint(ldexp(a, 133)) : ((ilogb(a) + 127) << 7) + (int)rint(ldexp(a, 7 - ilogb(a))) - 128;
  return (ushort)(sign | bits);
}

/* HalfRounding.tieBroken, for bfloat16 where bf is not 0, else float16: where tie is not 0, a v
   exactly on a midpoint of the type, for a nonzero x below HALF_TINY (f(x) = c x + d x^2 with
   d x^2 lost in double), moves one double step to the side tie gives (the sign of d), so that the
   one rounding goes the way the exact value does. */
inline double half_value(int bf, ushort b) { return bf ? bf16_value(b) : f16_value(b); }

inline ushort half_bits(int bf, double v) { return bf ? bf16_bits(v) : f16_bits(v); }

inline double tie_broken(int bf, double tie, double x, double v) {
  if (tie == 0 || x == 0 || !(fabs(x) < HALF_TINY) || v == 0) return v;
  ushort b = half_bits(bf, v);
  double r = half_value(bf, b);
  if (r == v) return v;
  double o = half_value(bf, (ushort)(fabs(r) < fabs(v) ? b + 1 : b - 1));
  return (r + o) / 2 == v ? nextafter(v, tie > 0 ? (double)INFINITY : -(double)INFINITY) : v;
}

__kernel void widen_f16(__global const ushort* h, const ulong from, __global double* w, const ulong n) {
  size_t i = get_global_id(0); if (i < n) w[i] = f16_value(h[from + i]); }
__kernel void widen_bf16(__global const ushort* h, const ulong from, __global double* w, const ulong n) {
  size_t i = get_global_id(0); if (i < n) w[i] = bf16_value(h[from + i]); }
__kernel void narrow_f16(__global const double* w, __global const double* x, const double tie,
    __global ushort* h, const ulong from, const ulong n) {
  size_t i = get_global_id(0); if (i < n) h[from + i] = f16_bits(tie_broken(0, tie, x[i], w[i])); }
__kernel void narrow_bf16(__global const double* w, __global const double* x, const double tie,
    __global ushort* h, const ulong from, const ulong n) {
  size_t i = get_global_id(0); if (i < n) h[from + i] = bf16_bits(tie_broken(1, tie, x[i], w[i])); }

#else
// ================================================================== float-only path
/*
 * float32 on devices without cl_khr_fp64. OpenCL's float builtins are allowed errors the contract
 * does not (erfc 16 ULP, tanh 5), so nothing here leans on them for accuracy: every smooth function
 * is evaluated in float-float ("ff": hi + lo, |lo| <= ulp(hi)/2, about 48 bits) with our own exp and
 * erfcx, and rounded to float once at the end. The structure is that of the double path: the same
 * formulas, the same Taylor series around the roots of f', the same branches at the same points.
 *
 * Results that underflow float before the last multiplication (silu(-100) = -3.7e-42, or a gradient
 * g * exp(-100) with g = 1e30) are carried as ffx = m * 2^k with the exponent k apart, and scaled
 * once at the end. Subnormal results are rounded twice (to 24 bits, then to the subnormal's
 * precision), within 1 ULP; devices that flush float denormals to zero flush them.
 *
 * PReLU's weight gradient sums in float-float in the CPU backend's order: deterministic, and equal
 * to the CPU's double sum but for the last bit in rare cases.
 */
// ---- BEGIN float_constants.py (do not edit by hand)
#define FF_LN2_1 0.693115234375f
#define FF_LN2_2 3.194618329871446e-05f
#define FF_LN2_3 1.6465949697480609e-12f
#define FF_LOG2E 1.4426950216293335f
#define FF_INV_SQRT2 (float2)(0.7071067690849304f, 1.2101617485882343e-08f)
#define FF_SQRT_2_OVER_PI (float2)(0.7978845834732056f, -2.2670340271702116e-08f)
#define FF_GELU_K (float2)(0.044714998453855515f, 1.5461444347053543e-09f)
#define FF_INV_SQRT_PI (float2)(0.564189612865448f, -2.9317691385699618e-08f)
#define FF_INV_SQRT_2PI (float2)(0.3989422917366028f, -1.1335170135851058e-08f)
#define FF_SELU_SCALE (float2)(1.0507010221481323f, -3.479265231476347e-08f)
#define FF_SELU_SCALE_ALPHA (float2)(1.7580993175506592f, 2.3296717444054593e-08f)
#define FF_ERFCX_K (float2)(3.75f, 0.0f)
__constant float2 FF_EXP_TAYLOR[9] = {
    (float2)(0.1666666716337204f, -4.967053879312289e-09f),
    (float2)(0.0416666679084301f, -1.2417634698280722e-09f),
    (float2)(0.008333333767950535f, -4.34617203337595e-10f),
    (float2)(0.0013888889225199819f, -3.3631094437103215e-11f),
    (float2)(0.00019841270113829523f, -2.725596874933456e-12f),
    (float2)(2.4801587642286904e-05f, -3.40699609366682e-13f),
    (float2)(2.7557318844628753e-06f, 3.793571224297229e-14f),
    (float2)(2.755731998149713e-07f, -7.575112209051195e-15f),
    (float2)(2.5052107943679403e-08f, 4.4176230446483665e-16f),
};
// erfcx Chebyshev series: worst relative error 1.11e-14 on [0, 30]
#define FF_ERFCX_S_SCALE (float2)(1.125f, 0.0f)
#define FF_ERFCX_S_SHIFT (float2)(-0.125f, 0.0f)
__constant float2 FF_ERFCX_CHEB[19] = {
    (float2)(1.666520118713379f, 1.1985329173569426e-08f),
    (float2)(-1.4094692468643188f, -2.396950726790692e-08f),
    (float2)(0.4910582900047302f, 1.4921587299099315e-09f),
    (float2)(-0.14188073575496674f, -2.7018218773378067e-09f),
    (float2)(0.03370072320103645f, 8.564516873477146e-10f),
    (float2)(-0.006395372562110424f, 2.212436761572789e-10f),
    (float2)(0.0009032778325490654f, 1.7290967269101287e-11f),
    (float2)(-7.543387619080022e-05f, 2.807794415807946e-13f),
    (float2)(-1.6612225408607628e-06f, -6.715067988694121e-15f),
    (float2)(1.4529990721712238e-06f, -2.5573832195804544e-14f),
    (float2)(-1.4222811728359375e-07f, -8.255759086344544e-16f),
    (float2)(-1.294610374458216e-08f, -2.7922636982607063e-16f),
    (float2)(3.969778283874348e-09f, -1.5359946572999223e-17f),
    (float2)(-1.3430620331156273e-11f, -1.0904255433722296e-19f),
    (float2)(-8.754898889185014e-11f, 2.7724132826184548e-18f),
    (float2)(4.443807301302005e-12f, -9.364671334721655e-20f),
    (float2)(1.9670586774017673e-12f, 1.0687087564949594e-19f),
    (float2)(-1.6104615742102563e-13f, 6.370039945191656e-21f),
    (float2)(-5.04625875320016e-14f, 1.2665092413563685e-21f),
};
#define FF_SILU_ROOT_HI -1.2784645557403564f
#define FF_SILU_ROOT_MID 1.2979282537628478e-08f
#define FF_SILU_ROOT_LO 1.1257466239192657e-16f
__constant float2 FF_SILU_SERIES[24] = {
    (float2)(0.2178117036819458f, 2.0378543297283613e-09f),
    (float2)(0.14664879441261292f, 2.584334080069084e-09f),
    (float2)(0.018874814733862877f, -5.100805888780258e-10f),
    (float2)(-0.015222655609250069f, 3.8606204344482364e-10f),
    (float2)(-0.006606589071452618f, -6.690407949871968e-11f),
    (float2)(0.0001266274048248306f, 5.2562914958087514e-12f),
    (float2)(0.0007985218544490635f, 2.7390735513055375e-11f),
    (float2)(0.0001857072493294254f, -5.71756053960315e-12f),
    (float2)(-4.090534275746904e-05f, 3.8318293308324536e-13f),
    (float2)(-2.9733542760368437e-05f, 5.471045166384469e-13f),
    (float2)(-2.942631908808835e-06f, 1.996637074696151e-14f),
    (float2)(2.3460297597921453e-06f, -7.732828049764051e-14f),
    (float2)(8.599694751865172e-07f, 2.7640340171286755e-14f),
    (float2)(-3.0512445903241314e-08f, -1.5973129208337678e-15f),
    (float2)(-9.266646117112032e-08f, -1.9215541684273986e-15f),
    (float2)(-1.8877623020330248e-08f, 1.1260228360694094e-16f),
    (float2)(4.6193799896343535e-09f, -2.2060274309056768e-16f),
    (float2)(2.9177602556273996e-09f, 4.7062980272963894e-17f),
    (float2)(2.364831386270083e-10f, 1.190402402406085e-17f),
    (float2)(-2.251366176819758e-10f, -2.5061322629090594e-18f),
    (float2)(-7.503445781376072e-11f, -3.1247680285331274e-18f),
    (float2)(3.998548020467396e-12f, -1.457433948934644e-19f),
    (float2)(8.042740952396432e-12f, -1.9702245364064332e-19f),
    (float2)(1.4842854592980737e-12f, 5.238115089760939e-20f),
};
#define FF_MISH_ROOT_HI -1.1924312114715576f
#define FF_MISH_ROOT_MID -3.0439375464652585e-09f
#define FF_MISH_ROOT_LO -4.8484830954048644e-17f
__constant float2 FF_MISH_SERIES[24] = {
    (float2)(0.2669479250907898f, -1.1041255021382312e-08f),
    (float2)(0.2047312706708908f, -6.59078480680364e-09f),
    (float2)(0.04190782085061073f, 1.9299914444381727e-10f),
    (float2)(-0.020271822810173035f, 9.348878615700329e-11f),
    (float2)(-0.015821127220988274f, 6.592548729145165e-10f),
    (float2)(-0.003360684961080551f, 3.40572813006812e-11f),
    (float2)(0.0010924055241048336f, 1.6839751815211912e-11f),
    (float2)(0.000989818130619824f, -2.849090408041377e-11f),
    (float2)(0.0002541293506510556f, 1.3210855152878676e-11f),
    (float2)(-4.196149529889226e-05f, -7.328038458161157e-13f),
    (float2)(-5.5828913900768384e-05f, -1.7728384949303178e-12f),
    (float2)(-1.7299271348747425e-05f, 5.384430423228947e-13f),
    (float2)(9.427361078451213e-07f, 2.4892543267537176e-14f),
    (float2)(2.908819851654698e-06f, 8.483652284363777e-14f),
    (float2)(1.0716767064877786e-06f, -3.7857044905028996e-15f),
    (float2)(2.687941780266101e-08f, 5.2896717865108425e-17f),
    (float2)(-1.4117256341705797e-07f, 4.222064101192793e-15f),
    (float2)(-6.174424527216615e-08f, 1.6411171238219055e-15f),
    (float2)(-5.460186081052143e-09f, -9.197623724791068e-17f),
    (float2)(6.3895955193515874e-09f, -5.784260280113039e-17f),
    (float2)(3.360401290564141e-09f, -5.219800832785223e-17f),
    (float2)(4.817646281907173e-10f, 1.8311524694754826e-18f),
    (float2)(-2.675187293910142e-10f, 1.3447902043470648e-17f),
    (float2)(-1.744221017618841e-10f, 4.628057329260714e-18f),
};
#define FF_GELU_ROOT_HI -0.7517915368080139f
#define FF_GELU_ROOT_MID 1.211444988769017e-08f
#define FF_GELU_ROOT_LO -4.291324608861238e-16f
__constant float2 FF_GELU_SERIES[24] = {
    (float2)(0.43149399757385254f, -5.259805480051227e-09f),
    (float2)(0.38828498125076294f, 1.7397890905712643e-09f),
    (float2)(-0.018199676647782326f, 2.491112316427291e-10f),
    (float2)(-0.11400823295116425f, -3.460574604652322e-10f),
    (float2)(-0.014771522022783756f, -1.2546058636431212e-10f),
    (float2)(0.01942167989909649f, -6.090742493691792e-11f),
    (float2)(0.00453922851011157f, -1.3098615248008372e-10f),
    (float2)(-0.002239538123831153f, 5.575765543719413e-11f),
    (float2)(-0.0007448268588632345f, 2.018855221885829e-11f),
    (float2)(0.00018633974832482636f, -2.0924913277792223e-12f),
    (float2)(8.615948172518983e-05f, -3.1140240126098506e-12f),
    (float2)(-1.121437981055351e-05f, -3.7787313425866054e-13f),
    (float2)(-7.748461030132603e-06f, -2.7687110958941885e-13f),
    (float2)(4.3284507000862504e-07f, -7.434702098483691e-15f),
    (float2)(5.702764838133589e-07f, 1.411085146435032e-14f),
    (float2)(-1.604426591583774e-09f, 4.2159132655671876e-17f),
    (float2)(-3.545986615449692e-08f, -3.072869567120499e-16f),
    (float2)(-1.3969421175374919e-09f, 3.1111288542078937e-17f),
    (float2)(1.903198487696045e-09f, -8.268290277054681e-17f),
    (float2)(1.4506418288817713e-10f, 6.499617158069105e-18f),
    (float2)(-8.950037932997645e-11f, 2.402713800029464e-18f),
    (float2)(-9.950340898456922e-12f, 7.364886594396844e-20f),
    (float2)(3.7259670175593396e-12f, 2.171077850871917e-20f),
    (float2)(5.48229322182292e-13f, -2.570805934863492e-20f),
};
#define FF_GELU_TANH_ROOT_HI -0.7524614334106445f
#define FF_GELU_TANH_ROOT_MID 1.1339627903339533e-08f
#define FF_GELU_TANH_ROOT_LO 3.694225143957672e-16f
__constant float2 FF_GELU_TANH_SERIES[24] = {
    (float2)(0.4304001033306122f, -1.2305753749330961e-08f),
    (float2)(0.38751843571662903f, 1.041915975719121e-08f),
    (float2)(-0.015782853588461876f, 6.661384638340095e-11f),
    (float2)(-0.11394448578357697f, 2.702617907246463e-09f),
    (float2)(-0.016619328409433365f, 6.638080363163823e-11f),
    (float2)(0.01968230865895748f, 8.008756435806674e-10f),
    (float2)(0.005261059384793043f, -1.2987112774087706e-10f),
    (float2)(-0.0024227318353950977f, -1.047999968056823e-11f),
    (float2)(-0.0009274420444853604f, 2.1464816035710044e-11f),
    (float2)(0.00026392764993943274f, -9.412622591076225e-12f),
    (float2)(0.00012425228487700224f, -6.850604285235651e-12f),
    (float2)(-3.495617056614719e-05f, -1.1282889770050653e-12f),
    (float2)(-1.5950896340655163e-05f, -5.309899655386863e-13f),
    (float2)(5.918611805100227e-06f, -9.420621834704823e-14f),
    (float2)(2.4335515718121314e-06f, 6.261782542135719e-14f),
    (float2)(-9.898648158923606e-07f, 4.114899271475368e-14f),
    (float2)(-4.3102483004986425e-07f, 1.695741034510694e-16f),
    (float2)(1.4157556904592639e-07f, 8.313683434442529e-16f),
    (float2)(7.520741007738252e-08f, -9.844833129458606e-16f),
    (float2)(-1.6978217942664742e-08f, 4.828837423507832e-16f),
    (float2)(-1.1961808432658927e-08f, -4.7065481667136254e-17f),
    (float2)(1.7637802329772967e-09f, 3.781345989828574e-17f),
    (float2)(1.7449871547725593e-09f, -1.6925938438905013e-17f),
    (float2)(-1.708811148137812e-10f, -6.881392443625605e-18f),
};
// ---- END float_constants.py

typedef float2 ff;
typedef struct {
  ff m;
  int k;
} ffx;

inline ff ff_of(float a) { return (ff)(a, 0.0f); }

/* a + b exactly, as hi + lo (Knuth). */
inline ff two_sum(float a, float b) {
  float s = a + b;
  float bb = s - a;
  return (ff)(s, (a - (s - bb)) + (b - bb));
}

/* a + b exactly when |a| >= |b| or a == 0 (Dekker). */
inline ff quick_two_sum(float a, float b) {
  float s = a + b;
  return (ff)(s, b - (s - a));
}

/* a * b exactly, as hi + lo: fma is correctly rounded in OpenCL C. */
inline ff two_prod(float a, float b) {
  float p = a * b;
  return (ff)(p, fma(a, b, -p));
}

inline ff ff_add(ff a, ff b) {
  ff s = two_sum(a.x, b.x);
  ff t = two_sum(a.y, b.y);
  s = quick_two_sum(s.x, s.y + t.x);
  return quick_two_sum(s.x, s.y + t.y);
}

inline ff ff_add_f(ff a, float b) {
  ff s = two_sum(a.x, b);
  return quick_two_sum(s.x, s.y + a.y);
}

inline ff ff_sub(ff a, ff b) { return ff_add(a, -b); }

/* Products and quotients that are 0 or not finite are returned as such, so that zeros keep the
   sign a double product would give them and infinities do not turn into NaN. */
inline ff ff_mul(ff a, ff b) {
  ff p = two_prod(a.x, b.x);
  if (p.x == 0 || !isfinite(p.x)) return (ff)(p.x, 0.0f);
  return quick_two_sum(p.x, p.y + (a.x * b.y + a.y * b.x));
}

inline ff ff_mul_f(ff a, float b) {
  ff p = two_prod(a.x, b);
  if (p.x == 0 || !isfinite(p.x)) return (ff)(p.x, 0.0f);
  return quick_two_sum(p.x, p.y + a.y * b);
}

inline ff ff_div(ff a, ff b) {
  float q = a.x / b.x;
  if (q == 0 || !isfinite(q)) return (ff)(q, 0.0f);
  ff r = ff_sub(a, ff_mul_f(b, q));
  return quick_two_sum(q, r.x / b.x);
}

inline ff ff_sqr(ff a) { return ff_mul(a, a); }

inline ffx ffx_of(ff m) {
  ffx r;
  r.m = m;
  r.k = 0;
  return r;
}

/* The value as ff, when it is within the normal range of float (or negligibly small). */
inline ff ffx_ff(ffx v) {
  if (v.k < -100) return (ff)(0.0f, 0.0f);
  return (ff)(ldexp(v.m.x, v.k), ldexp(v.m.y, v.k));
}

/* Rounded to float: m.x is m rounded already; the scaling is exact unless the result is subnormal. */
inline float ffx_float(ffx v) { return ldexp(v.m.x, v.k); }

/* exp(a) = m * 2^k, m in [0.7, 1.42], relative error below 2^-44 (Cody-Waite reduction by
   k ln 2, Taylor series to degree 11 on |r| <= ln(2)/2). Below -745.1332, where double's exp is
   0, m is 0: the double path's exact zeros (and their NaN with an infinite gradient) are kept.
   a above 2000 gives m = inf: callers stay below. */
inline ffx ff_exp(ff a) {
  ffx r;
  if (isnan(a.x)) {
    r.m = a;
    r.k = 0;
    return r;
  }
  if (a.x < -745.1332f) {
    r.m = (ff)(0.0f, 0.0f);
    r.k = 0;
    return r;
  }
  if (a.x > 2000.0f) {
    r.m = (ff)(INFINITY, 0.0f);
    r.k = 0;
    return r;
  }
  float kf = rint(a.x * FF_LOG2E);
  ff t = ff_sub(ff_of(a.x - kf * FF_LN2_1), two_prod(kf, FF_LN2_2));
  t = ff_add_f(t, a.y - kf * FF_LN2_3);
  // q = sum_{n>=3} t^(n-3)/n!: the terms from n = 7 on are below 2^-23 and need float only.
  float h = FF_EXP_TAYLOR[8].x;
  for (int i = 7; i >= 4; i--) h = h * t.x + FF_EXP_TAYLOR[i].x;
  ff q = ff_add(ff_mul_f(t, h), FF_EXP_TAYLOR[3]);
  for (int i = 2; i >= 0; i--) q = ff_add(ff_mul(q, t), FF_EXP_TAYLOR[i]);
  ff s = ff_mul(ff_add_f(ff_mul(q, t), 0.5f), ff_sqr(t));
  r.m = ff_add_f(ff_add(s, t), 1.0f);
  r.k = (int)kf;
  return r;
}

/* exp(a) - 1 for a.x <= 40: Taylor series near 0, exp(a) - 1 elsewhere (no cancellation there). */
inline ff ff_expm1(ff a) {
  if (fabs(a.x) < 0.34f) {
    float h = FF_EXP_TAYLOR[8].x;
    for (int i = 7; i >= 4; i--) h = h * a.x + FF_EXP_TAYLOR[i].x;
    ff q = ff_add(ff_mul_f(a, h), FF_EXP_TAYLOR[3]);
    for (int i = 2; i >= 0; i--) q = ff_add(ff_mul(q, a), FF_EXP_TAYLOR[i]);
    return ff_add(ff_mul(ff_add_f(ff_mul(q, a), 0.5f), ff_sqr(a)), a);
  }
  return ff_add_f(ffx_ff(ff_exp(a)), -1.0f);
}

/* log1p(w) for 0 <= w <= 1: the builtin's float value, then one Newton step on expm1 in ff. */
inline ff ff_log1p(ff w) {
  float y0 = log1p(w.x);
  ff num = ff_sub(w, ff_expm1(ff_of(y0)));
  return ff_add_f(ff_div(num, ff_add_f(w, 1.0f)), y0);
}

/* g * d rounded once (twice where subnormal). */
inline float times_ffx(float g, ffx d) {
  if (!isfinite(g) || d.m.x == 0) return g * d.m.x;
  if (fabs(g) > 0x1p100f) return ldexp(ff_mul_f(d.m, g * 0x1p-64f).x, d.k + 64);
  return ldexp(ff_mul_f(d.m, g).x, d.k);
}

/* sum c[k] d^(k+1), d = x - root: f' near its root, where the closed forms cancel. */
inline ffx ff_series(__constant const float2* c, int len, float hi, float mid, float lo, float x) {
  ff d = two_sum(x, -hi);
  d = ff_add_f(d, -mid);
  d = ff_add_f(d, -lo);
  ff p = c[len - 1];
  for (int k = len - 2; k >= 0; k--) p = ff_add(ff_mul(p, d), c[k]);
  return ffx_of(ff_mul(p, d));
}

#define FF_ROOT_RADIUS 0.5f
#define FF_SERIES(NAME, x) \
  ff_series(FF_##NAME##_SERIES, (int)(sizeof(FF_##NAME##_SERIES) / sizeof(float2)), \
            FF_##NAME##_ROOT_HI, FF_##NAME##_ROOT_MID, FF_##NAME##_ROOT_LO, x)
#define NEAR_ROOT(NAME, x) (fabs((x) - FF_##NAME##_ROOT_HI) <= FF_ROOT_RADIUS)

// ------------------------------------------------------------------ exponential linear units

inline float elu_f(float x, float alpha) {
  if (x > 0 || isnan(x)) return x;
  if (x == 0) return alpha * -0.0f;
  return ff_mul_f(ff_expm1(ff_of(x)), alpha).x;
}

inline ffx elu_prime_f(float x, float alpha) {
  if (x > 0) return ffx_of(ff_of(1.0f));
  if (isinf(x)) return ffx_of(ff_of(alpha * 0.0f));
  ffx e = ff_exp(ff_of(x));
  e.m = ff_mul_f(e.m, alpha);
  return e;
}

inline float selu_f(float x) {
  if (isnan(x)) return x;
  if (x > 0) return isinf(x) ? x : ff_mul_f(FF_SELU_SCALE, x).x;
  if (x == 0) return -0.0f;
  return ff_mul(ff_expm1(ff_of(x)), FF_SELU_SCALE_ALPHA).x;
}

inline ffx selu_prime_f(float x) {
  if (x > 0) return ffx_of(FF_SELU_SCALE);
  if (isinf(x)) return ffx_of(ff_of(0.0f));
  ffx e = ff_exp(ff_of(x));
  e.m = ff_mul(e.m, FF_SELU_SCALE_ALPHA);
  return e;
}

inline float celu_f(float x, float alpha) {
  if (x > 0 || isnan(x)) return x;
  if (x == 0) return -0.0f;  // alpha * expm1(-0/alpha): -0 for either sign of alpha
  float q0 = x / alpha;
  if (!isfinite(q0)) return alpha * expm1(q0);
  ff q = ff_div(ff_of(x), ff_of(alpha));
  if (q.x > 40.0f) {  // alpha < 0: expm1(q) = exp(q) to 2^-57, and may pass float's range
    ffx e = ff_exp(q);
    e.m = ff_mul_f(e.m, alpha);
    return ffx_float(e);
  }
  return ff_mul_f(ff_expm1(q), alpha).x;
}

inline ffx celu_prime_f(float x, float alpha) {
  if (x > 0) return ffx_of(ff_of(1.0f));
  float q0 = x / alpha;
  if (!isfinite(q0)) return ffx_of(ff_of(exp(q0)));
  return ff_exp(ff_div(ff_of(x), ff_of(alpha)));
}

// ------------------------------------------------------------------ GELU (erf form)

/* erfcx(z) = exp(z^2) erfc(z) for 0 <= z <= 30: g(s) / (z + K), g a Chebyshev series (Clenshaw). */
inline ff ff_erfcx(ff z) {
  ff zk = ff_add(z, FF_ERFCX_K);
  ff t = ff_div(ff_sub(z, FF_ERFCX_K), zk);
  ff s = ff_sub(ff_mul(t, FF_ERFCX_S_SCALE), FF_ERFCX_S_SHIFT);
  ff s2 = s * 2.0f;
  int n = (int)(sizeof(FF_ERFCX_CHEB) / sizeof(float2));
  ff b1 = (ff)(0.0f, 0.0f);
  ff b2 = (ff)(0.0f, 0.0f);
  for (int j = n - 1; j >= 1; j--) {
    ff b0 = ff_add(ff_sub(ff_mul(s2, b1), b2), FF_ERFCX_CHEB[j]);
    b2 = b1;
    b1 = b0;
  }
  ff g = ff_add(ff_sub(ff_mul(s, b1), b2), FF_ERFCX_CHEB[0]);
  return ff_div(g, zk);
}

/* exp(-x^2/2) (x^2 is exact in ff), for |x| <= 42: not made 0 below double's range, as ff_exp
   does, because the double path forms the product with exp(-x^2/4) twice (see gelu_prime_f). */
inline ffx ff_exp_minus_half_square(float x) {
  ff s = two_prod(x, x);
  ff a = (ff)(-0.5f * s.x, -0.5f * s.y);
  ffx q = ff_exp(a * 0.5f);
  ffx r = q;
  r.m = ff_mul(q.m, q.m);
  r.k = 2 * q.k;
  return r;
}

/* Phi(x), the standard normal CDF, for |x| <= 42: 1 - erfc(z)/2 or erfc(z)/2, z = |x|/sqrt(2). */
inline ffx ff_phi(float x) {
  ff z = ff_mul_f(FF_INV_SQRT2, fabs(x));
  ffx h = ff_exp_minus_half_square(x);
  h.m = ff_mul_f(ff_mul(h.m, ff_erfcx(z)), 0.5f);
  if (x < 0) return h;
  return ffx_of(ff_add_f(-ffx_ff(h), 1.0f));
}

inline float gelu_f(float x) {
  if (isnan(x) || x == 0) return x;
  if (x > 42.0f) return x;
  if (x < -42.0f) return -0.0f;
  ffx p = ff_phi(x);
  p.m = ff_mul_f(p.m, x);
  return ffx_float(p);
}

inline ffx gelu_prime_f(float x) {
  if (x > 40.0f) return ffx_of(ff_of(1.0f));
  if (x < -40.0f) return ffx_of(ff_of(0.0f));
  if (NEAR_ROOT(GELU, x)) return FF_SERIES(GELU, x);
  ffx e = ff_exp_minus_half_square(x);
  if (x < 0) {
    // exp(-z^2) (erfcx(z)/2 - z/sqrt(pi)), z = -x/sqrt(2): Phi and x phi share exp(-z^2).
    ff z = ff_mul_f(FF_INV_SQRT2, -x);
    ff a = ff_add(ff_mul_f(ff_erfcx(z), 0.5f), ff_mul_f(FF_INV_SQRT_2PI, x));
    e.m = ff_mul(e.m, a);
    // The double path's value is 0 where it is below half the least double subnormal.
    if (e.m.x != 0 && ilogb(e.m.x) + e.k <= -1076) e.m = (ff)(copysign(0.0f, e.m.x), 0.0f);
    return e;
  }
  ff xphi = ff_mul_f(ff_mul(ffx_ff(e), FF_INV_SQRT_2PI), x);
  return ffx_of(ff_add(ffx_ff(ff_phi(x)), xphi));
}

// ------------------------------------------------------------------ GELU (tanh form)

/* u = sqrt(2/pi) (x + 0.044715 x^3), |x| <= 30. */
inline ff gelu_tanh_u(float x) {
  ff x2 = two_prod(x, x);
  ff t = ff_add_f(ff_mul(FF_GELU_K, ff_mul_f(x2, x)), x);
  return ff_mul(FF_SQRT_2_OVER_PI, t);
}

inline float gelu_tanh_f(float x) {
  if (isnan(x) || x == 0) return x;
  if (x > 30.0f) return x;
  if (x < -30.0f) return -0.0f;
  ff u = gelu_tanh_u(x);
  if (x > 0) {  // x / (1 + exp(-2u))
    ff e = ffx_ff(ff_exp(u * -2.0f));
    return ff_div(ff_of(x), ff_add_f(e, 1.0f)).x;
  }
  ffx e = ff_exp(u * 2.0f);  // x E / (1 + E), E = exp(2u) <= 1
  if (e.k < -100) {
    e.m = ff_mul_f(e.m, x);
    return ffx_float(e);
  }
  ff ef = ffx_ff(e);
  return ff_div(ff_mul_f(ef, x), ff_add_f(ef, 1.0f)).x;
}

inline ffx gelu_tanh_prime_f(float x) {
  if (x > 30.0f) return ffx_of(ff_of(1.0f));
  if (x < -30.0f) return ffx_of(ff_of(0.0f));
  if (NEAR_ROOT(GELU_TANH, x)) return FF_SERIES(GELU_TANH, x);
  // f' = (1 + e a) / (1 + e)^2, e = exp(-2u), a = 1 + 2 sqrt(2/pi) x (1 + 3K x^2)
  ff u = gelu_tanh_u(x);
  ff q = ff_add_f(ff_mul(ff_mul_f(FF_GELU_K, 3.0f), two_prod(x, x)), 1.0f);
  ff a = ff_add_f(ff_mul(ff_mul_f(FF_SQRT_2_OVER_PI, 2.0f * x), q), 1.0f);
  if (x >= 0) {
    ff e = ffx_ff(ff_exp(u * -2.0f));
    ff den = ff_add_f(e, 1.0f);
    return ffx_of(ff_div(ff_add_f(ff_mul(e, a), 1.0f), ff_sqr(den)));
  }
  // E (E + a) / (1 + E)^2 with E = exp(2u) = 1/e; -0 where the double path's e overflows
  if (u.x < -354.8913564466921f) return ffx_of(ff_of(-0.0f));
  ffx e = ff_exp(u * 2.0f);
  ff ef = ffx_ff(e);
  ff den = ff_add_f(ef, 1.0f);
  e.m = ff_div(ff_mul(e.m, ff_add(ef, a)), ff_sqr(den));
  return e;
}

// ------------------------------------------------------------------ SiLU, Mish, Softplus

inline float silu_f(float x) {
  if (isnan(x) || x == 0) return x;
  if (x > 100.0f) return x;  // exp(-x) < 2^-144
  if (x > 0) {
    ff e = ffx_ff(ff_exp(ff_of(-x)));
    return ff_div(ff_of(x), ff_add_f(e, 1.0f)).x;
  }
  if (isinf(x)) return -0.0f;
  ffx e = ff_exp(ff_of(x));
  if (e.k < -100) {
    e.m = ff_mul_f(e.m, x);
    return ffx_float(e);
  }
  ff ef = ffx_ff(e);
  return ff_div(ff_mul_f(ef, x), ff_add_f(ef, 1.0f)).x;
}

inline ffx silu_prime_f(float x) {
  if (x > 100.0f) return ffx_of(ff_of(1.0f));
  if (isinf(x)) return ffx_of(ff_of(0.0f));
  if (NEAR_ROOT(SILU, x)) return FF_SERIES(SILU, x);
  ff a = two_sum(1.0f, x);
  if (x >= 0) {  // (1 + e (1 + x)) / (1 + e)^2, e = exp(-x)
    ff e = ffx_ff(ff_exp(ff_of(-x)));
    ff n = ff_add_f(ff_mul(e, a), 1.0f);
    return ffx_of(ff_div(n, ff_sqr(ff_add_f(e, 1.0f))));
  }
  // e (1 + x + e) / (1 + e)^2, e = exp(x)
  ffx e = ff_exp(ff_of(x));
  ff ef = ffx_ff(e);
  e.m = ff_div(ff_mul(e.m, ff_add(a, ef)), ff_sqr(ff_add_f(ef, 1.0f)));
  return e;
}

inline float mish_f(float x) {
  if (isnan(x) || x == 0) return x;
  if (x > 40.0f) return x;
  if (isinf(x)) return -0.0f;
  if (x > 0) {  // tanh(softplus(x)) = (1 + 2E) / (1 + 2E + 2E^2), E = exp(-x)
    ff e = ffx_ff(ff_exp(ff_of(-x)));
    ff n = ff_add_f(e * 2.0f, 1.0f);
    return ff_mul_f(ff_div(n, ff_add(n, ff_sqr(e) * 2.0f)), x).x;
  }
  // n / (n + 2), n = e (e + 2), e = exp(x); for tiny e that is e
  ffx e = ff_exp(ff_of(x));
  if (e.k < -100) {
    e.m = ff_mul_f(e.m, x);
    return ffx_float(e);
  }
  ff ef = ffx_ff(e);
  ff n = ff_mul(ef, ff_add_f(ef, 2.0f));
  return ff_mul_f(ff_div(n, ff_add_f(n, 2.0f)), x).x;
}

inline ffx mish_prime_f(float x) {
  if (x > 40.0f) return ffx_of(ff_of(1.0f));
  if (isinf(x)) return ffx_of(ff_of(0.0f));
  if (NEAR_ROOT(MISH, x)) return FF_SERIES(MISH, x);
  ff c = two_sum(6.0f, 4.0f * x);
  ff a = two_sum(4.0f, 4.0f * x);
  if (x >= 0) {
    // (1 + 4E + (6+4x)E^2 + (4+4x)E^3) / (1 + 2E + 2E^2)^2, E = exp(-x): the double path's
    // fraction divided through by e^4, which float could not hold
    ff e = ffx_ff(ff_exp(ff_of(-x)));
    ff n = ff_add_f(ff_mul(e, ff_add_f(ff_mul(e, ff_add(ff_mul(e, a), c)), 4.0f)), 1.0f);
    ff d = ff_add_f(ff_mul(e, ff_add_f(e * 2.0f, 2.0f)), 1.0f);
    return ffx_of(ff_div(n, ff_sqr(d)));
  }
  // e (4+4x + e (6+4x + e (4 + e))) / (2 + e (2 + e))^2, e = exp(x)
  ffx e = ff_exp(ff_of(x));
  if (e.m.x == 0) return ffx_of(ff_of(-0.0f));  // as the double path, where 4x may not overflow
  ff ef = ffx_ff(e);
  ff inner = ff_add(ff_mul(ef, ff_add(ff_mul(ef, ff_add_f(ef, 4.0f)), c)), a);
  ff d = ff_add_f(ff_mul(ef, ff_add_f(ef, 2.0f)), 2.0f);
  e.m = ff_div(ff_mul(e.m, inner), ff_sqr(d));
  return e;
}

/* beta x > threshold, decided on the exact product as the double path does. */
inline bool softplus_linear(ff bx, float threshold) {
  return bx.x > threshold || (bx.x == threshold && bx.y > 0);
}

inline float softplus_f(float x, float beta, float threshold) {
  if (isnan(x)) return x;
  ff bx = two_prod(beta, x);
  if (isinf(bx.x)) return bx.x > 0 ? x : 0.0f / beta;
  if (softplus_linear(bx, threshold)) return x;
  // log1p(exp(bx)) = max(bx, 0) + log1p(exp(-|bx|)): exp stays below 1
  ffx e = ff_exp(bx.x > 0 ? -bx : bx);
  ff sp;
  if (e.k < -100) {
    if (bx.x <= 0) {  // log1p(e) = e to 2^-100
      e.m = ff_div(e.m, ff_of(beta));
      return ffx_float(e);
    }
    sp = bx;
  } else {
    sp = ff_log1p(ffx_ff(e));
    if (bx.x > 0) sp = ff_add(sp, bx);
  }
  return ff_div(sp, ff_of(beta)).x;
}

inline ffx softplus_prime_f(float x, float beta, float threshold) {
  if (isnan(x)) return ffx_of(ff_of(x));
  ff bx = two_prod(beta, x);
  if (isinf(bx.x)) return ffx_of(ff_of(bx.x > 0 ? 1.0f : 0.0f));
  if (softplus_linear(bx, threshold)) return ffx_of(ff_of(1.0f));
  if (bx.x >= 0) {  // sigmoid(bx) = 1 / (1 + exp(-bx))
    ff e = ffx_ff(ff_exp(-bx));
    return ffx_of(ff_div(ff_of(1.0f), ff_add_f(e, 1.0f)));
  }
  ffx e = ff_exp(bx);  // e / (1 + e)
  e.m = ff_div(e.m, ff_add_f(ffx_ff(e), 1.0f));
  return e;
}

// ------------------------------------------------------------------ kernels (float32 only)

/* grad * f'(x), rounded once; NaN for NaN x; +0 where the derivative is 0 by definition (its
   limits at +-inf), as TIMES does in the double path. */
#define FF_TIMES(gv, d, xv) \
  (isnan(xv) ? (xv) : ((isinf(xv) && (d).m.x == 0) ? 0.0f : times_ffx((gv), (d))))

/* ZERO_BELOW: where the derivative is +0 by selection, as GELU_ZERO_DERIVATIVE_BELOW and
   GELU_TANH_ZERO_DERIVATIVE_BELOW in the double path. */
#define FF_KERNELS(NAME, FORWARD, PRIME, ZERO_BELOW) \
FORWARD_KERNEL(float, NAME##_forward, f32) { \
  size_t i = get_global_id(0); if (i >= n) return; float v = x[i]; STORE(float, y, i, FORWARD); } \
__kernel void NAME##_backward_f32(ELEMENTWISE_ARGS_B(float)) { \
  size_t i = get_global_id(0); if (i >= n) return; float v = x[i]; \
  if (v < ZERO_BELOW) { STORE(float, dx, i, 0.0f); return; } \
  ffx d = PRIME; STORE(float, dx, i, FF_TIMES(g[i], d, v)); }

FF_KERNELS(selu, selu_f(v), selu_prime_f(v), -INFINITY)
FF_KERNELS(celu, celu_f(v, p0), celu_prime_f(v, p0), -INFINITY)
FF_KERNELS(gelu, gelu_f(v), gelu_prime_f(v), -40.0f)
FF_KERNELS(gelu_tanh, gelu_tanh_f(v), gelu_tanh_prime_f(v), -30.0f)
FF_KERNELS(silu, silu_f(v), silu_prime_f(v), -INFINITY)
FF_KERNELS(mish, mish_f(v), mish_prime_f(v), -INFINITY)
FF_KERNELS(softplus, softplus_f(v, p0, p1), softplus_prime_f(v, p0, p1), -INFINITY)

FORWARD_KERNEL(float, elu_forward, f32) {
  size_t i = get_global_id(0);
  if (i >= n) return;
  STORE(float, y, i, elu_f(x[i], p0));
}

__kernel void elu_backward_f32(ELEMENTWISE_ARGS_B(float)) {
  size_t i = get_global_id(0);
  if (i >= n) return;
  float v = x[i];
  if (p0 == 0) {
    STORE(float, dx, i, v > 0 ? g[i] : (v <= 0 ? 0.0f : v));
    return;
  }
  ffx d = elu_prime_f(v, p0);
  STORE(float, dx, i, FF_TIMES(g[i], d, v));
}

/* ELU's backward from its output y, as in the double path: y + alpha exactly (two_sum), the
   product with g rounded once; +0 where y + alpha is 0. */
__kernel void elu_backward_from_output_f32(ELEMENTWISE_ARGS_B(float)) {
  size_t i = get_global_id(0);
  if (i >= n) return;
  float v = x[i];
  if (!(v <= 0)) {
    STORE(float, dx, i, v > 0 ? g[i] : v);
    return;
  }
  ff d = two_sum(v, p0);
  STORE(float, dx, i, d.x == 0 ? 0.0f : times_ffx(g[i], ffx_of(d)));
}

/* One work-item per weight, summing the exact products g * x in float-float, in flat C order (the
   CPU backend's). Products beyond 2^100, where a float sum could overflow though the double sum
   would not, are summed apart scaled by 2^-64; infinite and NaN products apart again, and decide alone. */
__kernel void prelu_weight_f32(__global const float* x, __global const float* g, __global float* gw,
    const ulong outer, const ulong channels, const ulong inner, const ulong weights) {
  size_t c = get_global_id(0);
  if (c >= weights) return;
  ff sum = (ff)(0.0f, 0.0f);
  ff big = (ff)(0.0f, 0.0f);
  float special = 0.0f;
  ulong stride = weights == 1 ? 0 : 1;
  ulong runs = weights == 1 ? 1 : outer;
  ulong len = weights == 1 ? outer * channels * inner : inner;
  for (ulong o = 0; o < runs; o++) {
    ulong base = (o * channels + c) * inner * stride;
    for (ulong i = base; i < base + len; i++) {
      float v = x[i];
      if (v > 0) continue;
      float gv = g[i];
      float p = gv * v;
      if (isinf(gv) || isinf(v) || isnan(p)) special += p;
      else if (fabs(p) < 0x1p100f && fabs(sum.x) < 0x1p100f) sum = ff_add(sum, two_prod(gv, v));
      else big = ff_add(big, two_prod(gv * 0x1p-64f, v));
    }
  }
  float r = big.x == 0 ? sum.x : ff_add(big, sum * 0x1p-64f).x * 0x1p64f;
  // special is 0, +-inf or NaN: what the double sum ends as when any product is infinite or NaN
  gw[c] = special == 0 ? r : special;
}

DEFINE_LINEAR_KERNELS(float, f32, rrelu_slope_f32)
DEFINE_STATS_KERNELS(float, f32)
#endif
