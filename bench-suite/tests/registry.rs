//! One kernel registry: `halbench_kernels::sources` names every canonical kernel, and
//! everything else that lists kernels must agree with it — the kernel ABI table in
//! kernels/README.md, the GLSL the SPIR-V build compiles (ci/build-spirv.sh builds every
//! `kernels/glsl/*.comp`), the OpenCL and CUDA files, and the CPU backend's builtins.
//! A kernel added in one place and forgotten in another fails here.

use std::collections::BTreeSet;
use std::path::Path;

use halbench_hal::{Backend, Error, KernelSource};
use halbench_kernels::sources::{known_kernels, source_kernels};

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The names in `dir` ending in `.ext`, without it.
fn stems(dir: &str, ext: &str) -> BTreeSet<String> {
    std::fs::read_dir(root().join(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|f| f.strip_suffix(ext).map(str::to_string))
        .collect()
}

/// Every `dir/*.ext` file's text, one after another.
fn all(dir: &str, ext: &str) -> String {
    stems(dir, ext)
        .iter()
        .map(|stem| read(&format!("{dir}/{stem}{ext}")))
        .collect()
}

#[test]
fn the_kernel_abi_table_lists_exactly_the_known_kernels() {
    let readme = read("kernels/README.md");
    // Rows of the ABI table, which starts at its header and ends at the first line
    // that is not a row: "| `name` | buffers | scalars | ...".
    let table: BTreeSet<&str> = readme
        .lines()
        .skip_while(|l| !l.starts_with("| kernel | buffers | scalars |"))
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once("` |"))
        .map(|(name, _)| name)
        .collect();
    assert!(!table.is_empty(), "no ABI table in kernels/README.md");
    let known: BTreeSet<&str> = known_kernels().collect();
    assert_eq!(
        table, known,
        "kernels/README.md's ABI table and sources disagree"
    );
}

#[test]
fn every_source_kernel_has_glsl_opencl_and_cuda() {
    let known: BTreeSet<String> = source_kernels().map(str::to_string).collect();
    let glsl = stems("kernels/glsl", ".comp");
    assert_eq!(glsl, known, "kernels/glsl/*.comp and sources disagree");
    let (opencl, cuda) = (all("kernels/opencl", ".cl"), all("kernels/cuda", ".cu"));
    for name in source_kernels() {
        assert!(
            opencl.contains(&format!("void {name}(")),
            "no OpenCL kernel `{name}`"
        );
        // CUDA puts launch bounds between `void` and the name.
        assert!(
            cuda.contains(&format!(" {name}(")) && cuda.contains("__global__"),
            "no CUDA kernel `{name}`"
        );
    }
}

#[test]
fn the_cpu_implements_every_kernel_but_the_vendor_libraries() {
    let mut cpu = halbench_cpu::CpuBackend::new().open(0).unwrap();
    let vendor_only = [
        "attn_prefill_vendor",
        "attn_decode_vendor",
        "attn_paged_vendor",
        "gemm_grouped_vendor",
    ];
    for name in known_kernels() {
        // peak_dot2 is bf16 only, and needs AVX512_BF16.
        if name == "peak_dot2" {
            let bf16 = vec![("T".to_string(), "bf16".to_string())];
            let r = cpu.compile(&KernelSource::builtin(name, bf16));
            assert!(
                r.is_ok() || matches!(r, Err(Error::Unsupported { .. })),
                "{name}: {r:?}"
            );
            continue;
        }
        let r = cpu.compile(&KernelSource::builtin(name, vec![]));
        if vendor_only.contains(&name) {
            assert!(matches!(r, Err(Error::Unsupported { .. })), "{name}: {r:?}");
        } else {
            assert!(r.is_ok(), "the cpu has no builtin `{name}`: {r:?}");
        }
    }
}
