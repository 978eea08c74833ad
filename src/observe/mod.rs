//! Observation of running clusters: what the databases themselves say about each member.
//!
//! `facts` is the serialisable per-member model (role, state, lag, family detail, history) that the console and
//! `dbdeck status` render; `probe` reads those facts from MySQL/MariaDB and PostgreSQL servers with bounded
//! timeouts and concurrency, so an unreachable or hanging member becomes an explained "unknown", never a hang.

pub mod facts;
pub mod probe;
