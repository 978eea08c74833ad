//! The `:` command line.

use super::action::SortColumn;
use crate::observe::view::ClusterKind;

/// Which kinds the cluster list shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum KindScope {
    #[default]
    All,
    Pxc,
    Ps,
    Pg,
}

impl KindScope {
    pub fn admits(&self, kind: &ClusterKind) -> bool {
        match self {
            KindScope::All => true,
            KindScope::Pxc => matches!(kind, ClusterKind::Pxc),
            KindScope::Ps => matches!(kind, ClusterKind::Ps { .. }),
            KindScope::Pg => matches!(kind, ClusterKind::Pg),
        }
    }
    pub fn label(&self) -> &'static str {
        match self {
            KindScope::All => "all",
            KindScope::Pxc => "pxc",
            KindScope::Ps => "ps",
            KindScope::Pg => "pg",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Clusters(KindScope),
    Backups,
    /// `None` = all namespaces.
    Namespace(Option<String>),
    Context(String),
    /// `:ns` or `:ctx` alone: choose from a list.
    Pick(super::action::PickKind),
    /// `:messages`: the status line's recent messages in full.
    Messages,
    /// `:sort COLUMN [asc|desc]`, or `:sort -COLUMN` for descending.
    Sort {
        column: SortColumn,
        descending: bool,
    },
    Help,
    Quit,
}

/// The commands with what they do, for the `?` screen.
pub const HELP: &[(&str, &str)] = &[
    (":pxc :ps :pg", "one kind of cluster"),
    (":all", "every kind again"),
    (":ns NAME | :ns all", "one namespace, or all (:ns alone picks from a list)"),
    (":ctx NAME", "another kubeconfig context (:ctx alone picks from a list)"),
    (":messages", "the recent status messages in full"),
    (":sort COLUMN [desc]", "kind namespace name state ready age backup endpoint"),
    (":backups", "every backup of the listed clusters"),
    (":help  :q", "this help, quit"),
];

pub const USAGE: &str = ":pxc :ps :pg :all :ns [NAME|all] :ctx [NAME] :sort COLUMN [desc] :backups :messages :help :q";

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CommandError {
    #[error("unknown command :{0}; try {USAGE}")]
    Unknown(String),
    #[error(":{0} needs a name, e.g. :{0} {1}")]
    MissingArg(&'static str, &'static str),
    #[error(":sort {0:?}: no such column; columns: kind, namespace, name, state, ready, age, backup, endpoint")]
    UnknownColumn(String),
    #[error(":{cmd} takes one argument, got {got:?}")]
    TooMany { cmd: String, got: String },
}

/// Parses what was typed after `:`.
pub fn parse(line: &str) -> Result<Command, CommandError> {
    let mut words = line.split_whitespace();
    let Some(head) = words.next() else {
        return Err(CommandError::Unknown(String::new()));
    };
    let arg = words.next().map(str::to_string);
    if head.eq_ignore_ascii_case("sort") {
        return parse_sort(arg.as_deref(), words.next(), words.next());
    }
    let rest: Vec<&str> = words.collect();
    if !rest.is_empty() {
        return Err(CommandError::TooMany { cmd: head.to_string(), got: rest.join(" ") });
    }
    let no_arg = |c: Command| match &arg {
        Some(a) => Err(CommandError::TooMany { cmd: head.to_string(), got: a.clone() }),
        None => Ok(c),
    };
    match head.to_lowercase().as_str() {
        "pxc" | "pxcs" | "perconaxtradbcluster" | "galera" => no_arg(Command::Clusters(KindScope::Pxc)),
        "ps" | "mysql" | "perconaservermysql" => no_arg(Command::Clusters(KindScope::Ps)),
        "pg" | "postgres" | "postgresql" | "perconapgcluster" => no_arg(Command::Clusters(KindScope::Pg)),
        "all" | "clusters" | "cl" | "db" => no_arg(Command::Clusters(KindScope::All)),
        "backups" | "backup" | "bk" => no_arg(Command::Backups),
        "ns" | "namespace" => match arg.as_deref() {
            None => Ok(Command::Pick(super::action::PickKind::Namespace)),
            Some("all" | "-A" | "*") => Ok(Command::Namespace(None)),
            Some(n) => Ok(Command::Namespace(Some(n.to_string()))),
        },
        "ctx" | "context" => match arg {
            None => Ok(Command::Pick(super::action::PickKind::Context)),
            Some(c) => Ok(Command::Context(c)),
        },
        "help" | "h" => no_arg(Command::Help),
        "messages" | "msg" | "messages!" => no_arg(Command::Messages),
        "q" | "quit" | "q!" | "exit" => no_arg(Command::Quit),
        other => Err(CommandError::Unknown(other.to_string())),
    }
}

fn parse_sort(column: Option<&str>, order: Option<&str>, extra: Option<&str>) -> Result<Command, CommandError> {
    let Some(column) = column else {
        return Err(CommandError::MissingArg("sort", "age desc"));
    };
    if let Some(x) = extra {
        return Err(CommandError::TooMany { cmd: "sort".into(), got: x.to_string() });
    }
    let (dash, word) = match column.strip_prefix('-') {
        Some(w) => (true, w),
        None => (false, column),
    };
    let column = SortColumn::parse(word).ok_or_else(|| CommandError::UnknownColumn(word.to_string()))?;
    let descending = match order.map(str::to_lowercase).as_deref() {
        None => dash,
        Some("desc" | "descending" | "down") => true,
        Some("asc" | "ascending" | "up") => false,
        Some(other) => return Err(CommandError::TooMany { cmd: "sort".into(), got: other.to_string() }),
    };
    Ok(Command::Sort { column, descending })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases() {
        assert_eq!(parse("pxc"), Ok(Command::Clusters(KindScope::Pxc)));
        assert_eq!(parse(" PS "), Ok(Command::Clusters(KindScope::Ps)));
        assert_eq!(parse("pg"), Ok(Command::Clusters(KindScope::Pg)));
        assert_eq!(parse("all"), Ok(Command::Clusters(KindScope::All)));
        assert_eq!(parse("backups"), Ok(Command::Backups));
        assert_eq!(parse("ns shop"), Ok(Command::Namespace(Some("shop".into()))));
        assert_eq!(parse("ns all"), Ok(Command::Namespace(None)));
        assert_eq!(parse("ctx prod-eu"), Ok(Command::Context("prod-eu".into())));
        assert_eq!(parse("q"), Ok(Command::Quit));
    }

    #[test]
    fn sort_by_any_column() {
        for col in SortColumn::ALL {
            assert_eq!(parse(&format!("sort {}", col.word())), Ok(Command::Sort { column: col, descending: false }));
        }
        assert_eq!(parse("sort age desc"), Ok(Command::Sort { column: SortColumn::Age, descending: true }));
        assert_eq!(parse("sort -endp"), Ok(Command::Sort { column: SortColumn::Endpoint, descending: true }));
        assert_eq!(parse("sort ns"), Ok(Command::Sort { column: SortColumn::Namespace, descending: false }));
        assert_eq!(parse("sort sta"), Ok(Command::Sort { column: SortColumn::State, descending: false }));
        assert!(
            matches!(parse("sort na"), Err(CommandError::UnknownColumn(_))),
            "n and na start both name and namespace"
        );
        assert!(matches!(parse("sort size"), Err(CommandError::UnknownColumn(_))));
        assert!(matches!(parse("sort"), Err(CommandError::MissingArg(..))));
        assert!(matches!(parse("sort age sideways"), Err(CommandError::TooMany { .. })));
    }

    #[test]
    fn errors() {
        assert!(matches!(parse("pods"), Err(CommandError::Unknown(_))));
        assert!(parse("pods").unwrap_err().to_string().contains(":pxc"));
        assert_eq!(parse("ns"), Ok(Command::Pick(super::super::action::PickKind::Namespace)));
        assert_eq!(parse("ctx"), Ok(Command::Pick(super::super::action::PickKind::Context)));
        assert!(matches!(parse("ns a b"), Err(CommandError::TooMany { .. })));
        assert!(matches!(parse("pxc extra"), Err(CommandError::TooMany { .. })));
        assert!(parse("").is_err());
    }
}
