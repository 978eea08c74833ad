//! The terminal loop: raw mode and the alternate screen (restored on exit and on panic), a `select!` over key
//! events, live snapshots and a clock tick, and effects carried out as spawned tasks that answer with actions.
//! The only thing that holds the loop is `$EDITOR`, which owns the terminal while it runs.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use chrono::Utc;
use crossterm::event::{Event as TermEvent, EventStream, KeyCode, KeyEventKind};
use crossterm::execute;
use crossterm::terminal::{EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode};
use futures::StreamExt;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use tokio::sync::mpsc;

use super::action::{Action, CheckOutcome, ClusterRef, Connection, Effect, PickKind, RemoteCheck, WizardQuery};
use super::app::App;
use super::config::Config;
use super::engine_life::{EngineState, LEASE_CHECK, Supervisor};
use super::theme::Theme;
use crate::cli::{ConsoleArgs, GlobalArgs};
use crate::cmd::kubeclient;
use crate::observe::live::{self, LiveError, Scope};

/// How often the clock (ages, "next backup in") advances.
const TICK: Duration = Duration::from_secs(1);
/// A network call an effect makes gives up after this long and says so.
const CALL_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Client(#[from] kubeclient::ClientError),
    #[error(transparent)]
    Live(#[from] LiveError),
    #[error(transparent)]
    Seed(#[from] super::seed::SeedError),
    #[error("theme: {0}")]
    Theme(#[from] super::theme::ThemeError),
    #[error("config: {0}")]
    Config(#[from] super::config::ConfigError),
    #[error("terminal: {0}")]
    Terminal(#[from] std::io::Error),
}

type Term = Terminal<CrosstermBackend<std::io::Stdout>>;

fn enter() -> std::io::Result<Term> {
    enable_raw_mode()?;
    execute!(std::io::stdout(), EnterAlternateScreen)?;
    Terminal::new(CrosstermBackend::new(std::io::stdout()))
}

fn leave() {
    let _ = disable_raw_mode();
    let _ = execute!(std::io::stdout(), LeaveAlternateScreen, crossterm::cursor::Show);
}

/// Restores the terminal before any panic message is printed, so it is readable and the shell usable.
fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        leave();
        previous(info);
    }));
}

/// `dbdeck` without a sub-command. Returns the process exit code.
pub async fn run(global: &GlobalArgs, args: &ConsoleArgs) -> Result<i32, RunError> {
    let config = match Config::default_path().filter(|p| p.exists()) {
        Some(p) => Config::load(&p)?,
        None => Config::default(),
    };
    let theme_name = args.theme.clone().or(config.theme.clone()).unwrap_or_else(|| "dark".into());
    let theme = Theme::load(&theme_name)?;

    let first = kubeclient::connect(global).await;
    // Scripts and pipes get the one-line error without the terminal being touched.
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let first = match first {
        Err(e) if global.sandbox || !interactive => return Err(e.into()),
        other => other,
    };
    install_panic_hook();
    let mut term = enter()?;
    let connected = match first {
        Ok(conn) => Ok((conn, global.clone())),
        Err(e) => offer_sandbox(&mut term, &theme, global, e).await,
    };
    let (conn, global) = match connected {
        Ok(c) => c,
        Err(e) => {
            leave();
            return Err(e);
        }
    };
    let global = &global;
    let outcome = start_session(&mut term, conn, global, args, &config, &theme, &theme_name).await;
    leave();
    outcome
}

/// Without a usable kubeconfig, one screen says why and offers an embedded sandbox instead. When the user quits
/// there, the error is returned (and printed once more on the plain terminal).
async fn offer_sandbox(
    term: &mut Term,
    theme: &Theme,
    global: &GlobalArgs,
    e: kubeclient::ClientError,
) -> Result<(kubeclient::Connection, GlobalArgs), RunError> {
    let text = format!("dbdeck cannot connect to a cluster: {e}");
    let keys = [('s', "open on an embedded sandbox instead (what dbdeck --sandbox does)"), ('q', "quit")];
    if message_screen(term, theme, "No cluster", &text, &keys).await? != 's' {
        return Err(e.into());
    }
    let sandbox = GlobalArgs { sandbox: true, kubeconfig: None, context: None, ..global.clone() };
    Ok((kubeclient::connect(&sandbox).await?, sandbox))
}

async fn start_session(
    term: &mut Term,
    conn: kubeclient::Connection,
    global: &GlobalArgs,
    args: &ConsoleArgs,
    config: &Config,
    theme: &Theme,
    theme_name: &str,
) -> Result<i32, RunError> {
    let scope = crate::cmd::status::scope(global, &conn.client);
    let mut demo = None;
    let context = if let Some(sandbox) = &conn.sandbox {
        let ns = match &scope {
            Scope::Namespace(ns) => ns.clone(),
            Scope::All => conn.client.default_namespace().to_string(),
        };
        super::seed::seed(conn.client.clone(), &ns, !args.empty).await?;
        // Real servers behind the example clusters, started in the background (the first frame does not wait).
        if !args.empty {
            let installed = super::demo_servers::Installed::detect();
            demo = Some(super::demo_servers::DemoServers::start(
                sandbox.sandbox.clone(),
                conn.client.clone(),
                &ns,
                installed,
            ));
        }
        "dbdeck-sandbox".to_string()
    } else {
        global.context.clone().unwrap_or_else(|| current_context(global).unwrap_or_else(|| "(current)".into()))
    };

    let mut app = App::new(context, scope_namespace(&scope), Utc::now());
    app.readonly = args.readonly;
    app.keymap = config.keymap.clone();
    app.theme_name = theme_name.to_string();
    app.sandbox_note = demo.as_ref().and_then(|d| d.state().note(&[]));

    // The engine reconciles in-process unless told not to (--readonly means dbdeck writes nothing). Its supervisor
    // keeps it off while a dbdeck operator leads in the cluster (two engines would fight over the same objects),
    // re-checking all along. On the embedded sandbox the engine watches every namespace: a cluster the wizard
    // creates in another namespace than the one shown must still come up. On a real cluster it keeps to the
    // console's scope.
    let mut engine = if args.readonly || args.no_engine {
        let flag = if args.readonly { "--readonly" } else { "--no-engine" };
        app.engine = Some(EngineState::Disabled { flag: flag.to_string() });
        None
    } else {
        let engine_scope = if conn.sandbox.is_some() { Scope::All } else { scope.clone() };
        let sup = Supervisor::start(conn.client.clone(), engine_scope, app.context.clone(), LEASE_CHECK, None);
        app.engine = Some(sup.state.borrow().clone());
        Some(sup)
    };

    let outcome =
        session(term, &mut app, theme, theme_name, conn.client.clone(), scope, global, &mut engine, demo.as_ref())
            .await;
    if let Some(sup) = engine {
        // The supervisor bounds the engine's own stop; this bounds a supervisor stuck on the API.
        let _ = tokio::time::timeout(Duration::from_secs(8), sup.stop()).await;
    }
    if let Some(demo) = demo {
        demo.shutdown().await;
    }
    if let Some(sandbox) = conn.sandbox {
        sandbox.shutdown().await;
    }
    outcome
}

fn scope_namespace(scope: &Scope) -> Option<String> {
    match scope {
        Scope::Namespace(ns) => Some(ns.clone()),
        Scope::All => None,
    }
}

fn current_context(global: &GlobalArgs) -> Option<String> {
    let kc = match &global.kubeconfig {
        Some(p) => kube::config::Kubeconfig::read_from(p).ok()?,
        None => kube::config::Kubeconfig::read().ok()?,
    };
    kc.current_context
}

/// One full-screen message with the keys it accepts; returns the key pressed.
async fn message_screen(
    term: &mut Term,
    theme: &Theme,
    title: &str,
    text: &str,
    keys: &[(char, &str)],
) -> Result<char, RunError> {
    let mut events = EventStream::new();
    loop {
        term.draw(|f| super::views::dialogs::message_screen(theme, title, text, keys, f))?;
        match events.next().await {
            Some(Ok(TermEvent::Key(k))) if k.kind == KeyEventKind::Press => {
                if let KeyCode::Char(c) = k.code
                    && keys.iter().any(|(key, _)| *key == c)
                {
                    return Ok(c);
                }
                if k.code == KeyCode::Esc {
                    return Ok('q');
                }
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
            None => return Ok('q'),
        }
    }
}

/// Checks the API and the CRDs, offering to install missing CRDs. `Ok(false)` means the user chose to quit.
async fn ready_to_watch(
    term: &mut Term,
    theme: &Theme,
    client: &kube::Client,
    scope: &Scope,
    context: &str,
) -> Result<bool, RunError> {
    loop {
        match live::preflight(client, scope).await {
            Ok(()) => return Ok(true),
            Err(e @ LiveError::MissingCrds { .. }) => {
                let keys = [('i', "install the nine CRDs now (server-side apply)"), ('q', "quit")];
                if message_screen(term, theme, "CRDs missing", &e.to_string(), &keys).await? != 'i' {
                    return Ok(false);
                }
                if let Err(e) = crate::cmd::crd::apply_all(client.clone()).await {
                    let keys = [('r', "retry"), ('q', "quit")];
                    let text = format!("installing the CRDs failed: {e}");
                    if message_screen(term, theme, "CRDs", &text, &keys).await? != 'r' {
                        return Ok(false);
                    }
                }
            }
            Err(e) => {
                let keys = [('r', "retry"), ('q', "quit")];
                let text = match &e {
                    LiveError::Unreachable(_) => format!(
                        "{e}\n\nkubeconfig context {context}: is the cluster up, and does the context point at it? \
                         (kubectl --context {context} get namespaces tells the same)"
                    ),
                    _ => e.to_string(),
                };
                if message_screen(term, theme, "Cannot read clusters", &text, &keys).await? != 'r' {
                    return Ok(false);
                }
            }
        }
    }
}

// The session's whole state comes in here once; bundling it into a struct would only rename the arguments.
#[allow(clippy::too_many_arguments)]
async fn session(
    term: &mut Term,
    app: &mut App,
    theme: &Theme,
    theme_arg: &str,
    mut client: kube::Client,
    mut scope: Scope,
    global: &GlobalArgs,
    engine: &mut Option<Supervisor>,
    demo: Option<&super::demo_servers::DemoServers>,
) -> Result<i32, RunError> {
    let context = app.context.clone();
    if !ready_to_watch(term, theme, &client, &scope, &context).await? {
        return Ok(0);
    }
    let mut live = live::start(client.clone(), scope.clone());
    let mut snapshots = live.snapshots.clone();
    let (tx, mut rx) = mpsc::unbounded_channel::<Action>();
    let mut events = Some(EventStream::new());
    let mut tick = tokio::time::interval(TICK);
    let mut lost = false;
    let mut split = super::escape::SplitEscape::default();
    let mut engine_state = engine.as_ref().map(|e| e.state.clone());
    loop {
        // A theme given as a path stays in use until the user cycles to a built-in one.
        let current = if app.theme_name == theme_arg { theme.clone() } else { app.theme() };
        if let Ok(size) = term.size() {
            app.width = size.width;
        }
        term.draw(|f| super::views::draw(app, &current, f))?;

        let mut effects = Vec::new();
        tokio::select! {
            ev = async { events.as_mut()?.next().await } => match ev {
                Some(Ok(TermEvent::Key(k))) if k.kind == KeyEventKind::Press => {
                    for key in split.push(k, std::time::Instant::now()) {
                        effects.extend(app.on_key(&key));
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => return Ok(0),
            },
            // Keys held back after an esc turn out not to be an arrow: act on them as typed.
            _ = async {
                match split.deadline() {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            } => {
                for key in split.flush() {
                    effects.extend(app.on_key(&key));
                }
            }
            changed = snapshots.changed() => {
                if changed.is_err() {
                    continue;
                }
                let mut snap = snapshots.borrow_and_update().clone();
                // Sandbox pods with no server behind them are said once, in the note under the header.
                let unattached = super::demo_servers::fold_unattached(&mut snap.clusters);
                app.sandbox_note = match demo {
                    Some(demo) => demo.state().note(&unattached),
                    None => super::demo_servers::unattached_note(&unattached),
                };
                match (&snap.lost, lost) {
                    (Some(reason), _) => {
                        lost = true;
                        app.update(Action::Connection(Connection::Lost { reason: reason.clone() }));
                    }
                    (None, true) => {
                        lost = false;
                        app.update(Action::Connection(Connection::Connected));
                    }
                    (None, false) => {}
                }
                // Until every watch has listed once, an empty list would be a lie.
                if snap.synced {
                    effects = app.update(Action::Snapshot(snap.clusters));
                }
            }
            changed = async {
                match engine_state.as_mut() {
                    Some(rx) => rx.changed().await,
                    None => std::future::pending().await,
                }
            } => {
                let Some(rx) = engine_state.as_mut().filter(|_| changed.is_ok()) else {
                    engine_state = None;
                    continue;
                };
                let next = rx.borrow_and_update().clone();
                engine_news(app, next);
            }
            Some(action) = rx.recv() => effects = app.update(action),
            _ = tick.tick() => effects = app.update(Action::Tick(Utc::now())),
        }

        for effect in effects {
            match effect {
                Effect::Quit => return Ok(0),
                Effect::Redraw => {
                    let _ = term.clear();
                }
                Effect::OpenEditor { target, resume } => {
                    // The editor reads the keyboard now: stop listening until it is done. A refused edit
                    // re-opens it at once on the user's text.
                    drop(events.take());
                    let mut next = Some((target, resume));
                    while let Some((target, resume)) = next.take() {
                        if let Some(a) = edit_in_editor(term, &client, target, resume).await {
                            for e in app.update(a) {
                                match e {
                                    Effect::OpenEditor { target, resume } => next = Some((target, resume)),
                                    e => spawn_effect(e, &client, &tx, global),
                                }
                            }
                        }
                    }
                    events = Some(EventStream::new());
                }
                Effect::SwitchNamespace(ns) => {
                    scope = match ns {
                        Some(ns) => Scope::Namespace(ns),
                        None => Scope::All,
                    };
                    app.namespace = scope_namespace(&scope);
                    live = live::start(client.clone(), scope.clone());
                    snapshots = live.snapshots.clone();
                }
                Effect::SwitchContext(ctx) => {
                    if global.sandbox {
                        app.update(Action::WriteDone {
                            what: format!("switch to context {ctx}"),
                            result: Err("the embedded sandbox has no other contexts".into()),
                        });
                        continue;
                    }
                    let mut g = global.clone();
                    g.context = Some(ctx.clone());
                    // `-n` chose the first context's namespace; the new one comes with its own.
                    g.namespace = None;
                    match kubeclient::client(&g).await {
                        Ok(c) => {
                            client = c;
                            // The new context's own namespace (its kubeconfig entry, else default), not the
                            // one left behind; all namespaces stay all.
                            if let Scope::Namespace(_) = scope {
                                scope = Scope::Namespace(client.default_namespace().to_string());
                            }
                            // The engine follows the console: the old context's engine stops first, then the
                            // new one starts there after the same Lease check.
                            if let Some(old) = engine.take() {
                                let previous = old.stop();
                                let sup = Supervisor::start(
                                    client.clone(),
                                    scope.clone(),
                                    ctx.clone(),
                                    LEASE_CHECK,
                                    Some(previous),
                                );
                                engine_state = Some(sup.state.clone());
                                app.engine = Some(sup.state.borrow().clone());
                                *engine = Some(sup);
                            }
                            app.update(Action::ContextSwitched { context: ctx, namespace: scope_namespace(&scope) });
                            live = live::start(client.clone(), scope.clone());
                            snapshots = live.snapshots.clone();
                        }
                        Err(e) => {
                            app.update(Action::WriteDone {
                                what: format!("switch to context {ctx}"),
                                result: Err(e.to_string()),
                            });
                        }
                    }
                }
                other => spawn_effect(other, &client, &tx, global),
            }
        }
    }
}

/// A new engine state for the header and notice line; the engine coming back after an operator's Lease ended is
/// also said once in the status line.
fn engine_news(app: &mut App, next: EngineState) {
    if let (Some(EngineState::Deferring { namespace, holder, .. }), EngineState::On { context, .. }) =
        (&app.engine, &next)
    {
        app.tell(
            super::app::Level::Info,
            format!(
                "engine on again for {context}: the Lease {namespace}/{} of operator {holder} ended",
                crate::headless::lease::DEFAULT_LEASE_NAME
            ),
        );
    }
    app.engine = Some(next);
}

fn api_for(client: &kube::Client, api_version: &str, kind: &str, namespace: &str) -> Api<DynamicObject> {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let ar = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
    Api::namespaced_with(client.clone(), namespace, &ar)
}

fn cluster_api(client: &kube::Client, target: &ClusterRef) -> Api<DynamicObject> {
    let (api_version, kind) = target.kind.api_version_kind();
    api_for(client, api_version, kind, &target.namespace)
}

async fn timed<T>(f: impl std::future::Future<Output = Result<T, kube::Error>>) -> Result<T, String> {
    match tokio::time::timeout(CALL_TIMEOUT, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(kube::Error::Api(s))) => Err(s.message),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer from the API server within {}s", CALL_TIMEOUT.as_secs())),
    }
}

/// The resource as JSON with its type (the console diffs and edits this).
fn value_of(obj: &DynamicObject, target: &ClusterRef) -> serde_json::Value {
    let mut v = serde_json::to_value(obj).unwrap_or_default();
    let (api_version, kind) = target.kind.api_version_kind();
    if let serde_json::Value::Object(m) = &mut v {
        m.insert("apiVersion".into(), api_version.into());
        m.insert("kind".into(), kind.into());
        if let Some(serde_json::Value::Object(meta)) = m.get_mut("metadata") {
            // Server bookkeeping is noise in a diff and in the editor.
            meta.remove("managedFields");
        }
    }
    v
}

/// Creates `ns` when it does not exist yet; `Ok(true)` when it was created here.
async fn ensure_namespace(client: &kube::Client, ns: &str) -> Result<bool, String> {
    use k8s_openapi::api::core::v1::Namespace;
    let api: Api<Namespace> = Api::all(client.clone());
    if timed(api.get_opt(ns)).await?.is_some() {
        return Ok(false);
    }
    let obj: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": ns}})).map_err(|e| e.to_string())?;
    timed(api.create(&PostParams::default(), &obj)).await.map(|_| true)
}

/// Runs one effect off the UI task; its answer comes back as an action. On the embedded `sandbox`, a cluster
/// the wizard puts into a namespace that does not exist yet gets the namespace too (on a real cluster the API's
/// "namespace not found" stands: creating namespaces there is an administrator's decision).
fn spawn_effect(effect: Effect, client: &kube::Client, tx: &mpsc::UnboundedSender<Action>, global: &GlobalArgs) {
    let client = client.clone();
    let tx = tx.clone();
    let sandbox = global.sandbox;
    let global_kc = global.clone();
    tokio::spawn(async move {
        let action = match effect {
            Effect::CreateCluster { value } | Effect::CreateBackup { value } => {
                let s = |p: &str| value.pointer(p).and_then(|v| v.as_str()).unwrap_or("").to_string();
                let (api_version, kind, ns, name) =
                    (s("/apiVersion"), s("/kind"), s("/metadata/namespace"), s("/metadata/name"));
                let mut what = format!("create {kind} {name}");
                if sandbox && !ns.is_empty() {
                    match ensure_namespace(&client, &ns).await {
                        Ok(true) => what = format!("create namespace {ns} and {kind} {name}"),
                        Ok(false) => {}
                        Err(e) => {
                            let _ =
                                tx.send(Action::WriteDone { what: format!("create namespace {ns}"), result: Err(e) });
                            return;
                        }
                    }
                }
                let result = match serde_json::from_value::<DynamicObject>(value) {
                    Ok(obj) => timed(api_for(&client, &api_version, &kind, &ns).create(&PostParams::default(), &obj))
                        .await
                        .map(|_| ()),
                    Err(e) => Err(e.to_string()),
                };
                Action::WriteDone { what, result }
            }
            Effect::Patch { target, patch } => {
                let result = timed(cluster_api(&client, &target).patch(
                    &target.name,
                    &PatchParams::default(),
                    &Patch::Merge(&patch),
                ))
                .await
                .map(|_| ());
                Action::WriteDone { what: format!("update {}", target.name), result }
            }
            Effect::DryRunPatch { target, patch } => {
                let params = PatchParams { dry_run: true, ..Default::default() };
                let result =
                    timed(cluster_api(&client, &target).patch(&target.name, &params, &Patch::Merge(&patch))).await;
                Action::DryRun(result.map(|_| ()))
            }
            Effect::Delete { target } => {
                let result = timed(cluster_api(&client, &target).delete(&target.name, &DeleteParams::default()))
                    .await
                    .map(|_| ());
                Action::WriteDone { what: format!("delete {}", target.name), result }
            }
            Effect::LoadForEdit { target, scale_only } => {
                match timed(cluster_api(&client, &target).get(&target.name)).await {
                    Ok(obj) => Action::EditLoaded { value: value_of(&obj, &target), target, scale_only },
                    Err(e) => Action::WriteDone { what: format!("load {}", target.name), result: Err(e) },
                }
            }
            Effect::FetchObject { api_version, kind, namespace, name, purpose } => {
                let result = timed(api_for(&client, &api_version, &kind, &namespace).get(&name))
                    .await
                    .and_then(|o| serde_json::to_value(o).map_err(|e| e.to_string()));
                Action::Fetched { purpose, result }
            }
            Effect::DeleteBackup { kind, namespace, name } => {
                let (api_version, k) = super::app::backup_api_kind(kind);
                let result =
                    timed(api_for(&client, api_version, k, &namespace).delete(&name, &DeleteParams::default()))
                        .await
                        .map(|_| ());
                Action::WriteDone { what: format!("delete backup {name}"), result }
            }
            Effect::CheckNamespace(ns) => {
                Action::NamespaceChecked { result: check_namespace(&client, &ns).await, namespace: ns }
            }
            Effect::ListForPicker(kind) => {
                Action::PickerItems { kind, result: picker_items(&client, kind, &global_kc).await }
            }
            Effect::CheckWizard(q) => Action::WizardChecked(check_wizard(&client, &q).await),
            // Handled by the loop itself (they need the terminal or restart the watches).
            Effect::OpenEditor { .. }
            | Effect::SwitchNamespace(_)
            | Effect::SwitchContext(_)
            | Effect::Redraw
            | Effect::Quit => return,
        };
        let _ = tx.send(action);
    });
}

/// Whether `:ns NAME` may switch: the namespace exists (`Ok(None)`), or cannot be checked (`Ok(note)`: a user
/// allowed into one namespace is often not allowed to read namespaces); `Err` when the API says it is not there.
async fn check_namespace(client: &kube::Client, ns: &str) -> Result<Option<String>, String> {
    use k8s_openapi::api::core::v1::Namespace;
    let api: Api<Namespace> = Api::all(client.clone());
    match tokio::time::timeout(CALL_TIMEOUT, api.get_opt(ns)).await {
        Ok(Ok(Some(_))) => Ok(None),
        Ok(Ok(None)) => Err(format!("namespace {ns} does not exist (kubectl get namespaces lists them)")),
        Ok(Err(kube::Error::Api(s))) if s.code == 403 => {
            Ok(Some(format!("not allowed to read namespaces, so not checked ({})", s.message)))
        }
        Ok(Err(e)) => Ok(Some(format!("could not check that it exists: {e}"))),
        Err(_) => Ok(Some(format!("could not check that it exists: no answer within {}s", CALL_TIMEOUT.as_secs()))),
    }
}

/// Namespaces from the API, or the kubeconfig's contexts.
async fn picker_items(client: &kube::Client, kind: PickKind, global: &GlobalArgs) -> Result<Vec<String>, String> {
    match kind {
        PickKind::Namespace => {
            use k8s_openapi::api::core::v1::Namespace;
            let api: Api<Namespace> = Api::all(client.clone());
            match timed(api.list(&Default::default())).await {
                Ok(list) => {
                    let mut names: Vec<String> = list.items.into_iter().filter_map(|n| n.metadata.name).collect();
                    names.sort();
                    Ok(names)
                }
                Err(e) => Err(format!("cannot list namespaces: {e}; type :ns NAME instead")),
            }
        }
        PickKind::Context if global.sandbox => Err("the embedded sandbox has no other contexts".into()),
        PickKind::Context => {
            let kc = match &global.kubeconfig {
                Some(p) => kube::config::Kubeconfig::read_from(p),
                None => kube::config::Kubeconfig::read(),
            }
            .map_err(|e| format!("cannot read the kubeconfig: {e}"))?;
            Ok(kc.contexts.into_iter().map(|c| c.name).collect())
        }
    }
}

/// The wizard's names against the cluster: a cluster of that name must not exist yet, the StorageClass and the
/// S3 credentials Secret must. What cannot be asked is said, never passed silently.
async fn check_wizard(client: &kube::Client, q: &WizardQuery) -> Vec<RemoteCheck> {
    use k8s_openapi::api::core::v1::Secret;
    use k8s_openapi::api::storage::v1::StorageClass;
    let unchecked = |e: String| CheckOutcome::Unchecked(format!("could not check with the API: {e}"));
    let mut out = Vec::new();
    if !q.name.is_empty() && !q.namespace.is_empty() && !q.kind.is_empty() {
        let api = api_for(client, &q.api_version, &q.kind, &q.namespace);
        let outcome = match timed(api.get_opt(&q.name)).await {
            Ok(Some(_)) => CheckOutcome::Problem(format!(
                "a {} named {} already exists in namespace {}",
                q.kind, q.name, q.namespace
            )),
            Ok(None) => CheckOutcome::Fine,
            Err(e) => unchecked(e),
        };
        out.push(RemoteCheck { field: "name", value: q.name.clone(), outcome });
    }
    if !q.storage_class.is_empty() {
        let api: Api<StorageClass> = Api::all(client.clone());
        let outcome = match timed(api.get_opt(&q.storage_class)).await {
            Ok(Some(_)) => CheckOutcome::Fine,
            Ok(None) => {
                let known = match timed(api.list(&Default::default())).await {
                    Ok(l) => {
                        let names: Vec<String> = l.items.into_iter().filter_map(|c| c.metadata.name).collect();
                        if names.is_empty() {
                            "there are none".to_string()
                        } else {
                            format!("there are: {}", names.join(", "))
                        }
                    }
                    Err(_) => "kubectl get storageclass lists them".to_string(),
                };
                CheckOutcome::Problem(format!("StorageClass {} does not exist; {known}", q.storage_class))
            }
            Err(e) => unchecked(e),
        };
        out.push(RemoteCheck { field: "storage-class", value: q.storage_class.clone(), outcome });
    }
    if !q.secret.is_empty() && !q.namespace.is_empty() {
        let api: Api<Secret> = Api::namespaced(client.clone(), &q.namespace);
        let outcome = match timed(api.get_opt(&q.secret)).await {
            Ok(Some(_)) => CheckOutcome::Fine,
            Ok(None) => CheckOutcome::Problem(format!(
                "Secret {} does not exist in namespace {}; create it with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY first",
                q.secret, q.namespace
            )),
            Err(e) => unchecked(e),
        };
        out.push(RemoteCheck { field: "credentials", value: q.secret.clone(), outcome });
    }
    out
}

/// Fetches the resource, hands the terminal to `$EDITOR` (then `$VISUAL`, then `vi`) on its YAML, and returns
/// what came back.
async fn edit_in_editor(
    term: &mut Term,
    client: &kube::Client,
    target: ClusterRef,
    resume: Option<(serde_json::Value, String)>,
) -> Option<Action> {
    let fail = |e: String| Some(Action::WriteDone { what: format!("edit {}", target.name), result: Err(e) });
    let resumed = resume.as_ref().map(|(_, text)| text.clone());
    let (before, yaml) = match resume {
        Some(r) => r,
        None => {
            let obj = match timed(cluster_api(client, &target).get(&target.name)).await {
                Ok(o) => o,
                Err(e) => return fail(e),
            };
            let before = value_of(&obj, &target);
            match serde_yaml::to_string(&before) {
                Ok(y) => (before, y),
                Err(e) => return fail(e.to_string()),
            }
        }
    };
    // A private file in the temp directory, removed again below (the YAML may hold nothing secret, but a CR is
    // still the user's business).
    let path =
        std::env::temp_dir().join(format!("dbdeck-{}-{}-{}.yaml", std::process::id(), target.namespace, target.name));
    if let Err(e) = write_private(&path, yaml.as_bytes()) {
        return fail(format!("cannot write {}: {e}", path.display()));
    }
    let editor = std::env::var("EDITOR").or_else(|_| std::env::var("VISUAL")).unwrap_or_else(|_| "vi".into());
    leave();
    let run_path = path.clone();
    // The editor command may carry arguments (`code -w`), as shells run it.
    let status = tokio::task::spawn_blocking(move || {
        std::process::Command::new("sh").arg("-c").arg(format!("{editor} \"$1\"")).arg("sh").arg(&run_path).status()
    })
    .await;
    back_from_editor(term);
    let edited = std::fs::read_to_string(&path);
    let _ = std::fs::remove_file(&path);
    match status {
        Ok(Ok(s)) if s.success() => {}
        Ok(Ok(s)) => return fail(format!("the editor exited with {s}; nothing changed")),
        Ok(Err(e)) => return fail(format!("cannot run the editor: {e}")),
        Err(e) => return fail(e.to_string()),
    }
    match edited {
        // Saved as it was re-opened: the user gave up on the edit (kubectl cancels the same way).
        Ok(after_yaml) if resumed.as_deref() == Some(after_yaml.as_str()) => Some(Action::WriteDone {
            what: format!("edit {}", target.name),
            result: Err("cancelled: the file was saved unchanged after the error, nothing was applied".into()),
        }),
        Ok(after_yaml) => Some(Action::EditorDone { target, before, after_yaml }),
        Err(e) => fail(e.to_string()),
    }
}

/// Takes the terminal back from an editor: raw mode and the alternate screen again (an editor may have left
/// either), input the editor did not read (or the terminal's late answers to its queries) thrown away so it is
/// not taken for keys, the cursor hidden, and the whole screen cleared so the next frame draws every cell.
fn back_from_editor(term: &mut Term) {
    let _ = enable_raw_mode();
    let _ = execute!(
        std::io::stdout(),
        EnterAlternateScreen,
        crossterm::terminal::Clear(crossterm::terminal::ClearType::All),
        crossterm::cursor::Hide
    );
    // A short quiet period catches answers that arrive just after the editor exited.
    while crossterm::event::poll(Duration::from_millis(30)).unwrap_or(false) {
        if crossterm::event::read().is_err() {
            break;
        }
    }
    let _ = term.clear();
}

fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(path)?.write_all(bytes)
}
