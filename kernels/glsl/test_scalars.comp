#version 450
#include "common.glsl"
// Push constants arrive bit-exact: out = [u, i as bits, f as bits].
layout(set = 0, binding = 0) writeonly buffer O { uint o[]; };
layout(push_constant) uniform Params { uint u; int i; float f; } p;
void main() {
    o[0] = p.u;
    o[1] = uint(p.i);
    o[2] = floatBitsToUint(p.f);
}
