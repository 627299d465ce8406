//! The mixture-of-experts expert GEMM through aclnnGroupedMatmul: A as one tensor
//! `[ΣMₑ, K]`, one weight tensor `[K, N]` per expert that got rows, C as one tensor
//! `[ΣMₑ, N]` (split item 2: a single output), and the group list the running row ends of
//! those experts. The rows per expert are read back to the host (aclnn takes the group
//! list as a host array), a small copy the timed figure includes.

use halbench_hal::layer::Native;
use halbench_hal::ops::GemmGroupedArgs;
use halbench_hal::{DType, Error, Result};

use crate::acl::Executor;
use crate::device::{acl_dtype, sized, AclMemory, AscendDevice, Tensors};
use crate::NAME;

/// The most groups aclnnGroupedMatmul takes in a tensor list.
const MAX_GROUPS: usize = 128;

impl AscendDevice {
    pub(crate) fn grouped_matmul(
        &mut self,
        dtype: DType,
        g: GemmGroupedArgs<Native<'_, AclMemory>>,
    ) -> Result<()> {
        let t = acl_dtype(dtype)?;
        let (experts, n, k) = (u64::from(g.experts), u64::from(g.n), u64::from(g.k));
        let rows = self.host_u32(g.rows, experts, "rows")?;
        let active: Vec<(u64, u64)> = rows
            .iter()
            .enumerate()
            .filter(|(_, &r)| r > 0)
            .map(|(e, &r)| (e as u64, u64::from(r)))
            .collect();
        if active.len() > MAX_GROUPS {
            return Err(Error::unsupported(
                NAME,
                format!(
                    "aclnnGroupedMatmul takes at most {MAX_GROUPS} groups; {} experts got rows",
                    active.len()
                ),
            ));
        }
        let total: u64 = active.iter().map(|(_, r)| r).sum();
        let size = dtype.size() as u64;
        let a = sized(g.a, total * k * size, "A")?;
        let w = sized(g.w, experts * k * n * size, "W")?;
        let c = sized(g.c, total * n * size, "C")?;
        let mut ends = Vec::with_capacity(active.len());
        let mut at = 0;
        for (_, r) in &active {
            at += *r as i64;
            ends.push(at);
        }
        let weights: Vec<_> = active
            .iter()
            .map(|(e, _)| {
                let offset = (e * k * n * size) as usize;
                // SAFETY: expert e's K×N block lies inside W (its size is checked above).
                let block = unsafe { w.cast::<u8>().add(offset) };
                (vec![k as i64, n as i64], block.cast())
            })
            .collect();
        let mut owned = Tensors::new(self.acl());
        let x = owned.list_of(&[(vec![total as i64, k as i64], a)], t)?;
        let wl = owned.list_of(&weights, t)?;
        let y = owned.list_of(&[(vec![total as i64, n as i64], c)], t)?;
        let groups = owned.ints(&ends)?;
        let null = std::ptr::null_mut();
        let mut workspace = 0u64;
        let mut executor: Executor = std::ptr::null_mut();
        // SAFETY: every list is live or NULL (optional); out-pointers valid.
        let code = unsafe {
            (self.acl().aclnnGroupedMatmulGetWorkspaceSize)(
                x,
                wl,
                null,
                null,
                null,
                null,
                null,
                groups,
                2,
                y,
                &mut workspace,
                &mut executor,
            )
        };
        self.ok(code, "aclnnGroupedMatmulGetWorkspaceSize")?;
        let op = self.acl().aclnnGroupedMatmul;
        self.run_op("aclnnGroupedMatmul", workspace, executor, op)
    }
}
