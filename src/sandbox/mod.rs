//! The sandbox cluster: a Kubernetes-API-compatible server on loopback.
//! Independent of the rest of dbdeck: it imports nothing from engine, observe or console.

pub mod discovery;
pub mod kubeconfig;
pub mod listener;
pub mod openapi;
pub mod patch;
pub mod resources;
pub mod sim;
pub mod tls;
