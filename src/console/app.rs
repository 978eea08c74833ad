//! Console state and its one update function. `App::update(Action) -> Vec<Effect>` is pure: it changes the
//! state and returns requests for the live layer, which answers with more actions. Views only read `App`.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use crossterm::event::KeyEvent;
use serde_json::json;

use super::action::{Action, ClusterRef, Connection, Effect, FetchPurpose, PickKind, SortColumn};
use super::command::{self, Command, KindScope};
use super::edit::{DryRun, EditForm, Review};
use super::filter::Filter;
use super::form::merge_patch;
use super::keymap::{Context, Key, Keymap};
use super::theme::Theme;
use super::wizard::{Step, Wizard};
use crate::api::AnyResource;
use crate::observe::view::{BackupView, ClusterKind, ClusterView, Health};

/// One entry of the view stack (shown as crumbs in the header).
#[derive(Clone, Debug, PartialEq)]
pub enum Screen {
    Clusters,
    Backups,
    Detail(ClusterRef),
    Help,
    Wizard,
    EditForm,
    Review,
    ConfirmDelete,
}

impl Screen {
    pub fn crumb(&self) -> String {
        match self {
            Screen::Clusters => "clusters".into(),
            Screen::Backups => "backups".into(),
            Screen::Detail(r) => r.name.clone(),
            Screen::Help => "help".into(),
            Screen::Wizard => "create".into(),
            Screen::EditForm => "edit".into(),
            Screen::Review => "review".into(),
            Screen::ConfirmDelete => "delete".into(),
        }
    }
}

/// The panes of the cluster detail screen, in key order 1–6.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pane {
    Topology,
    WhyNotReady,
    Pvcs,
    Backups,
    Events,
    Conditions,
}

impl Pane {
    pub const ALL: [Pane; 6] =
        [Pane::Topology, Pane::WhyNotReady, Pane::Pvcs, Pane::Backups, Pane::Events, Pane::Conditions];
    pub fn title(&self) -> &'static str {
        match self {
            Pane::Topology => "Topology",
            Pane::WhyNotReady => "Why not ready",
            Pane::Pvcs => "PVCs",
            Pane::Backups => "Backups",
            Pane::Events => "Events",
            Pane::Conditions => "Conditions",
        }
    }
    fn index(&self) -> usize {
        Pane::ALL.iter().position(|p| p == self).unwrap_or(0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputKind {
    Filter,
    Command,
}

#[derive(Clone, Debug, PartialEq)]
pub struct InputLine {
    pub kind: InputKind,
    pub text: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Info,
    Ok,
    Error,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StatusLine {
    pub level: Level,
    pub text: String,
}

/// What a "yes" to the open question does.
#[derive(Clone, Debug, PartialEq)]
pub enum OnYes {
    DiscardWizard,
    DiscardEdit,
    Run(Effect, String),
    /// Create an on-demand backup to the chosen storage.
    Backup(ClusterRef),
    /// Restore the cluster from the chosen backup (choices hold `name` or, for PG, `name (repo)`).
    Restore(ClusterRef, Vec<(String, Option<String>)>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Question {
    pub title: String,
    pub lines: Vec<String>,
    /// Options chosen with ←/→ (backup storage).
    pub choices: Vec<String>,
    pub choice: usize,
    pub on_yes: OnYes,
    /// For what cannot be undone (a restore overwrites data, a pause stops every pod): the name to type
    /// before enter says yes.
    pub confirm_name: Option<String>,
    pub typed: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DeleteConfirm {
    pub target: ClusterRef,
    pub typed: String,
    /// `percona.com/delete-*-pvc` finalizers on the cluster (PVCs go with it when present).
    pub pvc_finalizers: Vec<String>,
    pub pvcs: Vec<String>,
    /// Set when a backup of `target` is what goes, not the cluster.
    pub backup: Option<BackupDelete>,
}

impl DeleteConfirm {
    /// The name the user has to type.
    pub fn name(&self) -> &str {
        self.backup.as_ref().map(|b| b.name.as_str()).unwrap_or(&self.target.name)
    }
}

/// A backup about to be deleted, as the server has it now.
#[derive(Clone, Debug, PartialEq)]
pub struct BackupDelete {
    pub name: String,
    /// `percona.com/delete-backup` is on the object: the operator removes the data before the object goes.
    pub deletes_data: bool,
    pub destination: Option<String>,
    pub storage: Option<String>,
}

/// A scrollable text popup over the current screen.
#[derive(Clone, Debug, PartialEq)]
pub struct TextPopup {
    pub title: String,
    pub lines: Vec<String>,
    pub scroll: u16,
}

/// A list to choose a namespace or context from; typed text narrows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Picker {
    pub kind: PickKind,
    /// `None` while the names are being fetched.
    pub items: Option<Vec<String>>,
    pub filter: String,
    pub selected: usize,
    /// Why the list is empty or incomplete.
    pub note: Option<String>,
}

impl Picker {
    /// The items that contain the typed text.
    pub fn shown(&self) -> Vec<&str> {
        let f = self.filter.to_lowercase();
        self.items
            .iter()
            .flatten()
            .filter(|i| f.is_empty() || i.to_lowercase().contains(&f))
            .map(String::as_str)
            .collect()
    }
}

pub struct App {
    pub clusters: Vec<ClusterView>,
    /// False until the live layer delivered its first snapshot (the list says "loading" instead of "empty").
    pub loaded: bool,
    pub context: String,
    /// `None` = all namespaces.
    pub namespace: Option<String>,
    pub stack: Vec<Screen>,
    pub scope: KindScope,
    pub selected: usize,
    pub backup_selected: usize,
    pub filter: Filter,
    pub input: Option<InputLine>,
    pub sort: SortColumn,
    pub descending: bool,
    pub pane: Pane,
    pub detail_scroll: u16,
    pub help_scroll: u16,
    pub banner: Option<String>,
    /// One line under the header about the sandbox demo's database servers (`--sandbox` only).
    pub sandbox_note: Option<String>,
    pub readonly: bool,
    pub theme_name: String,
    pub status: Option<StatusLine>,
    /// The in-process engine's state (header and notice line); `None` where no engine is wired (view tests).
    pub engine: Option<crate::console::engine_life::EngineState>,
    pub wizard: Option<Wizard>,
    pub edit: Option<EditForm>,
    pub review: Option<Review>,
    pub delete: Option<DeleteConfirm>,
    pub question: Option<Question>,
    pub popup: Option<TextPopup>,
    pub picker: Option<Picker>,
    /// The status messages of this session, oldest first (`:messages` shows them in full).
    pub messages: Vec<(DateTime<Utc>, StatusLine)>,
    /// When the status line's message was said (it clears itself after a while).
    pub status_since: DateTime<Utc>,
    /// The terminal's width as last drawn (text wraps to it); the run loop keeps it current.
    pub width: u16,
    pub now: DateTime<Utc>,
    pub keymap: Keymap,
}

/// How long a message stays on the status line; `:messages` keeps it after that.
const STATUS_KEEP_SECS: i64 = 15;
const STATUS_KEEP_ERROR_SECS: i64 = 90;
const MESSAGES_KEPT: usize = 200;

const PAGE: usize = 10;

impl App {
    pub fn new(context: impl Into<String>, namespace: Option<String>, now: DateTime<Utc>) -> App {
        App {
            clusters: Vec::new(),
            loaded: false,
            context: context.into(),
            namespace,
            stack: vec![Screen::Clusters],
            scope: KindScope::All,
            selected: 0,
            backup_selected: 0,
            filter: Filter::default(),
            input: None,
            sort: SortColumn::Namespace,
            descending: false,
            pane: Pane::Topology,
            detail_scroll: 0,
            help_scroll: 0,
            banner: None,
            sandbox_note: None,
            readonly: false,
            theme_name: "dark".into(),
            status: None,
            engine: None,
            wizard: None,
            edit: None,
            review: None,
            delete: None,
            question: None,
            popup: None,
            picker: None,
            messages: Vec::new(),
            status_since: now,
            width: 120,
            now,
            keymap: Keymap::default(),
        }
    }

    pub fn screen(&self) -> &Screen {
        self.stack.last().unwrap_or(&Screen::Clusters)
    }

    /// The screen under the modal ones (what a wizard or help is drawn over).
    pub fn base_screen(&self) -> &Screen {
        self.stack
            .iter()
            .rev()
            .find(|s| matches!(s, Screen::Clusters | Screen::Backups | Screen::Detail(_)))
            .unwrap_or(&Screen::Clusters)
    }

    /// Active key contexts, most specific first.
    pub fn contexts(&self) -> Vec<Context> {
        use Context::*;
        if self.popup.is_some() {
            return vec![Popup, Always];
        }
        if self.picker.is_some() {
            return vec![Picker, Always];
        }
        if let Some(q) = &self.question {
            // A question that wants a name typed takes text: `y` is a letter of the name there.
            return if q.confirm_name.is_some() { vec![Input, Always] } else { vec![Confirm, Always] };
        }
        if self.input.is_some() {
            return vec![Input, Always];
        }
        match self.screen() {
            Screen::Clusters => vec![List, Global, Always],
            Screen::Backups => vec![Backups, Global, Always],
            Screen::Detail(_) => vec![Detail, Global, Always],
            Screen::Help => vec![Help, Global, Always],
            Screen::Wizard if self.wizard.as_ref().is_some_and(|w| w.step == Step::Review) => vec![Review, Always],
            Screen::Wizard | Screen::EditForm => vec![Form, Always],
            Screen::Review => vec![Review, Always],
            Screen::ConfirmDelete => vec![Input, Always],
        }
    }

    /// Resolves a key through the keymap and applies it.
    pub fn on_key(&mut self, key: &KeyEvent) -> Vec<Effect> {
        match self.keymap.resolve(&self.contexts(), Key::from_event(key)) {
            Some(action) => self.update(action),
            None => Vec::new(),
        }
    }

    pub fn theme(&self) -> Theme {
        Theme::builtin(&self.theme_name).unwrap_or_else(Theme::dark)
    }

    // ---- derived data for the views ----

    /// The clusters the list shows: namespace, kind scope and filter applied, then sorted.
    pub fn visible(&self) -> Vec<&ClusterView> {
        let mut v: Vec<&ClusterView> = self
            .clusters
            .iter()
            .filter(|c| self.namespace.as_ref().is_none_or(|ns| &c.namespace == ns))
            .filter(|c| self.scope.admits(&c.kind))
            .filter(|c| self.filter.is_empty() || self.filter.matches_row(&c.name, &search_text(c)))
            .collect();
        let now = self.now;
        v.sort_by(|a, b| {
            let o = compare(self.sort, a, b, now);
            let o = if self.descending { o.reverse() } else { o };
            o.then_with(|| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)))
        });
        v
    }

    /// Every backup of the visible clusters, newest first, with its cluster.
    pub fn visible_backups(&self) -> Vec<(&ClusterView, &BackupView)> {
        let mut out: Vec<(&ClusterView, &BackupView)> =
            self.visible().into_iter().flat_map(|c| c.backups.iter().map(move |b| (c, b))).collect();
        out.sort_by(|a, b| b.1.started.cmp(&a.1.started).then_with(|| a.1.name.cmp(&b.1.name)));
        out
    }

    pub fn cluster(&self, r: &ClusterRef) -> Option<&ClusterView> {
        self.clusters
            .iter()
            .find(|c| c.kind.short() == r.kind.short() && c.namespace == r.namespace && c.name == r.name)
    }

    /// The cluster a write key acts on.
    pub fn selected_cluster(&self) -> Option<&ClusterView> {
        match self.base_screen() {
            Screen::Detail(r) => self.cluster(r),
            Screen::Backups => self.visible_backups().get(self.backup_selected).map(|(c, _)| *c),
            _ => self.visible().get(self.selected).copied(),
        }
    }

    fn say(&mut self, level: Level, text: impl Into<String>) {
        self.tell(level, text);
    }

    /// Puts a message on the status line (and into `:messages`).
    pub fn tell(&mut self, level: Level, text: impl Into<String>) {
        let line = StatusLine { level, text: text.into() };
        self.messages.push((self.now, line.clone()));
        if self.messages.len() > MESSAGES_KEPT {
            self.messages.remove(0);
        }
        self.status = Some(line);
        self.status_since = self.now;
    }

    /// The selected backup of `:backups`.
    pub fn selected_backup(&self) -> Option<(&ClusterView, &BackupView)> {
        self.visible_backups().get(self.backup_selected).copied()
    }

    fn pop_to_base(&mut self) {
        while self.stack.len() > 1 && !matches!(self.screen(), Screen::Clusters | Screen::Backups | Screen::Detail(_)) {
            self.stack.pop();
        }
    }

    // ---- the update function ----

    pub fn update(&mut self, action: Action) -> Vec<Effect> {
        // News from the live layer is handled the same whatever the screen.
        match action {
            Action::Snapshot(clusters) => {
                let keep = self.selected_cluster().map(ClusterRef::of);
                self.clusters = clusters;
                self.loaded = true;
                if let Some(k) = keep
                    && let Some(i) = self.visible().iter().position(|c| ClusterRef::of(c) == k)
                {
                    self.selected = i;
                }
                self.clamp();
                return vec![];
            }
            Action::Tick(now) => {
                self.now = now;
                let keep = match self.status.as_ref().map(|s| s.level) {
                    Some(Level::Error) => STATUS_KEEP_ERROR_SECS,
                    _ => STATUS_KEEP_SECS,
                };
                if self.status.is_some() && (now - self.status_since).num_seconds() >= keep {
                    self.status = None;
                }
                return vec![];
            }
            Action::Redraw => return vec![Effect::Redraw],
            Action::Fetched { purpose, result } => return self.fetched(purpose, result),
            Action::NamespaceChecked { namespace, result } => {
                return match result {
                    Ok(note) => {
                        match note {
                            Some(n) => self.say(Level::Info, format!("namespace {namespace}: {n}")),
                            None => self.status = None,
                        }
                        self.namespace = Some(namespace.clone());
                        self.stack = vec![Screen::Clusters];
                        self.selected = 0;
                        vec![Effect::SwitchNamespace(Some(namespace))]
                    }
                    Err(e) => {
                        self.say(Level::Error, format!(":ns {namespace}: {e}; staying in {}", self.ns_label()));
                        vec![]
                    }
                };
            }
            Action::PickerItems { kind, result } => {
                if let Some(p) = self.picker.as_mut().filter(|p| p.kind == kind) {
                    match result {
                        Ok(items) => {
                            if items.is_empty() {
                                p.note = Some("nothing to choose from".into());
                            }
                            p.items = Some(items);
                        }
                        Err(e) => {
                            p.items = Some(vec![]);
                            p.note = Some(e);
                        }
                    }
                }
                return vec![];
            }
            Action::WizardChecked(results) => {
                if let Some(w) = self.wizard.as_mut() {
                    w.remote = results;
                    w.checking = false;
                    w.refresh();
                }
                return vec![];
            }
            Action::Connection(Connection::Lost { reason }) => {
                self.banner = Some(format!("API connection lost — retrying ({reason})"));
                return vec![];
            }
            Action::Connection(Connection::Connected) => {
                self.banner = None;
                return vec![];
            }
            Action::ContextSwitched { context: ctx, namespace } => {
                self.context = ctx;
                self.namespace = namespace;
                self.clusters.clear();
                self.loaded = false;
                self.banner = None;
                self.stack = vec![Screen::Clusters];
                self.selected = 0;
                return vec![];
            }
            Action::WriteDone { what, result } => {
                match result {
                    Ok(()) => self.say(Level::Ok, format!("{what}: done")),
                    Err(e) => self.say(Level::Error, format!("{what} failed: {e}")),
                }
                return vec![];
            }
            Action::EditLoaded { target, value, scale_only } => {
                self.edit = Some(EditForm::new(target, value, scale_only));
                self.stack.push(Screen::EditForm);
                self.status = None;
                return vec![];
            }
            Action::EditorDone { target, before, after_yaml } => return self.editor_done(target, before, &after_yaml),
            Action::DryRun(result) => {
                if let Some(r) = &mut self.review {
                    r.dry_run = match result {
                        Ok(()) => DryRun::Ok,
                        Err(e) => DryRun::Failed(e),
                    };
                }
                return vec![];
            }
            Action::Quit => return vec![Effect::Quit],
            _ => {}
        }
        if self.popup.is_some() {
            return self.on_popup(action);
        }
        if self.picker.is_some() {
            return self.on_picker(action);
        }
        if self.question.is_some() {
            return self.on_question(action);
        }
        if self.input.is_some() {
            return self.on_input(action);
        }
        match self.screen().clone() {
            Screen::Wizard => self.on_wizard(action),
            Screen::EditForm => self.on_edit(action),
            Screen::Review => self.on_review(action),
            Screen::ConfirmDelete => self.on_delete(action),
            Screen::Help => self.on_help(action),
            Screen::Clusters | Screen::Backups | Screen::Detail(_) => self.on_browse(action),
        }
    }

    /// Applies a change to what the list shows (filter, sort) and keeps the same cluster selected, so the
    /// next arrow key moves from the row the user was on rather than from whatever took its index.
    fn keeping_selection(&mut self, change: impl FnOnce(&mut App)) {
        let keep = self.visible().get(self.selected).map(|c| ClusterRef::of(c));
        change(self);
        if let Some(k) = keep
            && let Some(i) = self.visible().iter().position(|c| ClusterRef::of(c) == k)
        {
            self.selected = i;
        }
        self.clamp();
    }

    fn clamp(&mut self) {
        let n = self.visible().len();
        self.selected = self.selected.min(n.saturating_sub(1));
        let b = self.visible_backups().len();
        self.backup_selected = self.backup_selected.min(b.saturating_sub(1));
    }

    fn move_selection(&mut self, delta: isize, to_end: Option<bool>) {
        match self.screen() {
            Screen::Detail(r) => {
                let rows = self.cluster(r).map(|c| super::views::detail::pane_rows(self, c)).unwrap_or(0);
                let last = rows.saturating_sub(1).min(u16::MAX as usize) as isize;
                self.detail_scroll = match to_end {
                    Some(false) => 0,
                    Some(true) => last as u16,
                    None => (self.detail_scroll as isize + delta).clamp(0, last) as u16,
                };
            }
            Screen::Backups => {
                let n = self.visible_backups().len();
                self.backup_selected = step(self.backup_selected, n, delta, to_end);
            }
            _ => {
                let n = self.visible().len();
                self.selected = step(self.selected, n, delta, to_end);
            }
        }
    }

    fn on_browse(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::Up => self.move_selection(-1, None),
            Action::Down => self.move_selection(1, None),
            Action::PageUp => self.move_selection(-(PAGE as isize), None),
            Action::PageDown => self.move_selection(PAGE as isize, None),
            Action::Top => self.move_selection(0, Some(false)),
            Action::Bottom => self.move_selection(0, Some(true)),
            Action::Open if matches!(self.screen(), Screen::Detail(_)) => self.row_popup(),
            Action::Open | Action::Describe if matches!(self.screen(), Screen::Backups) => self.describe_backup(),
            Action::Yaml if matches!(self.screen(), Screen::Backups) => {
                if let Some((c, b)) = self.selected_backup() {
                    let (api_version, kind) = backup_api_kind(c.kind);
                    let effect = Effect::FetchObject {
                        api_version: api_version.into(),
                        kind: kind.into(),
                        namespace: c.namespace.clone(),
                        name: b.name.clone(),
                        purpose: FetchPurpose::Yaml { title: format!("{kind} {}/{}", c.namespace, b.name) },
                    };
                    return vec![effect];
                }
            }
            Action::Open => {
                if let Some(c) = self.selected_cluster() {
                    let r = ClusterRef::of(c);
                    self.stack.push(Screen::Detail(r));
                    self.pane = Pane::Topology;
                    self.detail_scroll = 0;
                }
            }
            Action::Back => {
                if self.stack.len() > 1 {
                    self.stack.pop();
                } else if !self.filter.is_empty() {
                    self.keeping_selection(|a| a.filter = Filter::default());
                }
            }
            Action::StartFilter => {
                self.input = Some(InputLine { kind: InputKind::Filter, text: self.filter.raw.clone() })
            }
            Action::StartCommand => self.input = Some(InputLine { kind: InputKind::Command, text: String::new() }),
            Action::NextPane => self.set_pane((self.pane.index() + 1) % Pane::ALL.len()),
            Action::PrevPane => self.set_pane((self.pane.index() + Pane::ALL.len() - 1) % Pane::ALL.len()),
            Action::Pane(i) if i < Pane::ALL.len() => self.set_pane(i),
            Action::SortBy(col) => self.keeping_selection(|a| {
                if a.sort == col {
                    a.descending = !a.descending;
                } else {
                    a.sort = col;
                    a.descending = false;
                }
            }),
            Action::SortNext => self.keeping_selection(|a| {
                a.sort = a.sort.next();
                a.descending = false;
            }),
            Action::SortReverse => self.keeping_selection(|a| a.descending = !a.descending),
            Action::Help => {
                self.help_scroll = 0;
                self.stack.push(Screen::Help);
            }
            Action::CycleTheme => {
                self.theme_name = Theme::next_builtin_name(&self.theme_name).to_string();
                self.say(Level::Info, format!("theme: {}", self.theme_name));
            }
            Action::Create
            | Action::Edit
            | Action::EditYaml
            | Action::Delete
            | Action::Backup
            | Action::Restore
            | Action::Scale
            | Action::PauseResume => return self.on_write(action),
            _ => {}
        }
        vec![]
    }

    fn set_pane(&mut self, i: usize) {
        self.pane = Pane::ALL[i];
        self.detail_scroll = 0;
    }

    fn on_write(&mut self, action: Action) -> Vec<Effect> {
        if self.readonly {
            self.say(Level::Error, "read-only mode: dbdeck was started with --readonly, so writes are disabled");
            return vec![];
        }
        // On the backup list a key acts on the backup of the row, never on its cluster.
        if matches!(self.screen(), Screen::Backups) {
            if action != Action::Delete {
                return vec![];
            }
            let Some((c, b)) = self.selected_backup() else {
                self.say(Level::Error, "no backup selected");
                return vec![];
            };
            let (api_version, kind) = backup_api_kind(c.kind);
            let (cluster, name) = (ClusterRef::of(c), b.name.clone());
            self.say(Level::Info, format!("reading backup {name}…"));
            return vec![Effect::FetchObject {
                api_version: api_version.into(),
                kind: kind.into(),
                namespace: cluster.namespace.clone(),
                name: name.clone(),
                purpose: FetchPurpose::DeleteBackup { cluster, name },
            }];
        }
        if action == Action::Create {
            let ns = self.namespace.clone().or_else(|| self.selected_cluster().map(|c| c.namespace.clone()));
            self.wizard = Some(Wizard::new(ns.as_deref().unwrap_or("default")));
            self.stack.push(Screen::Wizard);
            // A message from an earlier wizard (or anything else) does not belong to this fresh one.
            self.status = None;
            return vec![];
        }
        let Some(c) = self.selected_cluster() else {
            self.say(Level::Error, "no cluster selected");
            return vec![];
        };
        let target = ClusterRef::of(c);
        let label = format!("{} {}/{}", c.kind.short(), c.namespace, c.name);
        match action {
            Action::Edit | Action::Scale => {
                self.say(Level::Info, format!("loading {label}…"));
                vec![Effect::LoadForEdit { target, scale_only: action == Action::Scale }]
            }
            Action::EditYaml => vec![Effect::OpenEditor { target, resume: None }],
            Action::Delete => {
                self.delete = Some(DeleteConfirm {
                    target,
                    typed: String::new(),
                    pvc_finalizers: c.pvc_deleting_finalizers().into_iter().map(String::from).collect(),
                    pvcs: c.pvcs.iter().map(|p| p.name.clone()).collect(),
                    backup: None,
                });
                self.stack.push(Screen::ConfirmDelete);
                vec![]
            }
            Action::Backup => {
                if c.backup_storages.is_empty() {
                    let field = if c.kind == ClusterKind::Pg {
                        "spec.backups.pgbackrest.repos"
                    } else {
                        "spec.backup.storages"
                    };
                    self.say(Level::Error, format!("{label} has no backup storage ({field} is empty); add one with e"));
                    return vec![];
                }
                self.question = Some(Question {
                    title: format!("Back up {label} now?"),
                    lines: vec!["An on-demand backup runs alongside scheduled ones.".into(), "Storage (←/→):".into()],
                    choices: c.backup_storages.clone(),
                    choice: 0,
                    on_yes: OnYes::Backup(target),
                    confirm_name: None,
                    typed: String::new(),
                });
                vec![]
            }
            Action::Restore => {
                // Newest succeeded backups first; a restore from a failed one cannot work.
                let mut done: Vec<_> = c.backups.iter().filter(|b| b.state == "Succeeded").collect();
                done.sort_by_key(|b| std::cmp::Reverse(b.completed));
                if done.is_empty() {
                    self.say(Level::Error, format!("{label} has no succeeded backup to restore from; take one with b"));
                    return vec![];
                }
                let pvcs = if c.pvcs.is_empty() {
                    "its data volumes".to_string()
                } else {
                    c.pvcs.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ")
                };
                self.question = Some(Question {
                    title: format!("Restore {label} from a backup?"),
                    lines: vec![
                        format!("This overwrites the data of {label} ({pvcs}) with the backup's."),
                        "The cluster is paused during the restore and comes back at its current sizes.".into(),
                        if c.kind == ClusterKind::Pg {
                            "PostgreSQL: pgBackRest restores the newest backup in the chosen backup's repo.".into()
                        } else {
                            "The chosen backup is restored as it was taken.".into()
                        },
                        "Backup (←/→):".into(),
                    ],
                    choices: done.iter().map(|b| b.name.clone()).collect(),
                    choice: 0,
                    on_yes: OnYes::Restore(target, done.iter().map(|b| (b.name.clone(), b.storage.clone())).collect()),
                    // It overwrites the data: typed like a delete.
                    confirm_name: Some(c.name.clone()),
                    typed: String::new(),
                });
                vec![]
            }
            Action::PauseResume => {
                let pause = !c.paused;
                let (title, line) = if pause {
                    (format!("Pause {label}?"), "All pods stop; the data (PVCs) stays. Clients lose their connections.")
                } else {
                    (format!("Resume {label}?"), "Pods start again on the existing PVCs.")
                };
                let what = format!("{} {label}", if pause { "pause" } else { "resume" });
                self.question = Some(Question {
                    title,
                    lines: vec![line.into()],
                    choices: vec![],
                    choice: 0,
                    on_yes: OnYes::Run(Effect::Patch { target, patch: json!({"spec": {"pause": pause}}) }, what),
                    // Pausing stops every pod: typed like a delete. Resuming only starts them.
                    confirm_name: pause.then(|| c.name.clone()),
                    typed: String::new(),
                });
                vec![]
            }
            _ => vec![],
        }
    }

    fn on_question(&mut self, action: Action) -> Vec<Effect> {
        let Some(q) = self.question.as_mut() else { return vec![] };
        // A question that wants the name typed: letters go to the name, enter says yes only when it matches.
        let action = match (&q.confirm_name, action) {
            (Some(_), Action::Input(c)) => {
                q.typed.push(c);
                return vec![];
            }
            (Some(_), Action::Backspace) => {
                q.typed.pop();
                return vec![];
            }
            (Some(name), Action::Submit | Action::Yes) => {
                if q.typed != *name {
                    let name = name.clone();
                    self.say(Level::Error, format!("type {name} exactly to confirm"));
                    return vec![];
                }
                Action::Yes
            }
            (_, a) => a,
        };
        let Some(q) = self.question.as_mut() else { return vec![] };
        match action {
            Action::ChoiceNext if !q.choices.is_empty() => q.choice = (q.choice + 1) % q.choices.len(),
            Action::ChoicePrev if !q.choices.is_empty() => {
                q.choice = (q.choice + q.choices.len() - 1) % q.choices.len()
            }
            Action::No | Action::Back => self.question = None,
            Action::Yes => {
                let Some(q) = self.question.take() else { return vec![] };
                match q.on_yes {
                    OnYes::DiscardWizard => {
                        self.wizard = None;
                        self.pop_to_base();
                        // The wizard's complaints went with it.
                        self.status = None;
                    }
                    OnYes::DiscardEdit => {
                        self.edit = None;
                        self.review = None;
                        self.pop_to_base();
                    }
                    OnYes::Run(effect, what) => {
                        self.say(Level::Info, format!("{what}…"));
                        return vec![effect];
                    }
                    OnYes::Backup(target) => {
                        let storage = q.choices.get(q.choice).cloned().unwrap_or_default();
                        let value = backup_resource(&target, &storage, self.now);
                        self.say(Level::Info, format!("creating backup of {} to {storage}…", target.name));
                        return vec![Effect::CreateBackup { value }];
                    }
                    OnYes::Restore(target, backups) => {
                        let Some((backup, storage)) = backups.get(q.choice).cloned() else { return vec![] };
                        let value = restore_resource(&target, &backup, storage.as_deref(), self.now);
                        self.say(Level::Info, format!("restoring {} from {backup}…", target.name));
                        return vec![Effect::CreateBackup { value }];
                    }
                }
            }
            _ => {}
        }
        vec![]
    }

    fn on_input(&mut self, action: Action) -> Vec<Effect> {
        let Some(line) = self.input.as_mut() else { return vec![] };
        match action {
            Action::Input(c) => line.text.push(c),
            Action::Backspace => {
                line.text.pop();
            }
            Action::Back => {
                let filter = line.kind == InputKind::Filter;
                self.input = None;
                if filter {
                    self.keeping_selection(|a| a.filter = Filter::default());
                }
                return vec![];
            }
            Action::Submit => {
                let Some(line) = self.input.take() else { return vec![] };
                return match line.kind {
                    InputKind::Filter => vec![],
                    InputKind::Command => self.run_command(&line.text),
                };
            }
            _ => return vec![],
        }
        // The filter applies while typing, like k9s.
        if let Some(InputLine { kind: InputKind::Filter, text }) = &self.input {
            self.filter = Filter::parse(text);
            self.selected = 0;
        }
        vec![]
    }

    fn ns_label(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("namespace {ns}"),
            None => "all namespaces".into(),
        }
    }

    fn run_command(&mut self, text: &str) -> Vec<Effect> {
        let parsed = command::parse(text);
        // A command that works replaces whatever the status line said before it.
        if parsed.is_ok() {
            self.status = None;
        }
        match parsed {
            Err(e) => {
                self.say(Level::Error, e.to_string());
                vec![]
            }
            Ok(Command::Clusters(scope)) => {
                self.scope = scope;
                self.stack = vec![Screen::Clusters];
                self.selected = 0;
                vec![]
            }
            Ok(Command::Backups) => {
                // Over the list, so esc goes back to it.
                self.stack = vec![Screen::Clusters, Screen::Backups];
                self.backup_selected = 0;
                vec![]
            }
            Ok(Command::Namespace(None)) => {
                self.namespace = None;
                self.stack = vec![Screen::Clusters];
                self.selected = 0;
                vec![Effect::SwitchNamespace(None)]
            }
            // The switch waits for the API to say the namespace exists (a typo must not show an empty list).
            Ok(Command::Namespace(Some(ns))) => {
                self.say(Level::Info, format!("checking namespace {ns}…"));
                vec![Effect::CheckNamespace(ns)]
            }
            Ok(Command::Pick(kind)) => {
                self.picker = Some(Picker { kind, items: None, filter: String::new(), selected: 0, note: None });
                vec![Effect::ListForPicker(kind)]
            }
            Ok(Command::Messages) => {
                let lines = if self.messages.is_empty() {
                    vec!["No messages yet.".to_string()]
                } else {
                    self.messages
                        .iter()
                        .rev()
                        .map(|(t, m)| {
                            let tag = match m.level {
                                Level::Info => "info ",
                                Level::Ok => "ok   ",
                                Level::Error => "error",
                            };
                            format!("{} {tag} {}", t.format("%H:%M:%S"), m.text)
                        })
                        .collect()
                };
                self.popup = Some(TextPopup { title: "messages (newest first)".into(), lines, scroll: 0 });
                vec![]
            }
            // The context changes only once the live layer has a client for it: a name that is not in the
            // kubeconfig must not leave the old clusters hidden under a context that was never reached.
            Ok(Command::Context(ctx)) => vec![Effect::SwitchContext(ctx)],
            Ok(Command::Help) => {
                self.stack.push(Screen::Help);
                vec![]
            }
            Ok(Command::Sort { column, descending }) => {
                self.keeping_selection(|a| {
                    a.sort = column;
                    a.descending = descending;
                });
                self.stack = vec![Screen::Clusters];
                vec![]
            }
            Ok(Command::Quit) => vec![Effect::Quit],
        }
    }

    fn on_help(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::Back | Action::Help => {
                self.stack.pop();
            }
            Action::Up => self.help_scroll = self.help_scroll.saturating_sub(1),
            Action::Down => self.help_scroll = self.help_scroll.saturating_add(1),
            Action::PageUp => self.help_scroll = self.help_scroll.saturating_sub(PAGE as u16),
            Action::PageDown => self.help_scroll = self.help_scroll.saturating_add(PAGE as u16),
            Action::Top => self.help_scroll = 0,
            _ => {}
        }
        vec![]
    }

    fn on_wizard(&mut self, action: Action) -> Vec<Effect> {
        let Some(w) = self.wizard.as_mut() else {
            self.stack.pop();
            return vec![];
        };
        match action {
            Action::Input(c) => w.input(c),
            Action::Backspace => w.backspace(),
            Action::NextField => w.move_focus(true),
            Action::PrevField => w.move_focus(false),
            Action::ChoiceNext => w.cycle(true),
            Action::ChoicePrev => w.cycle(false),
            Action::PrevStep => {
                w.prev_step();
            }
            Action::Up => w.review_scroll = w.review_scroll.saturating_sub(1),
            Action::Down => w.review_scroll = w.review_scroll.saturating_add(1),
            Action::Back => {
                self.question = Some(Question {
                    title: "Discard this new cluster?".into(),
                    lines: vec!["Nothing has been created yet.".into()],
                    choices: vec![],
                    choice: 0,
                    confirm_name: None,
                    typed: String::new(),
                    on_yes: OnYes::DiscardWizard,
                });
            }
            Action::Submit => {
                if w.step == Step::Review && w.checking {
                    self.say(Level::Info, "asking the API whether the names exist…");
                } else if w.step == Step::Review {
                    if let Some(value) = w.ready_resource() {
                        let name = w.name();
                        let kind = value["kind"].as_str().unwrap_or("cluster").to_string();
                        self.wizard = None;
                        self.pop_to_base();
                        self.say(Level::Info, format!("creating {kind} {name}…"));
                        return vec![Effect::CreateCluster { value }];
                    }
                    let first = w.problems.first().map(|p| p.to_string()).unwrap_or_default();
                    self.say(Level::Error, format!("cannot create yet: {first}"));
                } else if w.next_step() {
                    self.status = None;
                    // Past the names: ask the API about them (an existing cluster, StorageClass, S3 Secret) while
                    // the user goes on; the answers land on their fields.
                    w.checking = true;
                    return vec![Effect::CheckWizard(w.query())];
                } else {
                    let first = w.step_problems(w.step).first().map(|p| p.to_string()).unwrap_or_default();
                    self.say(Level::Error, format!("fix this step first: {first}"));
                }
            }
            _ => {}
        }
        vec![]
    }

    fn on_edit(&mut self, action: Action) -> Vec<Effect> {
        let Some(form) = self.edit.as_mut() else {
            self.stack.pop();
            return vec![];
        };
        let n = form.fields.len().max(1);
        match action {
            Action::Input(c) => {
                if let Some(f) = form.focused() {
                    f.input(c);
                }
                form.refresh();
            }
            Action::Backspace => {
                if let Some(f) = form.focused() {
                    f.backspace();
                }
                form.refresh();
            }
            Action::ChoiceNext | Action::ChoicePrev => {
                if let Some(f) = form.focused() {
                    f.cycle(action == Action::ChoiceNext);
                }
                form.refresh();
            }
            Action::NextField => form.focus = (form.focus + 1) % n,
            Action::PrevField => form.focus = (form.focus + n - 1) % n,
            Action::Back | Action::PrevStep => {
                if matches!(form.patch(), Ok(None)) {
                    self.edit = None;
                    self.stack.pop();
                } else {
                    self.question = Some(Question {
                        title: "Discard your changes?".into(),
                        lines: vec!["Nothing has been applied yet.".into()],
                        choices: vec![],
                        choice: 0,
                        confirm_name: None,
                        typed: String::new(),
                        on_yes: OnYes::DiscardEdit,
                    });
                }
            }
            Action::Submit => match form.patch() {
                Err(problems) => {
                    let first = problems.first().map(|p| p.to_string()).unwrap_or_default();
                    self.say(Level::Error, format!("fix the form first: {first}"));
                }
                Ok(None) => self.say(Level::Info, "nothing changed"),
                Ok(Some(patch)) => {
                    let review = Review::new(form.target.clone(), &form.before, &form.after(), patch.clone());
                    let target = form.target.clone();
                    self.review = Some(review);
                    self.stack.push(Screen::Review);
                    self.status = None;
                    return vec![Effect::DryRunPatch { target, patch }];
                }
            },
            _ => {}
        }
        vec![]
    }

    fn editor_done(&mut self, target: ClusterRef, before: serde_json::Value, after_yaml: &str) -> Vec<Effect> {
        let text = super::edit::strip_error_header(after_yaml);
        if text.trim().is_empty() {
            self.say(Level::Info, format!("edit of {} cancelled: the file was empty", target.name));
            return vec![];
        }
        // As kubectl edit does: a refused edit is not thrown away; the editor re-opens on the user's text with
        // the reason on top.
        let problem = match serde_yaml::from_str::<serde_json::Value>(&text) {
            Err(e) => Err(format!("the edited YAML does not parse: {e}")),
            Ok(after) => match AnyResource::from_value(after.clone()) {
                Err(e) => Err(format!("the edited {} is not valid: {e}", target.name)),
                Ok(_) => {
                    // As in the edit form: only problems the edit brings in block it.
                    let existing = super::edit::model_problems(before.clone());
                    let mut problems: Vec<_> = super::edit::model_problems(after.clone())
                        .into_iter()
                        .filter(|p| !existing.contains(p))
                        .collect();
                    problems.extend(super::edit::shrinking_volumes(target.kind, &before, &after));
                    match problems.first() {
                        Some(p) => Err(format!("the edited {} is not valid: {p}", target.name)),
                        None => Ok(after),
                    }
                }
            },
        };
        let after = match problem {
            Ok(after) => after,
            Err(e) => {
                self.say(Level::Error, format!("{e} — the editor re-opens with your text"));
                let resume = super::edit::with_error_header(&e, &text);
                return vec![Effect::OpenEditor { target, resume: Some((before, resume)) }];
            }
        };
        let Some(patch) = merge_patch(&before, &after) else {
            self.say(Level::Info, "nothing changed");
            return vec![];
        };
        self.review = Some(Review::new(target.clone(), &before, &after, patch.clone()));
        self.stack.push(Screen::Review);
        vec![Effect::DryRunPatch { target, patch }]
    }

    fn on_review(&mut self, action: Action) -> Vec<Effect> {
        let Some(r) = self.review.as_mut() else {
            self.stack.pop();
            return vec![];
        };
        match action {
            Action::Up => r.scroll = r.scroll.saturating_sub(1),
            Action::Down => r.scroll = r.scroll.saturating_add(1),
            Action::PageUp => r.scroll = r.scroll.saturating_sub(PAGE as u16),
            Action::PageDown => r.scroll = r.scroll.saturating_add(PAGE as u16),
            Action::Top => r.scroll = 0,
            Action::Back | Action::PrevStep => {
                self.review = None;
                self.stack.pop();
            }
            Action::Submit => match &r.dry_run {
                DryRun::Ok => {
                    let effect = Effect::Patch { target: r.target.clone(), patch: r.patch.clone() };
                    let name = r.target.name.clone();
                    self.review = None;
                    self.edit = None;
                    self.pop_to_base();
                    self.say(Level::Info, format!("applying the change to {name}…"));
                    return vec![effect];
                }
                DryRun::Pending => self.say(Level::Info, "waiting for the server's dry run before applying"),
                DryRun::Failed(e) => {
                    let e = e.clone();
                    self.say(Level::Error, format!("the server refused this change: {e} (esc to go back)"));
                }
            },
            _ => {}
        }
        vec![]
    }

    fn on_delete(&mut self, action: Action) -> Vec<Effect> {
        let Some(d) = self.delete.as_mut() else {
            self.stack.pop();
            return vec![];
        };
        match action {
            Action::Input(c) => d.typed.push(c),
            Action::Backspace => {
                d.typed.pop();
            }
            Action::Back => {
                self.delete = None;
                self.stack.pop();
            }
            Action::Submit => {
                if d.typed == d.name() {
                    let target = d.target.clone();
                    let backup = d.backup.clone();
                    self.delete = None;
                    // The detail screen of a deleted cluster stays open: it shows the deletion and what blocks it.
                    self.stack.pop();
                    if let Some(b) = backup {
                        self.say(Level::Info, format!("deleting backup {}/{}…", target.namespace, b.name));
                        return vec![Effect::DeleteBackup {
                            kind: target.kind,
                            namespace: target.namespace,
                            name: b.name,
                        }];
                    }
                    self.say(Level::Info, format!("deleting {}/{}…", target.namespace, target.name));
                    return vec![Effect::Delete { target }];
                }
                let name = d.name().to_string();
                self.say(Level::Error, format!("type {name} exactly to confirm"));
            }
            _ => {}
        }
        vec![]
    }
}

impl App {
    fn on_popup(&mut self, action: Action) -> Vec<Effect> {
        let Some(p) = self.popup.as_mut() else { return vec![] };
        match action {
            Action::Back => self.popup = None,
            Action::Up => p.scroll = p.scroll.saturating_sub(1),
            Action::Down => p.scroll = p.scroll.saturating_add(1).min(p.lines.len().saturating_sub(1) as u16),
            Action::PageUp => p.scroll = p.scroll.saturating_sub(PAGE as u16),
            Action::PageDown => {
                p.scroll = p.scroll.saturating_add(PAGE as u16).min(p.lines.len().saturating_sub(1) as u16)
            }
            Action::Top => p.scroll = 0,
            Action::Bottom => p.scroll = p.lines.len().saturating_sub(1) as u16,
            _ => {}
        }
        vec![]
    }

    fn on_picker(&mut self, action: Action) -> Vec<Effect> {
        let Some(p) = self.picker.as_mut() else { return vec![] };
        let n = p.shown().len();
        match action {
            Action::Back => self.picker = None,
            Action::Up => p.selected = p.selected.saturating_sub(1),
            Action::Down => p.selected = (p.selected + 1).min(n.saturating_sub(1)),
            Action::Input(c) => {
                p.filter.push(c);
                p.selected = 0;
            }
            Action::Backspace => {
                p.filter.pop();
                p.selected = 0;
            }
            Action::Submit => {
                let Some(choice) = p.shown().get(p.selected).map(|s| s.to_string()) else {
                    return vec![];
                };
                let kind = p.kind;
                self.picker = None;
                return match kind {
                    // Picked from the API's own list: it exists.
                    PickKind::Namespace => {
                        self.update(Action::NamespaceChecked { namespace: choice, result: Ok(None) })
                    }
                    PickKind::Context => vec![Effect::SwitchContext(choice)],
                };
            }
            _ => {}
        }
        vec![]
    }

    /// Enter on a detail pane: the selected row's whole text, for what the table had to cut.
    fn row_popup(&mut self) {
        let Screen::Detail(r) = self.screen().clone() else { return };
        let Some(c) = self.cluster(&r) else { return };
        let i = self.detail_scroll as usize;
        let popup = match self.pane {
            Pane::Events => c.events.get(i).map(|e| TextPopup {
                title: format!("event {} {}", e.reason, e.object),
                lines: vec![
                    format!("type     {}", e.type_),
                    format!("reason   {}", e.reason),
                    format!("object   {}", e.object),
                    format!("count    {}", e.count),
                    format!(
                        "last     {}",
                        e.last_seen.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string()).unwrap_or("—".into())
                    ),
                    String::new(),
                    e.message.clone(),
                ],
                scroll: 0,
            }),
            Pane::Conditions => c.conditions.get(i).map(|k| TextPopup {
                title: format!("condition {}", k.type_),
                lines: vec![
                    format!("status   {}", k.status),
                    format!("reason   {}", k.reason.as_deref().unwrap_or("—")),
                    String::new(),
                    k.message.clone().unwrap_or_default(),
                ],
                scroll: 0,
            }),
            Pane::Backups => c.backups.get(i).map(|b| backup_popup(c, b)),
            Pane::WhyNotReady => Some(TextPopup {
                title: format!("why {} is not ready", c.name),
                lines: c
                    .why_not_ready
                    .iter()
                    .flat_map(|w| [w.source.clone(), w.message.clone(), String::new()])
                    .collect(),
                scroll: 0,
            }),
            Pane::Topology | Pane::Pvcs => None,
        };
        self.popup = popup;
    }

    fn describe_backup(&mut self) {
        let popup = self.selected_backup().map(|(c, b)| backup_popup(c, b));
        self.popup = popup;
    }

    fn fetched(&mut self, purpose: FetchPurpose, result: Result<serde_json::Value, String>) -> Vec<Effect> {
        let value = match result {
            Ok(v) => v,
            Err(e) => {
                let what = match &purpose {
                    FetchPurpose::Yaml { title } => title.clone(),
                    FetchPurpose::DeleteBackup { name, .. } => format!("backup {name}"),
                };
                self.say(Level::Error, format!("cannot read {what}: {e}"));
                return vec![];
            }
        };
        match purpose {
            FetchPurpose::Yaml { title } => {
                let mut v = value;
                if let Some(m) = v.pointer_mut("/metadata").and_then(|m| m.as_object_mut()) {
                    m.remove("managedFields");
                }
                let text = serde_yaml::to_string(&v).unwrap_or_else(|e| format!("# cannot render YAML: {e}"));
                self.popup = Some(TextPopup { title, lines: text.lines().map(String::from).collect(), scroll: 0 });
                self.status = None;
            }
            FetchPurpose::DeleteBackup { cluster, name } => {
                let finalizers: Vec<&str> = value
                    .pointer("/metadata/finalizers")
                    .and_then(|f| f.as_array())
                    .map(|a| a.iter().filter_map(|f| f.as_str()).collect())
                    .unwrap_or_default();
                let b = self.cluster(&cluster).and_then(|c| c.backups.iter().find(|b| b.name == name));
                let backup = BackupDelete {
                    deletes_data: finalizers.contains(&"percona.com/delete-backup"),
                    destination: b.and_then(|b| b.destination.clone()),
                    storage: b.and_then(|b| b.storage.clone()),
                    name,
                };
                self.delete = Some(DeleteConfirm {
                    target: cluster,
                    typed: String::new(),
                    pvc_finalizers: vec![],
                    pvcs: vec![],
                    backup: Some(backup),
                });
                self.stack.push(Screen::ConfirmDelete);
                self.status = None;
            }
        }
        vec![]
    }
}

/// The backup custom resource's apiVersion and kind for a cluster kind.
pub fn backup_api_kind(kind: ClusterKind) -> (&'static str, &'static str) {
    match kind {
        ClusterKind::Pxc => ("pxc.percona.com/v1", "PerconaXtraDBClusterBackup"),
        ClusterKind::Ps { .. } => ("ps.percona.com/v1", "PerconaServerMySQLBackup"),
        ClusterKind::Pg => ("pgv2.percona.com/v2", "PerconaPGBackup"),
    }
}

fn backup_popup(c: &ClusterView, b: &BackupView) -> TextPopup {
    let t = |t: Option<DateTime<Utc>>| t.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string()).unwrap_or("—".into());
    let mut lines = vec![
        format!("cluster      {} {}/{}", c.kind.label(), c.namespace, c.name),
        format!("state        {}", b.state),
        format!("storage      {}", b.storage.as_deref().unwrap_or("—")),
        format!("destination  {}", b.destination.as_deref().unwrap_or("—")),
        format!("started      {}", t(b.started)),
        format!("completed    {}", t(b.completed)),
    ];
    if let Some(l) = b.latest_restorable_time {
        lines.push(format!("restorable   up to {}", t(Some(l))));
    }
    if let Some(e) = &b.error {
        lines.push(String::new());
        lines.push(format!("error        {e}"));
    }
    TextPopup { title: format!("backup {}", b.name), lines, scroll: 0 }
}

fn step(cur: usize, n: usize, delta: isize, to_end: Option<bool>) -> usize {
    if n == 0 {
        return 0;
    }
    match to_end {
        Some(false) => 0,
        Some(true) => n - 1,
        None => (cur as isize + delta).clamp(0, n as isize - 1) as usize,
    }
}

/// Text the filter searches: kind, namespace, name, state and endpoint.
pub fn search_text(c: &ClusterView) -> String {
    format!("{} {} {} {} {}", c.kind.label(), c.namespace, c.name, c.display_state(), c.host.as_deref().unwrap_or(""))
}

fn health_rank(h: Health) -> u8 {
    match h {
        Health::Failed => 0,
        Health::Warning => 1,
        Health::Progressing => 2,
        Health::Unknown => 3,
        Health::Ok => 4,
    }
}

fn ready_ratio(c: &ClusterView) -> f64 {
    let (r, s) = c.components.iter().fold((0u32, 0u32), |(r, s), x| (r + x.ready, s + x.size));
    if s == 0 { 0.0 } else { r as f64 / s as f64 }
}

fn compare(col: SortColumn, a: &ClusterView, b: &ClusterView, now: DateTime<Utc>) -> Ordering {
    // Missing times sort after present ones in ascending order.
    let age = |c: &ClusterView| c.created.map(|t| (now - t).num_seconds()).unwrap_or(i64::MAX);
    let backup_age = |c: &ClusterView| c.last_successful_backup.map(|t| (now - t).num_seconds()).unwrap_or(i64::MAX);
    match col {
        SortColumn::Kind => a.kind.label().cmp(b.kind.label()),
        SortColumn::Namespace => a.namespace.cmp(&b.namespace),
        SortColumn::Name => a.name.cmp(&b.name),
        SortColumn::State => health_rank(a.health()).cmp(&health_rank(b.health())),
        SortColumn::Ready => ready_ratio(a).partial_cmp(&ready_ratio(b)).unwrap_or(Ordering::Equal),
        SortColumn::Age => age(a).cmp(&age(b)),
        SortColumn::LastBackup => backup_age(a).cmp(&backup_age(b)),
        // Clusters without an endpoint yet sort after those with one.
        SortColumn::Endpoint => (a.host.is_none(), &a.host).cmp(&(b.host.is_none(), &b.host)),
    }
}

/// The Backup custom resource for an on-demand backup, named after the cluster and the time.
pub fn backup_resource(target: &ClusterRef, storage: &str, now: DateTime<Utc>) -> serde_json::Value {
    let name = format!("{}-{}", target.name, now.format("%Y%m%d-%H%M%S"));
    let meta = json!({"name": name, "namespace": target.namespace});
    match target.kind {
        ClusterKind::Pxc => json!({
            "apiVersion": "pxc.percona.com/v1", "kind": "PerconaXtraDBClusterBackup", "metadata": meta,
            "spec": {"pxcCluster": target.name, "storageName": storage}
        }),
        ClusterKind::Ps { .. } => json!({
            "apiVersion": "ps.percona.com/v1", "kind": "PerconaServerMySQLBackup", "metadata": meta,
            "spec": {"clusterName": target.name, "storageName": storage}
        }),
        ClusterKind::Pg => json!({
            "apiVersion": "pgv2.percona.com/v2", "kind": "PerconaPGBackup", "metadata": meta,
            "spec": {"pgCluster": target.name, "repoName": storage}
        }),
    }
}

/// The Restore object for `backup` of `target` (for PG: the pgBackRest repo the backup went to).
pub fn restore_resource(
    target: &ClusterRef,
    backup: &str,
    storage: Option<&str>,
    now: DateTime<Utc>,
) -> serde_json::Value {
    let name = format!("{}-restore-{}", target.name, now.format("%Y%m%d-%H%M%S"));
    let meta = json!({"name": name, "namespace": target.namespace});
    match target.kind {
        ClusterKind::Pxc => json!({
            "apiVersion": "pxc.percona.com/v1", "kind": "PerconaXtraDBClusterRestore", "metadata": meta,
            "spec": {"pxcCluster": target.name, "backupName": backup}
        }),
        ClusterKind::Ps { .. } => json!({
            "apiVersion": "ps.percona.com/v1", "kind": "PerconaServerMySQLRestore", "metadata": meta,
            "spec": {"clusterName": target.name, "backupName": backup}
        }),
        // pgBackRest picks the backup set by its own label, which the PerconaPGBackup object name is not:
        // the restore takes the newest set of the backup's repo, and the question says so.
        ClusterKind::Pg => json!({
            "apiVersion": "pgv2.percona.com/v2", "kind": "PerconaPGRestore", "metadata": meta,
            "spec": {"pgCluster": target.name, "repoName": storage.unwrap_or("repo1")}
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::command::KindScope;
    use crate::observe::view::{ClusterState, PsClusterType};
    use chrono::{Duration, TimeZone};
    use crossterm::event::{KeyCode, KeyModifiers};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
    }

    fn cluster(kind: ClusterKind, ns: &str, name: &str, state: ClusterState, age_h: i64) -> ClusterView {
        let mut c = ClusterView::new(kind, ns, name);
        c.state = state;
        c.created = Some(now() - Duration::hours(age_h));
        c
    }

    fn app() -> App {
        let mut a = App::new("ctx1", None, now());
        a.update(Action::Snapshot(vec![
            cluster(ClusterKind::Pxc, "shop", "cart", ClusterState::Ready, 10),
            cluster(ClusterKind::Pg, "bi", "reports", ClusterState::Error, 5),
            cluster(
                ClusterKind::Ps { cluster_type: PsClusterType::Async },
                "shop",
                "orders",
                ClusterState::Initializing,
                50,
            ),
        ]));
        a
    }

    fn names(a: &App) -> Vec<&str> {
        a.visible().iter().map(|c| c.name.as_str()).collect()
    }

    fn key(a: &mut App, code: KeyCode) -> Vec<Effect> {
        a.on_key(&KeyEvent::new(code, KeyModifiers::NONE))
    }

    #[test]
    fn default_sort_is_namespace_then_name() {
        assert_eq!(names(&app()), ["reports", "cart", "orders"]);
    }

    #[test]
    fn sorting_by_columns_and_direction() {
        let mut a = app();
        a.update(Action::SortBy(SortColumn::State));
        assert_eq!(names(&a), ["reports", "orders", "cart"], "failed first, ready last");
        a.update(Action::SortBy(SortColumn::State));
        assert_eq!(names(&a), ["cart", "orders", "reports"], "the same column again reverses");
        a.update(Action::SortBy(SortColumn::Age));
        assert_eq!(names(&a), ["reports", "cart", "orders"], "youngest first");
        a.update(Action::SortReverse);
        assert_eq!(names(&a), ["orders", "cart", "reports"]);
        a.update(Action::SortNext);
        assert_eq!(a.sort, SortColumn::LastBackup);
        a.update(Action::SortNext);
        assert_eq!(a.sort, SortColumn::Endpoint, "o reaches every column, the endpoint too");
    }

    #[test]
    fn sort_command_takes_any_column() {
        let mut a = app();
        a.clusters[0].host = Some("cart-haproxy.shop".into());
        a.clusters[1].host = Some("reports-pgbouncer.bi".into());
        a.run_command("sort endpoint");
        assert_eq!(names(&a), ["cart", "reports", "orders"], "no endpoint yet sorts last");
        a.run_command("sort -name");
        assert_eq!((a.sort, a.descending), (SortColumn::Name, true));
        assert_eq!(names(&a), ["reports", "orders", "cart"]);
        a.run_command("sort ready desc");
        assert_eq!((a.sort, a.descending), (SortColumn::Ready, true));
        a.run_command("sort size");
        assert!(a.status.as_ref().is_some_and(|s| s.text.contains("no such column")), "{:?}", a.status);
    }

    #[test]
    fn filter_is_typed_live_and_esc_clears_it() {
        let mut a = app();
        for k in ['/', 's', 'h', 'o', 'p'] {
            key(&mut a, KeyCode::Char(k));
        }
        assert_eq!(names(&a), ["cart", "orders"]);
        key(&mut a, KeyCode::Enter);
        assert!(a.input.is_none());
        assert_eq!(names(&a), ["cart", "orders"], "the filter stays after enter");
        key(&mut a, KeyCode::Esc);
        assert_eq!(names(&a).len(), 3, "esc on the list clears the filter");
        a.update(Action::StartFilter);
        for c in "!shop".chars() {
            a.update(Action::Input(c));
        }
        assert_eq!(names(&a), ["reports"]);
        a.update(Action::Back);
        assert_eq!(names(&a).len(), 3, "esc while typing drops the filter");
    }

    #[test]
    fn commands_change_scope_namespace_and_context() {
        let mut a = app();
        let run = |a: &mut App, s: &str| {
            a.update(Action::StartCommand);
            for c in s.chars() {
                a.update(Action::Input(c));
            }
            a.update(Action::Submit)
        };
        assert!(run(&mut a, "pg").is_empty());
        assert_eq!(a.scope, KindScope::Pg);
        assert_eq!(names(&a), ["reports"]);
        run(&mut a, "all");
        // The API is asked first: a namespace that is not there is refused, the list stays as it was.
        assert_eq!(run(&mut a, "ns nope"), vec![Effect::CheckNamespace("nope".into())]);
        let refused = a.update(Action::NamespaceChecked {
            namespace: "nope".into(),
            result: Err("namespace nope does not exist".into()),
        });
        assert!(refused.is_empty());
        assert_eq!(a.namespace, None);
        assert!(a.status.as_ref().unwrap().text.contains("does not exist"), "{:?}", a.status);
        assert_eq!(run(&mut a, "ns shop"), vec![Effect::CheckNamespace("shop".into())]);
        assert_eq!(
            a.update(Action::NamespaceChecked { namespace: "shop".into(), result: Ok(None) }),
            vec![Effect::SwitchNamespace(Some("shop".into()))]
        );
        assert_eq!(names(&a), ["cart", "orders"]);
        assert_eq!(run(&mut a, "ctx prod"), vec![Effect::SwitchContext("prod".into())]);
        assert_eq!(a.context, "ctx1", "nothing changes until the live layer reached the new context");
        assert_eq!(names(&a), ["cart", "orders"], "a switch that fails leaves the list as it was");
        a.update(Action::ContextSwitched { context: "prod".into(), namespace: Some("prod-ns".into()) });
        assert_eq!(a.context, "prod");
        assert_eq!(a.namespace.as_deref(), Some("prod-ns"), "the new context's namespace, not the old one");
        assert!(!a.loaded && a.clusters.is_empty(), "the old context's clusters are not shown under the new name");
        run(&mut a, "backups");
        assert_eq!(a.screen(), &Screen::Backups);
        assert!(run(&mut a, "nope").is_empty());
        assert_eq!(a.status.as_ref().unwrap().level, Level::Error);
        assert_eq!(run(&mut a, "q"), vec![Effect::Quit]);
    }

    #[test]
    fn snapshot_keeps_the_selected_cluster() {
        let mut a = app();
        a.selected = 1; // cart
        let mut next = a.clusters.clone();
        next.insert(0, cluster(ClusterKind::Pxc, "aaa", "first", ClusterState::Ready, 1));
        a.update(Action::Snapshot(next));
        assert_eq!(a.selected_cluster().unwrap().name, "cart");
        a.update(Action::Snapshot(vec![]));
        assert_eq!(a.selected, 0);
        assert!(a.selected_cluster().is_none());
    }

    #[test]
    fn readonly_refuses_every_write() {
        let mut a = app();
        a.readonly = true;
        for act in [
            Action::Create,
            Action::Edit,
            Action::EditYaml,
            Action::Delete,
            Action::Backup,
            Action::Scale,
            Action::PauseResume,
        ] {
            assert!(a.update(act.clone()).is_empty(), "{act:?}");
            assert_eq!(a.stack.len(), 1);
            assert!(a.question.is_none());
        }
        assert!(a.status.as_ref().unwrap().text.contains("read-only"));
    }

    #[test]
    fn navigation_and_detail_panes() {
        let mut a = app();
        key(&mut a, KeyCode::Char('G'));
        assert_eq!(a.selected, 2);
        key(&mut a, KeyCode::Char('k'));
        assert_eq!(a.selected, 1);
        key(&mut a, KeyCode::Enter);
        assert!(matches!(a.screen(), Screen::Detail(r) if r.name == "cart"));
        key(&mut a, KeyCode::Char('4'));
        assert_eq!(a.pane, Pane::Backups);
        key(&mut a, KeyCode::Tab);
        assert_eq!(a.pane, Pane::Events);
        key(&mut a, KeyCode::BackTab);
        key(&mut a, KeyCode::BackTab);
        assert_eq!(a.pane, Pane::Pvcs);
        key(&mut a, KeyCode::Char('q'));
        assert!(matches!(a.screen(), Screen::Detail(_)), "q does not quit from the detail screen");
        key(&mut a, KeyCode::Esc);
        assert_eq!(a.screen(), &Screen::Clusters);
        assert_eq!(key(&mut a, KeyCode::Char('q')), vec![Effect::Quit]);
        assert_eq!(a.on_key(&KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)), vec![Effect::Quit]);
    }

    #[test]
    fn restore_names_what_it_overwrites_and_creates_a_restore_of_the_chosen_backup() {
        let mut a = app();
        a.update(Action::Restore);
        assert!(a.question.is_none(), "no succeeded backup, no question");
        assert!(a.status.as_ref().unwrap().text.contains("no succeeded backup"), "{:?}", a.status);

        let mut c = a.selected_cluster().unwrap().clone();
        let backup = |name: &str, state: &str, h: i64| crate::observe::view::BackupView {
            name: name.into(),
            state: state.into(),
            storage: Some("repo1".into()),
            destination: None,
            started: Some(now() - Duration::hours(h)),
            completed: Some(now() - Duration::hours(h)),
            error: None,
            latest_restorable_time: None,
        };
        c.backups = vec![backup("old", "Succeeded", 48), backup("broken", "Failed", 2), backup("new", "Succeeded", 24)];
        c.pvcs = vec![];
        let others: Vec<ClusterView> = a.clusters.iter().filter(|o| o.name != c.name).cloned().collect();
        a.update(Action::Snapshot([vec![c.clone()], others].concat()));
        a.selected = a.clusters.iter().position(|o| o.name == c.name).unwrap();
        a.update(Action::Restore);
        let q = a.question.as_ref().expect("a confirmation");
        assert_eq!(q.choices, ["new", "old"], "newest succeeded first, failed ones left out");
        assert!(q.lines[0].contains("overwrites the data"), "{:?}", q.lines);
        assert_eq!(q.confirm_name.as_deref(), Some(c.name.as_str()), "typed like a delete");
        assert_eq!(a.contexts()[0], Context::Input, "y is a letter of the name here, not yes");
        assert!(a.update(Action::Submit).is_empty(), "enter alone does not restore");
        assert!(a.question.is_some());
        for ch in c.name.chars() {
            a.update(Action::Input(ch));
        }
        let effects = a.update(Action::Submit);
        let [Effect::CreateBackup { value }] = effects.as_slice() else { panic!("{effects:?}") };
        assert!(value["kind"].as_str().unwrap().ends_with("Restore"), "{value}");
        assert_eq!(value.pointer("/metadata/namespace"), Some(&json!(c.namespace)));
    }

    #[test]
    fn wizard_text_fields_take_spaces_and_choices_still_cycle_on_space() {
        let mut a = app();
        key(&mut a, KeyCode::Char('c'));
        key(&mut a, KeyCode::Char(' '));
        assert_eq!(a.wizard.as_ref().unwrap().value("kind"), "ps", "space on a choice is the next choice");
        let w = a.wizard.as_mut().unwrap();
        w.step = Step::Backup;
        w.focus = w.step_fields(Step::Backup).iter().position(|f| *f == "schedule").unwrap();
        for _ in 0.."0 0 * * *".len() {
            key(&mut a, KeyCode::Backspace);
        }
        for ch in "0 3 * * *".chars() {
            key(&mut a, KeyCode::Char(ch));
        }
        let w = a.wizard.as_ref().unwrap();
        assert_eq!(w.value("schedule"), "0 3 * * *");
        assert!(!w.problems.iter().any(|p| p.path.contains("schedule")), "{:?}", w.problems);
    }

    #[test]
    fn backup_rows_take_backup_keys_and_esc_goes_back() {
        let mut a = app();
        let mut c = a.clusters.iter().find(|c| c.name == "cart").unwrap().clone();
        c.backups = vec![crate::observe::view::BackupView {
            name: "cart-nightly".into(),
            state: "Succeeded".into(),
            storage: Some("s3-eu".into()),
            destination: Some("s3://b/cart-nightly".into()),
            started: Some(now()),
            completed: Some(now()),
            error: None,
            latest_restorable_time: None,
        }];
        c.backup_storages = vec!["s3-eu".into()];
        let others: Vec<ClusterView> = a.clusters.iter().filter(|o| o.name != "cart").cloned().collect();
        a.update(Action::Snapshot([vec![c], others].concat()));
        a.run_command("backups");
        assert_eq!(a.screen(), &Screen::Backups);
        assert_eq!(a.contexts()[0], Context::Backups);
        let hints: Vec<&str> = a.keymap.hints(&a.contexts(), false).iter().map(|b| b.name).collect();
        assert!(
            hints.contains(&"backup-delete") && !hints.contains(&"scale") && !hints.contains(&"create"),
            "{hints:?}"
        );
        assert!(key(&mut a, KeyCode::Char('s')).is_empty(), "no scale form of the cluster");
        assert!(a.edit.is_none() && a.question.is_none());
        key(&mut a, KeyCode::Enter);
        assert!(
            a.popup.as_ref().is_some_and(|p| p.lines.iter().any(|l| l.contains("s3://b/cart-nightly"))),
            "describe"
        );
        key(&mut a, KeyCode::Esc);
        assert!(a.popup.is_none());
        let e = a.on_key(&KeyEvent::new(KeyCode::Char('d'), KeyModifiers::CONTROL));
        let [Effect::FetchObject { kind, name, purpose, .. }] = e.as_slice() else { panic!("{e:?}") };
        assert_eq!((kind.as_str(), name.as_str()), ("PerconaXtraDBClusterBackup", "cart-nightly"));
        a.update(Action::Fetched {
            purpose: purpose.clone(),
            result: Ok(json!({"metadata": {"name": "cart-nightly", "finalizers": ["percona.com/delete-backup"]}})),
        });
        let d = a.delete.as_ref().expect("the typed-name dialog");
        assert_eq!(d.name(), "cart-nightly", "the backup's name is typed, not the cluster's");
        assert!(d.backup.as_ref().unwrap().deletes_data);
        for ch in "cart".chars() {
            a.update(Action::Input(ch));
        }
        assert!(a.update(Action::Submit).is_empty(), "the cluster's name does not delete the backup");
        for ch in "-nightly".chars() {
            a.update(Action::Input(ch));
        }
        let e = a.update(Action::Submit);
        assert_eq!(
            e,
            vec![Effect::DeleteBackup {
                kind: ClusterKind::Pxc,
                namespace: "shop".into(),
                name: "cart-nightly".into()
            }]
        );
        assert_eq!(a.screen(), &Screen::Backups);
        key(&mut a, KeyCode::Esc);
        assert_eq!(a.screen(), &Screen::Clusters, "esc returns from the backup list");
    }

    #[test]
    fn pause_wants_the_name_typed_and_resume_does_not() {
        let mut a = app();
        a.selected = 1; // cart
        a.update(Action::PauseResume);
        assert!(a.update(Action::Yes).is_empty(), "y alone does not pause");
        for ch in "cart".chars() {
            a.update(Action::Input(ch));
        }
        let e = a.update(Action::Submit);
        assert!(
            matches!(e.as_slice(), [Effect::Patch { patch, .. }] if patch == &json!({"spec": {"pause": true}})),
            "{e:?}"
        );
        let mut c = a.clusters.clone();
        c.iter_mut().for_each(|c| c.paused = true);
        a.update(Action::Snapshot(c));
        a.update(Action::PauseResume);
        assert_eq!(a.question.as_ref().unwrap().confirm_name, None);
        assert_eq!(a.update(Action::Yes).len(), 1, "resume: y is enough");
    }

    #[test]
    fn status_messages_clear_after_a_while_or_a_good_command_and_stay_in_messages() {
        let mut a = app();
        a.update(Action::WriteDone { what: "update cart".into(), result: Ok(()) });
        a.update(Action::Tick(now() + Duration::seconds(3)));
        assert!(a.status.is_some());
        a.update(Action::Tick(now() + Duration::seconds(16)));
        assert!(a.status.is_none(), "an ok message goes after 15 s");
        a.update(Action::WriteDone { what: "update cart".into(), result: Err("conflict".into()) });
        a.update(Action::Tick(now() + Duration::seconds(30)));
        assert!(a.status.is_some(), "an error stays longer");
        a.run_command("pg");
        assert!(a.status.is_none(), "a command that works replaces it");
        a.run_command("messages");
        let p = a.popup.as_ref().unwrap();
        assert!(
            p.lines[0].contains("update cart failed: conflict") && p.lines[1].contains("update cart: done"),
            "{p:?}"
        );
    }

    #[test]
    fn ns_and_ctx_alone_open_a_picker() {
        let mut a = app();
        assert_eq!(a.run_command("ns"), vec![Effect::ListForPicker(PickKind::Namespace)]);
        a.update(Action::PickerItems {
            kind: PickKind::Namespace,
            result: Ok(vec!["bi".into(), "default".into(), "shop".into()]),
        });
        for ch in "sh".chars() {
            a.update(Action::Input(ch));
        }
        assert_eq!(a.picker.as_ref().unwrap().shown(), ["shop"]);
        assert_eq!(a.update(Action::Submit), vec![Effect::SwitchNamespace(Some("shop".into()))]);
        assert!(a.picker.is_none());
        assert_eq!(a.namespace.as_deref(), Some("shop"));
        assert_eq!(a.run_command("ctx"), vec![Effect::ListForPicker(PickKind::Context)]);
        a.update(Action::PickerItems { kind: PickKind::Context, result: Ok(vec!["a".into(), "b".into()]) });
        a.update(Action::Down);
        assert_eq!(a.update(Action::Submit), vec![Effect::SwitchContext("b".into())]);
    }

    #[test]
    fn backup_without_storage_says_which_field() {
        let mut a = app();
        a.update(Action::Backup);
        assert!(a.question.is_none());
        assert!(a.status.as_ref().unwrap().text.contains("spec.backups.pgbackrest.repos"), "{:?}", a.status);
    }

    #[test]
    fn delete_needs_the_exact_name() {
        let mut a = app();
        a.selected = 1;
        a.update(Action::Delete);
        for c in "Cart".chars() {
            a.update(Action::Input(c));
        }
        assert!(a.update(Action::Submit).is_empty());
        a.update(Action::Back);
        assert!(a.delete.is_none());
        a.update(Action::Delete);
        for c in "cart".chars() {
            a.update(Action::Input(c));
        }
        let e = a.update(Action::Submit);
        assert!(
            matches!(e.as_slice(), [Effect::Delete { target }] if target.name == "cart" && target.namespace == "shop")
        );
    }

    #[test]
    fn editor_output_is_validated_and_diffed() {
        let mut a = app();
        let target = ClusterRef { kind: ClusterKind::Pxc, namespace: "shop".into(), name: "cart".into() };
        let before = json!({"apiVersion": "pxc.percona.com/v1", "kind": "PerconaXtraDBCluster",
            "metadata": {"name": "cart", "namespace": "shop"}, "spec": {"pxc": {"size": 3}}});
        let e = a.update(Action::EditorDone {
            target: target.clone(),
            before: before.clone(),
            after_yaml: "spec: [".into(),
        });
        // Re-opened on the user's text with the error on top, as kubectl edit does.
        let [Effect::OpenEditor { resume: Some((b, text)), .. }] = e.as_slice() else { panic!("{e:?}") };
        assert_eq!(b, &before);
        assert!(
            text.starts_with("# dbdeck: this edit was NOT applied")
                && text.contains("# error: the edited YAML does not parse"),
            "{text}"
        );
        assert!(text.ends_with("spec: ["), "{text}");
        assert!(a.status.as_ref().unwrap().text.contains("does not parse"));
        // Saved again with the header still there and a new error: one header, the new error.
        let e = a.update(Action::EditorDone {
            target: target.clone(),
            before: before.clone(),
            after_yaml: text.replace("spec: [", "spec: {pxc: {size: 2}}\nkind: Nope"),
        });
        let [Effect::OpenEditor { resume: Some((_, text2)), .. }] = e.as_slice() else { panic!("{e:?}") };
        assert_eq!(text2.matches("# dbdeck:").count(), 1, "{text2}");
        assert!(!text2.contains("does not parse"), "{text2}");
        // Shrinking the volume is refused as the form refuses it.
        let mut big = before.clone();
        big["spec"]["pxc"]["volumeSpec"] =
            json!({"persistentVolumeClaim": {"resources": {"requests": {"storage": "20G"}}}});
        let small = serde_yaml::to_string(&{
            let mut s = big.clone();
            s["spec"]["pxc"]["volumeSpec"]["persistentVolumeClaim"]["resources"]["requests"]["storage"] = json!("10G");
            s
        })
        .unwrap();
        let e = a.update(Action::EditorDone { target: target.clone(), before: big, after_yaml: small });
        let [Effect::OpenEditor { resume: Some((_, text3)), .. }] = e.as_slice() else { panic!("{e:?}") };
        assert!(text3.contains("volumes cannot shrink (20G → 10G)"), "{text3}");
        let yaml = "apiVersion: pxc.percona.com/v1\nkind: PerconaXtraDBCluster\nmetadata: {name: cart, namespace: shop}\nspec: {pxc: {size: 5}}\n";
        let e = a.update(Action::EditorDone { target: target.clone(), before, after_yaml: yaml.into() });
        assert_eq!(e, vec![Effect::DryRunPatch { target, patch: json!({"spec": {"pxc": {"size": 5}}}) }]);
        assert_eq!(a.screen(), &Screen::Review);
        assert!(a.update(Action::Submit).is_empty(), "no apply before the dry run answered");
        a.update(Action::DryRun(Ok(())));
        assert!(matches!(a.update(Action::Submit).as_slice(), [Effect::Patch { .. }]));
        assert_eq!(a.screen(), &Screen::Clusters);
    }

    #[test]
    fn a_discarded_wizard_leaves_no_stale_error_behind() {
        let mut a = app();
        key(&mut a, KeyCode::Char('c'));
        key(&mut a, KeyCode::Enter); // kind → basics
        for _ in 0.."cluster1".len() {
            key(&mut a, KeyCode::Backspace);
        }
        key(&mut a, KeyCode::Char('X'));
        key(&mut a, KeyCode::Enter);
        assert_eq!(a.status.as_ref().map(|s| s.level), Some(Level::Error), "an invalid name is refused");
        key(&mut a, KeyCode::Esc);
        key(&mut a, KeyCode::Char('y'));
        assert_eq!(a.screen(), &Screen::Clusters);
        assert_eq!(a.status, None, "discarding the wizard clears its error");
        a.status = Some(StatusLine { level: Level::Error, text: "old news".into() });
        key(&mut a, KeyCode::Char('c'));
        assert_eq!(a.screen(), &Screen::Wizard);
        assert_eq!(a.status, None, "a reopened wizard starts without an error");
        assert_eq!(a.wizard.as_ref().map(|w| w.step), Some(Step::Kind));
    }

    #[test]
    fn esc_then_an_arrow_moves_from_the_row_the_user_was_on() {
        use crate::console::escape::SplitEscape;
        let mut a = app();
        for k in ['/', 's', 'h', 'o', 'p'] {
            key(&mut a, KeyCode::Char(k));
        }
        key(&mut a, KeyCode::Enter);
        key(&mut a, KeyCode::Char('j'));
        assert_eq!(a.selected_cluster().unwrap().name, "orders");
        // What the terminal delivers for esc and ↑ read together: esc, then `[` and `A` as characters.
        let mut split = SplitEscape::default();
        let at = std::time::Instant::now();
        for ev in [KeyCode::Esc, KeyCode::Char('['), KeyCode::Char('A')] {
            for k in split.push(KeyEvent::new(ev, KeyModifiers::NONE), at) {
                a.on_key(&k);
            }
        }
        assert!(a.filter.is_empty(), "esc cleared the filter");
        assert_eq!(a.sort, SortColumn::Namespace, "`A` (sort by age) was not typed");
        assert_eq!(names(&a), ["reports", "cart", "orders"]);
        assert_eq!(a.selected_cluster().unwrap().name, "cart", "↑ from orders, the row that was selected");
    }

    #[test]
    fn detail_scrolling_stays_within_the_pane() {
        let mut a = app();
        a.clusters[0].events = (0..5)
            .map(|i| crate::observe::view::EventView {
                type_: "Normal".into(),
                reason: "Started".into(),
                object: format!("pod/cart-pxc-{i}"),
                message: "started".into(),
                count: 1,
                last_seen: None,
            })
            .collect();
        a.selected = 1; // cart
        key(&mut a, KeyCode::Enter);
        key(&mut a, KeyCode::Char('5'));
        assert_eq!(a.pane, Pane::Events);
        key(&mut a, KeyCode::Char('G'));
        assert_eq!(a.detail_scroll, 4, "the last of five events");
        key(&mut a, KeyCode::Char('k'));
        assert_eq!(a.detail_scroll, 3, "one up from the bottom moves at once");
        for _ in 0..20 {
            key(&mut a, KeyCode::Char('j'));
        }
        assert_eq!(a.detail_scroll, 4);
        key(&mut a, KeyCode::Char('6'));
        key(&mut a, KeyCode::Char('j'));
        assert_eq!(a.detail_scroll, 0, "no conditions: nothing to scroll");
    }

    #[test]
    fn sorting_keeps_the_selected_cluster() {
        let mut a = app();
        a.selected = 2; // orders
        a.update(Action::SortBy(SortColumn::Age));
        assert_eq!(a.selected_cluster().unwrap().name, "orders");
        a.update(Action::SortReverse);
        assert_eq!(a.selected_cluster().unwrap().name, "orders");
    }

    #[test]
    fn live_news_is_applied_on_any_screen() {
        let mut a = app();
        a.update(Action::Create);
        a.update(Action::Connection(Connection::Lost { reason: "EOF".into() }));
        assert!(a.banner.as_ref().unwrap().contains("retrying"));
        a.update(Action::Tick(now() + Duration::hours(1)));
        assert_eq!(a.now, now() + Duration::hours(1));
        a.update(Action::WriteDone { what: "create cart".into(), result: Err("conflict".into()) });
        assert_eq!(a.status.as_ref().unwrap().text, "create cart failed: conflict");
        assert_eq!(a.screen(), &Screen::Wizard, "news does not disturb the wizard");
    }
}
