//! Sub-command runners behind the CLI.

pub mod bench;
pub mod crd;
pub mod kubeclient;
pub mod out;
pub mod sandbox;
pub mod status;
pub mod validate;
