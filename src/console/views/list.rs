//! The cluster list (all three kinds together) and the backups list.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, BorderType, Cell, Paragraph, Row, Table, TableState};

use super::age;
use crate::console::action::SortColumn;
use crate::console::app::App;
use crate::console::theme::Theme;
use crate::observe::view::{ClusterView, ComponentKind, ComponentView, Health};

fn block<'a>(title: Line<'a>, theme: &Theme) -> Block<'a> {
    Block::bordered().border_type(BorderType::Rounded).border_style(theme.border()).title(title)
}

fn header_cell(label: &str, col: Option<SortColumn>, app: &App, theme: &Theme) -> Cell<'static> {
    let mut text = label.to_string();
    if col == Some(app.sort) {
        text.push(if app.descending { '↓' } else { '↑' });
    }
    Cell::from(text).style(theme.muted().add_modifier(Modifier::BOLD))
}

/// `3/3 pxc  2/3 haproxy`, each count coloured by whether it is complete.
fn ready_cell(c: &ClusterView, theme: &Theme) -> Line<'static> {
    let mut spans = Vec::new();
    for (i, comp) in c.components.iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw("  "));
        }
        let colour = if comp.size == 0 {
            theme.muted
        } else if comp.ready >= comp.size {
            theme.ok
        } else if comp.ready == 0 {
            theme.error
        } else {
            theme.warn
        };
        spans.push(Span::styled(format!("{}/{}", comp.ready, comp.size), Style::default().fg(colour)));
        spans.push(Span::styled(format!(" {}", short_component(comp)), theme.muted()));
    }
    Line::from(spans)
}

/// Component names short enough for the list (the detail screen shows the full ones).
fn short_component(comp: &ComponentView) -> &str {
    match comp.kind {
        ComponentKind::Orchestrator => "orc",
        ComponentKind::Pgbouncer => "pgb",
        ComponentKind::RepoHost => "repo",
        ComponentKind::Proxysql => "proxysql",
        _ => &comp.name,
    }
}

fn state_cell(c: &ClusterView, theme: &Theme) -> Line<'static> {
    let glyph = match c.health() {
        Health::Ok => "●",
        Health::Progressing => "◐",
        Health::Warning => "▲",
        Health::Failed => "✖",
        Health::Unknown => "○",
    };
    Line::from(Span::styled(format!("{glyph} {}", c.display_state()), theme.health(c.health())))
}

pub fn clusters(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let rows = app.visible();
    let total = app.clusters.len();
    let mut title = vec![
        Span::styled(" clusters", theme.accent()),
        Span::styled(format!("({})", app.scope.label()), theme.muted()),
        Span::styled(format!("[{}", rows.len()), Style::default().fg(theme.fg)),
    ];
    if rows.len() != total {
        title.push(Span::styled(format!("/{total}"), theme.muted()));
    }
    title.push(Span::styled("] ", Style::default().fg(theme.fg)));
    if !app.filter.is_empty() {
        title.push(Span::styled(format!("</{}> ", app.filter.raw), Style::default().fg(theme.warn)));
    }
    let block = block(Line::from(title), theme);
    if rows.is_empty() {
        let inner = block.inner(area);
        frame.render_widget(block, area);
        frame.render_widget(empty_state(app, theme), inner);
        return;
    }
    let header = Row::new(vec![
        header_cell("KIND", Some(SortColumn::Kind), app, theme),
        header_cell("NAMESPACE", Some(SortColumn::Namespace), app, theme),
        header_cell("NAME", Some(SortColumn::Name), app, theme),
        header_cell("STATE", Some(SortColumn::State), app, theme),
        header_cell("READY", Some(SortColumn::Ready), app, theme),
        header_cell("AGE", Some(SortColumn::Age), app, theme),
        header_cell("BACKUP", Some(SortColumn::LastBackup), app, theme),
        header_cell("ENDPOINT", Some(SortColumn::Endpoint), app, theme),
    ]);
    // Only the page of rows holding the selection is built, so a list of thousands costs what a screenful
    // costs; paging (rather than a remembered offset) keeps the view stateless.
    let height = area.height.saturating_sub(3).max(1) as usize;
    let start = (app.selected / height) * height;
    let window = &rows[start..(start + height).min(rows.len())];
    let body: Vec<Row> = window
        .iter()
        .map(|c| {
            let backup = match c.last_successful_backup {
                Some(t) => Span::styled(age(app.now, Some(t)), Style::default().fg(theme.fg)),
                // A database that was never backed up is a risk worth colouring.
                None => Span::styled("never", Style::default().fg(theme.warn)),
            };
            Row::new(vec![
                Cell::from(Span::styled(c.kind.label(), theme.muted())),
                Cell::from(c.namespace.clone()),
                Cell::from(Span::styled(c.name.clone(), Style::default().fg(theme.fg).add_modifier(Modifier::BOLD))),
                Cell::from(state_cell(c, theme)),
                Cell::from(ready_cell(c, theme)),
                Cell::from(age(app.now, c.created)),
                Cell::from(backup),
                Cell::from(Span::styled(c.host.clone().unwrap_or_else(|| "—".into()), theme.muted())),
            ])
        })
        .collect();
    let ready_w = rows.iter().map(|c| ready_width(c)).max().unwrap_or(5).max(5);
    let widths = [
        Constraint::Length(8),
        Constraint::Length(rows.iter().map(|c| c.namespace.chars().count()).max().unwrap_or(0).max(9) as u16),
        Constraint::Length(rows.iter().map(|c| c.name.chars().count()).max().unwrap_or(0).max(4) as u16),
        Constraint::Length(14),
        Constraint::Length(ready_w as u16),
        Constraint::Length(4),
        Constraint::Length(6),
        Constraint::Fill(1),
    ];
    let table = Table::new(body, widths)
        .header(header)
        .block(block)
        .column_spacing(2)
        .style(Style::default().fg(theme.fg))
        .row_highlight_style(theme.selection().add_modifier(Modifier::BOLD))
        .highlight_symbol("▌");
    let mut state = TableState::default().with_selected(Some(app.selected - start));
    frame.render_stateful_widget(table, area, &mut state);
}

/// The width of [`ready_cell`] without building it.
fn ready_width(c: &ClusterView) -> usize {
    c.components
        .iter()
        .map(|x| format!("{}/{}", x.ready, x.size).len() + 1 + short_component(x).chars().count())
        .sum::<usize>()
        + 2 * c.components.len().saturating_sub(1)
}

/// What a newcomer sees when there is nothing to list: why, and what to press.
fn empty_state(app: &App, theme: &Theme) -> Paragraph<'static> {
    let key = |k: &str| Span::styled(k.to_string(), theme.accent());
    let txt = |t: &str| Span::styled(t.to_string(), Style::default().fg(theme.fg));
    let lines: Vec<Line> = if !app.loaded {
        vec![Line::from(Span::styled(format!("Loading clusters from context {}…", app.context), theme.muted()))]
    } else if !app.clusters.is_empty() {
        vec![
            Line::from(txt("No cluster matches what is selected.")),
            Line::default(),
            Line::from(vec![
                key("esc"),
                txt(" clears the filter   "),
                key(":all"),
                txt(" shows every kind   "),
                key(":ns all"),
                txt(" every namespace"),
            ]),
        ]
    } else {
        let where_ = match &app.namespace {
            Some(ns) => format!("in namespace {ns}"),
            None => "in any namespace".into(),
        };
        let mut v = vec![
            Line::from(Span::styled(
                format!("No database clusters {where_} of context {}.", app.context),
                theme.accent(),
            )),
            Line::default(),
        ];
        if !app.readonly {
            v.push(Line::from(vec![
                txt("  Press "),
                key("c"),
                txt(" to create one: PXC (Galera), PS (MySQL replication) or PG (PostgreSQL)."),
            ]));
        }
        if app.namespace.is_some() {
            v.push(Line::from(vec![txt("  Type "), key(":ns all"), txt(" and enter to look in every namespace.")]));
        }
        v.push(Line::from(vec![txt("  Press "), key("?"), txt(" for every key, "), key("q"), txt(" to quit.")]));
        v
    };
    Paragraph::new(Text::from(lines))
}

pub fn backups(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let rows = app.visible_backups();
    let title = Line::from(vec![
        Span::styled(" backups", theme.accent()),
        Span::styled(format!("[{}] ", rows.len()), Style::default().fg(theme.fg)),
    ]);
    let block = block(title, theme);
    if rows.is_empty() {
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let p = Paragraph::new(vec![
            Line::from(Span::styled("No backups yet.", Style::default().fg(theme.fg))),
            Line::from(vec![
                Span::styled("Open a cluster and press ", theme.muted()),
                Span::styled("b", theme.accent()),
                Span::styled(" for an on-demand backup.", theme.muted()),
            ]),
        ]);
        frame.render_widget(p, inner);
        return;
    }
    let header = Row::new(
        ["CLUSTER", "NAME", "STATE", "STORAGE", "STARTED", "TOOK", "DESTINATION"]
            .map(|h| Cell::from(h).style(theme.muted().add_modifier(Modifier::BOLD))),
    );
    let body: Vec<Row> = rows
        .iter()
        .map(|(c, b)| {
            Row::new(vec![
                Cell::from(format!("{}/{}", c.namespace, c.name)),
                Cell::from(b.name.clone()),
                Cell::from(Span::styled(b.state.clone(), backup_state_style(&b.state, theme))),
                Cell::from(b.storage.clone().unwrap_or_else(|| "—".into())),
                Cell::from(age(app.now, b.started)),
                Cell::from(match (b.started, b.completed) {
                    (Some(s), Some(e)) => super::duration((e - s).num_seconds() as f64),
                    _ => "—".into(),
                }),
                Cell::from(Span::styled(b.destination.clone().unwrap_or_else(|| "—".into()), theme.muted())),
            ])
        })
        .collect();
    let widths = [
        Constraint::Min(14),
        Constraint::Min(16),
        Constraint::Length(10),
        Constraint::Length(12),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Min(10),
    ];
    let table = Table::new(body, widths)
        .header(header)
        .block(block)
        .column_spacing(2)
        .style(Style::default().fg(theme.fg))
        .row_highlight_style(theme.selection())
        .highlight_symbol("▌");
    let mut state = TableState::default().with_selected(Some(app.backup_selected));
    frame.render_stateful_widget(table, area, &mut state);
}

pub fn backup_state_style(state: &str, theme: &Theme) -> Style {
    let c = match state.to_ascii_lowercase().as_str() {
        "succeeded" | "ready" => theme.ok,
        "failed" | "error" => theme.error,
        "running" | "starting" | "new" | "" => theme.info,
        _ => theme.warn,
    };
    Style::default().fg(c)
}
