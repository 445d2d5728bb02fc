//! HarnessGym core: configuration, the iteration loop, runners and harness plumbing.
//! It knows nothing of SQLite or any UI; the shells call into it.

pub mod cancel;
pub mod compare;
pub mod config;
pub mod fsx;
pub mod harness;
pub mod orchestrator;
pub mod runner;
