//! Programs: OpenCL C built with defines as `-D`, cached by (source, options), so the
//! kernels of one file share one build (the layer caches kernels by their whole source).
//! A failed build is `Error::Compile` with the log.

use super::*;

impl ClDevice {
    fn build(&mut self, source: &KernelSource) -> Result<&Program> {
        let compile_error = |log: String| Error::Compile {
            backend: NAME.into(),
            kernel: source.name.clone(),
            dialect: Dialect::OpenClC,
            log,
        };
        let mut options = String::from("-cl-std=CL1.2");
        for (k, v) in &source.defines {
            let ok = |s: &str| {
                !s.is_empty()
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_.-+".contains(c))
            };
            if !ok(k) || !ok(v) {
                return Err(Error::invalid(
                    NAME,
                    format!("bad define `{k}={v}` for kernel `{}`", source.name),
                ));
            }
            options.push_str(&format!(" -D{k}={v}"));
        }
        let key = (source.code.to_vec(), options.clone());
        if !self.programs.contains_key(&key) {
            let text = std::str::from_utf8(&source.code)
                .map_err(|_| compile_error("the source is not UTF-8".into()))?;
            let program = Program::create_and_build_from_source(&self.context, text, &options)
                .map_err(compile_error)?;
            self.programs.insert(key.clone(), program);
        }
        Ok(&self.programs[&key])
    }

    /// Builds (or finds) the program and creates the kernel.
    pub(crate) fn build_kernel(&mut self, source: &KernelSource) -> Result<Built<ClKernel>> {
        let program = self.build(source)?;
        let kernel = ClKernel::create(program, &source.entry).map_err(|e| Error::Compile {
            backend: NAME.into(),
            kernel: source.name.clone(),
            dialect: Dialect::OpenClC,
            log: format!("no kernel `{}` in the program: {e}", source.entry),
        })?;
        let num_args: u32 = get_kernel_info(kernel.get(), CL_KERNEL_NUM_ARGS)
            .map_err(|code| cl_error("clGetKernelInfo", code))?
            .into();
        Ok(Built::new(kernel).with_arity(num_args as usize))
    }
}
