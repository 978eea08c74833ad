//! The one key registry: it resolves keys to actions, and the `?` help screen and the hint bar are generated
//! from it, so what is shown is exactly what works. Bindings are remappable by name from a TOML file:
//!
//! ```toml
//! [keys]
//! filter = "f"
//! delete = ["ctrl-d", "D"]
//! ```

use std::collections::BTreeMap;
use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::Deserialize;

use super::action::{Action, SortColumn};

/// Where a binding applies. The app tells the keymap which contexts are active, most specific first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Context {
    /// Everywhere, even while typing.
    Always,
    /// Every screen that is not taking text input.
    Global,
    List,
    Detail,
    /// A one-line text input: filter, command line, typed confirmation.
    Input,
    /// Wizard and edit form (fields take typed text).
    Form,
    /// Scrollable read-only review: YAML preview, diff.
    Review,
    /// A yes/no question.
    Confirm,
    Help,
    /// The `:backups` list: keys act on the selected backup, never on its cluster.
    Backups,
    /// A scrollable text popup (an event's message, a backup's YAML, the status messages).
    Popup,
    /// A list to choose from (namespaces, contexts); typed text narrows it.
    Picker,
}

impl Context {
    pub fn title(&self) -> &'static str {
        match self {
            Context::Always => "Everywhere",
            Context::Global => "General",
            Context::List => "Cluster list",
            Context::Detail => "Cluster detail",
            Context::Input => "Filter / command line",
            Context::Form => "Wizard, edit form and review",
            Context::Review => "Review (YAML, diff)",
            Context::Confirm => "Questions",
            Context::Help => "Help",
            Context::Backups => "Backup list",
            Context::Popup => "Text popup",
            Context::Picker => "Namespace / context picker",
        }
    }
}

/// A key with its modifiers, as written in config files (`ctrl-d`, `shift-tab`, `G`, `esc`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
    pub alt: bool,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum KeymapError {
    #[error("key config: {0}")]
    Toml(String),
    #[error("key config: [keys] {name}: there is no binding called {name:?}; known: {known}")]
    UnknownBinding { name: String, known: String },
    #[error("key config: [keys] {name}: {key:?} is not a key (examples: \"f\", \"ctrl-d\", \"shift-tab\", \"esc\")")]
    BadKey { name: String, key: String },
    #[error("key config: {key} is bound to both {a:?} and {b:?} in {context}")]
    Conflict { key: String, a: String, b: String, context: &'static str },
}

impl Key {
    pub const fn plain(code: KeyCode) -> Key {
        Key { code, ctrl: false, alt: false }
    }
    pub const fn ch(c: char) -> Key {
        Key::plain(KeyCode::Char(c))
    }
    pub const fn ctrl(c: char) -> Key {
        Key { code: KeyCode::Char(c), ctrl: true, alt: false }
    }

    pub fn from_event(ev: &KeyEvent) -> Key {
        // Upper-case letters arrive with SHIFT set; the character already says it, so SHIFT is not kept.
        Key {
            code: ev.code,
            ctrl: ev.modifiers.contains(KeyModifiers::CONTROL),
            alt: ev.modifiers.contains(KeyModifiers::ALT),
        }
    }

    pub fn parse(s: &str) -> Option<Key> {
        let mut ctrl = false;
        let mut alt = false;
        let mut shift = false;
        let mut rest = s;
        loop {
            if let Some(r) = rest.strip_prefix("ctrl-") {
                ctrl = true;
                rest = r;
            } else if let Some(r) = rest.strip_prefix("alt-") {
                alt = true;
                rest = r;
            } else if let Some(r) = rest.strip_prefix("shift-").filter(|r| !r.is_empty()) {
                shift = true;
                rest = r;
            } else {
                break;
            }
        }
        let code = match rest {
            "esc" => KeyCode::Esc,
            "enter" => KeyCode::Enter,
            "tab" if shift => KeyCode::BackTab,
            "tab" => KeyCode::Tab,
            "backspace" => KeyCode::Backspace,
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "pgup" => KeyCode::PageUp,
            "pgdown" => KeyCode::PageDown,
            "space" => KeyCode::Char(' '),
            one if one.chars().count() == 1 => {
                let c = one.chars().next()?;
                KeyCode::Char(if shift { c.to_ascii_uppercase() } else { c })
            }
            _ => return None,
        };
        Some(Key { code, ctrl, alt })
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("ctrl-")?;
        }
        if self.alt {
            f.write_str("alt-")?;
        }
        match self.code {
            KeyCode::Esc => f.write_str("esc"),
            KeyCode::Enter => f.write_str("enter"),
            KeyCode::Tab => f.write_str("tab"),
            KeyCode::BackTab => f.write_str("shift-tab"),
            KeyCode::Backspace => f.write_str("backspace"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::Left => f.write_str("←"),
            KeyCode::Right => f.write_str("→"),
            KeyCode::Home => f.write_str("home"),
            KeyCode::End => f.write_str("end"),
            KeyCode::PageUp => f.write_str("pgup"),
            KeyCode::PageDown => f.write_str("pgdown"),
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            _ => f.write_str("?"),
        }
    }
}

/// One named binding.
#[derive(Clone, Debug, PartialEq)]
pub struct Binding {
    /// The name used in the config file.
    pub name: &'static str,
    pub keys: Vec<Key>,
    pub contexts: &'static [Context],
    pub action: Action,
    pub help: &'static str,
    /// Shown in the bottom hint bar.
    pub hint: bool,
    /// The hint bar's shorter word for it (the help screen keeps `help`).
    pub short: Option<&'static str>,
    /// Changes the cluster: hidden and refused in read-only mode.
    pub write: bool,
}

impl Binding {
    /// What the hint bar says.
    pub fn hint_text(&self) -> &'static str {
        self.short.unwrap_or(self.help)
    }

    pub fn keys_label(&self) -> String {
        self.keys.iter().map(|k| k.to_string()).collect::<Vec<_>>().join("/")
    }
}

/// The registry.
#[derive(Clone, Debug, PartialEq)]
pub struct Keymap {
    pub bindings: Vec<Binding>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyConfig {
    #[serde(default)]
    keys: BTreeMap<String, OneOrMany>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

use Context::*;
use KeyCode as K;

fn b(
    name: &'static str,
    keys: &[Key],
    contexts: &'static [Context],
    action: Action,
    help: &'static str,
    hint: bool,
) -> Binding {
    Binding { name, keys: keys.to_vec(), contexts, action, help, hint, short: None, write: false }
}

fn w(name: &'static str, keys: &[Key], contexts: &'static [Context], action: Action, help: &'static str) -> Binding {
    Binding { write: true, ..b(name, keys, contexts, action, help, true) }
}

const TABLES: &[Context] = &[List, Detail, Help, Review, Backups, Popup];
const FORM_REVIEW: &[Context] = &[Form, Review];

impl Default for Keymap {
    fn default() -> Self {
        let p = Key::plain;
        let c = Key::ch;
        let bindings = vec![
            b("quit-now", &[Key::ctrl('c')], &[Always], Action::Quit, "quit dbdeck", false),
            b("help", &[c('?')], &[Global], Action::Help, "this help", true),
            b("redraw", &[Key::ctrl('l')], &[Always], Action::Redraw, "redraw the screen", false),
            b("command", &[c(':')], &[List, Detail, Backups], Action::StartCommand, "command line", true),
            b("filter", &[c('/')], &[List], Action::StartFilter, "filter", true),
            b("quit", &[c('q')], &[List], Action::Quit, "quit", false),
            b("back", &[p(K::Esc)], &[Global], Action::Back, "back / clear filter", true),
            b("up", &[c('k'), p(K::Up)], TABLES, Action::Up, "move up", false),
            b("down", &[c('j'), p(K::Down)], TABLES, Action::Down, "move down", false),
            b("top", &[c('g'), p(K::Home)], TABLES, Action::Top, "first row", false),
            b("bottom", &[c('G'), p(K::End)], TABLES, Action::Bottom, "last row", false),
            b("page-up", &[p(K::PageUp), Key::ctrl('b')], TABLES, Action::PageUp, "page up", false),
            b("page-down", &[p(K::PageDown), Key::ctrl('f')], TABLES, Action::PageDown, "page down", false),
            b("open", &[p(K::Enter)], &[List], Action::Open, "open cluster", true),
            b("sort-next", &[c('o')], &[List], Action::SortNext, "sort by next column", true),
            b("sort-reverse", &[c('O')], &[List], Action::SortReverse, "reverse sort", false),
            b("sort-name", &[c('N')], &[List], Action::SortBy(SortColumn::Name), "sort by name", false),
            b("sort-age", &[c('A')], &[List], Action::SortBy(SortColumn::Age), "sort by age", false),
            b("sort-state", &[c('S')], &[List], Action::SortBy(SortColumn::State), "sort by state", false),
            b("next-pane", &[p(K::Tab)], &[Detail], Action::NextPane, "next pane", true),
            b("prev-pane", &[p(K::BackTab)], &[Detail], Action::PrevPane, "previous pane", false),
            b("pane-1", &[c('1')], &[Detail], Action::Pane(0), "Topology", false),
            b("pane-2", &[c('2')], &[Detail], Action::Pane(1), "Why not ready", false),
            b("pane-3", &[c('3')], &[Detail], Action::Pane(2), "PVCs", false),
            b("pane-4", &[c('4')], &[Detail], Action::Pane(3), "Backups & restores", false),
            b("pane-5", &[c('5')], &[Detail], Action::Pane(4), "Events", false),
            b("pane-6", &[c('6')], &[Detail], Action::Pane(5), "Conditions", false),
            b("row-text", &[p(K::Enter)], &[Detail], Action::Open, "full text of the selected row", true),
            b("backup-describe", &[p(K::Enter), c('d')], &[Backups], Action::Describe, "describe backup", true),
            b("backup-yaml", &[c('y')], &[Backups], Action::Yaml, "backup YAML", true),
            w("backup-delete", &[Key::ctrl('d')], &[Backups], Action::Delete, "delete backup"),
            b("close-popup", &[p(K::Esc), c('q'), p(K::Enter)], &[Popup], Action::Back, "close", true),
            b("picker-up", &[p(K::Up)], &[Picker], Action::Up, "move up", false),
            b("picker-down", &[p(K::Down)], &[Picker], Action::Down, "move down", false),
            b("picker-choose", &[p(K::Enter)], &[Picker], Action::Submit, "choose", true),
            b("picker-cancel", &[p(K::Esc)], &[Picker], Action::Back, "cancel", true),
            w("create", &[c('c')], &[List], Action::Create, "create cluster"),
            // k9s's `e`: the whole YAML in $EDITOR; `E` opens the form for the everyday changes.
            w("edit-yaml", &[c('e')], &[List, Detail], Action::EditYaml, "edit YAML in $EDITOR"),
            w("edit", &[c('E')], &[List, Detail], Action::Edit, "edit form"),
            w("scale", &[c('s')], &[List, Detail], Action::Scale, "scale"),
            w("pause", &[c('p')], &[List, Detail], Action::PauseResume, "pause/resume"),
            w("backup", &[c('b')], &[List, Detail], Action::Backup, "backup now"),
            w("restore", &[c('R')], &[List, Detail], Action::Restore, "restore from a backup"),
            w("delete", &[Key::ctrl('d')], &[List, Detail], Action::Delete, "delete"),
            b("theme", &[c('t')], &[List, Detail], Action::CycleTheme, "next theme", false),
            b("submit", &[p(K::Enter)], &[Input], Action::Submit, "apply", true),
            b("cancel", &[p(K::Esc)], &[Input], Action::Back, "cancel", true),
            b("erase", &[p(K::Backspace)], &[Input, Form, Picker], Action::Backspace, "delete a character", false),
            b("next-field", &[p(K::Tab), p(K::Down)], &[Form], Action::NextField, "next field", true),
            b("prev-field", &[p(K::BackTab), p(K::Up)], &[Form], Action::PrevField, "previous field", false),
            b("choice-prev", &[p(K::Left)], &[Form], Action::ChoicePrev, "previous choice", false),
            // Space is not bound here: text fields take it as typed (a cron schedule has spaces); on a choice
            // or a toggle the field itself turns it into the next choice.
            b("choice-next", &[p(K::Right)], &[Form], Action::ChoiceNext, "next choice (space too)", true),
            b("next-step", &[p(K::Enter)], FORM_REVIEW, Action::Submit, "next step / apply", true),
            b("prev-step", &[Key::ctrl('p')], FORM_REVIEW, Action::PrevStep, "step back", true),
            b("form-cancel", &[p(K::Esc)], FORM_REVIEW, Action::Back, "cancel", true),
            b("yes", &[c('y'), p(K::Enter)], &[Confirm], Action::Yes, "yes", true),
            b("no", &[c('n'), p(K::Esc)], &[Confirm], Action::No, "no", true),
            b("choice-prev-confirm", &[p(K::Left)], &[Confirm, Input], Action::ChoicePrev, "previous option", false),
            b("choice-next-confirm", &[p(K::Right)], &[Confirm, Input], Action::ChoiceNext, "next option", false),
            b("close-help", &[c('q')], &[Help], Action::Back, "close help", true),
        ];
        // The hint bar has one row for a dozen keys: shorter words there, the full ones on `?`.
        let mut bindings = bindings;
        for (name, short) in [
            ("help", "help"),
            ("command", "command"),
            ("open", "open"),
            ("sort-next", "sort"),
            ("create", "create"),
            ("edit-yaml", "edit YAML"),
            ("edit", "form"),
            ("pause", "pause"),
            ("backup", "backup"),
            ("restore", "restore"),
            ("back", "back"),
            ("choice-next", "choice"),
            ("row-text", "full text"),
            ("backup-describe", "describe"),
            ("backup-yaml", "YAML"),
            ("next-step", "next/apply"),
            ("prev-step", "step back"),
        ] {
            if let Some(b) = bindings.iter_mut().find(|b| b.name == name) {
                b.short = Some(short);
            }
        }
        Keymap { bindings }
    }
}

impl Keymap {
    /// The defaults with the `[keys]` table of a config file applied.
    pub fn from_config(toml_text: &str) -> Result<Keymap, KeymapError> {
        let cfg: KeyConfig = toml::from_str(toml_text).map_err(|e| KeymapError::Toml(e.message().to_string()))?;
        let mut km = Keymap::default();
        for (name, keys) in cfg.keys {
            let texts = match keys {
                OneOrMany::One(s) => vec![s],
                OneOrMany::Many(v) => v,
            };
            let Some(binding) = km.bindings.iter_mut().find(|b| b.name == name) else {
                let known = Keymap::default().bindings.iter().map(|b| b.name).collect::<Vec<_>>().join(", ");
                return Err(KeymapError::UnknownBinding { name, known });
            };
            let mut parsed = Vec::new();
            for t in texts {
                let Some(k) = Key::parse(&t) else {
                    return Err(KeymapError::BadKey { name, key: t });
                };
                parsed.push(k);
            }
            binding.keys = parsed;
        }
        km.check_conflicts()?;
        Ok(km)
    }

    /// Two bindings sharing a key in a context would make one of them unreachable.
    pub fn check_conflicts(&self) -> Result<(), KeymapError> {
        for (i, a) in self.bindings.iter().enumerate() {
            for bnd in &self.bindings[i + 1..] {
                for ctx in a.contexts {
                    let overlaps = bnd.contexts.contains(ctx)
                        || (*ctx == Always || bnd.contexts.contains(&Always))
                        || (*ctx == Global && bnd.contexts.iter().any(|c| matches!(c, List | Detail | Help | Backups)))
                        || (bnd.contexts.contains(&Global) && matches!(ctx, List | Detail | Help | Backups));
                    if !overlaps {
                        continue;
                    }
                    if let Some(k) = a.keys.iter().find(|k| bnd.keys.contains(k)) {
                        return Err(KeymapError::Conflict {
                            key: k.to_string(),
                            a: a.name.to_string(),
                            b: bnd.name.to_string(),
                            context: ctx.title(),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// Resolves a key in the active contexts (most specific first). Contexts that take text turn unbound
    /// printable characters into [`Action::Input`].
    pub fn resolve(&self, contexts: &[Context], key: Key) -> Option<Action> {
        for ctx in contexts {
            if let Some(bnd) = self.bindings.iter().find(|b| b.contexts.contains(ctx) && b.keys.contains(&key)) {
                return Some(bnd.action.clone());
            }
        }
        let typing = contexts.iter().any(|c| matches!(c, Input | Form | Picker));
        match key.code {
            KeyCode::Char(ch) if typing && !key.ctrl && !key.alt => Some(Action::Input(ch)),
            _ => None,
        }
    }

    /// Bindings for the hint bar in these contexts (writes left out when read-only).
    pub fn hints(&self, contexts: &[Context], readonly: bool) -> Vec<&Binding> {
        let mut out: Vec<&Binding> = Vec::new();
        for ctx in contexts {
            for bnd in self.bindings.iter().filter(|b| b.hint && b.contexts.contains(ctx)) {
                if (readonly && bnd.write) || out.iter().any(|o| o.name == bnd.name || o.keys == bnd.keys) {
                    continue;
                }
                out.push(bnd);
            }
        }
        out
    }

    /// The help screen's content: one section per context, in a fixed order, with every binding.
    pub fn help_sections(&self, readonly: bool) -> Vec<(Context, Vec<&Binding>)> {
        let order = [Global, List, Detail, Backups, Input, Form, Review, Confirm, Popup, Picker, Help, Always];
        order
            .iter()
            .map(|ctx| {
                let rows = self
                    .bindings
                    .iter()
                    .filter(|b| b.contexts.first() == Some(ctx) && !(readonly && b.write))
                    .collect::<Vec<_>>();
                (*ctx, rows)
            })
            .filter(|(_, rows)| !rows.is_empty())
            .collect()
    }

    pub fn binding(&self, name: &str) -> Option<&Binding> {
        self.bindings.iter().find(|b| b.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_have_no_conflicts_and_unique_names() {
        let km = Keymap::default();
        km.check_conflicts().unwrap();
        let mut names: Vec<_> = km.bindings.iter().map(|b| b.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), km.bindings.len());
    }

    #[test]
    fn k9s_defaults_resolve() {
        let km = Keymap::default();
        let list = [List, Global, Always];
        assert_eq!(km.resolve(&list, Key::ch('/')), Some(Action::StartFilter));
        assert_eq!(km.resolve(&list, Key::ch(':')), Some(Action::StartCommand));
        assert_eq!(km.resolve(&list, Key::ch('?')), Some(Action::Help));
        assert_eq!(km.resolve(&list, Key::ch('j')), Some(Action::Down));
        assert_eq!(km.resolve(&list, Key::plain(KeyCode::Up)), Some(Action::Up));
        assert_eq!(km.resolve(&list, Key::ch('G')), Some(Action::Bottom));
        assert_eq!(km.resolve(&list, Key::ctrl('d')), Some(Action::Delete));
        assert_eq!(km.resolve(&list, Key::ctrl('c')), Some(Action::Quit));
        assert_eq!(km.resolve(&list, Key::ch('x')), None);
        let detail = [Detail, Global, Always];
        assert_eq!(km.resolve(&detail, Key::ch('3')), Some(Action::Pane(2)));
        assert_eq!(km.resolve(&detail, Key::plain(KeyCode::Tab)), Some(Action::NextPane));
        assert_eq!(km.resolve(&detail, Key::ch('q')), None, "q quits only from the list");
    }

    #[test]
    fn typing_contexts_take_letters() {
        let km = Keymap::default();
        let input = [Input, Always];
        assert_eq!(km.resolve(&input, Key::ch('q')), Some(Action::Input('q')));
        assert_eq!(km.resolve(&input, Key::ch('/')), Some(Action::Input('/')));
        assert_eq!(km.resolve(&input, Key::plain(KeyCode::Enter)), Some(Action::Submit));
        assert_eq!(km.resolve(&input, Key::ctrl('c')), Some(Action::Quit));
        let form = [Form, Always];
        assert_eq!(km.resolve(&form, Key::ch('j')), Some(Action::Input('j')));
        assert_eq!(km.resolve(&form, Key::plain(KeyCode::Down)), Some(Action::NextField));
    }

    #[test]
    fn remap_from_config() {
        let km = Keymap::from_config("[keys]\nfilter = \"f\"\ndelete = [\"ctrl-x\", \"D\"]\n").unwrap();
        let list = [List, Global, Always];
        assert_eq!(km.resolve(&list, Key::ch('f')), Some(Action::StartFilter));
        assert_eq!(km.resolve(&list, Key::ch('/')), None);
        assert_eq!(km.resolve(&list, Key::ch('D')), Some(Action::Delete));
        assert_eq!(km.resolve(&list, Key::ctrl('x')), Some(Action::Delete));
        assert_eq!(km.binding("filter").unwrap().keys_label(), "f");
    }

    #[test]
    fn config_errors_are_one_sentence() {
        let e = Keymap::from_config("[keys]\nfliter = \"f\"\n").unwrap_err();
        assert!(matches!(e, KeymapError::UnknownBinding { .. }));
        assert!(e.to_string().contains("fliter"));
        let e = Keymap::from_config("[keys]\nfilter = \"ctrl-\"\n").unwrap_err();
        assert!(matches!(e, KeymapError::BadKey { .. }));
        let e = Keymap::from_config("[keys]\nfilter = \"j\"\n").unwrap_err();
        assert!(matches!(e, KeymapError::Conflict { .. }), "{e}");
        let e = Keymap::from_config("[keys]\nhelp = \"q\"\n").unwrap_err();
        assert!(matches!(e, KeymapError::Conflict { .. }), "global help vs list quit: {e}");
    }

    #[test]
    fn key_parse_and_display_round_trip() {
        for s in ["ctrl-d", "esc", "enter", "shift-tab", "G", "1", "alt-x", "pgdown", "space"] {
            let k = Key::parse(s).unwrap();
            assert_eq!(Key::parse(&k.to_string()).map(|_| ()), Key::parse(s).map(|_| ()), "{s}");
        }
        assert_eq!(Key::parse("shift-g"), Some(Key::ch('G')));
        assert_eq!(Key::parse("nope"), None);
    }

    #[test]
    fn hints_hide_writes_when_readonly() {
        let km = Keymap::default();
        let ctx = [List, Global, Always];
        assert!(km.hints(&ctx, false).iter().any(|b| b.name == "create"));
        assert!(!km.hints(&ctx, true).iter().any(|b| b.write));
    }
}
