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
    // the selected backup (`:backups`)
    Describe,
    Yaml,
    // misc
    Help,
    CycleTheme,
    /// ctrl-L: clear the terminal and draw everything again.
    Redraw,
    // news from the live layer
    Snapshot(Vec<ClusterView>),
    Tick(DateTime<Utc>),
    Connection(Connection),
    /// The live layer now watches this kubeconfig context, in `namespace` (`None` = all) (a failed switch
    /// leaves everything as it was).
    ContextSwitched {
        context: String,
        namespace: Option<String>,
    },
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
    /// An object fetched for `purpose` (its JSON), or why it could not be.
    Fetched {
        purpose: FetchPurpose,
        result: Result<serde_json::Value, String>,
    },
    /// The answer to [`Effect::CheckNamespace`]: `Ok(note)` to switch (with a note when it could not be
    /// verified), `Err` with the reason to refuse.
    NamespaceChecked {
        namespace: String,
        result: Result<Option<String>, String>,
    },
    /// Items for the picker that `:ns`/`:ctx` without an argument opened (or why there are none).
    PickerItems {
        kind: PickKind,
        result: Result<Vec<String>, String>,
    },
    /// What the API said about the wizard's names (an existing cluster, StorageClass, Secret).
    WizardChecked(Vec<RemoteCheck>),
}

/// What a fetched object is for.
#[derive(Clone, Debug, PartialEq)]
pub enum FetchPurpose {
    /// Show its YAML in a popup with this title.
    Yaml { title: String },
    /// Ask for a typed confirmation to delete this backup of `cluster` (its finalizers decide what goes).
    DeleteBackup { cluster: ClusterRef, name: String },
}

/// What a picker chooses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PickKind {
    Namespace,
    Context,
}

/// One name the wizard asked the API about.
#[derive(Clone, Debug, PartialEq)]
pub struct RemoteCheck {
    /// The wizard field (`name`, `storage-class`, `credentials`).
    pub field: &'static str,
    /// The value that was checked (a later edit of the field makes the answer stale).
    pub value: String,
    pub outcome: CheckOutcome,
}

#[derive(Clone, Debug, PartialEq)]
pub enum CheckOutcome {
    Fine,
    /// The API says no: the sentence for the field.
    Problem(String),
    /// The API could not be asked (unreachable, forbidden): said, not blocking.
    Unchecked(String),
}

/// What the wizard asks the API before it creates a cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct WizardQuery {
    pub api_version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// Empty = the default class (nothing to check).
    pub storage_class: String,
    /// Empty = no S3 credentials Secret in the spec.
    pub secret: String,
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
    /// Fetch the resource, run `$EDITOR` on its YAML and answer with [`Action::EditorDone`]. With `resume`, the
    /// editor re-opens on the user's own text (the resource before it, and the text with the error on top).
    OpenEditor {
        target: ClusterRef,
        resume: Option<(serde_json::Value, String)>,
    },
    /// GET one object and answer with [`Action::Fetched`].
    FetchObject {
        api_version: String,
        kind: String,
        namespace: String,
        name: String,
        purpose: FetchPurpose,
    },
    DeleteBackup {
        kind: ClusterKind,
        namespace: String,
        name: String,
    },
    /// Does the namespace exist? Answered with [`Action::NamespaceChecked`].
    CheckNamespace(String),
    /// Names for a picker, answered with [`Action::PickerItems`].
    ListForPicker(PickKind),
    /// Answered with [`Action::WizardChecked`].
    CheckWizard(WizardQuery),
    /// Clear the terminal and draw everything again.
    Redraw,
    /// `None` means all namespaces.
    SwitchNamespace(Option<String>),
    SwitchContext(String),
    Quit,
}
