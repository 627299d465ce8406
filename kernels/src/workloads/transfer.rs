//! Host-to-device, device-to-host and device-to-device copies through the HAL's own
//! `write`, `read` and `copy`, each byte counted once.

use halbench_hal::{DType, DeviceInfo};

use crate::check::{Checker, Validation};
use crate::plan::{BufferSpec, Output, Plan, Step};
use crate::workloads::stream_elements;
use crate::{Bound, Cost, Scale, Shape, ShapeKind, Workload};

#[derive(Debug, Clone, Copy)]
pub(crate) enum Direction {
    HostToDevice,
    DeviceToHost,
    DeviceToDevice,
}

pub(crate) struct Transfer(pub(crate) Direction);

impl Workload for Transfer {
    fn name(&self) -> &'static str {
        match self.0 {
            Direction::HostToDevice => "transfer.h2d",
            Direction::DeviceToHost => "transfer.d2h",
            Direction::DeviceToDevice => "transfer.d2d",
        }
    }

    fn variants(&self) -> &'static [&'static str] {
        &["default"]
    }

    fn dtypes(&self) -> &'static [DType] {
        &[DType::F32]
    }

    fn shape_kind(&self) -> ShapeKind {
        ShapeKind::Elements
    }

    fn bound(&self) -> Bound {
        Bound::Memory
    }

    fn shapes(&self, scale: Scale, info: &DeviceInfo) -> Vec<Shape> {
        let n = match scale {
            Scale::Smoke => 100_003,
            Scale::Quick => stream_elements(info, 4, 2),
            Scale::Full => stream_elements(info, 16, 2),
        };
        vec![Shape::Elements { n }]
    }

    fn cost(&self, shape: &Shape, _dtype: DType) -> Cost {
        Cost {
            flops: 0.0,
            bytes: shape.elements() as f64 * 4.0,
            ..Cost::default()
        }
    }

    fn cache_resident(&self, shape: &Shape, info: &DeviceInfo) -> bool {
        shape.elements() * 4 < 4 * info.last_level_cache_bytes
    }

    fn plan(&self, _variant: &str, _dtype: DType, shape: &Shape, _info: &DeviceInfo) -> Plan {
        let n = shape.elements();
        let mut data = BufferSpec::input("transfer.data", DType::F32, n);
        let bytes = data.bytes;
        let (buffers, steps, output) = match self.0 {
            Direction::HostToDevice => (
                vec![{
                    data.upload = false;
                    data
                }],
                vec![Step::Write { buffer: 0 }],
                Output::Buffer(0),
            ),
            Direction::DeviceToHost => {
                (vec![data], vec![Step::Read { buffer: 0 }], Output::HostRead)
            }
            Direction::DeviceToDevice => (
                vec![data, BufferSpec::output("transfer.dst", bytes)],
                vec![Step::Copy { src: 0, dst: 1 }],
                Output::Buffer(1),
            ),
        };
        Plan {
            buffers,
            steps,
            output,
        }
    }

    fn check(&self, _dtype: DType, _shape: &Shape, plan: &Plan, out: &[u8]) -> Validation {
        let want = plan.data(0);
        let mut checker = Checker::new();
        if out.len() != want.len() {
            checker.check(out.len() as f64, want.len() as f64, 0.0, || "length".into());
            return checker.finish();
        }
        // Bit-exact: every word is compared, as raw bits.
        for (i, (g, w)) in out.chunks_exact(4).zip(want.chunks_exact(4)).enumerate() {
            let (g, w) = (
                u32::from_le_bytes([g[0], g[1], g[2], g[3]]),
                u32::from_le_bytes([w[0], w[1], w[2], w[3]]),
            );
            checker.check(f64::from(g), f64::from(w), 0.0, || format!("word {i}"));
        }
        checker.finish()
    }
}
