//! # halbench-hal
//!
//! One small, object-safe trait pair that every accelerator backend implements: CUDA,
//! OpenCL, Vulkan, the CPU, and vendor plugins loaded through a C ABI.
//!
//! ```text
//!   Backend  (one per API: "cpu", "opencl", "vulkan", "cuda", a plugin)
//!     │  name()                  cheap, no context
//!     │  devices() ─► [DeviceInfo]   cheap; Err(Unavailable) when the driver is missing
//!     └─ open(i) ─► Box<dyn Device>  creates the context and its one in-order queue
//!
//!   Device   (&mut self: one thread drives it)
//!     blocking:  info  alloc  free  write  read  compile  sync  elapsed  stats
//!     enqueued:  copy  launch  record
//!
//!        host ──write──►  Buffer ──launch(Kernel, Dims, [Arg])──► Buffer ──read──► host
//!                           │                                        ▲
//!                           └───────────── copy (device to device) ──┘
//!
//!   Handles: Buffer, Kernel, Event — opaque ids tagged with their device, not Clone.
//!   free(Buffer) and elapsed(Event, Event) consume them; a handle from another device,
//!   or one already freed, is Error::InvalidArgument, never a panic or UB.
//!
//!   Layered<P> (layer.rs) is that contract, written once: a backend implements
//!   Primitives on its native objects and Layered keeps the handles (one Slab per
//!   kind), the checks (checks.rs), the compile cache and the stats.
//!   ops.rs types the builtins' argument lists; skeleton.rs is the template backend.
//! ```
//!
//! Ordering: every device has one in-order queue. `write` and `read` block and are
//! ordered after everything enqueued before them, so `launch` then `read` sees the launch's
//! results without an explicit `sync`. `sync` waits for the queue to drain; it is what a
//! host-side timer brackets when a device has no timers of its own.
//!
//! Why `dyn` and not generics: backends are found at run time (a driver present or not, a
//! plugin on disk), a C plugin cannot be monomorphised, and a virtual call costs
//! nanoseconds against a kernel launch's microseconds.
//!
//! Errors are one small enum, [`Error`], with a variant per thing a caller can act on:
//! skip the backend (`Unavailable`), skip the case (`Unsupported`), fix the call
//! (`InvalidArgument`, `OutOfMemory`, `Compile`), or give up on the device (`DeviceLost`).

pub mod checks;
mod device;
mod error;
pub mod host;
mod info;
pub mod layer;
pub mod ops;
pub mod skeleton;
mod slab;
mod types;

pub use device::{Backend, Buffer, Device, DeviceId, DeviceStats, Event, Kernel};
pub use error::{Error, Result};
pub use info::{DeviceClass, DeviceInfo, Features, Peak};
pub use layer::{Layered, Primitives};
pub use slab::Slab;
pub use types::{Arg, ArgOf, DType, Dialect, Dims, KernelSource};
