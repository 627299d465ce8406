// BabelStream's kernels, f32. Grid-stride loops: any launch shape is correct.

extern "C" __global__ void stream_copy(const float* __restrict__ a, float* __restrict__ c, uint n) {
    for (size_t i = global_id(); i < n; i += global_size()) c[i] = a[i];
}

extern "C" __global__ void stream_scale(const float* __restrict__ c, float* __restrict__ b, uint n, float s) {
    for (size_t i = global_id(); i < n; i += global_size()) b[i] = s * c[i];
}

extern "C" __global__ void stream_add(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ c, uint n) {
    for (size_t i = global_id(); i < n; i += global_size()) c[i] = a[i] + b[i];
}

extern "C" __global__ void stream_triad(const float* __restrict__ b, const float* __restrict__ c, float* __restrict__ a, uint n, float s) {
    for (size_t i = global_id(); i < n; i += global_size()) a[i] = b[i] + s * c[i];
}

// Block g sums its contiguous share of a·b into partial[g]; threads stride by the block.
extern "C" __global__ void stream_dot(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ partial, uint n) {
    __shared__ float scratch[MAX_GROUP];
    size_t groups = gridDim.x, g = blockIdx.x, lid = threadIdx.x, lsz = blockDim.x;
    size_t share = (n + groups - 1) / groups;
    size_t lo = min((size_t)n, g * share), hi = min((size_t)n, lo + share);
    float sum = 0.0f;
    for (size_t i = lo + lid; i < hi; i += lsz) sum += a[i] * b[i];
    sum = block_reduce(sum, false, scratch);
    if (lid == 0) partial[g] = sum;
}
