//! One error type for the whole engine; the bindings map each variant to a Python exception.
use thiserror::Error;

/// Everything that can go wrong when building or running a network.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum Error {
    /// A parameter value is not allowed (NaN, negative time constant, delay off the grid, ...).
    #[error("{0}")]
    InvalidParameter(String),
    /// Connectivity that cannot be built (in-degree larger than the population without multapses, ...).
    #[error("{0}")]
    InvalidConnection(String),
    /// An index (neuron, population, projection) outside its range.
    #[error("{0}")]
    IndexOutOfRange(String),
    /// The request would need more memory than the machine has.
    #[error("{0}")]
    OutOfMemory(String),
    /// The call does not fit the network's current state (structure frozen after running, ...).
    #[error("{0}")]
    InvalidState(String),
}

/// Result alias used across the crate.
pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn param_err<T>(msg: impl Into<String>) -> Result<T> {
    Err(Error::InvalidParameter(msg.into()))
}
