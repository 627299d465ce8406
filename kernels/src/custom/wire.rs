//! A custom kernel as plain data, so a worker process can rebuild the kernel its parent
//! was given (`halbench run` drives each device from a child process). Everything but the
//! glslc cache travels: forms, launch shape, entry, label, origin and include folder.

use std::path::PathBuf;

use halbench_hal::{DType, Dialect};
use serde::{Deserialize, Serialize};

use super::{CustomKernel, Form, KernelOrigin, LaunchShape};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum WireForm {
    Text(Dialect, String),
    SpirV(DType, Vec<u8>),
    Glsl(String),
    Builtin,
}

/// [`CustomKernel`] as serde data: `CustomKernel::to_portable` and `from_portable`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortableKernel {
    name: String,
    label: String,
    origin: KernelOrigin,
    launch: Option<([u32; 3], [u64; 3])>,
    entry: String,
    forms: Vec<WireForm>,
    include_dir: Option<PathBuf>,
}

impl CustomKernel {
    /// The kernel as data (a backend-native `with_builtin` form travels as a name: the
    /// receiving process must have registered the same kernel).
    pub fn to_portable(&self) -> PortableKernel {
        PortableKernel {
            name: self.name.clone(),
            label: self.label.clone(),
            origin: self.origin.clone(),
            launch: self.launch.map(|l| (l.threads, l.per_group)),
            entry: self.entry.clone(),
            forms: self
                .forms
                .iter()
                .map(|f| match f {
                    Form::Text(d, t) => WireForm::Text(*d, t.clone()),
                    Form::SpirV(d, w) => WireForm::SpirV(*d, w.clone()),
                    Form::Glsl(t) => WireForm::Glsl(t.clone()),
                    Form::Builtin => WireForm::Builtin,
                })
                .collect(),
            include_dir: self.include_dir.clone(),
        }
    }

    /// The kernel [`to_portable`](Self::to_portable) described, origin and hash unchanged.
    pub fn from_portable(p: PortableKernel) -> Self {
        let mut kernel = CustomKernel::new(&p.name);
        kernel.forms = p
            .forms
            .into_iter()
            .map(|f| match f {
                WireForm::Text(d, t) => Form::Text(d, t),
                WireForm::SpirV(d, w) => Form::SpirV(d, w),
                WireForm::Glsl(t) => Form::Glsl(t),
                WireForm::Builtin => Form::Builtin,
            })
            .collect();
        kernel.label = p.label;
        kernel.origin = p.origin;
        kernel.launch = p
            .launch
            .map(|(threads, per_group)| LaunchShape { threads, per_group });
        kernel.entry = p.entry;
        kernel.include_dir = p.include_dir;
        kernel
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kernel_survives_the_round_trip_through_json() {
        let k = CustomKernel::from_text(
            "stream_copy",
            Dialect::OpenClC,
            "// halbench: threads=64\n__kernel void stream_copy() {}",
        )
        .unwrap()
        .with_glsl("void main() {}")
        .with_spirv(DType::F16, &[3, 2, 35, 7])
        .with_label("mine");
        let text = serde_json::to_string(&k.to_portable()).unwrap();
        let back = CustomKernel::from_portable(serde_json::from_str(&text).unwrap());
        assert_eq!(back.to_portable(), k.to_portable());
        assert_eq!(back.origin, k.origin);
        assert_eq!(back.launch, k.launch);
        assert_eq!(back.dialects(), k.dialects());
    }
}
