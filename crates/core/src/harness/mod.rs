//! Harness plumbing: the registry, activation and qualification of generated artifacts.

pub mod activation;
pub mod qualification;
pub mod registry;
