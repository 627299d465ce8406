//! Kernels that come from outside this crate: a porter's own source for a canonical kernel
//! of the kernel ABI (`halbench run --kernel gemm_tiled=my_gemm.cl`), or the kernels of a
//! workload defined in another crate.
//!
//! ```text
//!   CustomKernel { name (the ABI kernel it implements), label, origin, forms, launch }
//!     forms:  OpenCL C text · CUDA C text · SPIR-V words (one dtype) · GLSL (glslc per dtype)
//!     ──source(dialect, dtype, defines)──► KernelSource   (same defines as the built-in)
//!   Plan step ──custom: Some(kernel)──► the executor compiles only this kernel's forms,
//!                                       never the built-in of the same name
//! ```
//!
//! A user's source gets exactly what a built-in source gets: OpenCL C is prefixed with
//! `common.cl` and CUDA C with `common.cuh` (so `LOAD`, `STORE`, `group_sum`, … are there),
//! and the dtype defines (`T`, `DTYPE_*`) and the plan's own defines are passed. Its origin
//! (path and SHA-256 of the bytes) travels into every result row it produces.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, PoisonError};

use halbench_hal::{DType, Dialect, Error, KernelSource, Result};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::sources;

mod wire;
pub use wire::PortableKernel;

/// Where a custom kernel's source came from, recorded in its results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct KernelOrigin {
    /// The canonical kernel it stands in for (`gemm_tiled`).
    pub kernel: String,
    pub dialect: Dialect,
    /// The file it was read from; absent for a source given as a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// SHA-256 of the source bytes as given, hex.
    pub sha256: String,
}

/// A launch shape chosen by the kernel's author: threads per group, and how many output
/// elements one group covers in each dimension. The plan's output extent (see
/// [`crate::plan::Launch::extent`]) divided by `per_group` gives the group counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LaunchShape {
    pub threads: [u32; 3],
    pub per_group: [u64; 3],
}

impl LaunchShape {
    /// Parses `threads=16x16,per_group=64x64` (either part may be left out: `per_group`
    /// defaults to `threads`, one output element per thread). Missing dimensions are 1.
    pub fn parse(spec: &str) -> std::result::Result<LaunchShape, String> {
        let dims = |v: &str| -> std::result::Result<[u64; 3], String> {
            let parts: Vec<&str> = v.split('x').collect();
            if parts.len() > 3 {
                return Err(format!("`{v}` is not 1 to 3 sizes joined by x (16x16)"));
            }
            let mut out = [1u64; 3];
            for (slot, part) in out.iter_mut().zip(&parts) {
                *slot = match part.trim().parse::<u64>() {
                    Ok(n) if n > 0 => n,
                    _ => return Err(format!("`{part}` in `{v}` is not a positive integer")),
                };
            }
            Ok(out)
        };
        let (mut threads, mut per_group) = (None, None);
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("launch shape `{spec}`: `{part}` is not key=value"))?;
            let value = dims(value).map_err(|e| format!("launch shape `{spec}`: {e}"))?;
            match key.trim() {
                "threads" => threads = Some(value),
                "per_group" => per_group = Some(value),
                other => {
                    return Err(format!(
                        "launch shape `{spec}`: unknown key `{other}` (keys: threads, per_group)"
                    ))
                }
            }
        }
        let threads = threads.ok_or_else(|| format!("launch shape `{spec}`: no threads=…"))?;
        let mut t = [0u32; 3];
        for (slot, &n) in t.iter_mut().zip(&threads) {
            *slot = u32::try_from(n).map_err(|_| format!("launch shape `{spec}`: {n} threads"))?;
        }
        Ok(LaunchShape {
            threads: t,
            per_group: per_group.unwrap_or(threads),
        })
    }

    /// The launch shape written in a source file, on a line `// halbench: threads=…`.
    pub fn from_source(text: &str) -> Option<std::result::Result<LaunchShape, String>> {
        text.lines()
            .find_map(|l| l.trim().strip_prefix("// halbench:"))
            .map(|spec| LaunchShape::parse(spec.trim()))
    }
}

#[derive(Debug, Clone)]
enum Form {
    /// OpenCL C or CUDA C text.
    Text(Dialect, String),
    /// SPIR-V for one dtype.
    SpirV(DType, Vec<u8>),
    /// GLSL, compiled with glslc per dtype when first asked for.
    Glsl(String),
    /// A backend's own kernel registered under this name (the CPU's
    /// `halbench_cpu::register_kernel`).
    Builtin,
}

/// A kernel whose source is not this crate's. Plans hold it in an `Arc`.
#[derive(Debug)]
pub struct CustomKernel {
    /// The canonical kernel it implements; plans' steps that launch this name run it.
    pub name: String,
    /// Short label for the results' variant (`user:LABEL`): the file's stem by default.
    pub label: String,
    pub origin: KernelOrigin,
    /// The author's launch shape, if any (else the plan's).
    pub launch: Option<LaunchShape>,
    /// Entry point in the source; the canonical name unless set.
    pub entry: String,
    forms: Vec<Form>,
    /// For GLSL: where `#include`s are searched (the file's folder).
    include_dir: Option<PathBuf>,
    /// GLSL compiled per dtype, so glslc runs once per dtype, not once per case.
    spirv_of_glsl: Mutex<BTreeMap<DType, Result<Vec<u8>>>>,
}

impl CustomKernel {
    /// A kernel with no forms yet, built up with `with_text`, `with_glsl`, `with_spirv`
    /// and `with_builtin` (a workload defined in code ships one form per dialect).
    pub fn new(name: &str) -> Self {
        CustomKernel {
            name: name.into(),
            label: name.into(),
            origin: KernelOrigin {
                kernel: name.into(),
                dialect: Dialect::Builtin,
                path: None,
                sha256: String::new(),
            },
            launch: None,
            entry: name.into(),
            forms: Vec::new(),
            include_dir: None,
            spirv_of_glsl: Mutex::new(BTreeMap::new()),
        }
        .rehash()
    }

    /// Adds a form; the origin's hash covers every form's bytes (for a kernel of one form,
    /// the SHA-256 of its source as given), so a change to any of them shows in the
    /// results, and its dialect is the first form's.
    fn push(mut self, form: Form) -> Self {
        self.forms.push(form);
        self.rehash()
    }

    fn rehash(mut self) -> Self {
        let mut h = Sha256::new();
        for f in &self.forms {
            match f {
                Form::Text(_, t) | Form::Glsl(t) => h.update(t.as_bytes()),
                Form::SpirV(_, w) => h.update(w),
                Form::Builtin => h.update(b"builtin"),
            }
        }
        self.origin.sha256 = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        if let Some(d) = self.dialects().first() {
            self.origin.dialect = *d;
        }
        self
    }

    /// A kernel from source text in one of the C-like dialects, with the launch shape
    /// its `// halbench:` line names, if any.
    pub fn from_text(name: &str, dialect: Dialect, code: &str) -> Result<Self> {
        if !matches!(dialect, Dialect::OpenClC | Dialect::CudaC) {
            return Err(Error::invalid(
                "kernels",
                format!("kernel `{name}`: {dialect} is not a text dialect (OpenCL C, CUDA C)"),
            ));
        }
        let launch = LaunchShape::from_source(code)
            .transpose()
            .map_err(|e| Error::invalid("kernels", format!("kernel `{name}`: {e}")))?;
        let mut kernel = CustomKernel::new(name).with_text(dialect, code);
        kernel.launch = launch;
        Ok(kernel)
    }

    /// Reads a kernel file; the dialect follows the extension: `.cl` OpenCL C, `.cu` CUDA C,
    /// `.spv` SPIR-V (dtype from a `.f16.spv`/`.bf16.spv` suffix, else f32), `.comp` GLSL
    /// (needs glslc on PATH). Errors say what is wrong with the file.
    pub fn from_file(name: &str, path: &Path) -> Result<Self> {
        let bad = |m: String| {
            Error::invalid(
                "kernels",
                format!("--kernel {name}={}: {m}", path.display()),
            )
        };
        let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
        let file = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let text = || String::from_utf8(bytes.clone()).map_err(|_| bad("not UTF-8 text".into()));
        let (form, launch) = match ext {
            "cl" | "cu" => {
                let dialect = if ext == "cl" {
                    Dialect::OpenClC
                } else {
                    Dialect::CudaC
                };
                let t = text()?;
                let launch = LaunchShape::from_source(&t).transpose().map_err(bad)?;
                (Form::Text(dialect, t), launch)
            }
            "comp" => {
                let t = text()?;
                let launch = LaunchShape::from_source(&t).transpose().map_err(bad)?;
                if which("glslc").is_none() {
                    return Err(bad("a .comp file needs glslc on PATH to become SPIR-V (apt-get install glslc), or give the .spv".into()));
                }
                (Form::Glsl(t), launch)
            }
            "spv" => {
                if bytes.len() < 20
                    || bytes.len() % 4 != 0
                    || bytes[..4] != [0x03, 0x02, 0x23, 0x07]
                {
                    return Err(bad(
                        "not a SPIR-V module (little-endian, magic 0x07230203)".into()
                    ));
                }
                let dtype = DType::ALL
                    .into_iter()
                    .find(|d| file.ends_with(&format!(".{d}.spv")))
                    .unwrap_or(DType::F32);
                (Form::SpirV(dtype, bytes.clone()), None)
            }
            _ => {
                return Err(bad(format!(
                    "unknown kernel file type `.{ext}` (known: .cl, .cu, .spv, .comp)"
                )))
            }
        };
        let mut kernel = CustomKernel::new(name).push(form);
        if let Some(label) = file.split('.').next().filter(|l| !l.is_empty()) {
            kernel.label = label.into();
        }
        kernel.origin.path = Some(path.display().to_string());
        kernel.launch = launch;
        kernel.include_dir = path.parent().map(Path::to_path_buf);
        Ok(kernel)
    }

    /// Adds a form in another dialect (a workload that ships OpenCL, CUDA and SPIR-V).
    pub fn with_text(self, dialect: Dialect, code: &str) -> Self {
        self.push(Form::Text(dialect, code.into()))
    }

    /// Adds GLSL compute source, compiled to SPIR-V with glslc (per dtype, with halbench's
    /// `common.glsl` includable) when a Vulkan device asks for it.
    pub fn with_glsl(self, code: &str) -> Self {
        self.push(Form::Glsl(code.into()))
    }

    /// Adds the backend-native form: a kernel the backend has under this name (on the CPU,
    /// one added with `halbench_cpu::register_kernel`).
    pub fn with_builtin(self) -> Self {
        self.push(Form::Builtin)
    }

    /// Adds SPIR-V words for one dtype.
    pub fn with_spirv(self, dtype: DType, words: &[u8]) -> Self {
        self.push(Form::SpirV(dtype, words.to_vec()))
    }

    pub fn with_label(mut self, label: &str) -> Self {
        self.label = label.into();
        self
    }

    pub fn with_launch(mut self, launch: LaunchShape) -> Self {
        self.launch = Some(launch);
        self
    }

    /// The dialects this kernel has a form in.
    pub fn dialects(&self) -> Vec<Dialect> {
        self.forms
            .iter()
            .map(|f| match f {
                Form::Text(d, _) => *d,
                Form::SpirV(..) | Form::Glsl(_) => Dialect::SpirV,
                Form::Builtin => Dialect::Builtin,
            })
            .collect()
    }

    /// The source to compile in `dialect` for `dtype`, with the built-in's defines and the
    /// plan's. `Ok(None)`: no form in that dialect (or, for SPIR-V, for that dtype).
    pub fn source(
        &self,
        dialect: Dialect,
        dtype: DType,
        defines: &[(String, String)],
    ) -> Result<Option<KernelSource>> {
        for form in &self.forms {
            let (code, entry): (Vec<u8>, &str) = match form {
                Form::Text(d, text) if *d == dialect => (
                    format!("{}\n{text}", sources::prelude(dialect)).into_bytes(),
                    &self.entry,
                ),
                Form::SpirV(d, words) if dialect == Dialect::SpirV && *d == dtype => {
                    (words.clone(), "main")
                }
                Form::Glsl(text) if dialect == Dialect::SpirV => {
                    (self.spirv_from_glsl(text, dtype)?, "main")
                }
                Form::Builtin if dialect == Dialect::Builtin => (Vec::new(), &self.entry),
                _ => continue,
            };
            let mut all = sources::dtype_defines(dialect, dtype);
            all.extend(defines.iter().cloned());
            return Ok(Some(KernelSource {
                name: self.name.clone(),
                dialect,
                code: Cow::Owned(code),
                entry: entry.into(),
                defines: all,
            }));
        }
        Ok(None)
    }

    /// Why no form fits a device taking `dialects`, for an `unsupported` row.
    pub fn no_form_reason(&self, backend: &str, dialects: &[Dialect], dtype: DType) -> Error {
        let have: Vec<String> = self.dialects().iter().map(|d| d.to_string()).collect();
        let takes: Vec<String> = dialects.iter().map(|d| d.to_string()).collect();
        let spirv_dtype = self.forms.iter().find_map(|f| match f {
            Form::SpirV(d, _) if *d != dtype => Some(*d),
            _ => None,
        });
        let why = match spirv_dtype {
            Some(d) if dialects.contains(&Dialect::SpirV) => format!(
                "its SPIR-V is for {d}, this case is {dtype} (a file named NAME.{dtype}.spv is taken as {dtype})"
            ),
            _ => format!(
                "it is given in {}, and this device takes {}",
                have.join(", "),
                takes.join(", ")
            ),
        };
        Error::unsupported(
            backend,
            format!("custom kernel `{}` ({}): {why}", self.name, self.label),
        )
    }

    /// The SPIR-V of the GLSL form for `dtype`: compiled on first use, then remembered
    /// (failures too, so a broken shader's log is not rebuilt for every case).
    fn spirv_from_glsl(&self, text: &str, dtype: DType) -> Result<Vec<u8>> {
        let mut cache = self
            .spirv_of_glsl
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        cache
            .entry(dtype)
            .or_insert_with(|| self.glslc(text, dtype))
            .clone()
    }

    fn glslc(&self, text: &str, dtype: DType) -> Result<Vec<u8>> {
        if which("glslc").is_none() {
            return Err(Error::unsupported(
                "glslc",
                format!("kernel `{}` is GLSL and glslc is not on PATH", self.name),
            ));
        }
        let fail = |log: String| Error::Compile {
            backend: "glslc".into(),
            kernel: self.name.clone(),
            dialect: Dialect::SpirV,
            log,
        };
        let dir = std::env::temp_dir().join(format!(
            "halbench-glsl-{}-{}",
            std::process::id(),
            &self.origin.sha256[..16]
        ));
        std::fs::create_dir_all(&dir).map_err(|e| fail(e.to_string()))?;
        let (src, out) = (
            dir.join("kernel.comp"),
            dir.join(format!("kernel.{dtype}.spv")),
        );
        std::fs::write(&src, text).map_err(|e| fail(e.to_string()))?;
        // halbench's own include, so a user shader can `#include "common.glsl"`.
        std::fs::write(dir.join("common.glsl"), include_str!("../glsl/common.glsl"))
            .map_err(|e| fail(e.to_string()))?;
        let mut cmd = Command::new("glslc");
        cmd.args(["-fshader-stage=compute", "--target-env=vulkan1.2"])
            .arg(format!("-DDTYPE_{}", dtype.name().to_ascii_uppercase()))
            .arg(format!("-I{}", dir.display()));
        if let Some(inc) = &self.include_dir {
            cmd.arg(format!("-I{}", inc.display()));
        }
        let output = cmd
            .arg(&src)
            .arg("-o")
            .arg(&out)
            .output()
            .map_err(|e| fail(format!("cannot run glslc: {e}")))?;
        let words = if output.status.success() {
            std::fs::read(&out).map_err(|e| fail(e.to_string()))
        } else {
            Err(fail(String::from_utf8_lossy(&output.stderr).into_owned()))
        };
        let _ = std::fs::remove_dir_all(&dir);
        words
    }
}

/// The first `name` on PATH.
fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn launch_shapes_parse_and_refuse() {
        let s = LaunchShape::parse("threads=16x16,per_group=64x64").unwrap();
        assert_eq!(s.threads, [16, 16, 1]);
        assert_eq!(s.per_group, [64, 64, 1]);
        assert_eq!(
            LaunchShape::parse("threads=256").unwrap().per_group,
            [256, 1, 1]
        );
        assert!(LaunchShape::parse("threads=0").is_err());
        assert!(LaunchShape::parse("per_group=4").is_err());
        assert!(LaunchShape::parse("threads=4,tile=2").is_err());
        let src = "// my kernel\n// halbench: threads=8x8,per_group=32x32\n__kernel void f() {}";
        assert_eq!(
            LaunchShape::from_source(src).unwrap().unwrap().per_group,
            [32, 32, 1]
        );
    }

    #[test]
    fn text_sources_get_the_builtin_prelude_and_defines() {
        let k = CustomKernel::from_text(
            "gemm_tiled",
            Dialect::OpenClC,
            "__kernel void gemm_tiled() {}",
        )
        .unwrap();
        let s = k
            .source(Dialect::OpenClC, DType::F16, &[])
            .unwrap()
            .unwrap();
        let code = String::from_utf8(s.code.to_vec()).unwrap();
        assert!(code.contains("#define LOAD"));
        assert_eq!(s.define("T"), Some("half"));
        assert!(k.source(Dialect::CudaC, DType::F32, &[]).unwrap().is_none());
        assert_eq!(k.origin.sha256.len(), 64);
    }
}
