//! Observation of running clusters: the console's model and what the databases themselves say about each member.
//!
//! `view` is the `ClusterView` model the console and `dbdeck status` render; `facts` is the serialisable
//! per-member database model (role, state, lag, family detail, history); `probe` reads those facts from
//! MySQL/MariaDB and PostgreSQL servers with bounded timeouts and concurrency, so an unreachable or hanging
//! member becomes an explained "unknown", never a hang; `reach` turns a pod and port into an address the probes
//! can connect to (the pod IP in a cluster, a local port-forward bridge on a workstation); `collect` runs the probes
//! over every cluster's database pods with the cluster's own credentials, and `merge` writes the readings into the
//! views.

pub mod build;
pub mod collect;
pub mod facts;
pub mod live;
pub mod merge;
pub mod probe;
pub mod reach;
pub mod view;
