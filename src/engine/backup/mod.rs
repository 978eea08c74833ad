//! Backups and restores of all three kinds (issue 9).
//!
//! The builders ([`pxc`], [`ps`], [`pg`]) turn a Backup or Restore object plus its cluster into the
//! Jobs Percona's operators would run, laid out as Percona lays them out; they do no I/O and read no
//! clock (the time that names a destination comes in as an argument). [`schedule`] computes cron runs,
//! scheduled Backup names and retention; [`status`] turns Jobs into backup states and walks restores
//! through their states. All of it is pure and unit-tested; the controllers drive it.

pub mod common;
pub mod pg;
pub mod ps;
pub mod pxc;
pub mod schedule;
pub mod status;
