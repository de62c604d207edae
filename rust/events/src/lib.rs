//! Fast decoders for event-camera and spike file formats (pure Rust)
