//! Validation must catch wrong kernels. A wrapper device (a test double over the real CPU
//! backend) corrupts the output of one kernel; the workload's check must fail.

use std::collections::HashMap;

use halbench_cpu::CpuBackend;
use halbench_hal::{
    Arg, Backend, Buffer, DType, Device, DeviceInfo, DeviceStats, Dims, Kernel, KernelSource,
    Result,
};
use halbench_kernels::conformance::{run_case, Failure};
use halbench_kernels::{Case, Shape};

/// How to break the output of the sabotaged kernel (the last buffer argument).
#[derive(Debug, Clone, Copy)]
enum Sabotage {
    /// Add 1.0 to one element.
    OneElement(usize),
    /// Swap two halves of every row of `width` elements (a wrong index mapping).
    SwapHalves { width: usize },
}

struct Sabotaged {
    inner: Box<dyn Device>,
    target: &'static str,
    how: Sabotage,
    names: HashMap<u64, String>,
    sizes: HashMap<u64, u64>,
}

impl std::fmt::Debug for Sabotaged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sabotaged({})", self.target)
    }
}

impl Device for Sabotaged {
    fn info(&self) -> &DeviceInfo {
        self.inner.info()
    }
    fn alloc(&mut self, bytes: u64) -> Result<Buffer> {
        let buffer = self.inner.alloc(bytes)?;
        self.sizes.insert(buffer.id(), bytes);
        Ok(buffer)
    }
    fn free(&mut self, buffer: Buffer) -> Result<()> {
        self.inner.free(buffer)
    }
    fn write(&mut self, dst: &Buffer, offset: u64, data: &[u8]) -> Result<()> {
        self.inner.write(dst, offset, data)
    }
    fn read(&mut self, src: &Buffer, offset: u64, out: &mut [u8]) -> Result<()> {
        self.inner.read(src, offset, out)
    }
    fn copy(&mut self, s: &Buffer, so: u64, d: &Buffer, doff: u64, n: u64) -> Result<()> {
        self.inner.copy(s, so, d, doff, n)
    }
    fn compile(&mut self, source: &KernelSource) -> Result<Kernel> {
        let kernel = self.inner.compile(source)?;
        self.names.insert(kernel.id(), source.name.clone());
        Ok(kernel)
    }
    fn launch(&mut self, kernel: &Kernel, dims: Dims, args: &[Arg<'_>]) -> Result<()> {
        self.inner.launch(kernel, dims, args)?;
        if self.names.get(&kernel.id()).map(String::as_str) != Some(self.target) {
            return Ok(());
        }
        let Some(Arg::Buffer(out)) = args.iter().rev().find(|a| matches!(a, Arg::Buffer(_))) else {
            return Ok(());
        };
        // f32 outputs only, in these tests.
        let mut bytes = vec![0u8; self.sizes[&out.id()] as usize];
        self.inner.read(out, 0, &mut bytes)?;
        let mut values: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|w| f32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        match self.how {
            Sabotage::OneElement(i) => values[i] += 1.0,
            Sabotage::SwapHalves { width } => {
                for row in values.chunks_exact_mut(width) {
                    let (a, b) = row.split_at_mut(width / 2);
                    let m = a.len().min(b.len());
                    a[..m].swap_with_slice(&mut b[..m]);
                }
            }
        }
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.inner.write(out, 0, &bytes)
    }
    fn sync(&mut self) -> Result<()> {
        self.inner.sync()
    }
    fn stats(&self) -> DeviceStats {
        self.inner.stats()
    }
}

fn device(target: &'static str, how: Sabotage) -> Sabotaged {
    Sabotaged {
        inner: CpuBackend::new().open(0).unwrap(),
        target,
        how,
        names: HashMap::new(),
        sizes: HashMap::new(),
    }
}

fn case(workload: &str, variant: &'static str, shape: Shape) -> Case {
    Case::new(
        halbench_kernels::workload(workload).unwrap(),
        variant,
        DType::F32,
        shape,
    )
}

#[test]
fn one_wrong_element_fails_a_small_gemm() {
    let c = case(
        "gemm",
        "tiled",
        Shape::Gemm {
            m: 37,
            n: 29,
            k: 45,
        },
    );
    // The unsabotaged kernel passes...
    assert!(run_case(&mut device("nothing", Sabotage::OneElement(0)), &c).is_ok());
    // ...and one element off by one fails, naming it.
    match run_case(
        &mut device("gemm_tiled", Sabotage::OneElement(5 * 29 + 7)),
        &c,
    ) {
        Err(Failure::Failed(why)) => assert!(why.contains("C[5,7]"), "{why}"),
        other => panic!("sabotage not caught: {other:?}"),
    }
}

#[test]
fn a_wrong_index_mapping_fails_a_large_sampled_gemm() {
    let c = case(
        "gemm",
        "vendor",
        Shape::Gemm {
            m: 300,
            n: 500,
            k: 64,
        },
    );
    match run_case(
        &mut device("gemm_vendor", Sabotage::SwapHalves { width: 500 }),
        &c,
    ) {
        Err(Failure::Failed(why)) => assert!(why.contains("wrong"), "{why}"),
        other => panic!("sabotage not caught: {other:?}"),
    }
}

#[test]
fn a_wrong_softmax_fails_attention() {
    let shape = Shape::Prefill {
        b: 1,
        h: 2,
        hkv: 1,
        s: 40,
        d: 16,
        causal: true,
    };
    let c = case("attention.prefill", "naive", shape);
    match run_case(
        &mut device("softmax_rows", Sabotage::SwapHalves { width: 40 }),
        &c,
    ) {
        Err(Failure::Failed(_)) => {}
        other => panic!("sabotage not caught: {other:?}"),
    }
}

#[test]
fn a_wrong_stream_element_fails_triad() {
    let c = case("stream.triad", "default", Shape::Elements { n: 100_003 });
    match run_case(
        &mut device("stream_triad", Sabotage::OneElement(100_002)),
        &c,
    ) {
        Err(Failure::Failed(why)) => assert!(why.contains("element 100002"), "{why}"),
        other => panic!("sabotage not caught: {other:?}"),
    }
}
