// Kernels the conformance suite uses to check a backend's plumbing.

// Global coordinates from group and local ids, so a backend that mixes up global and
// local sizes writes the wrong words.
__kernel void test_index(__global uint* out) {
    size_t x = get_group_id(0) * get_local_size(0) + get_local_id(0);
    size_t y = get_group_id(1) * get_local_size(1) + get_local_id(1);
    size_t z = get_group_id(2) * get_local_size(2) + get_local_id(2);
    size_t X = get_num_groups(0) * get_local_size(0), Y = get_num_groups(1) * get_local_size(1);
    out[(z * Y + y) * X + x] = (uint)(x | (y << 10) | (z << 20));
}

__kernel void test_scalars(__global uint* out, uint u, int i, float f) {
    out[0] = u;
    out[1] = as_uint(i);
    out[2] = as_uint(f);
}
