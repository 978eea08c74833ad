//! The reconcile engine: dereference → validate → build (pure) → apply → status, one module per kind.

pub mod ps;
