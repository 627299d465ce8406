// Paged KV cache (attention.paged): sequence b's key t is slot t % P of page
// table[b · max_pages + t / P]; a page holds P slots of every KV head, D each.
#define PAGED_ROW(b, kvh, t) \
    (((table[(b) * p.max_pages + (t) / p.P] * p.Hkv + (kvh)) * p.P + (t) % p.P) * p.D)
