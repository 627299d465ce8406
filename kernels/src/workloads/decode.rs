//! attention.decode: one query token against a KV cache, with grouped KV heads. The
//! dimensions, buffers, cost and reference are shared with prefill (`attention.rs`).

use halbench_hal::ops::{AttnDecodeArgs, BuiltinArgs};
use halbench_hal::{DType, DeviceInfo, Dims};

use super::attention::{buf, dimensions, launch, launch_rows, u32_arg, Dimensions};
use crate::check::Validation;
use crate::plan::{groups, BufferSpec, Output, Plan, PlanArg};
use crate::workloads::MAX_GROUPS;
use crate::{Bound, Cost, Scale, Shape, ShapeKind, Workload};

pub(crate) struct Decode;

fn decode(b: u64, h: u64, hkv: u64, l: u64, d: u64) -> Shape {
    Shape::Decode { b, h, hkv, l, d }
}

/// KV splits for split_kv: enough (batch × KV head × split) tasks to fill the device
/// twice over, no split shorter than 256 keys, and none longer than 4096 (a split is one
/// work-group's loop, and some drivers cap loop iterations).
fn splits(x: &Dimensions, info: &DeviceInfo) -> u64 {
    let tasks = x.b * x.hkv;
    let wanted = (2 * u64::from(info.compute_units.max(1))).div_ceil(tasks);
    wanted
        .clamp(1, (x.keys / 256).max(1))
        .max(x.keys.div_ceil(4096))
}

impl Workload for Decode {
    /// Cold: a decode step reads its KV cache after the other layers evicted it.
    fn default_cache(&self, _shape: &Shape) -> crate::CacheState {
        crate::CacheState::Cold
    }

    fn name(&self) -> &'static str {
        "attention.decode"
    }

    fn variants(&self) -> &'static [&'static str] {
        &["naive", "split_kv", "vendor"]
    }

    fn dtypes(&self) -> &'static [DType] {
        &DType::FLOATS
    }

    fn shape_kind(&self) -> ShapeKind {
        ShapeKind::Decode
    }

    fn bound(&self) -> Bound {
        Bound::Memory
    }

    fn shapes(&self, scale: Scale, _info: &DeviceInfo) -> Vec<Shape> {
        match scale {
            // The last has L·(2D+1) > 65535, as for prefill.
            Scale::Smoke => vec![
                decode(2, 4, 2, 100, 16),
                decode(1, 3, 1, 1000, 24),
                decode(1, 2, 1, 3000, 32),
            ],
            Scale::Quick => vec![decode(4, 16, 4, 4096, 128)],
            Scale::Full => vec![decode(8, 32, 8, 4096, 128), decode(16, 32, 8, 16384, 128)],
        }
    }

    fn cost(&self, shape: &Shape, dtype: DType) -> Cost {
        dimensions(shape).cost(dtype)
    }

    fn plan(&self, variant: &str, dtype: DType, shape: &Shape, info: &DeviceInfo) -> Plan {
        let x = dimensions(shape);
        let mut buffers = x.buffers(dtype);
        let bh = x.b * x.h;
        let scale = PlanArg::F32(x.scale());
        let steps = if variant == "vendor" {
            // The vendor library's decode attention, as a builtin (aclnn's fused
            // inference attention).
            vec![launch(
                "attn_decode_vendor",
                dtype,
                Dims::linear(1, 1),
                AttnDecodeArgs {
                    q: 0,
                    k: 1,
                    v: 2,
                    o: 3,
                    heads: x.typed_heads(),
                    scale: x.scale(),
                }
                .encode(),
            )]
        } else if variant == "naive" {
            buffers.push(BufferSpec::output("attn.scores", bh * x.keys * 4));
            vec![
                launch(
                    "attn_decode_scores",
                    dtype,
                    Dims {
                        groups: [groups(x.keys, 256), bh as u32, 1],
                        threads: [256, 1, 1],
                    },
                    [&[buf(0), buf(1), buf(4)][..], &x.heads(), &[scale]].concat(),
                ),
                launch(
                    "softmax_rows",
                    DType::F32,
                    Dims::linear((bh as u32).min(MAX_GROUPS), 256),
                    vec![buf(4), u32_arg(bh), u32_arg(x.keys)],
                ),
                launch(
                    "attn_decode_pv",
                    dtype,
                    Dims {
                        groups: [groups(x.d, 64), bh as u32, 1],
                        threads: [64, 1, 1],
                    },
                    [&[buf(4), buf(2), buf(3)][..], &x.heads()].concat(),
                ),
            ]
        } else {
            let splits = splits(&x, info);
            buffers.push(BufferSpec::output(
                "attn.partial",
                bh * splits * (x.d + 2) * 4,
            ));
            vec![
                launch_rows(
                    "attn_decode_split",
                    dtype,
                    x.d,
                    // One group of 64 per (split, head).
                    Dims {
                        groups: [splits as u32, bh as u32, 1],
                        threads: [64, 1, 1],
                    },
                    [
                        &[buf(0), buf(1), buf(2), buf(4)][..],
                        &x.heads(),
                        &[u32_arg(splits), scale],
                    ]
                    .concat(),
                ),
                launch(
                    "attn_decode_combine",
                    dtype,
                    Dims::linear(bh as u32, 128),
                    vec![
                        buf(4),
                        buf(3),
                        u32_arg(x.b),
                        u32_arg(x.h),
                        u32_arg(x.d),
                        u32_arg(splits),
                    ],
                ),
            ]
        };
        Plan {
            buffers,
            steps,
            output: Output::Buffer(3),
        }
    }

    fn check(&self, dtype: DType, shape: &Shape, plan: &Plan, out: &[u8]) -> Validation {
        dimensions(shape).check(dtype, plan, out)
    }
}
