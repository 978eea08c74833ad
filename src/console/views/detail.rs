//! The cluster detail screen: a summary, then six panes (1–6): topology, why not ready, PVCs, backups,
//! events, conditions.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, BorderType, Cell, Paragraph, Row, Table, TableState};

use super::list::backup_state_style;
use super::{age, lag_text, sparkline, until};
use crate::console::action::ClusterRef;
use crate::console::app::{App, Pane};
use crate::console::theme::Theme;
use crate::observe::view::{
    Behind, ClusterKind, ClusterView, ComponentKind, ComponentView, LagView, MemberView, ReasonKind, Role,
};

pub fn draw(app: &App, r: &ClusterRef, theme: &Theme, frame: &mut Frame, area: Rect) {
    let Some(c) = app.cluster(r) else {
        let p = Paragraph::new(vec![
            Line::from(Span::styled(
                format!("{} {}/{} is gone: it was deleted.", r.kind.short(), r.namespace, r.name),
                theme.accent(),
            )),
            Line::from(Span::styled("esc goes back to the list.", theme.muted())),
        ])
        .block(pane_block(Line::from(" detail "), theme));
        frame.render_widget(p, area);
        return;
    };
    let summary = summary_lines(app, c, theme);
    let [top, tabs, body] =
        Layout::vertical([Constraint::Length(summary.len() as u16 + 2), Constraint::Length(1), Constraint::Min(3)])
            .areas(area);
    let title = Line::from(vec![
        Span::styled(format!(" {} ", c.kind.label()), theme.muted()),
        Span::styled(format!("{}/{} ", c.namespace, c.name), theme.accent()),
    ]);
    let summary_block = pane_block(title, theme).padding(ratatui::widgets::Padding::horizontal(1));
    frame.render_widget(Paragraph::new(summary).block(summary_block), top);
    frame.render_widget(Paragraph::new(tab_line(app, c, theme)), tabs);
    let block = pane_block(Line::from(Span::styled(format!(" {} ", app.pane.title()), theme.accent())), theme)
        .padding(ratatui::widgets::Padding::horizontal(1));
    let inner = block.inner(body);
    frame.render_widget(block, body);
    match app.pane {
        Pane::Topology => {
            let lines = topology(app, c, theme);
            frame.render_widget(Paragraph::new(Text::from(lines)).scroll((app.detail_scroll, 0)), inner)
        }
        Pane::WhyNotReady => frame.render_widget(
            Paragraph::new(Text::from(why_not_ready(app, c, theme))).scroll((app.detail_scroll, 0)),
            inner,
        ),
        Pane::Pvcs => pvcs(app, c, theme, frame, inner),
        Pane::Backups => backups(app, c, theme, frame, inner),
        Pane::Events => events(app, c, theme, frame, inner),
        Pane::Conditions => conditions(app, c, theme, frame, inner),
    }
}

fn pane_block<'a>(title: Line<'a>, theme: &Theme) -> Block<'a> {
    Block::bordered().border_type(BorderType::Rounded).border_style(theme.border()).title(title)
}

fn label(t: &str, theme: &Theme) -> Span<'static> {
    Span::styled(format!("{t} "), theme.muted())
}

fn value(t: impl Into<String>, theme: &Theme) -> Span<'static> {
    Span::styled(t.into(), Style::default().fg(theme.fg))
}

fn summary_lines(app: &App, c: &ClusterView, theme: &Theme) -> Vec<Line<'static>> {
    let state = Span::styled(c.display_state().to_string(), theme.health(c.health()).add_modifier(Modifier::BOLD));
    let mut first = vec![label("state", theme), state];
    if c.paused {
        first.push(Span::styled(" (paused)", Style::default().fg(theme.warn)));
    }
    first.extend([
        Span::raw("   "),
        label("endpoint", theme),
        value(c.host.clone().unwrap_or_else(|| "—".into()), theme),
        Span::raw("   "),
        label("age", theme),
        value(age(app.now, c.created), theme),
    ]);
    if let Some(v) = &c.version {
        first.extend([Span::raw("   "), label("version", theme), value(v.clone(), theme)]);
    }
    let mut second = vec![label("ready", theme)];
    for (i, comp) in c.components.iter().enumerate() {
        if i > 0 {
            second.push(Span::raw("  "));
        }
        second.push(Span::styled(
            format!("{}/{}", comp.ready, comp.size),
            Style::default().fg(count_colour(comp, theme)),
        ));
        second.push(Span::styled(format!(" {}", comp.name), theme.muted()));
    }
    second.extend([Span::raw("   "), label("last backup", theme)]);
    match c.last_successful_backup {
        Some(t) => second.push(value(format!("{} ago", age(app.now, Some(t))), theme)),
        None => second.push(Span::styled("never", Style::default().fg(theme.warn))),
    }
    if let Some(n) = &c.next_scheduled_backup {
        second.extend([
            Span::raw("   "),
            label("next backup", theme),
            value(format!("{} {}", n.schedule_name, until(app.now, n.at)), theme),
            Span::styled(n.storage.as_ref().map(|s| format!(" → {s}")).unwrap_or_default(), theme.muted()),
        ]);
    }
    let mut lines = vec![Line::from(first), Line::from(second)];
    if let Some(t) = c.deleting {
        let blockers = if c.finalizers.is_empty() { "no finalizers left".to_string() } else { c.finalizers.join(", ") };
        lines.push(Line::from(vec![
            Span::styled(
                format!("▲ deleting for {} ", age(app.now, Some(t))),
                Style::default().fg(theme.warn).add_modifier(Modifier::BOLD),
            ),
            Span::styled("— waiting on finalizers: ", theme.muted()),
            Span::styled(blockers, Style::default().fg(theme.warn)),
        ]));
    } else if let Some(reason) = &c.state_reason {
        // Wrapped under its label: the operator's message can be long.
        let room = (app.width as usize).saturating_sub(4 + 7).max(20);
        for (i, l) in super::wrap(reason, room).into_iter().enumerate() {
            let head = if i == 0 { label("reason", theme) } else { Span::raw("       ") };
            lines.push(Line::from(vec![head, Span::styled(l, theme.health(c.health()))]));
        }
    }
    lines
}

fn count_colour(comp: &ComponentView, theme: &Theme) -> ratatui::style::Color {
    if comp.size == 0 {
        theme.muted
    } else if comp.ready >= comp.size {
        theme.ok
    } else if comp.ready == 0 {
        theme.error
    } else {
        theme.warn
    }
}

fn tab_line(app: &App, c: &ClusterView, theme: &Theme) -> Line<'static> {
    let mut spans = vec![Span::raw(" ")];
    for (i, p) in Pane::ALL.iter().enumerate() {
        let count = match p {
            Pane::Topology => c.members.len(),
            Pane::WhyNotReady => c.why_not_ready.len(),
            Pane::Pvcs => c.pvcs.len(),
            Pane::Backups => c.backups.len(),
            Pane::Events => c.events.len(),
            Pane::Conditions => c.conditions.len(),
        };
        let text = if count > 0 && *p != Pane::Topology {
            format!(" {} {} ({count}) ", i + 1, p.title())
        } else {
            format!(" {} {} ", i + 1, p.title())
        };
        let style = if *p == app.pane {
            theme.selection().add_modifier(Modifier::BOLD)
        } else if *p == Pane::WhyNotReady && count > 0 {
            Style::default().fg(theme.warn)
        } else {
            theme.muted()
        };
        spans.push(Span::styled(text, style));
        spans.push(Span::styled("│", theme.border()));
    }
    Line::from(spans)
}

// ---- topology ----

struct Widths {
    pod: usize,
    node: usize,
    zone: usize,
}

fn role_style(role: Option<Role>, theme: &Theme) -> Style {
    match role {
        Some(r) if r.is_writer() => Style::default().fg(theme.primary_role).add_modifier(Modifier::BOLD),
        Some(Role::GaleraMember) => Style::default().fg(theme.primary_role),
        Some(r) if r.is_follower() => Style::default().fg(theme.replica_role),
        Some(_) => Style::default().fg(theme.proxy_role),
        None => theme.muted(),
    }
}

fn lag_style(lag: &LagView, theme: &Theme) -> Style {
    match lag {
        LagView::Known { seconds, .. } if *seconds >= 60.0 => Style::default().fg(theme.error),
        LagView::Known { seconds, .. } if *seconds >= 10.0 => Style::default().fg(theme.warn),
        LagView::Known { .. } => Style::default().fg(theme.ok),
        // Behind by an amount with no time figure (a stopped applier, a Galera member behind its peers).
        LagView::Amount { behind: Behind::Bytes(0) | Behind::Transactions(0), .. } => Style::default().fg(theme.ok),
        LagView::Amount { .. } => Style::default().fg(theme.warn),
        _ => theme.muted(),
    }
}

/// One pod row. `branch` replaces the role glyph with a tree branch (`├▶`, `└▶`) for followers, so every
/// column stays aligned whatever the shape.
fn member_line(app: &App, m: &MemberView, branch: Option<&str>, w: &Widths, theme: &Theme) -> Line<'static> {
    let (glyph, role) = match m.role {
        Some(Role::Source | Role::Primary) => ("★ ", m.role.map(|r| r.label()).unwrap_or("")),
        Some(Role::GaleraMember) => ("◆ ", "galera"),
        Some(r) => ("● ", r.label()),
        None => ("? ", "role ?"),
    };
    let glyph = branch.unwrap_or(glyph);
    // A server that stopped replicating is not ready whatever its readiness probe says.
    let ready = if m.replication_error.is_some() {
        Span::styled(format!("{:<9}", "✗ repl"), Style::default().fg(theme.error))
    } else if m.ready {
        Span::styled(format!("{:<9}", "✓ ready"), Style::default().fg(theme.ok))
    } else {
        Span::styled(format!("{:<9}", format!("✗ {}", m.phase.to_lowercase())), Style::default().fg(theme.error))
    };
    let restarts_style = if m.restarts > 0 { Style::default().fg(theme.warn) } else { theme.muted() };
    let mut spans = vec![
        Span::styled("  │ ", theme.border()),
        Span::styled(glyph.to_string(), if branch.is_some() { theme.border() } else { role_style(m.role, theme) }),
        Span::styled(format!(" {role:<13}"), role_style(m.role, theme)),
        Span::styled(format!("{:<w$}  ", m.pod, w = w.pod), Style::default().fg(theme.fg)),
        Span::styled(format!("{:<w$}  ", m.node.as_deref().unwrap_or("—"), w = w.node), theme.muted()),
        Span::styled(format!("{:<w$}  ", m.zone.as_deref().unwrap_or("—"), w = w.zone), theme.muted()),
        ready,
        Span::styled(format!("{:>3}  ", m.restarts), restarts_style),
        Span::styled(format!("{:>4}  ", age(app.now, m.started)), Style::default().fg(theme.fg)),
    ];
    let lag = lag_text(&m.lag);
    if !lag.is_empty() {
        spans.push(Span::styled(format!("{lag:<16}"), lag_style(&m.lag, theme)));
        if !m.lag_history.is_empty() {
            spans.push(Span::styled(sparkline(&m.lag_history, 12), Style::default().fg(theme.sparkline)));
        }
    }
    Line::from(spans)
}

fn section_title(text: String, comp: Option<&ComponentView>, note: &str, theme: &Theme) -> Line<'static> {
    let mut spans = vec![Span::styled("  ┌ ", theme.border()), Span::styled(text, theme.accent())];
    if let Some(comp) = comp {
        spans.push(Span::styled(
            format!(" {}/{}", comp.ready, comp.size),
            Style::default().fg(count_colour(comp, theme)),
        ));
    }
    if !note.is_empty() {
        spans.push(Span::styled(format!("  {note}"), theme.muted()));
    }
    Line::from(spans)
}

fn columns_line(w: &Widths, theme: &Theme) -> Line<'static> {
    Line::from(Span::styled(
        format!(
            "       {:<14}{:<pw$}  {:<nw$}  {:<zw$}  {:<9}{:>3}  {:>4}  {}",
            "ROLE",
            "POD",
            "NODE",
            "ZONE",
            "READY",
            "RST",
            "AGE",
            "LAG",
            pw = w.pod,
            nw = w.node,
            zw = w.zone
        ),
        theme.muted().add_modifier(Modifier::BOLD),
    ))
}

fn topology(app: &App, c: &ClusterView, theme: &Theme) -> Vec<Line<'static>> {
    let w = Widths {
        pod: c.members.iter().map(|m| m.pod.len()).max().unwrap_or(3).max(3),
        node: c.members.iter().map(|m| m.node.as_deref().unwrap_or("—").chars().count()).max().unwrap_or(4).max(4),
        zone: c.members.iter().map(|m| m.zone.as_deref().unwrap_or("—").chars().count()).max().unwrap_or(4).max(4),
    };
    let mut lines = Vec::new();
    if c.members.is_empty() && c.components.is_empty() {
        lines.push(Line::from(Span::styled("No pods yet: the operator has not created the workloads.", theme.muted())));
        return lines;
    }
    lines.push(columns_line(&w, theme));
    let members_of = |comp: &ComponentView| c.members.iter().filter(|m| m.component == comp.name).collect::<Vec<_>>();
    let proxies: Vec<&ComponentView> = c.components.iter().filter(|x| x.kind.is_proxy() && x.size > 0).collect();
    let databases: Vec<&ComponentView> = c.components.iter().filter(|x| x.kind.is_database()).collect();
    let others: Vec<&ComponentView> =
        c.components.iter().filter(|x| !x.kind.is_proxy() && !x.kind.is_database() && x.size > 0).collect();

    if let Some(host) = &c.host {
        lines.push(Line::from(vec![
            Span::styled("  clients ─▶ ", theme.muted()),
            Span::styled(host.clone(), Style::default().fg(theme.fg).add_modifier(Modifier::BOLD)),
        ]));
    }
    for comp in &proxies {
        let note = match comp.kind {
            ComponentKind::Haproxy => "routes writes to one member, reads to all",
            ComponentKind::Proxysql => "SQL-aware proxy",
            ComponentKind::Router => "MySQL Router: follows the group's primary",
            ComponentKind::Pgbouncer => "connection pooler in front of the primary",
            _ => "",
        };
        lines.push(section_title(comp.name.clone(), Some(comp), note, theme));
        for m in members_of(comp) {
            lines.push(member_line(app, m, None, &w, theme));
        }
    }
    if !proxies.is_empty() {
        lines.push(Line::from(Span::styled("  │", theme.border())));
        lines.push(Line::from(Span::styled("  ▼", theme.border())));
    }
    for comp in &databases {
        let members = members_of(comp);
        let note = match c.kind {
            ClusterKind::Pxc => "Galera: synchronous, every member can take writes",
            ClusterKind::Ps { cluster_type: crate::observe::view::PsClusterType::Async } => "asynchronous replication",
            ClusterKind::Ps { .. } => "group replication",
            ClusterKind::Pg => "Patroni streaming replication",
        };
        lines.push(section_title(comp.name.clone(), Some(comp), note, theme));
        if c.kind == ClusterKind::Pxc && !members.is_empty() {
            // The shape of a Galera cluster: peers side by side.
            let mut ring = vec![Span::styled("  │   ", theme.border())];
            for (i, m) in members.iter().enumerate() {
                if i > 0 {
                    ring.push(Span::styled(" ═══ ", theme.border()));
                }
                let colour = if m.ready { theme.primary_role } else { theme.error };
                ring.push(Span::styled(format!("◆ {}", m.pod), Style::default().fg(colour)));
            }
            lines.push(Line::from(ring));
            lines.push(Line::from(Span::styled("  │", theme.border())));
            for m in &members {
                lines.push(member_line(app, m, None, &w, theme));
            }
        } else {
            // Writers first, then their followers as a tree; members whose role is unknown last.
            let writers: Vec<_> = members.iter().filter(|m| m.role.is_some_and(|r| r.is_writer())).collect();
            let followers: Vec<_> = members.iter().filter(|m| m.role.is_some_and(|r| r.is_follower())).collect();
            let rest: Vec<_> =
                members.iter().filter(|m| !m.role.is_some_and(|r| r.is_writer() || r.is_follower())).collect();
            for m in &writers {
                lines.push(member_line(app, m, None, &w, theme));
            }
            for (i, m) in followers.iter().enumerate() {
                let branch = if writers.is_empty() {
                    None
                } else if i + 1 == followers.len() {
                    Some("└▶")
                } else {
                    Some("├▶")
                };
                lines.push(member_line(app, m, branch, &w, theme));
            }
            for m in &rest {
                lines.push(member_line(app, m, None, &w, theme));
            }
        }
    }
    for comp in &others {
        let note = match comp.kind {
            ComponentKind::Orchestrator => "watches replication and promotes a replica on failure",
            ComponentKind::RepoHost => "pgBackRest repository host",
            _ => "",
        };
        lines.push(Line::default());
        lines.push(section_title(comp.name.clone(), Some(comp), note, theme));
        for m in members_of(comp) {
            lines.push(member_line(app, m, None, &w, theme));
        }
    }
    // Pods whose component the status does not list are still shown, never silently dropped.
    let orphans: Vec<&MemberView> =
        c.members.iter().filter(|m| !c.components.iter().any(|comp| comp.name == m.component)).collect();
    if !orphans.is_empty() {
        lines.push(Line::default());
        lines.push(section_title("other pods".into(), None, "not part of a component in the status", theme));
        for m in orphans {
            lines.push(member_line(app, m, None, &w, theme));
        }
    }
    // Unknown lags are explained, never guessed.
    let unknown: Vec<(&str, &str)> = c
        .members
        .iter()
        .filter_map(|m| match &m.lag {
            LagView::Unknown { reason } => Some((m.pod.as_str(), reason.as_str())),
            _ => None,
        })
        .collect();
    if !unknown.is_empty() {
        lines.push(Line::default());
        for (pods, reason) in group_reasons(&unknown) {
            lines.push(Line::from(vec![
                Span::styled(" LAG — ", Style::default().fg(theme.info)),
                Span::styled(format!("{}:", pods.join(", ")), Style::default().fg(theme.fg)),
            ]));
            for chunk in wrap_words(&reason, NOTE_WIDTH) {
                lines.push(Line::from(Span::styled(format!("       {chunk}"), theme.muted())));
            }
        }
    }
    lines.extend(db_notes(app, c, theme));
    lines
}

/// Notes under the topology wrap at this many characters, so a long server message is read in full on any
/// screen the member table itself fits on (and the pane's row count stays independent of the terminal).
const NOTE_WIDTH: usize = 100;

/// Pods whose reasons say the same once their own name is taken out, as one entry: three members behind the
/// same closed port are one line to read, not three near-identical ones.
fn group_reasons(unknown: &[(&str, &str)]) -> Vec<(Vec<String>, String)> {
    let mut out: Vec<(Vec<String>, String)> = Vec::new();
    for (pod, reason) in unknown {
        let general = reason.replace(pod, "<pod>");
        match out.iter_mut().find(|(_, r)| *r == general) {
            Some((pods, _)) => pods.push(pod.to_string()),
            None => out.push((vec![pod.to_string()], general)),
        }
    }
    // A reason that only one pod has keeps its pod's name in the text.
    for (pods, reason) in &mut out {
        if pods.len() == 1 {
            *reason = reason.replace("<pod>", &pods[0]);
        }
    }
    out
}

/// Greedy word wrap; a word longer than `width` gets a line of its own.
fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for word in text.split_whitespace() {
        if !cur.is_empty() && cur.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

fn merge_notes(lag: &LagView, reading: &crate::observe::facts::MemberFacts) -> Vec<String> {
    match lag {
        LagView::Unknown { .. } => Vec::new(),
        _ => crate::observe::merge::member_notes(lag, Some(reading)),
    }
}

/// What the databases said beyond the lag figure: each reading's state and age, why a lag is only an amount,
/// and the problems a server reported (a stopped thread, paused replay, a non-primary component).
fn db_notes(app: &App, c: &ClusterView, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    for m in &c.members {
        let Some(reading) = c.facts_of(&m.pod) else { continue };
        let Some(f) = reading.facts() else { continue };
        // The lag's own reason is already on the LAG line above; here the amount note and the problems.
        let notes = merge_notes(&m.lag, reading);
        let style = if f.problems.is_empty() { theme.muted() } else { Style::default().fg(theme.warn) };
        if lines.is_empty() {
            lines.push(Line::default());
        }
        let mut spans = vec![
            Span::styled(" DB  ", Style::default().fg(theme.info)),
            Span::styled(format!("{}: ", m.pod), Style::default().fg(theme.fg)),
            Span::styled(format!("{} (read {} ago)", f.state, age(app.now, Some(reading.read_at))), theme.muted()),
        ];
        if !notes.is_empty() {
            spans.push(Span::styled(format!(" · {}", notes.join("; ")), style));
        }
        lines.push(Line::from(spans));
    }
    lines
}

// ---- why not ready ----

fn why_not_ready(app: &App, c: &ClusterView, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    if c.why_not_ready.is_empty() {
        let text = if c.deleting.is_some() {
            "Deletion is in progress; nothing blocks it.".to_string()
        } else if c.health() == crate::observe::view::Health::Ok {
            "Nothing: the cluster is ready.".to_string()
        } else {
            format!("The operator reported no reason yet (state {}).", c.display_state())
        };
        lines.push(Line::from(Span::styled(text, theme.muted())));
        return lines;
    }
    for r in &c.why_not_ready {
        let (glyph, tag, colour) = match r.kind {
            ReasonKind::Unschedulable => ("✖", "UNSCHEDULABLE", theme.error),
            ReasonKind::Pod => ("✖", "POD", theme.error),
            ReasonKind::Condition => ("▲", "CONDITION", theme.warn),
            ReasonKind::Finalizer => ("⧗", "FINALIZER", theme.warn),
            ReasonKind::Validation => ("✖", "INVALID SPEC", theme.error),
            ReasonKind::Component => ("▲", "COMPONENT", theme.warn),
            ReasonKind::Node => ("✖", "NODE", theme.error),
            ReasonKind::Claim => ("✖", "CLAIM", theme.error),
            ReasonKind::Replication => ("✖", "REPLICATION", theme.error),
        };
        lines.push(Line::from(vec![
            Span::styled(format!(" {glyph} {tag:<14}"), Style::default().fg(colour).add_modifier(Modifier::BOLD)),
            Span::styled(r.source.clone(), Style::default().fg(theme.fg).add_modifier(Modifier::BOLD)),
        ]));
        // Wrapped to the pane (the terminal less the borders and the indent), so a long message reads whole.
        let room = (app.width as usize).saturating_sub(4 + 18).max(20);
        for l in super::wrap(&r.message, room) {
            lines.push(Line::from(Span::styled(format!("                  {l}"), Style::default().fg(theme.fg))));
        }
        if r.kind == ReasonKind::Finalizer {
            let what = if r.source.ends_with("pvc") {
                "the operator deletes the PVCs (and their data) before the cluster can go"
            } else {
                "the operator finishes its cleanup before the cluster can go"
            };
            lines.push(Line::from(Span::styled(format!("                  {what}"), theme.muted())));
        }
    }
    lines
}

// ---- tables ----

fn table_header(cols: &[&'static str], theme: &Theme) -> Row<'static> {
    Row::new(cols.iter().map(|h| Cell::from(*h).style(theme.muted().add_modifier(Modifier::BOLD))).collect::<Vec<_>>())
}

fn render_table(
    rows: Vec<Row<'static>>,
    header: Row<'static>,
    widths: &[Constraint],
    app: &App,
    theme: &Theme,
    frame: &mut Frame,
    area: Rect,
) {
    let table = Table::new(rows, widths.to_vec()).header(header).column_spacing(2).style(Style::default().fg(theme.fg));
    let mut state = TableState::default().with_offset(app.detail_scroll as usize);
    frame.render_stateful_widget(table, area, &mut state);
}

/// A table whose rows are chosen (↑/↓) and opened in full with enter: the selected row is highlighted.
fn render_selectable(
    rows: Vec<Row<'static>>,
    header: Row<'static>,
    widths: &[Constraint],
    app: &App,
    theme: &Theme,
    frame: &mut Frame,
    area: Rect,
) {
    let table = Table::new(rows, widths.to_vec())
        .header(header)
        .column_spacing(2)
        .style(Style::default().fg(theme.fg))
        .row_highlight_style(theme.selection())
        .highlight_symbol("▌");
    let mut state = TableState::default().with_selected(Some(app.detail_scroll as usize));
    frame.render_stateful_widget(table, area, &mut state);
}

/// The width left for a table's last column after the fixed ones, the spacing and the selection marker.
fn rest_width(area: Rect, fixed: &[u16]) -> usize {
    let used: usize = fixed.iter().map(|w| *w as usize).sum::<usize>() + 2 * fixed.len() + 1;
    (area.width as usize).saturating_sub(used).max(8)
}

fn empty(text: &str, theme: &Theme, frame: &mut Frame, area: Rect) {
    frame.render_widget(Paragraph::new(Span::styled(text.to_string(), theme.muted())), area);
}

fn pvcs(app: &App, c: &ClusterView, theme: &Theme, frame: &mut Frame, area: Rect) {
    if c.pvcs.is_empty() {
        return empty("No PVCs for this cluster.", theme, frame, area);
    }
    let rows = c
        .pvcs
        .iter()
        .map(|p| {
            let phase_colour = match p.phase.as_str() {
                "Bound" => theme.ok,
                "Pending" => theme.warn,
                _ => theme.error,
            };
            // Capacity is what the volume has, request what the claim asks: they differ while a resize runs
            // or when the provisioner rounded up, and a DBA wants to see both.
            let capacity = match &p.capacity {
                Some(cap) => Span::raw(cap.clone()),
                None => Span::styled("— (not bound)", theme.muted()),
            };
            let request_style = match (&p.capacity, &p.request) {
                (Some(cap), Some(req)) if cap != req => Style::default().fg(theme.info),
                _ => Style::default().fg(theme.fg),
            };
            let request = Span::styled(p.request.clone().unwrap_or_else(|| "—".into()), request_style);
            Row::new(vec![
                Cell::from(p.name.clone()),
                Cell::from(Span::styled(p.phase.clone(), Style::default().fg(phase_colour))),
                Cell::from(capacity),
                Cell::from(request),
                Cell::from(Span::styled(p.storage_class.clone().unwrap_or_else(|| "(default)".into()), theme.muted())),
                Cell::from(if p.resizing {
                    Span::styled("resizing", Style::default().fg(theme.info))
                } else {
                    Span::raw("")
                }),
                Cell::from(p.used_by.clone().unwrap_or_else(|| "— (unused)".into())),
            ])
        })
        .collect();
    let w = c.pvcs.iter().map(|p| p.name.chars().count()).max().unwrap_or(4) as u16;
    render_table(
        rows,
        table_header(&["NAME", "PHASE", "CAPACITY", "REQUEST", "CLASS", "RESIZE", "USED BY"], theme),
        &[
            Constraint::Length(w),
            Constraint::Length(8),
            Constraint::Length(13),
            Constraint::Length(8),
            Constraint::Length(12),
            Constraint::Length(8),
            Constraint::Min(10),
        ],
        app,
        theme,
        frame,
        area,
    );
}

fn backups(app: &App, c: &ClusterView, theme: &Theme, frame: &mut Frame, area: Rect) {
    let mut foot = Vec::new();
    match &c.next_scheduled_backup {
        Some(n) => foot.push(Line::from(vec![
            label("next scheduled", theme),
            value(format!("{} ({}) ", n.schedule_name, n.cron), theme),
            Span::styled(until(app.now, n.at), theme.accent()),
            Span::styled(n.storage.as_ref().map(|s| format!(" → {s}")).unwrap_or_default(), theme.muted()),
        ])),
        None => foot.push(Line::from(Span::styled("No backup schedule.", Style::default().fg(theme.warn)))),
    }
    let restores_h = if c.restores.is_empty() { 0 } else { c.restores.len() as u16 + 2 };
    let [table_area, restore_area, foot_area] =
        Layout::vertical([Constraint::Min(2), Constraint::Length(restores_h), Constraint::Length(foot.len() as u16)])
            .areas(area);
    frame.render_widget(Paragraph::new(foot), foot_area);
    if c.backups.is_empty() {
        empty("No backups yet. b starts an on-demand backup.", theme, frame, table_area);
    } else {
        let w = c.backups.iter().map(|b| b.name.chars().count()).max().unwrap_or(4) as u16;
        let dw = rest_width(table_area, &[w, 10, 12, 7, 9, 7]);
        let rows = c
            .backups
            .iter()
            .map(|b| {
                let took = match (b.started, b.completed) {
                    (Some(s), Some(e)) => super::duration((e - s).num_seconds() as f64),
                    _ => "—".into(),
                };
                let detail = match &b.error {
                    Some(e) => Span::styled(super::ellipsize(e, dw), Style::default().fg(theme.error)),
                    None => Span::styled(super::ellipsize(b.destination.as_deref().unwrap_or("—"), dw), theme.muted()),
                };
                Row::new(vec![
                    Cell::from(b.name.clone()),
                    Cell::from(Span::styled(b.state.clone(), backup_state_style(&b.state, theme))),
                    Cell::from(b.storage.clone().unwrap_or_else(|| "—".into())),
                    Cell::from(age(app.now, b.started)),
                    Cell::from(age(app.now, b.completed)),
                    Cell::from(took),
                    Cell::from(detail),
                ])
            })
            .collect();
        render_selectable(
            rows,
            table_header(&["NAME", "STATE", "STORAGE", "STARTED", "COMPLETED", "TOOK", "DESTINATION / ERROR"], theme),
            &[
                Constraint::Length(w),
                Constraint::Length(10),
                Constraint::Length(12),
                Constraint::Length(7),
                Constraint::Length(9),
                Constraint::Length(7),
                Constraint::Min(10),
            ],
            app,
            theme,
            frame,
            table_area,
        );
    }
    if !c.restores.is_empty() {
        let sw = c.restores.iter().map(|r| r.state.chars().count()).max().unwrap_or(5).clamp(5, 24);
        let rows = c
            .restores
            .iter()
            .map(|r| {
                Row::new(vec![
                    Cell::from(r.name.clone()),
                    Cell::from(Span::styled(super::ellipsize(&r.state, sw), backup_state_style(&r.state, theme))),
                    Cell::from(r.backup.clone().unwrap_or_else(|| "—".into())),
                    Cell::from(age(app.now, r.started)),
                    Cell::from(Span::styled(r.error.clone().unwrap_or_default(), Style::default().fg(theme.error))),
                ])
            })
            .collect::<Vec<_>>();
        let table = Table::new(
            rows,
            [
                Constraint::Min(12),
                Constraint::Length(sw as u16),
                Constraint::Min(12),
                Constraint::Length(7),
                Constraint::Min(10),
            ],
        )
        .header(table_header(&["RESTORE", "STATE", "FROM BACKUP", "STARTED", "ERROR"], theme))
        .column_spacing(2)
        .style(Style::default().fg(theme.fg));
        frame.render_widget(table, restore_area);
    }
}

fn events(app: &App, c: &ClusterView, theme: &Theme, frame: &mut Frame, area: Rect) {
    if c.events.is_empty() {
        return empty("No events for the cluster or its objects.", theme, frame, area);
    }
    let rw = c.events.iter().map(|e| e.reason.chars().count()).max().unwrap_or(6).max(6) as u16;
    let ow = (c.events.iter().map(|e| e.object.chars().count()).max().unwrap_or(6).max(6) as u16).min(40);
    let fixed = [7, rw, ow, 4, 5];
    let mw = rest_width(area, &fixed);
    let rows = c
        .events
        .iter()
        .map(|e| {
            let colour = if e.type_ == "Warning" { theme.warn } else { theme.muted };
            Row::new(vec![
                Cell::from(Span::styled(e.type_.clone(), Style::default().fg(colour))),
                Cell::from(e.reason.clone()),
                Cell::from(Span::styled(super::ellipsize(&e.object, ow as usize), theme.muted())),
                Cell::from(age(app.now, e.last_seen)),
                Cell::from(Line::from(e.count.to_string()).right_aligned()),
                // Cut with `…` where it does not fit; enter shows it whole.
                Cell::from(super::ellipsize(&e.message.replace('\n', " "), mw)),
            ])
        })
        .collect();
    render_selectable(
        rows,
        table_header(&["TYPE", "REASON", "OBJECT", "AGE", "COUNT", "MESSAGE"], theme),
        &[
            Constraint::Length(7),
            Constraint::Length(rw),
            Constraint::Length(ow),
            Constraint::Length(4),
            Constraint::Length(5),
            Constraint::Min(8),
        ],
        app,
        theme,
        frame,
        area,
    );
}

fn conditions(app: &App, c: &ClusterView, theme: &Theme, frame: &mut Frame, area: Rect) {
    if c.conditions.is_empty() {
        return empty("The operator has not reported any condition.", theme, frame, area);
    }
    let tw = c.conditions.iter().map(|k| k.type_.len()).max().unwrap_or(4) as u16;
    let rw = c.conditions.iter().map(|k| k.reason.as_deref().unwrap_or("").len()).max().unwrap_or(6).max(6) as u16;
    let mw = rest_width(area, &[tw, 7, rw, 4]);
    let rows = c
        .conditions
        .iter()
        .map(|k| {
            let colour = match k.status.as_str() {
                "True" => theme.ok,
                "False" => theme.warn,
                _ => theme.muted,
            };
            Row::new(vec![
                Cell::from(k.type_.clone()),
                Cell::from(Span::styled(k.status.clone(), Style::default().fg(colour))),
                Cell::from(k.reason.clone().unwrap_or_default()),
                Cell::from(age(app.now, k.last_transition)),
                Cell::from(super::ellipsize(&k.message.clone().unwrap_or_default(), mw)),
            ])
        })
        .collect();
    render_selectable(
        rows,
        table_header(&["TYPE", "STATUS", "REASON", "AGE", "MESSAGE"], theme),
        &[
            Constraint::Length(tw),
            Constraint::Length(7),
            Constraint::Length(rw),
            Constraint::Length(4),
            Constraint::Min(20),
        ],
        app,
        theme,
        frame,
        area,
    );
}

/// How many rows the current pane of `c` has: the farthest the detail screen scrolls, so `G` then `k` moves at
/// once instead of from an offset far past the content.
pub fn pane_rows(app: &App, c: &ClusterView) -> usize {
    let theme = Theme::dark(); // the count of lines does not depend on colours
    match app.pane {
        Pane::Topology => topology(app, c, &theme).len(),
        Pane::WhyNotReady => why_not_ready(app, c, &theme).len(),
        Pane::Pvcs => c.pvcs.len(),
        Pane::Backups => c.backups.len(),
        Pane::Events => c.events.len(),
        Pane::Conditions => c.conditions.len(),
    }
}

#[cfg(test)]
mod lag_tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::observe::facts::{
        AsyncDetail, DbFacts, FamilyDetail, HistoryBook, LagAmount, MemberFacts, MysqlFlavor, ProbeOutcome,
        Role as DbRole,
    };
    use crate::observe::merge;
    use crate::observe::view::PsClusterType;

    #[test]
    fn same_reasons_are_grouped_and_long_ones_wrapped() {
        let unknown = [
            ("db-0", "unreachable: port-forward to pod default/db-0 failed: nothing listens on 3306"),
            ("db-1", "unreachable: port-forward to pod default/db-1 failed: nothing listens on 3306"),
            ("db-2", "not probed yet"),
        ];
        let groups = group_reasons(&unknown);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].0, ["db-0", "db-1"]);
        assert_eq!(groups[0].1, "unreachable: port-forward to pod default/<pod> failed: nothing listens on 3306");
        assert_eq!(groups[1], (vec!["db-2".to_string()], "not probed yet".to_string()));
        let single = group_reasons(&unknown[..1]);
        assert!(single[0].1.contains("default/db-0"), "one pod keeps its own name: {single:?}");
        let wrapped = wrap_words(&"word ".repeat(50), 22);
        assert!(wrapped.iter().all(|l| l.chars().count() <= 22), "{wrapped:?}");
        assert_eq!(wrapped.join(" "), "word ".repeat(50).trim());
    }

    fn text(lines: &[Line<'_>]) -> String {
        lines.iter().map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect::<String>() + "\n").collect()
    }

    fn member(pod: &str) -> MemberView {
        MemberView {
            pod: pod.into(),
            component: "mysql".into(),
            role: None,
            node: Some("n1".into()),
            zone: None,
            ready: true,
            phase: "Running".into(),
            restarts: 0,
            started: None,
            lag: LagView::Unknown { reason: "not probed yet".into() },
            lag_history: vec![],
            replication_error: None,
        }
    }

    fn reading(pod: &str, role: DbRole, secs: Option<f64>, trx: u64, at: i64) -> MemberFacts {
        let stopped = secs.is_none() && role == DbRole::Replica;
        MemberFacts {
            member: pod.into(),
            read_at: Utc.timestamp_opt(1_800_000_000 + at, 0).unwrap(),
            outcome: ProbeOutcome::Ok(DbFacts {
                role: role.clone(),
                state: match (&role, stopped) {
                    (DbRole::Source, _) => "source".into(),
                    (_, true) => "SQL thread stopped".into(),
                    _ => "replicating".into(),
                },
                version: "10.11".into(),
                lag_seconds: secs,
                lag_amount: (role == DbRole::Replica).then_some(LagAmount::transactions(trx)),
                lag_note: stopped.then(|| "seconds behind source is NULL: the SQL thread is not running".into()),
                problems: if stopped { vec!["SQL thread is not running".into()] } else { vec![] },
                detail: FamilyDetail::Async(AsyncDetail {
                    flavor: MysqlFlavor::Mariadb,
                    read_only: false,
                    gtid_executed: String::new(),
                    channels: vec![],
                }),
            }),
        }
    }

    /// Readings give the roles, the lag cell, a sparkline of the history and a DB note; a member not read keeps
    /// "—" with its reason.
    #[test]
    fn topology_shows_roles_lag_sparkline_and_db_notes() {
        let mut c = ClusterView::new(ClusterKind::Ps { cluster_type: PsClusterType::Async }, "db", "ps1");
        c.members = vec![member("ps1-mysql-0"), member("ps1-mysql-1"), member("ps1-mysql-2")];
        c.components.push(ComponentView {
            kind: ComponentKind::Mysql,
            name: "mysql".into(),
            size: 3,
            ready: 3,
            status: "ready".into(),
        });
        let mut book = HistoryBook::new(10);
        for (i, trx) in [0u64, 2, 5].into_iter().enumerate() {
            book.record(&[reading("ps1-mysql-1", DbRole::Replica, None, trx, i as i64 * 5)]);
        }
        let readings =
            [reading("ps1-mysql-0", DbRole::Source, None, 0, 10), reading("ps1-mysql-1", DbRole::Replica, None, 5, 10)];
        merge::apply(&mut c, &readings, Some(&book));
        let mut app = App::new("ctx", None, Utc.timestamp_opt(1_800_000_013, 0).unwrap());
        app.now = Utc.timestamp_opt(1_800_000_013, 0).unwrap();
        let out = text(&topology(&app, &c, &Theme::dark()));
        let row = |pod: &str| out.lines().find(|l| l.contains(pod) && l.contains("✓")).unwrap().to_string();
        assert!(row("ps1-mysql-0").contains("★  source"), "{out}");
        let replica = row("ps1-mysql-1");
        assert!(replica.contains("└▶ replica"), "{out}");
        assert!(replica.contains("5 trx") && replica.ends_with("▁▃█"), "{out}");
        assert!(out.contains(" LAG — ps1-mysql-2:\n       not probed yet\n"), "{out}");
        assert!(
            out.contains(
                " DB  ps1-mysql-1: SQL thread stopped (read 3s ago) · seconds behind source is NULL: the SQL thread is not \
                 running\n"
            ),
            "{out}"
        );
        assert!(out.contains(" DB  ps1-mysql-0: source (read 3s ago)\n"), "{out}");
    }
}
