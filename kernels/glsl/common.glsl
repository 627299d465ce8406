// Shared by every compute shader. Compiled once per dtype with one of DTYPE_F32,
// DTYPE_F16, DTYPE_BF16, DTYPE_F8E4M3, DTYPE_F8E5M2 defined. T is the storage type;
// arithmetic is float: LOAD widens, STORE rounds to nearest even (fp8: saturating). Half
// types need only 16-bit storage, fp8 only 8-bit storage.
#extension GL_EXT_shader_16bit_storage : require
#if defined(DTYPE_F8E4M3) || defined(DTYPE_F8E5M2)
#define DTYPE_FP8 1
#extension GL_EXT_shader_8bit_storage : require
#define T uint8_t
#if defined(DTYPE_F8E4M3)
#define FP8_M 3
#define FP8_BIAS 7u
#define FP8_MAX 448.0
#define FP8_MIN_NORMAL 0.015625
#define FP8_SUBNORMALS 512.0
#else
#define FP8_M 2
#define FP8_BIAS 15u
#define FP8_MAX 57344.0
#define FP8_MIN_NORMAL 6.103515625e-05
#define FP8_SUBNORMALS 65536.0
#endif
// OCP fp8 codes: normals by moving exponent and mantissa into place and rebiasing,
// subnormals as a multiple of the step. NaN codes are never stored.
float fp8_to_float(uint x) {
    uint mag = x & 0x7fu;
    float v = (mag >> FP8_M) == 0u ? float(mag) / FP8_SUBNORMALS
                                   : uintBitsToFloat((mag << (23 - FP8_M)) + ((127u - FP8_BIAS) << 23));
    return uintBitsToFloat(floatBitsToUint(v) | ((x & 0x80u) << 24));
}
uint float_to_fp8(float f) {
    uint sign = (floatBitsToUint(f) >> 24) & 0x80u;
    float a = min(abs(f), FP8_MAX);
    uint code;
    if (a < FP8_MIN_NORMAL) {
        code = uint(roundEven(a * FP8_SUBNORMALS));
    } else {
        uint u = floatBitsToUint(a);
        u += ((1u << (22 - FP8_M)) - 1u) + ((u >> (23 - FP8_M)) & 1u);
        code = (u >> (23 - FP8_M)) - ((127u - FP8_BIAS) << FP8_M);
    }
    return sign | code;
}
#define LOAD(buf, i) fp8_to_float(uint(buf[i]))
#define STORE(buf, i, v) buf[i] = uint8_t(float_to_fp8(v))
#elif defined(DTYPE_F16)
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#define T float16_t
#define LOAD(buf, i) float(buf[i])
#define STORE(buf, i, v) buf[i] = float16_t(v)
#elif defined(DTYPE_BF16)
#extension GL_EXT_shader_explicit_arithmetic_types_int16 : require
#define T uint16_t
#define LOAD(buf, i) uintBitsToFloat(uint(buf[i]) << 16)
uint bf16_bits(float f) {
    uint u = floatBitsToUint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (u >> 16) | 0x40u; // quiet NaN
    return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}
#define STORE(buf, i, v) buf[i] = uint16_t(bf16_bits(v))
#else
#define T float
#define LOAD(buf, i) buf[i]
#define STORE(buf, i, v) buf[i] = (v)
#endif

// fp8 GEMMs take the per-tensor scales folded into one more push constant (sa·sb/sc)
// and multiply the f32 sums by it before rounding; other dtypes take none.
#if defined(DTYPE_FP8)
#define FP8_SCALE_MEMBER float scale;
#define FP8_SCALED(v) ((v) * p.scale)
#else
#define FP8_SCALE_MEMBER
#define FP8_SCALED(v) (v)
#endif

// The work-group size is specialised at launch (constant ids 0, 1, 2).
layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;

// Bounds the per-invocation rows of the fused and split attention kernels.
layout(constant_id = 3) const uint D_MAX = 256;

// Tree reduction over the work-group (any size up to 1024); every invocation gets it.
shared float scratch[1024];
float group_reduce(float v, bool is_max) {
    uint lid = gl_LocalInvocationIndex;
    uint n = gl_WorkGroupSize.x * gl_WorkGroupSize.y * gl_WorkGroupSize.z;
    scratch[lid] = v;
    barrier();
    for (uint s = 1; s < n; s <<= 1) {
        float other = (lid % (2 * s) == 0 && lid + s < n) ? scratch[lid + s] : (is_max ? -1.0 / 0.0 : 0.0);
        barrier();
        scratch[lid] = is_max ? max(scratch[lid], other) : scratch[lid] + other;
        barrier();
    }
    float r = scratch[0];
    barrier();
    return r;
}

uint global_stride() { return gl_NumWorkGroups.x * gl_WorkGroupSize.x; }
