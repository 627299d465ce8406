//! Turns the command line's filters into cases, refusing anything that selects nothing or
//! names something unknown (a usage error, exit 2) before any device is touched.

use std::sync::Arc;

use halbench_hal::{Backend, DType, DeviceInfo};
use halbench_kernels::{Case, CustomKernel, Scale, Shape, Workload};

/// A usage error: the command line asks for something that does not exist.
#[derive(Debug)]
pub struct UsageError(pub String);

/// What to run, before knowing the devices.
#[derive(Debug)]
pub struct Selection {
    pub workloads: Vec<&'static dyn Workload>,
    pub variants: Option<Vec<String>>,
    pub dtypes: Option<Vec<DType>>,
    /// Explicit shapes per selected workload (empty: the scale's shapes).
    pub shapes: Vec<Vec<Shape>>,
    pub scale: Scale,
    /// Custom kernels: each also runs in every selected case whose plan launches it.
    pub kernels: Vec<Arc<CustomKernel>>,
}

fn list(values: &[String]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The backends named on the command line (all of them when none is named).
pub fn backends(
    all: Vec<Arc<dyn Backend>>,
    names: &[String],
) -> Result<Vec<Arc<dyn Backend>>, UsageError> {
    let names = list(names);
    if names.is_empty() {
        return Ok(all);
    }
    let known: Vec<String> = all.iter().map(|b| b.name().to_string()).collect();
    names
        .iter()
        .map(|name| {
            all.iter()
                .find(|b| b.name() == name.to_ascii_lowercase())
                .cloned()
                .ok_or_else(|| {
                    UsageError(format!(
                        "unknown backend `{name}` (known: {})",
                        known.join(", ")
                    ))
                })
        })
        .collect()
}

impl Selection {
    pub fn new(
        workload_globs: &[String],
        variants: &[String],
        dtypes: &[String],
        shapes: &[String],
        scale: Scale,
        kernels: &[Arc<CustomKernel>],
    ) -> Result<Self, UsageError> {
        let all = halbench_kernels::all();
        let names = || all.iter().map(|w| w.name()).collect::<Vec<_>>().join(", ");
        let mut workloads: Vec<&'static dyn Workload> = Vec::new();
        let globs = list(workload_globs);
        if globs.is_empty() {
            workloads.extend(all.iter().copied());
        }
        for glob in &globs {
            let pattern = glob::Pattern::new(glob)
                .map_err(|e| UsageError(format!("bad workload pattern `{glob}`: {e}")))?;
            let matched: Vec<_> = all
                .iter()
                .copied()
                .filter(|w| pattern.matches(w.name()))
                .collect();
            if matched.is_empty() {
                return Err(UsageError(format!(
                    "no workload matches `{glob}` (known: {})",
                    names()
                )));
            }
            for w in matched {
                if !workloads.iter().any(|x| x.name() == w.name()) {
                    workloads.push(w);
                }
            }
        }

        let dtypes = list(dtypes);
        let dtypes = if dtypes.is_empty() {
            None
        } else {
            Some(
                dtypes
                    .iter()
                    .map(|d| d.parse::<DType>().map_err(UsageError))
                    .collect::<Result<Vec<_>, _>>()?,
            )
        };

        let variants = list(variants);
        for v in &variants {
            if !workloads.iter().any(|w| w.variants().contains(&v.as_str())) {
                let known: Vec<&str> = workloads
                    .iter()
                    .flat_map(|w| w.variants().iter().copied())
                    .collect();
                return Err(UsageError(format!(
                    "unknown variant `{v}` for the selected workloads (known: {})",
                    dedup(known).join(", ")
                )));
            }
        }
        let variants = (!variants.is_empty()).then_some(variants);

        // Explicit shapes: each must fit at least one selected workload; workloads that no
        // shape fits are dropped.
        let specs = shapes;
        let mut per_workload: Vec<Vec<Shape>> = vec![Vec::new(); workloads.len()];
        for spec in specs {
            let mut fitted = false;
            // A workload that refuses a shape of its kind leaves it to the others (a
            // stream size too many launches for latency.launch); alone, it says why.
            let mut refused = None;
            for (i, w) in workloads.iter().enumerate() {
                match Shape::parse(w.shape_kind(), spec) {
                    None => {}
                    Some(Err(e)) => return Err(UsageError(e)),
                    Some(Ok(shape)) => match admit(*w, &shape) {
                        Err(e) => refused = Some(format!("{}: shape `{spec}`: {e}", w.name())),
                        Ok(()) => {
                            fitted = true;
                            per_workload[i].push(shape);
                        }
                    },
                }
            }
            if let (false, Some(reason)) = (fitted, refused) {
                return Err(UsageError(reason));
            }
            if !fitted {
                return Err(UsageError(format!(
                    "shape `{spec}` fits none of the selected workloads ({})",
                    workloads
                        .iter()
                        .map(|w| w.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        if !specs.is_empty() {
            let keep: Vec<bool> = per_workload.iter().map(|s| !s.is_empty()).collect();
            let mut k = keep.iter();
            workloads.retain(|_| *k.next().unwrap_or(&false));
            per_workload.retain(|s| !s.is_empty());
        }

        let selection = Selection {
            workloads,
            variants,
            dtypes,
            shapes: per_workload,
            scale,
            kernels: kernels.to_vec(),
        };
        selection.check_kernels()?;
        let any = selection.workloads.iter().any(|w| {
            w.variants().iter().any(|v| selection.keeps_variant(v))
                && w.dtypes().iter().any(|d| selection.keeps_dtype(*d))
        });
        if !any {
            return Err(UsageError(
                "the filters select no case (no selected workload has that variant and dtype)"
                    .into(),
            ));
        }
        Ok(selection)
    }

    /// Every custom kernel must be launched by a selected case, and labels must differ.
    fn check_kernels(&self) -> Result<(), UsageError> {
        let probe = DeviceInfo::default();
        for (i, k) in self.kernels.iter().enumerate() {
            if self.kernels[..i]
                .iter()
                .any(|o| o.label == k.label && o.name == k.name)
            {
                return Err(UsageError(format!(
                    "two --kernel files for `{}` share the label `{}`: rename one",
                    k.name, k.label
                )));
            }
            // Any smoke shape: a plan can pick its kernel by shape (GEMM's small-M path).
            let launched = self.workloads.iter().any(|&w| {
                let shapes = w.shapes(Scale::Smoke, &probe);
                w.variants()
                    .iter()
                    .filter(|v| self.keeps_variant(v))
                    .any(|v| {
                        shapes.iter().any(|&shape| {
                            Case::new(w, v, DType::F32, shape).launches(&k.name, &probe)
                        })
                    })
            });
            if !launched {
                return Err(UsageError(format!(
                    "--kernel {}: no selected workload and variant launches `{}`",
                    k.label, k.name
                )));
            }
        }
        Ok(())
    }

    fn keeps_variant(&self, v: &str) -> bool {
        self.variants
            .as_ref()
            .is_none_or(|vs| vs.iter().any(|x| x == v))
    }

    fn keeps_dtype(&self, d: DType) -> bool {
        self.dtypes.as_ref().is_none_or(|ds| ds.contains(&d))
    }

    /// The cases to run on one device.
    pub fn cases(&self, info: &DeviceInfo) -> Vec<Case> {
        let mut out = Vec::new();
        for (i, &w) in self.workloads.iter().enumerate() {
            let (shapes, given) = match self.shapes.get(i) {
                Some(s) if !s.is_empty() => (s.clone(), true),
                _ => (w.shapes(self.scale, info), false),
            };
            for case in Case::with_shapes(w, &shapes)
                .into_iter()
                .filter(|c| given || w.at_scale(c.variant, &c.shape, self.scale))
                .filter(|c| self.keeps_variant(c.variant) && self.keeps_dtype(c.dtype))
            {
                // A custom kernel runs right after the built-in case it stands in for, so
                // the two are measured seconds apart.
                let customs: Vec<Case> = self
                    .kernels
                    .iter()
                    .filter(|k| case.launches(&k.name, info))
                    .map(|k| case.clone().with_custom(k.clone()))
                    .collect();
                out.push(case);
                out.extend(customs);
            }
        }
        out
    }
}

fn dedup(mut v: Vec<&str>) -> Vec<&str> {
    let mut seen = Vec::new();
    v.retain(|x| {
        let new = !seen.contains(x);
        seen.push(*x);
        new
    });
    v
}

/// The most bytes a case may move in one run: 1 PiB, past any device's memory, so a
/// shape whose sizes would overflow the plan's u64 arithmetic is refused first.
const MAX_CASE_BYTES: f64 = (1u64 << 50) as f64;

/// A shape of `w`'s kind that `w` can also plan: its own rules, then a size bound.
fn admit(w: &dyn Workload, shape: &Shape) -> Result<(), String> {
    w.check_shape(shape)?;
    let bytes = w.cost(shape, DType::F32).bytes;
    if bytes > MAX_CASE_BYTES {
        return Err(format!(
            "a run would move {:.3e} bytes, more than 1 PiB (no device holds that)",
            bytes
        ));
    }
    Ok(())
}
