//! The sandbox cluster: a Kubernetes-API-compatible server on loopback.
//! Independent of the rest of dbdeck: it imports nothing from engine, observe or console.
//!
//! [`Sandbox`] holds the store (objects, resourceVersions, watch history, optional redb persistence),
//! fault injection and write counters. [`Sandbox::router`] is an axum `Router` that is at once the
//! tower Service tests hand to `kube::Client::new` and what the HTTPS listener serves.
//!
//! In-process users (the simulated controllers) go through [`Sandbox::store`]: `get`, `list`, `create`,
//! `update`, `patch`, `delete` and `watch` on `serde_json::Value`s with the same semantics as HTTP
//! (resourceVersions, watch events, admission of status/scale writes, garbage collection), plus
//! [`Store::changes`] for one feed of every change. Writes made that way are not counted by
//! [`Sandbox::write_count`], which counts API requests.
//!
//! Layout: `store` (objects, RVs, indexes, history, LIST, the `Store` facade), `writes` (create,
//! update, patch, scale), `validation` (body shapes, ObjectMeta rules), `schema` (CRD pruning and
//! defaults), `schema_validation` (CRD schema validation, 422 with field paths), `gc` (delete, finalizers, owner references, namespaces, CRD removal), `watch`,
//! `selector`, `views` (per-API presentation, events mapping, metadata-only and Table), `printers`
//! (built-in Table columns), `crd`,
//! `persist` (redb), `faults` (admin knobs, counters), `protobuf` (kubectl's typed create bodies),
//! `server` (HTTP), `status` (error bodies), `portforward` (pods attached to local endpoints, port-forward relay),
//! `sim` (pure decisions of the simulated cluster) and
//! `controllers` (the tasks that apply them; opt-in through [`Sandbox::start_controllers`]).

pub mod controllers;
mod crd;
pub mod discovery;
mod eviction;
pub mod faults;
mod gc;
pub mod kubeconfig;
pub mod listener;
mod logs;
pub mod openapi;
pub mod patch;
mod persist;
pub mod portforward;
mod printers;
mod protobuf;
pub mod resources;
mod schema;
mod schema_validation;
mod secrets;
pub mod selector;
pub mod serve;
mod server;
pub mod sim;
pub mod status;
pub mod store;
pub mod tls;
mod validation;
pub mod views;
pub mod watch;
mod writes;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::broadcast;

pub use faults::FaultConfig;
pub use status::ApiError;
pub use store::{DeleteOptions, ListOptions, PatchKind, Propagation, Store, Subresource, WriteOptions};
pub use watch::{WatchOptions, WatchStream};

use faults::{Faults, WriteCounters};
use persist::{Persist, PersistError};
use store::{GroupResource, HubMsg, State};

/// How to run a sandbox.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// Where objects persist (redb file `sandbox.redb`); `None` keeps everything in memory.
    pub state_dir: Option<PathBuf>,
    /// How many changes the watch history keeps; a watch from an older resourceVersion gets 410 Expired.
    pub history_size: usize,
    /// How often watches that allow bookmarks get one.
    pub bookmark_interval: Duration,
    /// Capacity of the live-event hub; a watch that falls further behind is ended with 410 Expired.
    pub hub_capacity: usize,
    /// Prune fields a CRD's schema does not declare and apply its defaults, as a real apiserver does.
    pub prune_unknown_fields: bool,
    /// Refuse custom resources that their CRD's schema forbids with 422 Invalid, as a real apiserver does. Off
    /// only to stand in for objects stored before their CRD's schema changed (a real cluster can hold those).
    pub validate_custom_resources: bool,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            state_dir: None,
            history_size: 10_000,
            bookmark_interval: Duration::from_secs(15),
            hub_capacity: 16_384,
            prune_unknown_fields: true,
            validate_custom_resources: true,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot open the sandbox state in {dir}: {source}")]
    State { dir: PathBuf, source: PersistError },
    #[error("cannot prepare the sandbox ({name}): {source}")]
    Bootstrap { name: String, source: ApiError },
}

struct Inner {
    store: Store,
    faults: Faults,
    writes: WriteCounters,
    config: SandboxConfig,
    attachments: portforward::Attachments,
    /// Faults of the simulated cluster (nodes, pods, claims, Jobs), read by the controllers.
    sim_faults: Arc<controllers::SimFaults>,
    controllers: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// A running sandbox API server (without a socket; see [`Sandbox::router`]). Cheap to clone.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

/// Namespaces a fresh cluster has.
const INITIAL_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

impl Sandbox {
    pub fn new(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        let (hub, _) = broadcast::channel(config.hub_capacity.max(16));
        let (persist, loaded) = match &config.state_dir {
            Some(dir) => {
                let (p, l) = Persist::open(dir).map_err(|source| SandboxError::State { dir: dir.clone(), source })?;
                (Some(p), Some(l))
            }
            None => (None, None),
        };
        let mut state = State::new(config.history_size, persist, hub.clone());
        state.prune = config.prune_unknown_fields;
        state.validate = config.validate_custom_resources;
        if let Some(loaded) = loaded {
            let count = loaded.objects.len();
            for (key, obj) in loaded.objects {
                if crd::is_crd(&key.gr) {
                    state.crd_types.insert(key.name.clone(), resources::from_crd(&obj));
                }
                state.restore(key, obj);
            }
            // Nothing older than the reload can be replayed: history starts here.
            state.rv = loaded.rv;
            state.floor = loaded.rv;
            tracing::info!(objects = count, resource_version = loaded.rv, "sandbox state reloaded");
            // A crash between an owner's removal and its dependents' leaves orphans: finish the job.
            state
                .collect_orphans()
                .map_err(|source| SandboxError::Bootstrap { name: "garbage collection".into(), source })?;
        }
        let store = Store::from_state(state, hub);
        let ns_rt = store.resource("", "v1", "namespaces").ok_or_else(|| SandboxError::Bootstrap {
            name: "default".into(),
            source: ApiError::internal("no Namespace kind"),
        })?;
        for name in INITIAL_NAMESPACES {
            let exists = {
                let st = store.lock();
                let key = store::ObjectKey {
                    gr: GroupResource::of(&ns_rt),
                    namespace: String::new(),
                    name: name.to_string(),
                };
                st.get(&key).is_some()
            };
            if !exists {
                store
                    .create(&ns_rt, "", json!({"metadata": {"name": name}}), &WriteOptions::default())
                    .map_err(|source| SandboxError::Bootstrap { name: format!("namespace {name}"), source })?;
            }
        }
        Ok(Sandbox {
            inner: Arc::new(Inner {
                store,
                faults: Faults::default(),
                writes: WriteCounters::default(),
                config,
                attachments: Default::default(),
                sim_faults: Arc::default(),
                controllers: std::sync::Mutex::new(None),
            }),
        })
    }

    /// The API as an axum Router: a tower Service for `kube::Client::new(router, "default")`, or for a listener.
    pub fn router(&self) -> axum::Router {
        axum::Router::new().fallback(server::handle).with_state(self.clone())
    }

    /// Direct access for in-process simulated controllers: same semantics (RVs, events, GC) without HTTP.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Starts the simulated cluster on the current tokio runtime: nodes, scheduler, kubelets and the
    /// workload, storage and network controllers (see [`controllers`]). Without it the sandbox only
    /// stores objects. A second call does nothing.
    pub fn start_controllers(&self, cfg: controllers::ControllerConfig) -> Result<(), controllers::ControllerError> {
        let mut slot = self.inner.controllers.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Some(controllers::start(self.inner.store.clone(), self.inner.sim_faults.clone(), cfg)?);
        }
        Ok(())
    }

    /// Stops the simulated cluster's task (a restart with the same state directory needs the store free).
    pub fn stop_controllers(&self) {
        if let Some(task) = self.inner.controllers.lock().unwrap_or_else(|e| e.into_inner()).take() {
            task.abort();
        }
    }

    pub(crate) fn sim_faults(&self) -> &controllers::SimFaults {
        &self.inner.sim_faults
    }

    pub fn faults(&self) -> FaultConfig {
        self.inner.faults.get()
    }

    pub fn set_faults(&self, cfg: FaultConfig) -> Result<(), ApiError> {
        let bump = cfg.noop_writes_bump_rv;
        self.inner.faults.set(cfg)?;
        self.inner.store.lock().bump_noop = bump;
        Ok(())
    }

    /// Merges a partial JSON fault config (the admin endpoint's body) and returns the result.
    pub fn merge_faults(&self, patch: &Value) -> Result<FaultConfig, ApiError> {
        let cfg = self.inner.faults.merge_json(patch)?;
        self.inner.store.lock().bump_noop = cfg.noop_writes_bump_rv;
        Ok(cfg)
    }

    /// Binds a pod's port to a real endpoint: port-forward to it then reaches `target` (see `portforward`).
    pub fn attach(&self, namespace: &str, pod: &str, port: u16, target: std::net::SocketAddr) {
        self.inner.attachments.attach(namespace, pod, port, target);
    }

    /// Undoes [`Sandbox::attach`]; false when nothing was attached there.
    pub fn detach(&self, namespace: &str, pod: &str, port: u16) -> bool {
        self.inner.attachments.detach(namespace, pod, port)
    }

    pub(crate) fn attachments(&self) -> &portforward::Attachments {
        &self.inner.attachments
    }

    /// Ends every open watch with an in-stream 410 Expired ERROR event.
    pub fn expire_watches(&self) {
        let _ = self.inner.store.hub().send(HubMsg::Expire);
    }

    /// Closes every open watch connection.
    pub fn drop_watches(&self) {
        let _ = self.inner.store.hub().send(HubMsg::Drop);
    }

    /// Changes the watch-history window at run time (a smaller window makes 410 Expired easy to provoke).
    pub fn set_history_size(&self, size: usize) {
        self.inner.store.lock().set_history_size(size);
    }

    /// Write requests (create, update, patch, delete, deletecollection) served since start.
    pub fn write_count(&self) -> u64 {
        self.inner.writes.total()
    }

    /// Counters as `/_sandbox/stats` reports them.
    pub fn stats(&self) -> Value {
        json!({
            "writes": self.inner.writes.to_json(),
            "writeTotal": self.inner.writes.total(),
            "mutations": self.inner.store.mutation_count(),
            "resourceVersion": self.inner.store.resource_version(),
        })
    }
}
