//! Harness plumbing: the registry of generated artifacts, their activation for the agents, and
//! their qualification in a clean copy of the task.
//!
//! * [`registry`]: `.harnessgym/registry.json` and its sync from the artifact directories.
//! * [`manifest`]: MCP manifest discovery and normalisation.
//! * [`activation`]: skills linked, MCP servers checked and wired, `activation.json`.
//! * [`qualification`]: per-artifact verdicts in a clean room; qualified or quarantined.
//! * [`mcp`]: smoke checks and self-tests under process supervision.
//! * [`wiring`]: how agents reach servers (the telemetry proxy, Codex config, Claude config,
//!   the `mcp_call.py` helper).
//! * [`links`], [`paths`], [`hash`]: skill links, path containment, content hashes.

pub mod activation;
pub mod hash;
pub mod links;
pub mod manifest;
pub mod mcp;
pub mod paths;
pub mod qualification;
pub mod registry;
pub mod wiring;
