/*
 * Rectifier's CUDA kernels: every function of the contract, forward and backward, float32 and
 * float64, with the names and arguments of kernels-opencl/rectifier.cl, and its numerics line for
 * line (the OpenCL file's double path; every CUDA GPU has double precision, so there is no
 * float-only path here). See that file for the why of each formula.
 *
 * Built to PTX by build-ptx.sh with --fmad=false: nvcc otherwise fuses a*b+c into fma, which breaks
 * the double-double steps and the bit-exact products, as FP_CONTRACT OFF prevents in OpenCL. The
 * math functions are CUDA's libdevice ones (exp, expm1, erfc, log1p: within 2 ULP in double), never
 * the --use_fast_math intrinsics.
 *
 * Kernel names: <function>_<forward|backward>_<f32|f64>. Elementwise kernels take
 *   forward (x, y, n, p0, p1, seed, index0, ba, bb), backward (x, g, dx, n, p0, p1, seed, index0, ba, bb),
 * one thread per element, any 1-D launch covering n; ba, bb are the output blend's alpha and beta
 * (Activation.blend: every write of y or dx goes through STORE). elu_backward_from_output_<type>
 * is ELU's backward from y = f(x): x is y there. <relu|leaky_relu|hardtanh>_forward_mask_<type>
 * take the forward's arguments then the mask's words; mask_backward_<type> takes the backward's with
 * the mask for x and p0 the slope where a bit is 0.
 * <function>_forward_stats_<type> (every forward but crelu's) take the forward's arguments then the
 * statistics records of their work-groups; stats_<type> takes those of an array, stats_reduce_<type>
 * folds them (see STATS_FOLD). widen_<f16|bf16> and narrow_<f16|bf16> convert 16-bit buffers to
 * and from double (see f16_value).
 */
// uint and ulong (unsigned int, unsigned long: 64 bits on the LP64 hosts nvcc compiles for) come
// from <sys/types.h>, which nvcc includes.

__device__ inline size_t global_index() { return (size_t)blockIdx.x * blockDim.x + threadIdx.x; }

// ------------------------------------------------------------------ Philox4x32-10 (RReLU)

__device__ inline uint4 philox(uint4 c, uint2 k) {
  for (int r = 0; r < 10; r++) {
    uint hi0 = __umulhi(0xD2511F53u, c.x);
    uint lo0 = 0xD2511F53u * c.x;
    uint hi1 = __umulhi(0xCD9E8D57u, c.z);
    uint lo1 = 0xCD9E8D57u * c.z;
    c = make_uint4(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
    k.x += 0x9E3779B9u;
    k.y += 0xBB67AE85u;
  }
  return c;
}

__device__ inline uint4 philox_at(ulong seed, ulong index) {
  return philox(make_uint4((uint)index, (uint)(index >> 32), 0u, 0u), make_uint2((uint)seed, (uint)(seed >> 32)));
}

__device__ inline float rrelu_slope_f32(ulong seed, ulong index, float lower, float width) {
  uint4 r = philox_at(seed, index);
  return fma((float)(r.x >> 8) * 0x1p-24f, width, lower);
}

#define ELEMENTWISE_ARGS_F(T) const T* x, T* y, const ulong n, const T p0, const T p1, const ulong seed, const ulong index0, const T ba, const T bb
#define ELEMENTWISE_ARGS_B(T) const T* x, const T* g, T* dx, const ulong n, const T p0, const T p1, const ulong seed, const ulong index0, const T ba, const T bb

/* Every write of y or dx (Activation.blend): alpha * v + beta * out, each operation rounded in T
   (no fused multiply-add); beta == 0 never reads out, alpha == 1 multiplies by nothing. */
#define STORE(T, OUT, AT, VALUE) do { T v_ = (VALUE); \
  OUT[AT] = bb == 0 ? (ba == 1 ? v_ : ba * v_) : ba * v_ + bb * OUT[AT]; } while (0)

/* 1-bit masks (Activation.maskAllowed): bit (i & 31) of word i >> 5 is ON for element i, gathered
   by a warp's ballot (blocks are whole warps: CudaBackend.BLOCK), so no thread returns before it. */
#define MASK_BITS(ON) { uint w_ = __ballot_sync(0xffffffffu, ON); \
  if ((threadIdx.x & 31) == 0 && i < n) mask[i >> 5] = w_; }
#define MASK_KERNEL extern "C" __global__

/* Fused statistics (Rectifier.forwardWithStats; StatsRecords in Java computes the same records in
   the same order). A work-group of STATS_GROUP folds one output per work-item into one record: the
   sum of |y| over finite y (in T), min and max over non-NaN y (-0 below +0), and the counts of
   zeros, NaNs and infinities. The fold is the tree that halves the lanes, lane l taking lane l + d
   for d = STATS_GROUP/2, ..., 1: a fixed order, so every backend gets the same sums bit for bit.
   Record r is rs[3r..3r+2] = (sum, min, max) and rc[3r..3r+2] = (zeros, NaNs, infinities).
   Every work-item reaches every barrier: a forward's body may return early, the kernel does not. */
#define STATS_GROUP 256
#define STATS_KERNEL extern "C" __global__ __launch_bounds__(STATS_GROUP)
#define STATS_SYNC __syncthreads()
#define STATS_MIN(a, b) ((b) < (a) || ((b) == (a) && signbit(b)) ? (b) : (a))
#define STATS_MAX(a, b) ((b) > (a) || ((b) == (a) && !signbit(b)) ? (b) : (a))
#define STATS_LOCALS(T) __shared__ T s_[STATS_GROUP]; __shared__ T lo_[STATS_GROUP]; __shared__ T hi_[STATS_GROUP]; \
  __shared__ ulong c_[STATS_GROUP]; size_t l_ = threadIdx.x;
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
__device__ void NAME##_body_##SUFFIX PARAMS; \
extern "C" __global__ void NAME##_##SUFFIX PARAMS { NAME##_body_##SUFFIX ARGS; } \
STATS_KERNEL void NAME##_stats_##SUFFIX(STRIP PARAMS, T* rs, uint* rc) { \
  NAME##_body_##SUFFIX ARGS; STATS_LOCALS(T) size_t i_ = global_index(); \
  STATS_LEAF(T, i_ < (COUNT), y[i_]) STATS_FOLD(T, rs, rc, blockIdx.x) } \
__device__ void NAME##_body_##SUFFIX PARAMS
#define FORWARD_KERNEL(T, NAME, SUFFIX) WITH_STATS(T, NAME, SUFFIX, (ELEMENTWISE_ARGS_F(T)), (x, y, n, p0, p1, seed, index0, ba, bb), n)

/* The records of an array as it is (crelu's outputs, which its work-items write apart); the same
   per channel of y as [outer, channels, inner], channel c's outputs taken in memory order as an
   array of their own, leaves records each (group g: channel g / leaves); and one record from each
   STATS_GROUP records in order (the level above: StatsRecords.PER_RECORD elements), segment by
   segment of records records, groups records out each (a channel's; one segment for a whole array). */
#define DEFINE_STATS_KERNELS(T, SUFFIX) \
STATS_KERNEL void stats_##SUFFIX(const T* y, const ulong n, T* rs, uint* rc) { \
  STATS_LOCALS(T) size_t i_ = global_index(); \
  STATS_LEAF(T, i_ < n, y[i_]) STATS_FOLD(T, rs, rc, blockIdx.x) } \
STATS_KERNEL void channel_stats_##SUFFIX(const T* y, const ulong per_channel, const ulong channels, \
    const ulong inner, const ulong leaves, T* rs, uint* rc) { \
  STATS_LOCALS(T) size_t g_ = blockIdx.x; ulong ch_ = g_ / leaves; \
  ulong j_ = (g_ - ch_ * leaves) * STATS_GROUP + l_; ulong o_ = j_ / inner; \
  STATS_LEAF(T, j_ < per_channel, y[(o_ * channels + ch_) * inner + (j_ - o_ * inner)]) \
  STATS_FOLD(T, rs, rc, g_) } \
STATS_KERNEL void stats_reduce_##SUFFIX(const T* rs, const uint* rc, const ulong records, \
    const ulong groups, T* out_s, uint* out_c) { \
  STATS_LOCALS(T) size_t g_ = blockIdx.x; ulong seg_ = g_ / groups; \
  ulong r_ = (g_ - seg_ * groups) * STATS_GROUP + l_; \
  STATS_RECORD(T, r_ < records, rs, rc, seg_ * records + r_) STATS_FOLD(T, out_s, out_c, g_) }

/* The piecewise-linear and channel kernels, in the element type T alone. */
#define DEFINE_LINEAR_KERNELS(T, SUFFIX, RRELU_SLOPE) \
FORWARD_KERNEL(T, relu_forward, SUFFIX) { \
  size_t i = global_index(); if (i >= n) return; T v = x[i]; STORE(T, y, i, v < 0 ? (T)0 : v); } \
extern "C" __global__ void relu_backward_##SUFFIX(ELEMENTWISE_ARGS_B(T)) { \
  size_t i = global_index(); if (i >= n) return; T v = x[i]; STORE(T, dx, i, v > 0 ? g[i] : (v <= 0 ? (T)0 : v)); } \
FORWARD_KERNEL(T, leaky_relu_forward, SUFFIX) { \
  size_t i = global_index(); if (i >= n) return; T v = x[i]; STORE(T, y, i, v < 0 ? p0 * v : v); } \
extern "C" __global__ void leaky_relu_backward_##SUFFIX(ELEMENTWISE_ARGS_B(T)) { \
  size_t i = global_index(); if (i >= n) return; T v = x[i]; \
  STORE(T, dx, i, v > 0 ? g[i] : (v <= 0 ? (p0 == 0 ? (T)0 : p0 * g[i]) : v)); } \
FORWARD_KERNEL(T, rrelu_train_forward, SUFFIX) { \
  size_t i = global_index(); if (i >= n) return; T v = x[i]; \
  STORE(T, y, i, v < 0 ? RRELU_SLOPE(seed, index0 + i, p0, p1 - p0) * v : v); } \
extern "C" __global__ void rrelu_train_backward_##SUFFIX(ELEMENTWISE_ARGS_B(T)) { \
  size_t i = global_index(); if (i >= n) return; T v = x[i]; T d; \
  if (v > 0) d = g[i]; \
  else if (v <= 0) { T a = RRELU_SLOPE(seed, index0 + i, p0, p1 - p0); d = a == 0 ? (T)0 : a * g[i]; } \
  else d = v; \
  STORE(T, dx, i, d); } \
FORWARD_KERNEL(T, hardtanh_forward, SUFFIX) { \
  size_t i = global_index(); if (i >= n) return; T v = x[i]; STORE(T, y, i, v < p0 ? p0 : (v > p1 ? p1 : v)); } \
extern "C" __global__ void hardtanh_backward_##SUFFIX(ELEMENTWISE_ARGS_B(T)) { \
  size_t i = global_index(); if (i >= n) return; T v = x[i]; \
  STORE(T, dx, i, (v > p0 && v < p1) ? g[i] : (v != v ? v : (T)0)); } \
FORWARD_KERNEL(T, threshold_forward, SUFFIX) { \
  size_t i = global_index(); if (i >= n) return; T v = x[i]; STORE(T, y, i, v <= p0 ? p1 : v); } \
extern "C" __global__ void threshold_backward_##SUFFIX(ELEMENTWISE_ARGS_B(T)) { \
  size_t i = global_index(); if (i >= n) return; T v = x[i]; STORE(T, dx, i, v > p0 ? g[i] : (v <= p0 ? (T)0 : v)); } \
/* ---- forward with a 1-bit mask (the bit is PyTorch's backward test), and backward from it ---- */ \
MASK_KERNEL void relu_forward_mask_##SUFFIX(ELEMENTWISE_ARGS_F(T), uint* mask) { \
  size_t i = global_index(); bool on = false; \
  if (i < n) { T v = x[i]; on = !(v <= 0); STORE(T, y, i, v < 0 ? (T)0 : v); } \
  MASK_BITS(on) } \
MASK_KERNEL void leaky_relu_forward_mask_##SUFFIX(ELEMENTWISE_ARGS_F(T), uint* mask) { \
  size_t i = global_index(); bool on = false; \
  if (i < n) { T v = x[i]; on = v > 0; STORE(T, y, i, v < 0 ? p0 * v : v); } \
  MASK_BITS(on) } \
MASK_KERNEL void hardtanh_forward_mask_##SUFFIX(ELEMENTWISE_ARGS_F(T), uint* mask) { \
  size_t i = global_index(); bool on = false; \
  if (i < n) { T v = x[i]; on = !(v <= p0 || v >= p1); STORE(T, y, i, v < p0 ? p0 : (v > p1 ? p1 : v)); } \
  MASK_BITS(on) } \
extern "C" __global__ void mask_backward_##SUFFIX(const uint* mask, const T* g, T* dx, \
    const ulong n, const T p0, const T p1, const ulong seed, const ulong index0, const T ba, const T bb) { \
  size_t i = global_index(); if (i >= n) return; \
  STORE(T, dx, i, ((mask[i >> 5] >> (i & 31)) & 1u) ? g[i] : (p0 == 0 ? (T)0 : p0 * g[i])); } \
/* ---- channel functions on [outer, channels, inner] ---- */ \
WITH_STATS(T, prelu_forward, SUFFIX, (const T* x, const T* w, T* y, \
    const ulong n, const ulong channels, const ulong inner, const ulong weights, const T ba, const T bb), \
    (x, w, y, n, channels, inner, weights, ba, bb), n) { \
  size_t i = global_index(); if (i >= n) return; \
  T wc = w[weights == 1 ? 0 : (i / inner) % channels]; T v = x[i]; STORE(T, y, i, v < 0 ? wc * v : v); } \
extern "C" __global__ void prelu_backward_##SUFFIX(const T* x, const T* w, const T* g, \
    T* dx, const ulong n, const ulong channels, const ulong inner, const ulong weights, const T ba, const T bb) { \
  size_t i = global_index(); if (i >= n) return; \
  T wc = w[weights == 1 ? 0 : (i / inner) % channels]; T v = x[i]; \
  STORE(T, dx, i, v > 0 ? g[i] : (v <= 0 ? (wc == 0 ? (T)0 : wc * g[i]) : v)); } \
extern "C" __global__ void crelu_forward_##SUFFIX(const T* x, T* y, const ulong n, \
    const ulong channels, const ulong inner, const T ba, const T bb) { \
  size_t i = global_index(); if (i >= n) return; \
  ulong o = i / (channels * inner); ulong rest = i - o * channels * inner; \
  ulong pos = o * 2 * channels * inner + rest; ulong neg = pos + channels * inner; \
  T v = x[i]; STORE(T, y, pos, v < 0 ? (T)0 : v); STORE(T, y, neg, -v < 0 ? (T)0 : -v); } \
extern "C" __global__ void crelu_backward_##SUFFIX(const T* x, const T* g, T* dx, \
    const ulong n, const ulong channels, const ulong inner, const T ba, const T bb) { \
  size_t i = global_index(); if (i >= n) return; \
  ulong o = i / (channels * inner); ulong rest = i - o * channels * inner; \
  ulong pos = o * 2 * channels * inner + rest; ulong neg = pos + channels * inner; \
  T v = x[i]; \
  STORE(T, dx, i, v > 0 ? g[pos] : (v < 0 ? -g[neg] : (v == 0 ? (T)0 : v))); } \
/* Maxout: one work-item per output element; NaN wins, the first of equals wins. */ \
WITH_STATS(T, maxout_forward, SUFFIX, (const T* x, T* y, const ulong m, \
    const ulong channels, const ulong inner, const ulong pieces, const T ba, const T bb), \
    (x, y, m, channels, inner, pieces, ba, bb), m) { \
  size_t j = global_index(); if (j >= m) return; \
  ulong groups = channels / pieces; ulong o = j / (groups * inner); ulong r = j - o * groups * inner; \
  ulong grp = r / inner; ulong i = r - grp * inner; \
  ulong first = (o * channels + grp * pieces) * inner + i; \
  T best = x[first]; \
  for (ulong k = 1; k < pieces && best == best; k++) { T v = x[first + k * inner]; if (v > best || v != v) best = v; } \
  STORE(T, y, j, best); } \
extern "C" __global__ void maxout_backward_##SUFFIX(const T* x, const T* g, T* dx, \
    const ulong m, const ulong channels, const ulong inner, const ulong pieces, const T ba, const T bb) { \
  size_t j = global_index(); if (j >= m) return; \
  ulong groups = channels / pieces; ulong o = j / (groups * inner); ulong r = j - o * groups * inner; \
  ulong grp = r / inner; ulong i = r - grp * inner; \
  ulong first = (o * channels + grp * pieces) * inner + i; \
  T best = x[first]; ulong at = 0; \
  for (ulong k = 1; k < pieces && best == best; k++) { T v = x[first + k * inner]; if (v > best || v != v) { best = v; at = k; } } \
  T grad = best != best ? best : g[j]; \
  for (ulong k = 0; k < pieces; k++) STORE(T, dx, first + k * inner, k == at ? grad : (T)0); }


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
__constant__ double SILU_SERIES[28] = {
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
__constant__ double MISH_SERIES[28] = {
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
__constant__ double GELU_SERIES[28] = {
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
__constant__ double GELU_TANH_SERIES[28] = {
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

__device__ inline double two_sum_err(double a, double b, double s) {
  double bb = s - a;
  return (a - (s - bb)) + (b - bb);
}

/* (n + nLo) / (d + dLo), rounded once. */
__device__ inline double dd_divide(double n, double nLo, double d, double dLo) {
  double q = n / d;
  if (q == 0.0 || !isfinite(q)) return q;
  return q + (fma(-q, d, n) + nLo - q * dLo) / d;
}

/* (n + nLo) / (1 + e)^2 with the square in double-double, rounded once. */
__device__ inline double over_one_plus_e_squared(double n, double nLo, double e) {
  double b = 1.0 + e;
  double bLo = two_sum_err(1.0, e, b);
  double d = b * b;
  double dLo = fma(b, b, -d) + 2.0 * b * bLo;
  return dd_divide(n, nLo, d, dLo);
}

__device__ inline double series(const double* c, int len, double hi, double lo, double x) {
  double d = (x - hi) - lo;
  double p = c[len - 1];
  for (int k = len - 2; k >= 0; k--) p = fma(p, d, c[k]);
  return p * d;
}

// ------------------------------------------------------------------ exponential linear units

/* ELU's negative branch at both zeros gives -0 (as the CPU's Math.min(x, -0.0)); not fmin, which
   would return -0 for NaN. */
__device__ inline double non_positive(double x) { return x == 0.0 ? -0.0 : x; }

__device__ inline double elu_d(double x, double alpha) { return x > 0 ? x : alpha * expm1(non_positive(x)); }
__device__ inline double elu_prime(double x, double alpha) { return x > 0 ? 1.0 : alpha * exp(x); }
__device__ inline double selu_d(double x) { return x > 0 ? SELU_SCALE * x : SELU_SCALE_ALPHA * expm1(non_positive(x)); }
__device__ inline double selu_prime(double x) { return x > 0 ? SELU_SCALE : SELU_SCALE_ALPHA * exp(x); }

__device__ inline double celu_d(double x, double alpha) {
  if (x > 0) return x;
  double v = non_positive(x);
  double q = v / alpha;
  double qLo = fma(-q, alpha, v) / alpha;
  double em = expm1(q);
  // em infinite (alpha < 0, x far below 0): the correction would make inf - inf
  return alpha * ((qLo == 0.0 || !isfinite(qLo * em)) ? em : em + qLo * (em + 1.0));
}

__device__ inline double celu_prime(double x, double alpha) {
  if (x > 0) return 1.0;
  double q = x / alpha;
  double qLo = fma(-q, alpha, x) / alpha;
  double e = exp(q);
  return (qLo == 0.0 || !isfinite(qLo * e)) ? e : e + e * qLo;
}

// ------------------------------------------------------------------ GELU (erf form)

__device__ inline double phi_cdf(double x) {
  double p = x * INV_SQRT2_HI;
  double pLo = fma(x, INV_SQRT2_HI, -p) + x * INV_SQRT2_LO;
  double z = -p;
  double zLo = -pLo;
  double e = erfc(z);
  if (zLo != 0.0 && z > -30.0 && z < 30.0) e -= zLo * TWO_OVER_SQRT_PI * exp(-z * z);
  return 0.5 * e;
}

/* erfcx(z) = exp(z^2) erfc(z) for z >= 25 by its asymptotic series (terms below 1e-19 by k = 8). */
__device__ inline double erfcx_large(double z) {
  double t = 1.0 / (2.0 * z * z);
  double sum = 1.0;
  double term = 1.0;
  for (int k = 1; k <= 9; k++) {
    term *= -(2.0 * k - 1.0) * t;
    sum += term;
  }
  return sum * INV_SQRT_PI / z;
}

__device__ inline double gelu_d(double x) {
  if (x < -40.0) return -0.0;
  if (x < GELU_TAIL) {
    double s = x * x;
    double sLo = fma(x, x, -s);
    double h = exp(-0.25 * s);
    return ((0.5 * x * erfcx_large(-x * INV_SQRT2_HI) * (1.0 - 0.5 * sLo)) * h) * h;
  }
  return x * phi_cdf(x);
}

__device__ inline double gelu_prime(double x) {
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

__device__ inline double gelu_tanh_exp_minus_2u(double x) {
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

__device__ inline double gelu_tanh_d(double x) {
  if (!(x >= -30.0 && x <= 30.0)) {
    if (x > 30.0) return x;
    if (x < -30.0) return -0.0;
    return x;
  }
  return x / (1.0 + gelu_tanh_exp_minus_2u(x));
}

__device__ inline double gelu_tanh_prime(double x) {
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

__device__ inline double silu_d(double x) {
  if (isinf(x) && x < 0) return -0.0;
  return x / (1.0 + exp(-x));
}

__device__ inline double silu_prime(double x) {
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

__device__ inline double mish_d(double x) {
  if (x > 40.0) return x;
  if (isinf(x) && x < 0) return -0.0;
  double e = exp(x);
  double n = fma(e, e, 2.0 * e);
  return x * (n / (n + 2.0));
}

__device__ inline double mish_prime(double x) {
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

__device__ inline double sigmoid_d(double v) {
  if (v >= 0) return 1.0 / (1.0 + exp(-v));
  double e = exp(v);
  return e / (1.0 + e);
}

__device__ inline double softplus_d(double x, double beta, double threshold) {
  double bx = beta * x;
  if (bx > threshold) return x;
  double bxLo = isfinite(bx) ? fma(beta, x, -bx) : 0.0;
  double e = exp(bx);
  double sp = log1p(e);
  if (bxLo != 0.0) sp += bxLo * (e / (1.0 + e));
  return sp / beta;
}

__device__ inline double softplus_prime(double x, double beta, double threshold) {
  double bx = beta * x;
  if (bx > threshold) return 1.0;
  if (isinf(bx) && bx < 0) return 0.0;
  double bxLo = isfinite(bx) ? fma(beta, x, -bx) : 0.0;
  double s = sigmoid_d(bx);
  if (bxLo != 0.0) s += bxLo * s * (1.0 - s);
  return s;
}


__device__ inline double rrelu_slope_f64(ulong seed, ulong index, double lower, double width) {
  uint4 r = philox_at(seed, index);
  return fma(((double)(r.x >> 5) * 0x1p26 + (double)(r.y >> 6)) * 0x1p-53, width, lower);
}

/* grad * f'(x) rounded once; +0 where the derivative is 0 by definition (its limits at +-inf). */
#define TIMES(T, gv, d, xv) (((d) == 0.0 && isinf((double)(xv))) ? (T)0 : (T)((double)(gv) * (d)))

/* The smooth kernels, computed in double and rounded once to T, and PReLU's weight gradient. */
#define DEFINE_SMOOTH_KERNELS(T, SUFFIX) \
/* ELU's backward from its output y (alpha >= 0, so y <= 0 exactly where x <= 0): f' = y + alpha */ \
/* there, in double, the product rounded once; +0 where y + alpha is 0 (x = -inf, or far below). */ \
extern "C" __global__ void elu_backward_from_output_##SUFFIX(ELEMENTWISE_ARGS_B(T)) { \
  size_t i = global_index(); if (i >= n) return; T v = x[i]; \
  if (!(v <= 0)) { STORE(T, dx, i, v > 0 ? g[i] : v); return; } \
  double d = (double)v + (double)p0; STORE(T, dx, i, d == 0 ? (T)0 : (T)((double)g[i] * d)); } \
FORWARD_KERNEL(T, elu_forward, SUFFIX) { \
  size_t i = global_index(); if (i >= n) return; STORE(T, y, i, (T)elu_d((double)x[i], (double)p0)); } \
extern "C" __global__ void elu_backward_##SUFFIX(ELEMENTWISE_ARGS_B(T)) { \
  size_t i = global_index(); if (i >= n) return; T v = x[i]; \
  if (p0 == 0) { STORE(T, dx, i, v > 0 ? g[i] : (v <= 0 ? (T)0 : v)); return; } \
  STORE(T, dx, i, TIMES(T, g[i], elu_prime((double)v, (double)p0), v)); } \
FORWARD_KERNEL(T, selu_forward, SUFFIX) { \
  size_t i = global_index(); if (i >= n) return; STORE(T, y, i, (T)selu_d((double)x[i])); } \
extern "C" __global__ void selu_backward_##SUFFIX(ELEMENTWISE_ARGS_B(T)) { \
  size_t i = global_index(); if (i >= n) return; T v = x[i]; STORE(T, dx, i, TIMES(T, g[i], selu_prime((double)v), v)); } \
FORWARD_KERNEL(T, celu_forward, SUFFIX) { \
  size_t i = global_index(); if (i >= n) return; STORE(T, y, i, (T)celu_d((double)x[i], (double)p0)); } \
extern "C" __global__ void celu_backward_##SUFFIX(ELEMENTWISE_ARGS_B(T)) { \
  size_t i = global_index(); if (i >= n) return; T v = x[i]; STORE(T, dx, i, TIMES(T, g[i], celu_prime((double)v, (double)p0), v)); } \
FORWARD_KERNEL(T, gelu_forward, SUFFIX) { \
  size_t i = global_index(); if (i >= n) return; STORE(T, y, i, (T)gelu_d((double)x[i])); } \
extern "C" __global__ void gelu_backward_##SUFFIX(ELEMENTWISE_ARGS_B(T)) { \
  size_t i = global_index(); if (i >= n) return; T v = x[i]; \
  STORE(T, dx, i, v < GELU_ZERO_DERIVATIVE_BELOW ? (T)0 : TIMES(T, g[i], gelu_prime((double)v), v)); } \
FORWARD_KERNEL(T, gelu_tanh_forward, SUFFIX) { \
  size_t i = global_index(); if (i >= n) return; STORE(T, y, i, (T)gelu_tanh_d((double)x[i])); } \
extern "C" __global__ void gelu_tanh_backward_##SUFFIX(ELEMENTWISE_ARGS_B(T)) { \
  size_t i = global_index(); if (i >= n) return; T v = x[i]; \
  STORE(T, dx, i, v < GELU_TANH_ZERO_DERIVATIVE_BELOW ? (T)0 : TIMES(T, g[i], gelu_tanh_prime((double)v), v)); } \
FORWARD_KERNEL(T, silu_forward, SUFFIX) { \
  size_t i = global_index(); if (i >= n) return; STORE(T, y, i, (T)silu_d((double)x[i])); } \
extern "C" __global__ void silu_backward_##SUFFIX(ELEMENTWISE_ARGS_B(T)) { \
  size_t i = global_index(); if (i >= n) return; T v = x[i]; STORE(T, dx, i, TIMES(T, g[i], silu_prime((double)v), v)); } \
FORWARD_KERNEL(T, mish_forward, SUFFIX) { \
  size_t i = global_index(); if (i >= n) return; STORE(T, y, i, (T)mish_d((double)x[i])); } \
extern "C" __global__ void mish_backward_##SUFFIX(ELEMENTWISE_ARGS_B(T)) { \
  size_t i = global_index(); if (i >= n) return; T v = x[i]; STORE(T, dx, i, TIMES(T, g[i], mish_prime((double)v), v)); } \
FORWARD_KERNEL(T, softplus_forward, SUFFIX) { \
  size_t i = global_index(); if (i >= n) return; STORE(T, y, i, (T)softplus_d((double)x[i], (double)p0, (double)p1)); } \
extern "C" __global__ void softplus_backward_##SUFFIX(ELEMENTWISE_ARGS_B(T)) { \
  size_t i = global_index(); if (i >= n) return; T v = x[i]; \
  STORE(T, dx, i, TIMES(T, g[i], softplus_prime((double)v, (double)p0, (double)p1), v)); } \
/* One work-item per weight, summing in double in flat C order: the CPU backend's order, so the */ \
/* result is the same bit for bit, and the same for any launch geometry. */ \
extern "C" __global__ void prelu_weight_##SUFFIX(const T* x, const T* g, T* gw, \
    const ulong outer, const ulong channels, const ulong inner, const ulong weights) { \
  size_t c = global_index(); if (c >= weights) return; \
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

__device__ inline double f16_value(ushort h) {
  int e = (h >> 10) & 0x1f;
  int m = h & 0x3ff;
  double a = e == 0 ? m * 0x1p-24 : e == 31 ? (m == 0 ? (double)INFINITY : (double)NAN) : ldexp((double)(1024 + m), e - 25);
  return (h & 0x8000) != 0 ? -a : a;
}

__device__ inline double bf16_value(ushort b) {
  int e = (b >> 7) & 0xff;
  int m = b & 0x7f;
  double a = e == 0 ? m * 0x1p-133 : e == 255 ? (m == 0 ? (double)INFINITY : (double)NAN) : ldexp((double)(128 + m), e - 134);
  return (b & 0x8000) != 0 ? -a : a;
}

__device__ inline ushort f16_bits(double v) {
  int sign = signbit(v) ? 0x8000 : 0;
  if (isnan(v)) return (ushort)(sign | 0x7e00);
  double a = fabs(v);
  if (a >= F16_OVERFLOW) return (ushort)(sign | 0x7c00);
  int bits = a < 0x1p-14 ? (int)rint(a * 0x1p24) : ((ilogb(a) + 15) << 10) + (int)rint(ldexp(a, 10 - ilogb(a))) - 1024;
  return (ushort)(sign | bits);
}

__device__ inline ushort bf16_bits(double v) {
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
__device__ inline double half_value(int bf, ushort b) { return bf ? bf16_value(b) : f16_value(b); }

__device__ inline ushort half_bits(int bf, double v) { return bf ? bf16_bits(v) : f16_bits(v); }

__device__ inline double tie_broken(int bf, double tie, double x, double v) {
  if (tie == 0 || x == 0 || !(fabs(x) < HALF_TINY) || v == 0) return v;
  ushort b = half_bits(bf, v);
  double r = half_value(bf, b);
  if (r == v) return v;
  double o = half_value(bf, (ushort)(fabs(r) < fabs(v) ? b + 1 : b - 1));
  return (r + o) / 2 == v ? nextafter(v, tie > 0 ? (double)INFINITY : -(double)INFINITY) : v;
}

extern "C" __global__ void widen_f16(const ushort* h, const ulong from, double* w, const ulong n) {
  size_t i = global_index(); if (i < n) w[i] = f16_value(h[from + i]); }
extern "C" __global__ void widen_bf16(const ushort* h, const ulong from, double* w, const ulong n) {
  size_t i = global_index(); if (i < n) w[i] = bf16_value(h[from + i]); }
extern "C" __global__ void narrow_f16(const double* w, const double* x, const double tie,
    ushort* h, const ulong from, const ulong n) {
  size_t i = global_index(); if (i < n) h[from + i] = f16_bits(tie_broken(0, tie, x[i], w[i])); }
extern "C" __global__ void narrow_bf16(const double* w, const double* x, const double tie,
    ushort* h, const ulong from, const ulong n) {
  size_t i = global_index(); if (i < n) h[from + i] = bf16_bits(tie_broken(1, tie, x[i], w[i])); }
