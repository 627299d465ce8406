//! The builtin ops' argument lists, typed. A builtin (`gemm_vendor` through cuBLAS or
//! aclnn, the fused attentions, Ascend's `stream_copy`) is called with the kernel ABI's
//! flat argument list; each struct here is that list for one op, encoded by the plans and
//! decoded by the backends with the same code, so a plan and a backend cannot disagree
//! on an argument's position. Generic over how a buffer is named: a plan's index, a
//! [`crate::Buffer`], a backend's native memory.

use crate::ArgOf;

/// One builtin op's arguments.
pub trait BuiltinArgs<B: Copy>: Sized {
    /// The canonical kernel name the op is compiled under.
    const KERNEL: &'static str;
    /// The flat list, buffers first, as the kernel ABI orders it.
    fn encode(self) -> Vec<ArgOf<B>>;
    /// Reads the list back; the message names the op and the first argument that is wrong.
    fn decode(args: &[ArgOf<B>]) -> Result<Self, String>;
}

/// Reads a flat argument list in order, naming what it expected where it fails.
struct Reader<'a, B> {
    kernel: &'static str,
    args: std::slice::Iter<'a, ArgOf<B>>,
    at: usize,
}

impl<'a, B: Copy> Reader<'a, B> {
    fn new(kernel: &'static str, args: &'a [ArgOf<B>]) -> Self {
        Reader {
            kernel,
            args: args.iter(),
            at: 0,
        }
    }

    fn next(&mut self, what: &str) -> Result<ArgOf<B>, String> {
        self.at += 1;
        self.args.next().copied().ok_or_else(|| {
            format!(
                "{}: argument {} ({what}) is missing",
                self.kernel,
                self.at - 1
            )
        })
    }

    fn wrong(&self, what: &str) -> String {
        format!("{}: argument {} should be {what}", self.kernel, self.at - 1)
    }

    fn buffer(&mut self, what: &str) -> Result<B, String> {
        match self.next(what)? {
            ArgOf::Buffer(b) => Ok(b),
            _ => Err(self.wrong(&format!("the buffer {what}"))),
        }
    }

    fn u32(&mut self, what: &str) -> Result<u32, String> {
        match self.next(what)? {
            ArgOf::U32(v) => Ok(v),
            _ => Err(self.wrong(&format!("the u32 {what}"))),
        }
    }

    fn f32(&mut self, what: &str) -> Result<f32, String> {
        match self.next(what)? {
            ArgOf::F32(v) => Ok(v),
            _ => Err(self.wrong(&format!("the f32 {what}"))),
        }
    }

    /// Q, K, V and O, which every attention op's list starts with.
    fn attention_buffers(&mut self) -> Result<[B; 4], String> {
        Ok([
            self.buffer("Q")?,
            self.buffer("K")?,
            self.buffer("V")?,
            self.buffer("O")?,
        ])
    }

    fn end(mut self) -> Result<(), String> {
        match self.args.next() {
            None => Ok(()),
            Some(_) => Err(format!(
                "{}: {} arguments expected, more were given",
                self.kernel, self.at
            )),
        }
    }
}

/// `C = A·B`, row-major: A is M×K, B is K×N, C is M×N. fp8 adds one scalar, `scale`: the
/// per-tensor scales folded into one factor (sa·sb/sc), so C's codes are
/// round(scale · Σ a·b) over A's and B's codes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GemmArgs<B> {
    pub a: B,
    pub b: B,
    pub c: B,
    pub m: u32,
    pub n: u32,
    pub k: u32,
    /// fp8 only; absent (the list ends at K) for the other dtypes.
    pub scale: Option<f32>,
}

impl<B: Copy> BuiltinArgs<B> for GemmArgs<B> {
    const KERNEL: &'static str = "gemm_vendor";
    fn encode(self) -> Vec<ArgOf<B>> {
        use ArgOf::*;
        vec![
            Buffer(self.a),
            Buffer(self.b),
            Buffer(self.c),
            U32(self.m),
            U32(self.n),
            U32(self.k),
        ]
        .into_iter()
        .chain(self.scale.map(F32))
        .collect()
    }
    fn decode(args: &[ArgOf<B>]) -> Result<Self, String> {
        let mut r = Reader::new(Self::KERNEL, args);
        let g = GemmArgs {
            a: r.buffer("A")?,
            b: r.buffer("B")?,
            c: r.buffer("C")?,
            m: r.u32("M")?,
            n: r.u32("N")?,
            k: r.u32("K")?,
            scale: match args.len() {
                7 => Some(r.f32("scale")?),
                _ => None,
            },
        };
        r.end()?;
        Ok(g)
    }
}

/// The attention heads' shape, shared by prefill and decode: `batch` sequences of `heads`
/// query heads over `kv_heads` key/value heads (grouped-query when fewer), `keys` positions
/// of `head_dim` elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heads {
    pub batch: u32,
    pub heads: u32,
    pub kv_heads: u32,
    pub keys: u32,
    pub head_dim: u32,
}

impl Heads {
    /// The five scalars every attention kernel's list has after its buffers.
    pub fn encode<B>(self) -> [ArgOf<B>; 5] {
        [
            self.batch,
            self.heads,
            self.kv_heads,
            self.keys,
            self.head_dim,
        ]
        .map(ArgOf::U32)
    }

    fn decode<B: Copy>(r: &mut Reader<'_, B>, keys: &str) -> Result<Self, String> {
        Ok(Heads {
            batch: r.u32("batch")?,
            heads: r.u32("heads")?,
            kv_heads: r.u32("kv_heads")?,
            keys: r.u32(keys)?,
            head_dim: r.u32("head_dim")?,
        })
    }
}

/// Q, K, V, O then the heads: the start of every attention op's list.
fn attention_list<B>(buffers: [B; 4], heads: Heads) -> Vec<ArgOf<B>> {
    let mut v: Vec<ArgOf<B>> = buffers.into_iter().map(ArgOf::Buffer).collect();
    v.extend(heads.encode());
    v
}

/// Fused prefill attention `O = softmax(Q·Kᵀ·scale [causal]) V`, queries = keys.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttnPrefillArgs<B> {
    pub q: B,
    pub k: B,
    pub v: B,
    pub o: B,
    pub heads: Heads,
    pub causal: bool,
    pub scale: f32,
}

impl<B: Copy> BuiltinArgs<B> for AttnPrefillArgs<B> {
    const KERNEL: &'static str = "attn_prefill_vendor";
    fn encode(self) -> Vec<ArgOf<B>> {
        use ArgOf::*;
        let mut v = attention_list([self.q, self.k, self.v, self.o], self.heads);
        v.extend([U32(u32::from(self.causal)), F32(self.scale)]);
        v
    }
    fn decode(args: &[ArgOf<B>]) -> Result<Self, String> {
        let mut r = Reader::new(Self::KERNEL, args);
        let [q, k, v, o] = r.attention_buffers()?;
        let a = AttnPrefillArgs {
            q,
            k,
            v,
            o,
            heads: Heads::decode(&mut r, "sequence length")?,
            causal: r.u32("causal")? != 0,
            scale: r.f32("scale")?,
        };
        r.end()?;
        Ok(a)
    }
}

/// Fused decode attention: one query per sequence over a `keys`-long KV cache.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttnDecodeArgs<B> {
    pub q: B,
    pub k: B,
    pub v: B,
    pub o: B,
    pub heads: Heads,
    pub scale: f32,
}

impl<B: Copy> BuiltinArgs<B> for AttnDecodeArgs<B> {
    const KERNEL: &'static str = "attn_decode_vendor";
    fn encode(self) -> Vec<ArgOf<B>> {
        use ArgOf::*;
        let mut v = attention_list([self.q, self.k, self.v, self.o], self.heads);
        v.push(F32(self.scale));
        v
    }
    fn decode(args: &[ArgOf<B>]) -> Result<Self, String> {
        let mut r = Reader::new(Self::KERNEL, args);
        let [q, k, v, o] = r.attention_buffers()?;
        let a = AttnDecodeArgs {
            q,
            k,
            v,
            o,
            heads: Heads::decode(&mut r, "cache length")?,
            scale: r.f32("scale")?,
        };
        r.end()?;
        Ok(a)
    }
}

/// Decode attention over a paged cache (attention.paged): sequence b's key t is slot
/// t % `page` of page `table[b·max_pages + t / page]` of K and V (`[pages][Hkv][page][D]`),
/// for t < `lens[b]`; `table` and `lens` are u32. `heads.keys` is the longest length.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttnPagedArgs<B> {
    pub q: B,
    pub k: B,
    pub v: B,
    pub table: B,
    pub lens: B,
    pub o: B,
    pub heads: Heads,
    pub page: u32,
    pub max_pages: u32,
    pub scale: f32,
}

impl<B: Copy> BuiltinArgs<B> for AttnPagedArgs<B> {
    const KERNEL: &'static str = "attn_paged_vendor";
    fn encode(self) -> Vec<ArgOf<B>> {
        use ArgOf::*;
        let mut v: Vec<ArgOf<B>> = [self.q, self.k, self.v, self.table, self.lens, self.o]
            .into_iter()
            .map(Buffer)
            .collect();
        v.extend(self.heads.encode());
        v.extend([U32(self.page), U32(self.max_pages), F32(self.scale)]);
        v
    }
    fn decode(args: &[ArgOf<B>]) -> Result<Self, String> {
        let mut r = Reader::new(Self::KERNEL, args);
        let a = AttnPagedArgs {
            q: r.buffer("Q")?,
            k: r.buffer("K")?,
            v: r.buffer("V")?,
            table: r.buffer("table")?,
            lens: r.buffer("lens")?,
            o: r.buffer("O")?,
            heads: Heads::decode(&mut r, "longest length")?,
            page: r.u32("page size")?,
            max_pages: r.u32("table columns")?,
            scale: r.f32("scale")?,
        };
        r.end()?;
        Ok(a)
    }
}

/// A mixture-of-experts layer's expert GEMM (gemm.grouped): A holds each expert's rows in
/// expert order (`rows[e]` of them, u32), and C = those rows times their expert's weight,
/// W `[experts, K, N]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GemmGroupedArgs<B> {
    pub a: B,
    pub w: B,
    pub rows: B,
    pub c: B,
    pub experts: u32,
    pub n: u32,
    pub k: u32,
}

impl<B: Copy> BuiltinArgs<B> for GemmGroupedArgs<B> {
    const KERNEL: &'static str = "gemm_grouped_vendor";
    fn encode(self) -> Vec<ArgOf<B>> {
        use ArgOf::*;
        vec![
            Buffer(self.a),
            Buffer(self.w),
            Buffer(self.rows),
            Buffer(self.c),
            U32(self.experts),
            U32(self.n),
            U32(self.k),
        ]
    }
    fn decode(args: &[ArgOf<B>]) -> Result<Self, String> {
        let mut r = Reader::new(Self::KERNEL, args);
        let g = GemmGroupedArgs {
            a: r.buffer("A")?,
            w: r.buffer("W")?,
            rows: r.buffer("rows")?,
            c: r.buffer("C")?,
            experts: r.u32("experts")?,
            n: r.u32("N")?,
            k: r.u32("K")?,
        };
        r.end()?;
        Ok(g)
    }
}

/// `dst[i] = src[i]` for `n` f32 elements.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StreamCopyArgs<B> {
    pub src: B,
    pub dst: B,
    pub n: u32,
}

impl<B: Copy> BuiltinArgs<B> for StreamCopyArgs<B> {
    const KERNEL: &'static str = "stream_copy";
    fn encode(self) -> Vec<ArgOf<B>> {
        vec![
            ArgOf::Buffer(self.src),
            ArgOf::Buffer(self.dst),
            ArgOf::U32(self.n),
        ]
    }
    fn decode(args: &[ArgOf<B>]) -> Result<Self, String> {
        let mut r = Reader::new(Self::KERNEL, args);
        let a = StreamCopyArgs {
            src: r.buffer("src")?,
            dst: r.buffer("dst")?,
            n: r.u32("n")?,
        };
        r.end()?;
        Ok(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_op_reads_back_what_it_wrote() {
        let g = GemmArgs {
            a: 0usize,
            b: 1,
            c: 2,
            m: 3,
            n: 4,
            k: 5,
            scale: None,
        };
        assert_eq!(GemmArgs::decode(&g.encode()), Ok(g));
        let fp8 = GemmArgs {
            scale: Some(0.25),
            ..g
        };
        assert_eq!(fp8.encode().len(), 7);
        assert_eq!(GemmArgs::decode(&fp8.encode()), Ok(fp8));
        let heads = Heads {
            batch: 1,
            heads: 8,
            kv_heads: 2,
            keys: 512,
            head_dim: 64,
        };
        let p = AttnPrefillArgs {
            q: 0usize,
            k: 1,
            v: 2,
            o: 3,
            heads,
            causal: true,
            scale: 0.125,
        };
        assert_eq!(AttnPrefillArgs::decode(&p.encode()), Ok(p));
        let d = AttnDecodeArgs {
            q: 0usize,
            k: 1,
            v: 2,
            o: 3,
            heads,
            scale: 0.125,
        };
        assert_eq!(AttnDecodeArgs::decode(&d.encode()), Ok(d));
        let paged = AttnPagedArgs {
            q: 0usize,
            k: 1,
            v: 2,
            table: 3,
            lens: 4,
            o: 5,
            heads,
            page: 16,
            max_pages: 32,
            scale: 0.125,
        };
        assert_eq!(AttnPagedArgs::decode(&paged.encode()), Ok(paged));
        let grouped = GemmGroupedArgs {
            a: 0usize,
            w: 1,
            rows: 2,
            c: 3,
            experts: 64,
            n: 512,
            k: 1024,
        };
        assert_eq!(GemmGroupedArgs::decode(&grouped.encode()), Ok(grouped));
        let s = StreamCopyArgs {
            src: 0usize,
            dst: 1,
            n: 9,
        };
        assert_eq!(StreamCopyArgs::decode(&s.encode()), Ok(s));
    }

    #[test]
    fn a_misplaced_argument_is_named() {
        let mut args = GemmArgs {
            a: 0usize,
            b: 1,
            c: 2,
            m: 3,
            n: 4,
            k: 5,
            scale: None,
        }
        .encode();
        args.swap(2, 3);
        let e = GemmArgs::decode(&args).unwrap_err();
        assert!(e.contains("argument 2") && e.contains("buffer C"), "{e}");
        let mut args = StreamCopyArgs {
            src: 0usize,
            dst: 1,
            n: 9,
        }
        .encode();
        args.pop();
        assert!(StreamCopyArgs::decode(&args)
            .unwrap_err()
            .contains("missing"));
    }
}
