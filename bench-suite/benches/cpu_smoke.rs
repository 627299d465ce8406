//! Criterion over the CPU backend's smoke cases, timed through the HAL exactly as the
//! harness times them (`Prepared::time_runs`): `iter_custom` runs the prepared plan
//! `iters` times between two device events where the device has timers (so a GPU runner
//! can feed device time to criterion), else between two `sync`s on the host clock.
//!
//! `cargo bench -p halbench --bench cpu_smoke [-- FILTER]`

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use halbench_hal::{Backend, Error};
use halbench_kernels::executor;
use halbench_kernels::{Case, Scale};

fn smoke_cases(c: &mut Criterion) {
    let backend = halbench_cpu::CpuBackend::new();
    let mut device = backend.open(0).expect("the CPU device opens");
    let info = device.info().clone();
    let mut group = c.benchmark_group("cpu");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_secs(1));
    for &workload in halbench_kernels::all() {
        for case in Case::all_of(workload, Scale::Smoke, &info) {
            let plan = case.plan(&info).unwrap_or_else(|e| panic!("{case}: {e}"));
            let mut prepared = match executor::prepare(device.as_mut(), &plan) {
                Ok(p) => p,
                Err(Error::Unsupported { .. }) => continue,
                Err(e) => panic!("{case}: {e}"),
            };
            // Validate once, as the harness does: a benchmark of a wrong answer is noise.
            prepared.run().and_then(|()| prepared.output()).map_or_else(
                |e| panic!("{case}: {e}"),
                |out| assert!(case.check(&plan, &out).passed, "{case} fails validation"),
            );
            let id = case.to_string().replace('/', " ");
            group.bench_function(id, |b| {
                b.iter_custom(|iters| {
                    prepared.time_runs(iters).unwrap_or_else(|e| {
                        panic!("a case that validated failed to run again: {e}")
                    })
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, smoke_cases);
criterion_main!(benches);
