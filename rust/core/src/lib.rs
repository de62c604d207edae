//! spikeflow-core: an event-driven engine for spiking neural networks.
//!
//! Work happens only when a spike does: spikes are queued once per distinct delay, a neuron is
//! advanced analytically from its last event only when an event reaches it, and the next
//! threshold crossing of a neuron driven by currents is predicted and queued rather than
//! searched for step by step. Two time modes share one model: a grid (`dt`, NEST's update
//! order, a calendar queue) and continuous time (exact integration, a binary heap).
//!
//! The crate is pure Rust; the Python bindings live in `spikeflow-python`.
pub mod batch;
pub mod checkpoint;
pub mod connect;
pub mod continuous;
pub mod conv;
pub mod error;
pub mod grid;
pub mod homeostasis;
pub mod model;
pub mod network;
pub mod neuron;
pub mod params;
pub mod plasticity;
pub mod queue;
pub mod rng;
pub mod state;
pub mod structural;
pub mod synapses;

pub use batch::{SampleInput, SampleOutput};
pub use checkpoint::CheckpointError;
pub use connect::{ConnectSpec, Rule, Values};
pub use error::{Error, Result};
pub use homeostasis::{Normalize, Rewiring};
pub use network::{Network, Summary};
pub use params::{InitV, NeuronKind, NeuronSpec, Param, ResetMode, SynapseKind};
pub use plasticity::{Pairing, StdpRule};
