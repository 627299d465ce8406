//! Paged decode attention through aclnn: aclnnFusedInferAttentionScore with a block table
//! (its IncreFlashAttention branch, one query per sequence), K and V as
//! `[blocks, Hkv, page, D]`. aclnn takes the sequence lengths as a host array, so each
//! launch reads `lens` back, and the table too, to check that every entry in use names a
//! page inside K and V before the NPU follows it: two small copies the timed figure
//! includes, as a server that keeps its lengths on the device would pay them.

use std::ffi::c_void;

use halbench_hal::layer::Native;
use halbench_hal::ops::AttnPagedArgs;
use halbench_hal::{DType, Error, Result};

use crate::device::{sized, AclMemory, AscendDevice};
use crate::NAME;

/// A paged K/V layout, as aclnn's attention call takes it.
pub(crate) struct PagedKv {
    pub blocks: i64,
    pub page: i64,
    pub max_pages: i64,
    /// Device memory: `[B, max_pages]` int32 page indices.
    pub table: *mut c_void,
    pub lens: Vec<i64>,
}

/// CANN documents paged attention's block size as a multiple of 16 keys, at most 512.
fn page_supported(page: u32) -> bool {
    page.is_multiple_of(16) && page <= 512
}

impl AscendDevice {
    pub(crate) fn paged_attention(
        &mut self,
        dtype: DType,
        a: AttnPagedArgs<Native<'_, AclMemory>>,
    ) -> Result<()> {
        if !page_supported(a.page) {
            return Err(Error::unsupported(
                NAME,
                format!(
                    "aclnn's paged attention takes pages of a multiple of 16 keys up to 512, not {}",
                    a.page
                ),
            ));
        }
        let x = a.heads;
        let [b, h, hkv, l, d, page, max_pages] = [
            x.batch,
            x.heads,
            x.kv_heads,
            x.keys,
            x.head_dim,
            a.page,
            a.max_pages,
        ]
        .map(u64::from);
        let size = dtype.size() as u64;
        let q = sized(a.q, b * h * d * size, "Q")?;
        let o = sized(a.o, b * h * d * size, "O")?;
        let table = self.host_u32(a.table, b * max_pages, "table")?;
        let lens = self.host_u32(a.lens, b, "lens")?;
        let blocks = a.k.bytes.min(a.v.bytes) / (hkv * page * d * size).max(1);
        for (seq, &n) in lens.iter().enumerate() {
            let n = u64::from(n);
            if n > l || n.div_ceil(page) > max_pages {
                return Err(Error::invalid(
                    NAME,
                    format!("sequence {seq} has {n} keys: more than L = {l} or than its table row holds"),
                ));
            }
            let row = &table[seq * max_pages as usize..][..n.div_ceil(page) as usize];
            if let Some(&p) = row.iter().find(|&&p| u64::from(p) >= blocks) {
                return Err(Error::invalid(
                    NAME,
                    format!("sequence {seq}'s table names page {p}; K and V hold {blocks} pages"),
                ));
            }
        }
        let paged = PagedKv {
            blocks: blocks as i64,
            page: page as i64,
            max_pages: max_pages as i64,
            table: a.table.memory.0,
            lens: lens.iter().map(|&n| i64::from(n)).collect(),
        };
        let bufs = [q, a.k.memory.0, a.v.memory.0, o];
        self.attention(
            dtype,
            bufs,
            [b, h, hkv, 1, l, d],
            false,
            a.scale,
            Some(&paged),
        )
    }
}
