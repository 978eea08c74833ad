//! Why a reconcile failed, in one sentence naming the object.

use super::apply::ApplyError;

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Apply(#[from] ApplyError),
    /// The pure build refused the spec (a field the validator let through but the builder cannot use).
    #[error("{0}")]
    Build(String),
    /// A step the engine must not skip could not be taken (a switchover before a primary restarts).
    #[error("{0}")]
    Blocked(String),
    #[error("{what}: {message}")]
    Kube { what: String, message: String },
}

impl ReconcileError {
    pub fn kube(what: impl Into<String>, e: kube::Error) -> ReconcileError {
        let message = match &e {
            kube::Error::Api(s) => format!("{} ({})", s.message, s.code),
            other => other.to_string(),
        };
        ReconcileError::Kube { what: what.into(), message }
    }
}
