//! The one error type of the HAL. Every error names the backend that raised it and, where
//! there is one, the kernel.

use crate::Dialect;

/// Result of every fallible HAL call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, one variant per thing a caller can act on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The backend cannot be used here at all (driver library missing, no devices).
    /// Callers skip the backend.
    #[error("{backend}: unavailable: {reason}")]
    Unavailable { backend: String, reason: String },
    /// The device cannot run this (a dtype, a kernel, a feature). Callers skip the case.
    #[error("{backend}: unsupported: {what}")]
    Unsupported { backend: String, what: String },
    /// The call itself is wrong: a foreign or freed handle, out of bounds, bad dims.
    #[error("{backend}: invalid argument: {message}")]
    InvalidArgument { backend: String, message: String },
    /// An allocation larger than the device can give.
    #[error("{backend}: out of memory: {message}")]
    OutOfMemory { backend: String, message: String },
    /// A kernel failed to build; `log` is the compiler's full output.
    #[error("{backend}: kernel `{kernel}` ({dialect}) failed to compile:\n{log}")]
    Compile {
        backend: String,
        kernel: String,
        dialect: Dialect,
        log: String,
    },
    /// The device stopped working; nothing more can be done with it.
    #[error("{backend}: device lost: {message}")]
    DeviceLost { backend: String, message: String },
    /// Any other driver error, with the driver's own code.
    #[error("{backend}: {message} (code {code})")]
    Backend {
        backend: String,
        code: i64,
        message: String,
    },
}

impl Error {
    pub fn unavailable(backend: &str, reason: impl Into<String>) -> Self {
        Error::Unavailable {
            backend: backend.into(),
            reason: reason.into(),
        }
    }

    pub fn unsupported(backend: &str, what: impl Into<String>) -> Self {
        Error::Unsupported {
            backend: backend.into(),
            what: what.into(),
        }
    }

    pub fn invalid(backend: &str, message: impl Into<String>) -> Self {
        Error::InvalidArgument {
            backend: backend.into(),
            message: message.into(),
        }
    }

    pub fn out_of_memory(backend: &str, message: impl Into<String>) -> Self {
        Error::OutOfMemory {
            backend: backend.into(),
            message: message.into(),
        }
    }
}
