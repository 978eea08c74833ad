//! `dbdeck bench`: figures for the performance targets (run with `cargo run --release -- bench ...`).
//! Benchmarks report numbers; they assert nothing, so they never make a test flaky.

pub mod engine;
pub mod sandbox;
