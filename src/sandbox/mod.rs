//! The sandbox cluster: a Kubernetes-API-compatible server on loopback.
//! Independent of the rest of dbdeck: it imports nothing from engine, observe or console.

pub mod patch;
pub mod resources;
