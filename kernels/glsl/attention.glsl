// Shared by the attention shaders: where query head bh's KV head starts.
uint kv_base(uint bh, uint H, uint Hkv, uint L, uint D) {
    uint b = bh / H, h = bh % H;
    return (b * Hkv + h / (H / Hkv)) * L * D;
}
