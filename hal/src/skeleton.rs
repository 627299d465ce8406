//! The smallest backend there is, as the template for a new one (as wgpu-hal's `empty.rs`
//! is). Its memory is host memory and it runs no kernels; copy this file, replace each
//! primitive with your API's call, list your dialects in `describe`, and the layer
//! ([`crate::layer::Layered`]) gives you handles, checks, the compile cache and stats.
//! Then register the backend in bench-suite's registry and run the conformance suite on
//! it (README: "Adding a backend").

use std::sync::Mutex;

use crate::layer::{Built, Copy, Layered, NativeArg, Primitives};
use crate::{Backend, Device, DeviceClass, DeviceInfo, Dims, Error, KernelSource, Result};

const NAME: &str = "skeleton";

/// The API: cheap to make, touches no driver until asked.
#[derive(Debug, Default)]
pub struct SkeletonBackend;

impl Backend for SkeletonBackend {
    fn name(&self) -> &str {
        NAME
    }

    fn devices(&self) -> Result<Vec<DeviceInfo>> {
        // A real backend loads its driver here and says `Unavailable` when it cannot.
        Ok(vec![describe()])
    }

    fn open(&self, index: usize) -> Result<Box<dyn Device>> {
        if index != 0 {
            return Err(Error::invalid(
                NAME,
                format!("no device {index} (1 device)"),
            ));
        }
        Ok(Box::new(Layered::new(SkeletonDevice { info: describe() })))
    }
}

fn describe() -> DeviceInfo {
    DeviceInfo {
        backend: NAME.into(),
        name: "host memory, no kernels".into(),
        device_type: DeviceClass::Other,
        memory_bytes: 1 << 30,
        compute_units: 1,
        max_threads_per_group: 1,
        // The dialects `compile` accepts; none here, so every compile is `Unsupported`.
        dialects: vec![],
        ..DeviceInfo::default()
    }
}

/// One opened device: the primitives.
#[derive(Debug)]
pub struct SkeletonDevice {
    info: DeviceInfo,
}

impl Primitives for SkeletonDevice {
    // Native objects: a device pointer, a compiled function, a timer event.
    type Memory = Mutex<Vec<u8>>;
    type Kernel = ();
    type Timestamp = ();

    fn backend(&self) -> &'static str {
        NAME
    }

    fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn alloc(&mut self, bytes: u64) -> Result<Self::Memory> {
        let len = usize::try_from(bytes).map_err(|_| Error::out_of_memory(NAME, "too large"))?;
        Ok(Mutex::new(vec![0; len]))
    }

    fn write(&mut self, dst: &Self::Memory, offset: u64, data: &[u8]) -> Result<()> {
        let mut m = dst.lock().map_err(|_| Error::invalid(NAME, "poisoned"))?;
        m[offset as usize..][..data.len()].copy_from_slice(data);
        Ok(())
    }

    fn read(&mut self, src: &Self::Memory, offset: u64, out: &mut [u8]) -> Result<()> {
        let m = src.lock().map_err(|_| Error::invalid(NAME, "poisoned"))?;
        out.copy_from_slice(&m[offset as usize..][..out.len()]);
        Ok(())
    }

    fn copy(&mut self, c: Copy<'_, Self::Memory>) -> Result<()> {
        let (from, to, len) = (
            c.src_offset as usize,
            c.dst_offset as usize,
            c.bytes as usize,
        );
        let bytes =
            c.src.lock().map_err(|_| Error::invalid(NAME, "poisoned"))?[from..][..len].to_vec();
        self.write(c.dst, to as u64, &bytes)
    }

    fn build(&mut self, source: &KernelSource) -> Result<Built<()>> {
        // Reached only for a dialect `describe` lists: compile it, or say `Compile` with
        // the compiler's log.
        Err(Error::unsupported(
            NAME,
            format!("kernel `{}`", source.name),
        ))
    }

    fn launch(
        &mut self,
        _kernel: &(),
        _name: &str,
        _dims: Dims,
        _args: &[NativeArg<'_, Self::Memory>],
    ) -> Result<()> {
        Ok(())
    }

    fn sync(&mut self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_keeps_the_contract() {
        let mut d = SkeletonBackend.open(0).unwrap();
        let (a, b) = (d.alloc(16).unwrap(), d.alloc(16).unwrap());
        d.write(&a, 4, &[1, 2, 3, 4]).unwrap();
        d.copy(&a, 4, &b, 0, 4).unwrap();
        let mut out = [0u8; 4];
        d.read(&b, 0, &mut out).unwrap();
        assert_eq!(out, [1, 2, 3, 4]);
        // What the layer refuses before a primitive runs.
        assert!(matches!(
            d.write(&a, 14, &out),
            Err(Error::InvalidArgument { .. })
        ));
        assert!(matches!(
            d.copy(&a, 0, &a, 2, 4),
            Err(Error::InvalidArgument { .. })
        ));
        assert!(matches!(d.alloc(0), Err(Error::InvalidArgument { .. })));
        assert!(matches!(d.alloc(2 << 30), Err(Error::OutOfMemory { .. })));
        assert!(matches!(
            d.compile(&KernelSource::builtin("stream_copy", vec![])),
            Err(Error::Unsupported { .. })
        ));
        let mut other = SkeletonBackend.open(0).unwrap();
        let foreign = other.alloc(16).unwrap();
        assert!(matches!(
            d.read(&foreign, 0, &mut out),
            Err(Error::InvalidArgument { .. })
        ));
        assert_eq!(d.stats().live_buffers, 2);
        d.free(a).unwrap();
        assert_eq!((d.stats().live_buffers, d.stats().live_bytes), (1, 16));
    }
}
