// Shared by every compute shader. Compiled once per dtype with one of DTYPE_F32,
// DTYPE_F16, DTYPE_BF16 defined. T is the storage type; arithmetic is float: LOAD widens,
// STORE rounds to nearest even. Half types need only 16-bit storage.
#extension GL_EXT_shader_16bit_storage : require
#if defined(DTYPE_F16)
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
