//! The console's in-process engine over the whole session: it runs only while no dbdeck operator leads in the
//! cluster, and only against the context the console shows.
//!
//! A supervisor task owns the engine. It looks for a live `dbdeck-engine-leader` Lease (one LIST across all
//! namespaces) when it starts and every [`LEASE_CHECK`] after that: an operator that starts leading later stops
//! the console's engine, and the engine comes back once that Lease expires or is deleted. Two engines on the same
//! objects would undo each other's writes. The state goes to the UI through a watch channel, so the header and the
//! notice line always say what the engine does and against which context.

use std::time::Duration;

use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::headless::lease::{DEFAULT_LEASE_NAME, leader_anywhere};
use crate::observe::live::Scope;

/// How often the supervisor re-reads the Lease. The operator's default lease lasts 15 s and is renewed every 5 s;
/// checking at the renew period keeps the overlap of two engines to a few seconds for one cheap LIST.
pub const LEASE_CHECK: Duration = Duration::from_secs(5);
/// A Lease check that gets no answer within this long counts as "could not be checked".
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);
/// In-flight reconciles finish on stop; a hung API server does not keep the console (or the next engine) waiting.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// What the console's engine does right now, as the header and the notice line say it.
#[derive(Clone, Debug, PartialEq)]
pub enum EngineState {
    /// Off by the user's choice (`--no-engine`, `--readonly`, the flag named here).
    Disabled { flag: String },
    /// Waiting for the previous context's engine to stop, then checking the Lease.
    Starting { context: String },
    /// Reconciling `context`. `unchecked` says why the Lease could not be read (the engine runs all the same,
    /// as it always did when the check fails, but the user should know nobody confirmed it is alone).
    On { context: String, unchecked: Option<String> },
    /// Off because a dbdeck operator holds the Lease `namespace/dbdeck-engine-leader`.
    Deferring { context: String, namespace: String, holder: String },
    /// The engine stopped by itself (it could not start, e.g. missing CRDs or rights); retried at the next check.
    Failed { context: String, error: String },
}

impl EngineState {
    /// The short form for the header: `engine: on (CTX)`, `engine: off (operator leads)`, …
    pub fn header(&self) -> String {
        match self {
            EngineState::Disabled { flag } => format!("engine: off ({flag})"),
            EngineState::Starting { context } => format!("engine: starting ({context})"),
            EngineState::On { context, unchecked: None } => format!("engine: on ({context})"),
            EngineState::On { context, unchecked: Some(_) } => format!("engine: on ({context}, lease unchecked)"),
            EngineState::Deferring { .. } => "engine: off (operator leads)".to_string(),
            EngineState::Failed { .. } => "engine: off (failed)".to_string(),
        }
    }

    /// True when the header should draw attention (the engine is not doing what the user may expect).
    pub fn warns(&self) -> bool {
        matches!(
            self,
            EngineState::On { unchecked: Some(_), .. } | EngineState::Deferring { .. } | EngineState::Failed { .. }
        )
    }

    /// The persistent notice line under the list, while there is something to explain.
    pub fn notice(&self) -> Option<String> {
        let secs = LEASE_CHECK.as_secs();
        match self {
            EngineState::Disabled { .. } | EngineState::Starting { .. } | EngineState::On { unchecked: None, .. } => {
                None
            }
            // The reason goes last: on a narrow terminal the line is cut at the right.
            EngineState::On { context, unchecked: Some(why) } => Some(format!(
                "engine on for {context}; could not check whether a dbdeck operator leads (use --no-engine if \
                 one does): {why}"
            )),
            EngineState::Deferring { context, namespace, holder } => Some(format!(
                "engine off here: dbdeck operator {holder} leads in {context} (Lease {namespace}/{DEFAULT_LEASE_NAME}); \
                 re-checked every {secs}s, the engine restarts when it ends"
            )),
            EngineState::Failed { context, error } => {
                Some(format!("engine off: it stopped for {context} (retried every {secs}s): {error}"))
            }
        }
    }
}

/// What one Lease check found.
#[derive(Debug, PartialEq)]
enum Leader {
    None,
    /// Namespace and holder of the live Lease.
    Elsewhere(String, String),
    /// The check could not be made (403, timeout, …), with the reason.
    Unknown(String),
}

async fn check_leader(client: &kube::Client) -> Leader {
    match tokio::time::timeout(PROBE_TIMEOUT, leader_anywhere(client.clone(), DEFAULT_LEASE_NAME)).await {
        Ok(Ok(Some((ns, holder)))) => Leader::Elsewhere(ns, holder),
        Ok(Ok(None)) => Leader::None,
        Ok(Err(e)) => Leader::Unknown(short_reason(&e)),
        Err(_) => Leader::Unknown(format!("no answer within {}s", PROBE_TIMEOUT.as_secs())),
    }
}

/// "forbidden" for a 403 (the usual case: the user may not list Leases), the error text otherwise.
fn short_reason(e: &crate::headless::lease::LeaseError) -> String {
    if let crate::headless::lease::LeaseError::Read { source: kube::Error::Api(s), .. } = e
        && s.code == 403
    {
        return "listing Leases is forbidden for this user".to_string();
    }
    e.to_string()
}

/// The next state from the current one and a check's result; `true` in the answer means "the engine should run".
/// An unreadable Lease keeps whatever was decided before: a running engine keeps running (as at start, when the
/// check fails), and one that stepped aside for an operator does not come back on a network blip.
fn decide(current: &EngineState, found: Leader, context: &str) -> (EngineState, bool) {
    let context = context.to_string();
    match found {
        Leader::Elsewhere(namespace, holder) => (EngineState::Deferring { context, namespace, holder }, false),
        Leader::None => (EngineState::On { context, unchecked: None }, true),
        Leader::Unknown(why) => match current {
            EngineState::Deferring { .. } => (current.clone(), false),
            _ => (EngineState::On { context, unchecked: Some(why) }, true),
        },
    }
}

/// The engine task and the means to stop it.
struct Running {
    stop: oneshot::Sender<()>,
    handle: JoinHandle<Result<(), String>>,
}

impl Running {
    fn start(client: kube::Client, scope: Scope) -> Running {
        let (stop, stopped) = oneshot::channel::<()>();
        let config = crate::engine::EngineConfig { scope, ..Default::default() };
        let handle = tokio::spawn(async move {
            crate::engine::run(client, config, async move {
                let _ = stopped.await;
            })
            .await
            .map_err(|e| e.to_string())
        });
        Running { stop, handle }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        let mut handle = self.handle;
        if tokio::time::timeout(STOP_TIMEOUT, &mut handle).await.is_err() {
            tracing::warn!("the in-process engine did not stop within {}s; aborting it", STOP_TIMEOUT.as_secs());
            handle.abort();
        }
    }
}

/// The supervisor of one context's engine. Dropping it without [`Supervisor::stop`] leaves the task running.
pub struct Supervisor {
    pub state: watch::Receiver<EngineState>,
    stop: oneshot::Sender<()>,
    handle: JoinHandle<()>,
}

impl Supervisor {
    /// Supervises an engine for `client` (the console's `context`) in `scope`, once `after` (the previous
    /// context's supervisor) has finished, so two engines of this console never overlap.
    pub fn start(
        client: kube::Client,
        scope: Scope,
        context: String,
        check_every: Duration,
        after: Option<JoinHandle<()>>,
    ) -> Supervisor {
        let (tx, state) = watch::channel(EngineState::Starting { context: context.clone() });
        let (stop, stopped) = oneshot::channel();
        let handle = tokio::spawn(supervise(client, scope, context, check_every, tx, stopped, after));
        Supervisor { state, stop, handle }
    }

    /// Asks the engine to stop; the returned task ends once it has (await it, or hand it to the next supervisor).
    pub fn stop(self) -> JoinHandle<()> {
        let _ = self.stop.send(());
        self.handle
    }
}

async fn supervise(
    client: kube::Client,
    scope: Scope,
    context: String,
    check_every: Duration,
    tx: watch::Sender<EngineState>,
    mut stopped: oneshot::Receiver<()>,
    after: Option<JoinHandle<()>>,
) {
    if let Some(previous) = after {
        let _ = previous.await;
    }
    let mut engine: Option<Running> = None;
    loop {
        // An engine that ended by itself could not run (its error says why); the next round starts it again.
        if let Some(r) = engine.take_if(|r| r.handle.is_finished()) {
            let error = match r.handle.await {
                Ok(Err(e)) => e,
                Ok(Ok(())) => "it ended".to_string(),
                Err(e) => e.to_string(),
            };
            tracing::warn!(%error, context = %context, "the in-process engine stopped");
            tx.send_replace(EngineState::Failed { context: context.clone(), error });
        } else {
            let found = tokio::select! {
                found = check_leader(&client) => found,
                _ = &mut stopped => break,
            };
            let (next, run) = decide(&tx.borrow(), found, &context);
            if run && engine.is_none() {
                tracing::info!(context = %context, "starting the in-process engine");
                engine = Some(Running::start(client.clone(), scope.clone()));
            } else if !run && let Some(r) = engine.take() {
                tracing::info!(context = %context, "a dbdeck operator leads: stopping the in-process engine");
                r.stop().await;
            }
            tx.send_if_modified(|s| {
                let changed = *s != next;
                *s = next;
                changed
            });
        }
        tokio::select! {
            _ = tokio::time::sleep(check_every) => {}
            _ = &mut stopped => break,
        }
    }
    if let Some(r) = engine {
        r.stop().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(ctx: &str) -> EngineState {
        EngineState::On { context: ctx.into(), unchecked: None }
    }

    #[test]
    fn a_leader_stops_the_engine_and_its_end_starts_it_again() {
        let (s, run) = decide(&on("prod"), Leader::Elsewhere("ops".into(), "op-1".into()), "prod");
        assert!(!run);
        assert_eq!(
            s,
            EngineState::Deferring { context: "prod".into(), namespace: "ops".into(), holder: "op-1".into() }
        );
        let notice = s.notice().unwrap();
        assert!(notice.contains("op-1") && notice.contains("ops/dbdeck-engine-leader"), "{notice}");
        assert_eq!(s.header(), "engine: off (operator leads)");
        let (s, run) = decide(&s, Leader::None, "prod");
        assert!(run);
        assert_eq!(s, on("prod"));
        assert_eq!(s.header(), "engine: on (prod)");
        assert_eq!(s.notice(), None);
    }

    #[test]
    fn an_unreadable_lease_keeps_the_last_decision_and_says_the_check_failed() {
        let start = EngineState::Starting { context: "prod".into() };
        let (s, run) = decide(&start, Leader::Unknown("listing Leases is forbidden for this user".into()), "prod");
        assert!(run, "as before: a failed check does not keep the engine off");
        let notice = s.notice().unwrap();
        assert!(notice.contains("could not check") && notice.ends_with("listing Leases is forbidden for this user"));
        assert!(s.header().contains("lease unchecked"));
        let deferring = EngineState::Deferring { context: "prod".into(), namespace: "ops".into(), holder: "h".into() };
        let (s, run) = decide(&deferring, Leader::Unknown("timeout".into()), "prod");
        assert!(!run, "a blip must not bring the engine back next to a leading operator");
        assert_eq!(s, deferring);
    }

    /// A user who may not list Leases (403) gets the engine as before, and a notice that says the check failed.
    #[tokio::test]
    async fn a_forbidden_lease_list_reads_as_an_unchecked_leader() {
        use http::{Request, Response};
        use kube::client::Body;
        let (svc, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let server = tokio::spawn(async move {
            let (req, send) = handle.next_request().await.expect("one request");
            assert!(req.uri().path().ends_with("/leases"), "{}", req.uri());
            let status = serde_json::json!({
                "kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Forbidden", "code": 403,
                "message": "leases.coordination.k8s.io is forbidden: User \"dev\" cannot list resource \"leases\"",
            });
            let body = Body::from(serde_json::to_vec(&status).unwrap());
            send.send_response(Response::builder().status(403).body(body).unwrap());
        });
        let client = kube::Client::new(svc, "default");
        let found = check_leader(&client).await;
        server.await.unwrap();
        assert_eq!(found, Leader::Unknown("listing Leases is forbidden for this user".into()));
        let (state, run) = decide(&EngineState::Starting { context: "dev".into() }, found, "dev");
        assert!(run);
        assert!(state.notice().unwrap().ends_with("listing Leases is forbidden for this user"));
    }

    #[test]
    fn disabled_and_failed_engines_say_why() {
        let s = EngineState::Disabled { flag: "--no-engine".into() };
        assert_eq!((s.header(), s.notice()), ("engine: off (--no-engine)".to_string(), None));
        let s = EngineState::Failed { context: "dev".into(), error: "CRDs missing".into() };
        assert!(s.notice().unwrap().contains("for dev (retried every 5s): CRDs missing"));
        assert!(s.warns());
    }
}
