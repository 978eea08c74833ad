//! Backups and restores of all three kinds (issue 9).
//!
//! The builders ([`pxc`], [`ps`], [`pg`]) turn a Backup or Restore object plus its cluster into the
//! Jobs Percona's operators would run, laid out as Percona lays them out; they do no I/O and read no
//! clock (the time that names a destination comes in as an argument). [`schedule`] computes cron runs,
//! scheduled Backup names and retention; [`status`] turns Jobs into backup states and walks restores
//! through their states. All of it is pure and unit-tested; the controllers drive it.

pub mod common;
pub mod kinds;
pub mod lock;
pub mod pg;
pub mod ps;
pub mod pxc;
pub mod schedule;
pub mod status;

mod controller;
mod cron;
mod restore;

pub use controller::ControllerError;
pub use kinds::{DELETE_BACKUP_FINALIZER, RELEASE_ANNOTATION};
pub use restore::CANCEL_FINALIZER;

/// Runs the Backup, Restore and schedule controllers of all three families until `shutdown`
/// resolves. The CRDs must be installed.
pub async fn run(client: kube::Client, shutdown: impl std::future::Future<Output = ()> + Send + 'static) {
    let (tx, rx) = tokio::sync::watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    for kind in kinds::ALL {
        let stop = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        tasks.spawn(controller::run(client.clone(), kind, stop(rx.clone())));
        tasks.spawn(restore::run(client.clone(), kind, stop(rx.clone())));
        tasks.spawn(cron::run(client.clone(), kind, stop(rx.clone())));
    }
    shutdown.await;
    let _ = tx.send(true);
    while tasks.join_next().await.is_some() {}
}
