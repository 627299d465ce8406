#version 450
#include "common.glsl"
// Global coordinates from group and local ids: out[(z·Y + y)·X + x] = x | y<<10 | z<<20.
layout(set = 0, binding = 0) writeonly buffer O { uint o[]; };
void main() {
    uvec3 g = gl_WorkGroupID * gl_WorkGroupSize + gl_LocalInvocationID;
    uvec3 size = gl_NumWorkGroups * gl_WorkGroupSize;
    o[(g.z * size.y + g.y) * size.x + g.x] = g.x | (g.y << 10) | (g.z << 20);
}
