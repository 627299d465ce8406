//! `latency.launch`: what one launch of an empty kernel costs. Shape `n` is launches per
//! run; the result is reported per launch.
//!
//! - `dispatch`: `n` launches back to back and one wait: the cost of a launch when the
//!   queue is kept full (enqueue and scheduling overhead).
//! - `roundtrip`: each launch waited for on the host: launch, run and completion seen by
//!   the host. Timed by the host clock.
//!
//! The kernel writes only when its flag is non-zero, and the flag is zero, so it does no
//! work the compiler could see through; the check proves it left its buffer alone.

use halbench_hal::{DType, DeviceInfo, Dims};

use crate::check::{Checker, Validation};
use crate::plan::{self, BufferSpec, Output, Plan, PlanArg, Step};
use crate::{Bound, Cost, Scale, Shape, ShapeKind, Workload};

const GUARD_WORDS: u64 = 64;

/// The most launches one run takes: the plan holds one step per launch, and a million
/// would be hundreds of MB of host memory to say what a thousand already says.
const MAX_LAUNCHES: u64 = 100_000;

pub(crate) struct Launch;

impl Workload for Launch {
    fn name(&self) -> &'static str {
        "latency.launch"
    }

    fn variants(&self) -> &'static [&'static str] {
        &["dispatch", "roundtrip"]
    }

    fn dtypes(&self) -> &'static [DType] {
        &[DType::F32]
    }

    fn shape_kind(&self) -> ShapeKind {
        ShapeKind::Elements
    }

    fn bound(&self) -> Bound {
        Bound::Latency
    }

    fn shapes(&self, scale: Scale, _info: &DeviceInfo) -> Vec<Shape> {
        let n = match scale {
            Scale::Smoke => 8,
            Scale::Quick => 100,
            Scale::Full => 1000,
        };
        vec![Shape::Elements { n }]
    }

    fn check_shape(&self, shape: &Shape) -> Result<(), String> {
        match shape.elements() {
            n if n > MAX_LAUNCHES => Err(format!(
                "n={n} launches a run exceeds {MAX_LAUNCHES} (the plan holds one step per launch)"
            )),
            _ => Ok(()),
        }
    }

    fn cost(&self, shape: &Shape, _dtype: DType) -> Cost {
        Cost {
            launches: shape.elements() as f64,
            ..Cost::default()
        }
    }

    fn plan(&self, variant: &str, _dtype: DType, shape: &Shape, _info: &DeviceInfo) -> Plan {
        let launch = Step::Launch(plan::Launch::new(
            "latency_empty",
            DType::F32,
            Dims::linear(1, 1),
            vec![PlanArg::Buffer(0), PlanArg::U32(0)],
        ));
        let mut steps = Vec::new();
        for _ in 0..shape.elements() {
            steps.push(launch.clone());
            if variant == "roundtrip" {
                steps.push(Step::Sync);
            }
        }
        Plan {
            buffers: vec![BufferSpec::input("latency.guard", DType::F32, GUARD_WORDS)],
            steps,
            output: Output::Buffer(0),
        }
    }

    fn check(&self, _dtype: DType, _shape: &Shape, plan: &Plan, out: &[u8]) -> Validation {
        let mut checker = Checker::new();
        let want = plan.data(0);
        for (i, (g, w)) in out.chunks_exact(4).zip(want.chunks_exact(4)).enumerate() {
            let word = |b: &[u8]| f64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
            checker.check(word(g), word(w), 0.0, || format!("guard word {i}"));
        }
        checker.finish()
    }
}
