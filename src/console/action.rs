//! Everything that can happen to the console (`Action`) and everything it asks the live layer to do (`Effect`).

use chrono::{DateTime, Utc};

use crate::observe::view::{ClusterKind, ClusterView};

/// Identifies one cluster custom resource.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClusterRef {
    pub kind: ClusterKind,
    pub namespace: String,
    pub name: String,
}

impl ClusterRef {
    pub fn of(v: &ClusterView) -> Self {
        Self { kind: v.kind, namespace: v.namespace.clone(), name: v.name.clone() }
    }
}

/// Columns of the cluster list that can be sorted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortColumn {
    Kind,
    Namespace,
    Name,
    State,
    Ready,
    Age,
    LastBackup,
    Endpoint,
}

impl SortColumn {
    pub const ALL: [SortColumn; 8] = [
        SortColumn::Kind,
        SortColumn::Namespace,
        SortColumn::Name,
        SortColumn::State,
        SortColumn::Ready,
        SortColumn::Age,
        SortColumn::LastBackup,
        SortColumn::Endpoint,
    ];
    /// The column's header word, lower-case, as `:sort` takes it.
    pub fn word(self) -> &'static str {
        match self {
            SortColumn::Kind => "kind",
            SortColumn::Namespace => "namespace",
            SortColumn::Name => "name",
            SortColumn::State => "state",
            SortColumn::Ready => "ready",
            SortColumn::Age => "age",
            SortColumn::LastBackup => "backup",
            SortColumn::Endpoint => "endpoint",
        }
    }
    /// A header word or an unambiguous start of one (`ns` for namespace).
    pub fn parse(word: &str) -> Option<SortColumn> {
        let w = word.to_lowercase();
        if w == "ns" {
            return Some(SortColumn::Namespace);
        }
        if let Some(exact) = Self::ALL.iter().find(|c| c.word() == w) {
            return Some(*exact);
        }
        let mut hits = Self::ALL.iter().filter(|c| !w.is_empty() && c.word().starts_with(&w));
        match (hits.next(), hits.next()) {
            (Some(c), None) => Some(*c),
            _ => None,
        }
    }
    pub fn next(self) -> Self {
        let i = Self::ALL.iter().position(|c| *c == self).unwrap_or(0);
        Self::ALL[(i + 1) % Self::ALL.len()]
    }
}

/// How the live layer's connection to the API server is doing.
#[derive(Clone, Debug, PartialEq)]
pub enum Connection {
    Connected,
    Lost { reason: String },
}

/// One input to [`crate::console::app::App::update`]: a user intent (from the keymap) or news from the live layer.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    // navigation
    Up,
    Down,
    Top,
    Bottom,
    PageUp,
    PageDown,
    Open,
    Back,
    Quit,
    // text input (filter, command line, form fields, typed confirmation)
    StartFilter,
    StartCommand,
    Input(char),
    Backspace,
    Submit,
    // detail panes
    NextPane,
    PrevPane,
    Pane(usize),
    // sorting
    SortBy(SortColumn),
    SortNext,
    SortReverse,
    // forms and wizard
    NextField,
    PrevField,
    ChoicePrev,
    ChoiceNext,
    PrevStep,
    // writes
    Create,
    Edit,
    EditYaml,
    Delete,
    Backup,
    Restore,
    Scale,
    PauseResume,
    // answers to a yes/no question
    Yes,
    No,
    // misc
    Help,
    CycleTheme,
    // news from the live layer
    Snapshot(Vec<ClusterView>),
    Tick(DateTime<Utc>),
    Connection(Connection),
    /// The live layer now watches this kubeconfig context (a failed switch leaves everything as it was).
    ContextSwitched(String),
    /// The current custom resource, fetched for the edit form.
    EditLoaded {
        target: ClusterRef,
        value: serde_json::Value,
        scale_only: bool,
    },
    /// `$EDITOR` returned: the resource before and the edited YAML text.
    EditorDone {
        target: ClusterRef,
        before: serde_json::Value,
        after_yaml: String,
    },
    /// Result of a server-side dry run of the pending change.
    DryRun(Result<(), String>),
    /// Result of a write the console asked for (`what` names it for the status line).
    WriteDone {
        what: String,
        result: Result<(), String>,
    },
}

/// A request for the live layer; the console never does I/O itself.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    CreateCluster {
        value: serde_json::Value,
    },
    CreateBackup {
        value: serde_json::Value,
    },
    /// JSON merge patch (RFC 7386) on the cluster resource.
    Patch {
        target: ClusterRef,
        patch: serde_json::Value,
    },
    /// The same patch with `dryRun=All`; the answer comes back as [`Action::DryRun`].
    DryRunPatch {
        target: ClusterRef,
        patch: serde_json::Value,
    },
    Delete {
        target: ClusterRef,
    },
    /// Fetch the resource and answer with [`Action::EditLoaded`].
    LoadForEdit {
        target: ClusterRef,
        scale_only: bool,
    },
    /// Fetch the resource, run `$EDITOR` on its YAML and answer with [`Action::EditorDone`].
    OpenEditor {
        target: ClusterRef,
    },
    /// `None` means all namespaces.
    SwitchNamespace(Option<String>),
    SwitchContext(String),
    Quit,
}
