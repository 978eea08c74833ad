//! The reconcile engine: per-kind pure builders of the desired Kubernetes objects.

pub mod pxc;
