/* Stand-in libopapi.so (test double): aclnn's tensors and the two operators halbench
 * uses, computed on the host so the workloads validate. Checks shapes, dtypes, layout,
 * the two-phase protocol (an executor runs once, after its GetWorkspaceSize, with the
 * workspace it asked for) and that every tensor is destroyed. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "common.h"

enum { F32 = 0, F16 = 1, I32 = 3, U8 = 4, BF16 = 27 };
typedef struct { int magic; int64_t dims[8]; uint64_t nd; int dtype; void* data; } tensor_t;
enum { MAX_LIST = 256 };
typedef struct { int magic; uint64_t n; tensor_t* t[MAX_LIST]; } list_t;
typedef struct { int magic; uint64_t n; int64_t* v; } ints_t;
typedef struct {
  int magic, op; /* 1 matmul, 2 attention, 3 grouped matmul */
  uint64_t workspace;
  tensor_t a, b, c, mask, o, table; /* copies: the executor outlives the tensor objects */
  int has_mask;
  int64_t block, *lens; /* paged: the block size and a copy of the lengths */
  uint64_t groups; /* grouped: weights in b_list, row ends in lens */
  tensor_t b_list[MAX_LIST];
  double scale;
  int64_t heads, kv_heads;
} exec_t;
static int live_tensors;

const char* standin_opapi_log(void) { return standin_log_buf; }
void standin_opapi_fail(const char* name) { snprintf(standin_failing, sizeof standin_failing, "%s", name ? name : ""); }
int standin_opapi_live(void) { return live_tensors; }

void* aclCreateTensor(const int64_t* dims, uint64_t nd, int dtype, const int64_t* strides, int64_t offset,
                      int format, const int64_t* sdims, uint64_t snd, void* data) {
  if (nd == 0 || nd > 8 || !data || offset != 0 || format != 2 || snd != nd) {
    bad("aclCreateTensor: nd=%llu format=%d offset=%lld", (unsigned long long)nd, format, (long long)offset);
    return NULL;
  }
  int64_t expect = 1;
  for (int i = (int)nd - 1; i >= 0; --i) {
    if (strides[i] != expect || sdims[i] != dims[i] || dims[i] <= 0) {
      bad("aclCreateTensor: not a contiguous row-major tensor");
      return NULL;
    }
    expect *= dims[i];
  }
  tensor_t* t = calloc(1, sizeof *t);
  t->magic = 0x7E45;
  memcpy(t->dims, dims, nd * sizeof *dims);
  t->nd = nd;
  t->dtype = dtype;
  t->data = data;
  live_tensors++;
  return t;
}
static int tensor_ok(const void* t) { return t && ((const tensor_t*)t)->magic == 0x7E45; }
int aclDestroyTensor(void* t) {
  if (!tensor_ok(t)) return bad("aclDestroyTensor: not a tensor (destroyed twice?)");
  ((tensor_t*)t)->magic = 0;
  free(t);
  live_tensors--;
  return 0;
}
void* aclCreateTensorList(void* const* ts, uint64_t n) {
  if (n == 0 || n > MAX_LIST) {
    bad("aclCreateTensorList: %llu tensors", (unsigned long long)n);
    return NULL;
  }
  for (uint64_t i = 0; i < n; ++i)
    if (!tensor_ok(ts[i])) {
      bad("aclCreateTensorList: element %llu is not a tensor", (unsigned long long)i);
      return NULL;
    }
  list_t* l = calloc(1, sizeof *l);
  l->magic = 0x1157;
  l->n = n;
  for (uint64_t i = 0; i < n; ++i) l->t[i] = ts[i];
  return l;
}
static int list_ok(const void* l) { return l && ((const list_t*)l)->magic == 0x1157; }
int aclDestroyTensorList(void* l) {
  if (!list_ok(l)) return bad("aclDestroyTensorList: not a list");
  for (uint64_t i = 0; i < ((list_t*)l)->n; ++i) aclDestroyTensor(((list_t*)l)->t[i]); /* a list owns its tensors */
  ((list_t*)l)->magic = 0;
  free(l);
  return 0;
}

void* aclCreateIntArray(const int64_t* v, uint64_t n) {
  if (!v || n == 0) {
    bad("aclCreateIntArray: empty");
    return NULL;
  }
  ints_t* a = calloc(1, sizeof *a);
  a->magic = 0x1A7;
  a->n = n;
  a->v = malloc(n * sizeof *v);
  memcpy(a->v, v, n * sizeof *v);
  live_tensors++;
  return a;
}
static int ints_ok(const void* a) { return a && ((const ints_t*)a)->magic == 0x1A7; }
int aclDestroyIntArray(void* a) {
  if (!ints_ok(a)) return bad("aclDestroyIntArray: not an int array (destroyed twice?)");
  ((ints_t*)a)->magic = 0;
  free(((ints_t*)a)->v);
  free(a);
  live_tensors--;
  return 0;
}

static double get(const tensor_t* t, int64_t i) {
  switch (t->dtype) {
    case F16: return (double)((_Float16*)t->data)[i];
    case BF16: {
      uint32_t u = (uint32_t)((uint16_t*)t->data)[i] << 16;
      float f;
      memcpy(&f, &u, 4);
      return f;
    }
    default: return ((float*)t->data)[i];
  }
}
static void put(const tensor_t* t, int64_t i, double v) {
  switch (t->dtype) {
    case F16: ((_Float16*)t->data)[i] = (_Float16)v; break;
    case BF16: {
      float f = (float)v;
      uint32_t u;
      memcpy(&u, &f, 4);
      u += 0x7fffu + ((u >> 16) & 1u);
      ((uint16_t*)t->data)[i] = (uint16_t)(u >> 16);
      break;
    }
    default: ((float*)t->data)[i] = (float)v;
  }
}
static int dtype_ok(int d) { return d == F32 || d == F16 || d == BF16; }

int aclnnMatmulGetWorkspaceSize(void* a, void* b, void* c, int8_t cube, uint64_t* ws, void** exec) {
  if (failing("aclnnMatmulGetWorkspaceSize")) return STANDIN_ERROR;
  if (!tensor_ok(a) || !tensor_ok(b) || !tensor_ok(c)) return bad("aclnnMatmul: bad tensor");
  tensor_t *A = a, *B = b, *C = c;
  if (A->nd != 2 || B->nd != 2 || C->nd != 2 || A->dims[1] != B->dims[0] || C->dims[0] != A->dims[0] ||
      C->dims[1] != B->dims[1])
    return bad("aclnnMatmul: shapes do not chain");
  if (A->dtype != B->dtype || A->dtype != C->dtype || !dtype_ok(A->dtype)) return bad("aclnnMatmul: dtypes");
  if (cube < 0 || cube > 3) return bad("aclnnMatmul: cubeMathType %d", cube);
  exec_t* e = calloc(1, sizeof *e);
  e->magic = 0xE8EC;
  e->op = 1;
  e->workspace = *ws = 4096;
  e->a = *A, e->b = *B, e->c = *C;
  *exec = e;
  logf_("aclnnMatmulGetWorkspaceSize M=%lld N=%lld K=%lld dtype=%d cubeMathType=%d", (long long)A->dims[0],
        (long long)B->dims[1], (long long)A->dims[1], A->dtype, cube);
  return 0;
}

static int take(void* exec, void* ws, uint64_t size, void* stream, int op, const char* what, exec_t** out) {
  exec_t* e = exec;
  if (!e || e->magic != 0xE8EC || e->op != op) return bad("%s: not a fresh executor from its GetWorkspaceSize", what);
  if (size != e->workspace || (size && !ws)) return bad("%s: workspace %llu, asked for %llu", what,
                                                         (unsigned long long)size, (unsigned long long)e->workspace);
  if (!stream) return bad("%s: no stream", what);
  e->magic = 0; /* one run per executor */
  *out = e;
  return 0;
}

int aclnnMatmul(void* ws, uint64_t size, void* exec, void* stream) {
  exec_t* e = NULL;
  int r = take(exec, ws, size, stream, 1, "aclnnMatmul", &e);
  if (r) return r;
  int64_t M = e->a.dims[0], K = e->a.dims[1], N = e->b.dims[1];
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double acc = 0;
      for (int64_t k = 0; k < K; ++k) acc += get(&e->a, i * K + k) * get(&e->b, k * N + j);
      put(&e->c, i * N + j, acc);
    }
  free(e);
  logf_("aclnnMatmul workspace=%llu", (unsigned long long)size);
  return 0;
}

int aclnnFusedInferAttentionScoreGetWorkspaceSize(
    void* q, void* k, void* v, void* pse, void* mask, void* seq, void* seqkv, void* d1, void* q1, void* d2,
    void* q2, void* o2, void* as, void* ao, void* bt, void* qp, void* kp, int64_t heads, double scale,
    int64_t pre, int64_t next, char* layout, int64_t kv_heads, int64_t sparse, int64_t inner, int64_t block,
    int64_t antiquant, _Bool lse, void* out, void* lse_out, uint64_t* ws, void** exec) {
  if (failing("aclnnFusedInferAttentionScoreGetWorkspaceSize")) return STANDIN_ERROR;
  if (!tensor_ok(q) || !tensor_ok(out) || !k || !v) return bad("FIA: bad tensor");
  if (pse || seq || d1 || q1 || d2 || q2 || o2 || as || ao || qp || kp || lse || lse_out)
    return bad("FIA: an unused optional input was given");
  if (!layout || strcmp(layout, "BNSD") != 0) return bad("FIA: layout %s, expected BNSD", layout ? layout : "NULL");
  if (sparse != 0 || antiquant != 0 || inner != 0) return bad("FIA: modes");
  if (!list_ok(k) || !list_ok(v) || ((list_t*)k)->n != 1 || ((list_t*)v)->n != 1) return bad("FIA: one K and one V tensor");
  tensor_t *Q = q, *K = ((list_t*)k)->t[0], *V = ((list_t*)v)->t[0], *O = out;
  if (Q->nd != 4 || K->nd != 4 || V->nd != 4 || O->nd != 4) return bad("FIA: BNSD tensors are 4-D");
  if (Q->dims[1] != heads || K->dims[1] != kv_heads || heads % kv_heads) return bad("FIA: heads %lld/%lld", (long long)heads, (long long)kv_heads);
  /* Paged (IncreFlashAttention with a block table): K/V [blocks, KVN, block, D], an int32
   * table [B, max blocks], the lengths as a host array of B, S = 1, no mask. */
  int paged = bt != NULL;
  if (paged != (seqkv != NULL) || paged != (block != 0)) return bad("FIA: a block table comes with lengths and a block size");
  if (paged) {
    tensor_t* T = bt;
    if (!tensor_ok(T) || T->dtype != I32 || T->nd != 2 || T->dims[0] != Q->dims[0]) return bad("FIA: the block table must be int32 [B, blocks]");
    if (!ints_ok(seqkv) || (int64_t)((ints_t*)seqkv)->n != Q->dims[0]) return bad("FIA: one length per sequence");
    if (block % 16 || K->dims[2] != block || Q->dims[2] != 1 || mask) return bad("FIA: paged shapes");
    for (uint64_t i = 0; i < ((ints_t*)seqkv)->n; ++i)
      if (((ints_t*)seqkv)->v[i] > T->dims[1] * block) return bad("FIA: a length beyond its table row");
  }
  if (K->dims[3] != Q->dims[3] || V->dims[2] != K->dims[2] || memcmp(O->dims, Q->dims, sizeof Q->dims))
    return bad("FIA: shapes");
  if (Q->dtype != K->dtype || Q->dtype != V->dtype || Q->dtype != O->dtype || !dtype_ok(Q->dtype))
    return bad("FIA: dtypes");
  exec_t* e = calloc(1, sizeof *e);
  if (mask) {
    tensor_t* Mk = mask;
    if (!tensor_ok(Mk) || Mk->dtype != U8 || Mk->nd != 2 || Mk->dims[0] != Q->dims[2] || Mk->dims[1] != K->dims[2]) {
      free(e);
      return bad("FIA: the mask must be u8 [Sq, Skv]");
    }
    if (next != 0) {
      free(e);
      return bad("FIA: a causal mask comes with nextTokens 0");
    }
    e->mask = *Mk;
    e->has_mask = 1;
  }
  (void)pre;
  e->magic = 0xE8EC;
  e->op = 2;
  e->workspace = *ws = 8192;
  e->a = *Q, e->b = *K, e->c = *V, e->o = *O;
  e->scale = scale;
  e->heads = heads;
  e->kv_heads = kv_heads;
  if (paged) {
    e->table = *(tensor_t*)bt;
    e->block = block;
    e->lens = malloc(sizeof(int64_t) * (size_t)Q->dims[0]);
    memcpy(e->lens, ((ints_t*)seqkv)->v, sizeof(int64_t) * (size_t)Q->dims[0]);
    logf_("aclnnFusedInferAttentionScoreGetWorkspaceSize paged B=%lld N=%lld KVN=%lld blocks=%lld block=%lld D=%lld dtype=%d",
          (long long)Q->dims[0], (long long)heads, (long long)kv_heads, (long long)K->dims[0], (long long)block,
          (long long)Q->dims[3], Q->dtype);
    *exec = e;
    return 0;
  }
  *exec = e;
  logf_("aclnnFusedInferAttentionScoreGetWorkspaceSize B=%lld N=%lld KVN=%lld Sq=%lld Skv=%lld D=%lld dtype=%d causal=%d",
        (long long)Q->dims[0], (long long)heads, (long long)kv_heads, (long long)Q->dims[2], (long long)K->dims[2],
        (long long)Q->dims[3], Q->dtype, e->has_mask);
  return 0;
}

/* Element offset of sequence b's key j for KV head g: dense [B, KVN, S, D], or paged
 * [blocks, KVN, block, D] through the table. */
static int64_t kv_row(const exec_t* e, int64_t b, int64_t g, int64_t j) {
  int64_t Hkv = e->kv_heads, D = e->a.dims[3];
  if (!e->lens) return ((b * Hkv + g) * e->b.dims[2] + j) * D;
  int64_t page = ((const int32_t*)e->table.data)[b * e->table.dims[1] + j / e->block];
  return ((page * Hkv + g) * e->block + j % e->block) * D;
}

int aclnnFusedInferAttentionScore(void* ws, uint64_t size, void* exec, void* stream) {
  exec_t* e = NULL;
  int r = take(exec, ws, size, stream, 2, "aclnnFusedInferAttentionScore", &e);
  if (r) return r;
  int64_t B = e->a.dims[0], H = e->heads, Hkv = e->kv_heads, Sq = e->a.dims[2], D = e->a.dims[3];
  int64_t Skv = e->lens ? e->table.dims[1] * e->block : e->b.dims[2];
  double* s = malloc(sizeof(double) * (size_t)Skv);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h) {
      int64_t g = h / (H / Hkv);
      for (int64_t i = 0; i < Sq; ++i) {
        double mx = -INFINITY, sum = 0;
        for (int64_t j = 0; j < Skv; ++j) {
          if ((e->has_mask && ((uint8_t*)e->mask.data)[i * Skv + j]) || (e->lens && j >= e->lens[b])) {
            s[j] = -INFINITY;
            continue;
          }
          double dot = 0;
          for (int64_t d = 0; d < D; ++d)
            dot += get(&e->a, ((b * H + h) * Sq + i) * D + d) * get(&e->b, kv_row(e, b, g, j) + d);
          s[j] = dot * e->scale;
          if (s[j] > mx) mx = s[j];
        }
        for (int64_t j = 0; j < Skv; ++j) sum += s[j] == -INFINITY ? 0 : exp(s[j] - mx);
        for (int64_t d = 0; d < D; ++d) {
          double acc = 0;
          for (int64_t j = 0; j < Skv; ++j)
            if (s[j] != -INFINITY) acc += exp(s[j] - mx) * get(&e->c, kv_row(e, b, g, j) + d);
          put(&e->o, ((b * H + h) * Sq + i) * D + d, sum > 0 ? acc / sum : 0);
        }
      }
    }
  free(s);
  free(e->lens);
  free(e);
  logf_("aclnnFusedInferAttentionScore workspace=%llu", (unsigned long long)size);
  return 0;
}

/* Grouped matmul, the one form halbench uses: x and y single tensors [M, K] and [M, N],
 * one weight [K, N] per group, the group list the running row ends (last = M), split
 * item 2 or 3 (a single output), no bias or quantisation. */
int aclnnGroupedMatmulGetWorkspaceSize(void* x, void* w, void* bias, void* scale, void* offset, void* as, void* ao,
                                       void* group_list, int64_t split, void* y, uint64_t* ws, void** exec) {
  if (failing("aclnnGroupedMatmulGetWorkspaceSize")) return STANDIN_ERROR;
  if (bias || scale || offset || as || ao) return bad("GMM: an unused optional input was given");
  if (!list_ok(x) || !list_ok(w) || !list_ok(y) || !ints_ok(group_list)) return bad("GMM: bad list");
  list_t *X = x, *W = w, *Y = y;
  ints_t* G = group_list;
  if (X->n != 1 || Y->n != 1 || (split != 2 && split != 3)) return bad("GMM: x and y are single tensors (split item 2 or 3)");
  if (G->n != W->n || W->n > 128) return bad("GMM: %llu group ends for %llu weights", (unsigned long long)G->n, (unsigned long long)W->n);
  tensor_t *A = X->t[0], *C = Y->t[0];
  if (A->nd != 2 || C->nd != 2 || A->dims[0] != C->dims[0]) return bad("GMM: x and y shapes");
  int64_t prev = 0;
  for (uint64_t i = 0; i < W->n; ++i) {
    tensor_t* B = W->t[i];
    if (B->nd != 2 || B->dims[0] != A->dims[1] || B->dims[1] != C->dims[1] || B->dtype != A->dtype) return bad("GMM: weight %llu", (unsigned long long)i);
    if (G->v[i] < prev) return bad("GMM: group ends must not decrease");
    prev = G->v[i];
  }
  if (prev != A->dims[0]) return bad("GMM: the last group ends at %lld, not at M = %lld", (long long)prev, (long long)A->dims[0]);
  if (A->dtype != C->dtype || !dtype_ok(A->dtype)) return bad("GMM: dtypes");
  exec_t* e = calloc(1, sizeof *e);
  e->magic = 0xE8EC;
  e->op = 3;
  e->workspace = *ws = 2048;
  e->a = *A, e->o = *C;
  e->groups = W->n;
  for (uint64_t i = 0; i < W->n; ++i) e->b_list[i] = *W->t[i];
  e->lens = malloc(sizeof(int64_t) * W->n);
  memcpy(e->lens, G->v, sizeof(int64_t) * W->n);
  *exec = e;
  logf_("aclnnGroupedMatmulGetWorkspaceSize groups=%llu M=%lld N=%lld K=%lld dtype=%d", (unsigned long long)W->n,
        (long long)A->dims[0], (long long)C->dims[1], (long long)A->dims[1], A->dtype);
  return 0;
}

int aclnnGroupedMatmul(void* ws, uint64_t size, void* exec, void* stream) {
  exec_t* e = NULL;
  int r = take(exec, ws, size, stream, 3, "aclnnGroupedMatmul", &e);
  if (r) return r;
  int64_t K = e->a.dims[1], N = e->o.dims[1], row = 0;
  for (uint64_t g = 0; g < e->groups; ++g)
    for (; row < e->lens[g]; ++row)
      for (int64_t j = 0; j < N; ++j) {
        double acc = 0;
        for (int64_t p = 0; p < K; ++p) acc += get(&e->a, row * K + p) * get(&e->b_list[g], p * N + j);
        put(&e->o, row * N + j, acc);
      }
  free(e->lens);
  free(e);
  logf_("aclnnGroupedMatmul workspace=%llu", (unsigned long long)size);
  return 0;
}
