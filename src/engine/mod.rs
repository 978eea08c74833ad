//! Reconcile engine: dereference → validate → build (pure) → apply → status, per cluster family.

pub mod pg;
