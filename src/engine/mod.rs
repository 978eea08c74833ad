//! The reconcile engine: one module per cluster family, each with a pure `build` of the desired objects.

pub mod pg;
pub mod ps;
