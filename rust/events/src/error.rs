//! Error types: a decoder error carries the byte offset; a file error adds the path.
use std::path::PathBuf;

/// A malformed input, located by the byte offset (from the start of the file) where
/// decoding stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("byte {offset}: {reason}")]
pub struct FormatError {
    /// Byte offset from the start of the input.
    pub offset: u64,
    /// What was wrong, in words.
    pub reason: String,
    /// The input was not found malformed but is too large to decode in memory (bindings
    /// raise `MemoryError` for it).
    pub too_large: bool,
}

impl FormatError {
    /// A new error at `offset`.
    pub fn new(offset: usize, reason: impl Into<String>) -> Self {
        Self {
            offset: offset as u64,
            reason: reason.into(),
            too_large: false,
        }
    }

    /// The output of an input of `len` bytes does not fit in memory.
    pub fn too_large(len: usize, what: &str) -> Self {
        Self {
            offset: 0,
            reason: format!("{what} of a {len}-byte input do not fit in memory"),
            too_large: true,
        }
    }
}

/// An error reading one file.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be opened or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating-system error.
        #[source]
        source: std::io::Error,
    },
    /// The file's content could not be decoded.
    #[error("{}: byte {}: {}", path.display(), error.offset, error.reason)]
    Format {
        /// The file.
        path: PathBuf,
        /// Where and why.
        error: FormatError,
    },
}

impl ReadError {
    /// The path of the file concerned.
    pub fn path(&self) -> &std::path::Path {
        match self {
            ReadError::Io { path, .. } | ReadError::Format { path, .. } => path,
        }
    }
}

/// Shorthand for decoder results.
pub type Result<T> = std::result::Result<T, FormatError>;
