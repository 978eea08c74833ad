//! dbdeck: console, reconcile engine and sandbox cluster for Percona database clusters on Kubernetes.
//!
//! Layers (see docs/ARCHITECTURE.md): `api` (types, defaults, validation; no I/O) is used by all;
//! `sandbox` is independent of the rest.

pub mod api;
pub mod bench;
pub mod cli;
pub mod cmd;
pub mod console;
pub mod engine;
pub mod headless;
pub mod observe;
pub mod sandbox;
