//! The reconcile engine: one module per cluster family, each with a pure `build` of the desired objects
//! (dereference → validate → build → apply → status; the controllers come with the engine issues).

pub mod apply;
pub mod backup;
pub mod pg;
pub mod ps;
pub mod pxc;
