// Kernels the conformance suite uses to check a backend's plumbing.

extern "C" __global__ void test_index(uint* out) {
    size_t x = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    size_t y = (size_t)blockIdx.y * blockDim.y + threadIdx.y;
    size_t z = (size_t)blockIdx.z * blockDim.z + threadIdx.z;
    size_t X = (size_t)gridDim.x * blockDim.x, Y = (size_t)gridDim.y * blockDim.y;
    out[(z * Y + y) * X + x] = (uint)(x | (y << 10) | (z << 20));
}

extern "C" __global__ void test_scalars(uint* out, uint u, int i, float f) {
    out[0] = u;
    out[1] = (uint)i;
    out[2] = __float_as_uint(f);
}
