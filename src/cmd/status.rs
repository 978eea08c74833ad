//! `dbdeck status`: the console's cluster views, printed once (a table, or stable JSON/YAML for scripts).

use chrono::{DateTime, Utc};

use crate::cli::{ConsoleArgs, GlobalArgs, StatusArgs, StatusFormat};
use crate::cmd::kubeclient;
use crate::console::views::age;
use crate::observe::build::build_all;
use crate::observe::live::{Scope, list_world};
use crate::observe::view::ClusterView;

/// The scope the flags ask for: `-A`, `-n NS`, or the context's namespace.
pub fn scope(global: &GlobalArgs, client: &kube::Client) -> Scope {
    if global.all_namespaces {
        Scope::All
    } else {
        Scope::Namespace(global.namespace.clone().unwrap_or_else(|| client.default_namespace().to_string()))
    }
}

/// The table `-o text` prints.
pub fn table(views: &[ClusterView], now: DateTime<Utc>) -> String {
    let header = ["KIND", "NAMESPACE", "NAME", "STATE", "READY", "ENDPOINT", "AGE", "LAST BACKUP"];
    let rows: Vec<[String; 8]> = views
        .iter()
        .map(|v| {
            let ready =
                v.components.iter().map(|c| format!("{} {}/{}", c.name, c.ready, c.size)).collect::<Vec<_>>().join(" ");
            [
                v.kind.label().to_string(),
                v.namespace.clone(),
                v.name.clone(),
                v.display_state().to_string(),
                if ready.is_empty() { "—".into() } else { ready },
                v.host.clone().unwrap_or_else(|| "—".into()),
                age(now, v.created),
                v.last_successful_backup.map(|t| age(now, Some(t))).unwrap_or_else(|| "—".into()),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut out = String::new();
        for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                out.push_str(c);
            } else {
                out.push_str(&format!("{c:<w$}   "));
            }
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = line(&header.map(String::from));
    for r in &rows {
        out.push_str(&line(r));
    }
    out
}

/// Why-not-ready lines for one cluster (`dbdeck status NAME`).
fn reasons(v: &ClusterView) -> String {
    let mut out = String::new();
    if let Some(r) = &v.state_reason {
        out.push_str(&format!("\n{}/{}: {r}\n", v.kind.short(), v.name));
    }
    for r in &v.why_not_ready {
        out.push_str(&format!("  {:?} {}: {}\n", r.kind, r.source, r.message));
    }
    out
}

pub async fn run(global: &GlobalArgs, console: &ConsoleArgs, args: &StatusArgs) -> color_eyre::Result<i32> {
    let conn = kubeclient::connect(global).await?;
    let scope = scope(global, &conn.client);
    if conn.sandbox.is_some() {
        let ns = match &scope {
            Scope::Namespace(ns) => ns.clone(),
            Scope::All => conn.client.default_namespace().to_string(),
        };
        crate::console::seed::seed(conn.client.clone(), &ns, !console.empty).await?;
    }
    let result = list_world(&conn.client, &scope).await;
    if let Some(sandbox) = conn.sandbox {
        sandbox.shutdown().await;
    }
    let now = Utc::now();
    let mut views = build_all(&result?, now);
    if let Some(name) = &args.name {
        views.retain(|v| &v.name == name);
        if views.is_empty() {
            let where_ = match &scope {
                Scope::Namespace(ns) => format!("namespace {ns}"),
                Scope::All => "any namespace".into(),
            };
            eprintln!("dbdeck: no cluster named {name} in {where_}");
            return Ok(1);
        }
    }
    match args.output {
        StatusFormat::Json => println!("{}", serde_json::to_string_pretty(&views)?),
        StatusFormat::Yaml => print!("{}", serde_yaml::to_string(&views)?),
        StatusFormat::Text if views.is_empty() => println!("No clusters found."),
        StatusFormat::Text => {
            print!("{}", table(&views, now));
            if args.name.is_some() {
                views.iter().for_each(|v| print!("{}", reasons(v)));
            }
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::view::{ClusterKind, ComponentKind, ComponentView};

    #[test]
    fn table_aligns_columns() {
        let now = Utc::now();
        let mut v = ClusterView::new(ClusterKind::Pxc, "db", "shop-db");
        v.components.push(ComponentView {
            kind: ComponentKind::Pxc,
            name: "pxc".into(),
            size: 3,
            ready: 1,
            status: String::new(),
        });
        let t = table(&[v, ClusterView::new(ClusterKind::Pg, "db", "o")], now);
        let lines: Vec<_> = t.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("KIND   NAMESPACE   NAME      STATE     READY"), "{t}");
        assert!(lines[1].contains("shop-db   unknown   pxc 1/3"), "{t}");
        assert!(lines[2].starts_with("pg     db          o         unknown   —"), "{t}");
    }
}
