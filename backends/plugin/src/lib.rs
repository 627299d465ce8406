//! # halbench-plugin
//!
//! Vendor backends as shared libraries, over the C ABI in `hal/include/halbench_plugin.h`
//! (modelled on OpenXLA's PJRT C API).
//!
//! ```text
//!   host (halbench)                              plugin (.so)
//!   ───────────────                              ────────────
//!   discover(--plugin, HALBENCH_PLUGIN_PATH,     halbench_plugin_api(host_major, host_minor)
//!            plugins/ beside the executable)         └─► const HB_Api { struct_size,
//!   PluginBackend::load(path)                               abi_major, abi_minor, fns… }
//!     checks version window + required fns
//!   impl hal::Backend / hal::Device  ──args structs──►  fns  ──HB_Error* (NULL = ok)──►
//!     (host slabs check every handle)                 error_get / error_destroy (once)
//!
//!   SDK: export_plugin!(backend: MyBackend::new(), …) builds the table over any
//!        impl hal::Backend, catching panics; the C skeleton in examples/ does it by hand.
//! ```
//!
//! The host accepts the same major version and any minor at or above [`abi::MIN_MINOR`];
//! functions past a table's `struct_size` or NULL are absent: required ones fail the
//! load with their names, optional ones are `Unsupported` (timers) or no-ops (pinning).

pub mod abi;
mod device;
mod discovery;
mod loader;
pub mod sdk;

pub use discovery::{built_cdylib, discover, Found};
pub use halbench_hal::Backend;
pub use loader::PluginBackend;
