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
use crate::observe::view::{ClusterView, ComponentKind, ComponentView, Health, LagView};

fn block<'a>(title: Line<'a>, theme: &Theme) -> Block<'a> {
    Block::bordered().border_type(BorderType::Rounded).border_style(theme.border()).title(title)
}

fn header_cell(label: &str, col: Option<SortColumn>, app: &App, theme: &Theme, width: usize) -> Cell<'static> {
    let mut text = label.to_string();
    if col.is_some() && col == Some(app.sort) {
        text.push(if app.descending { '↓' } else { '↑' });
    }
    Cell::from(super::ellipsize(&text, width)).style(theme.muted().add_modifier(Modifier::BOLD))
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

/// One column of the cluster list: what it shows and how much it matters when the screen is narrow.
struct Column<'a> {
    header: &'static str,
    sort: Option<SortColumn>,
    /// Lower is kept longer: as the width shrinks, the highest numbers go first.
    priority: u8,
    /// The width its longest cell wants, and the least it is still readable at (cells are cut with `…`).
    want: usize,
    min: usize,
    cells: Vec<Line<'a>>,
}

/// Cuts a styled line to `width` columns, ending in `…` when something was cut.
fn fit_line(line: Line<'static>, width: usize) -> Line<'static> {
    if line.width() <= width {
        return line;
    }
    let mut out: Vec<Span<'static>> = Vec::new();
    let mut left = width.saturating_sub(1);
    for span in line.spans {
        if left == 0 {
            break;
        }
        let n = span.content.chars().count();
        if n <= left {
            left -= n;
            out.push(span);
        } else {
            let cut: String = span.content.chars().take(left).collect();
            out.push(Span::styled(cut, span.style));
            left = 0;
        }
    }
    let style = out.last().map(|s| s.style).unwrap_or_default();
    out.push(Span::styled("…", style));
    Line::from(out)
}

/// The pod that takes writes, as the databases (or the operator's label) say; Galera has no single one.
fn primary_cell(c: &ClusterView, theme: &Theme) -> Line<'static> {
    if c.kind == crate::observe::view::ClusterKind::Pxc {
        return Line::from(Span::styled("galera", theme.muted()));
    }
    match c.members.iter().find(|m| m.role.is_some_and(|r| r.is_writer())) {
        Some(m) => Line::from(Span::raw(m.pod.clone())),
        None if c.members.iter().any(|m| c.is_database_member(m)) => {
            Line::from(Span::styled("?", Style::default().fg(theme.warn)))
        }
        None => Line::from(Span::styled("—", theme.muted())),
    }
}

/// The largest replication lag of the cluster's members: red when a replica reports its replication broken
/// (a stopped IO/SQL thread, paused replay), `?` where a lag could not be read (the detail's topology says why).
fn lag_cell(c: &ClusterView, theme: &Theme) -> Line<'static> {
    let broken =
        c.members.iter().any(|m| c.facts_of(&m.pod).and_then(|r| r.facts()).is_some_and(|f| !f.problems.is_empty()));
    let mut max_secs: Option<f64> = None;
    let mut amount: Option<String> = None;
    let mut unknown = false;
    for m in &c.members {
        match &m.lag {
            LagView::Known { seconds, .. } => max_secs = Some(max_secs.map_or(*seconds, |x: f64| x.max(*seconds))),
            LagView::Amount { .. } => amount = Some(super::lag_text(&m.lag)),
            LagView::Unknown { .. } if c.is_database_member(m) => unknown = true,
            _ => {}
        }
    }
    let mut text = match (max_secs, &amount) {
        // A stopped applier's backlog says more than another replica's seconds.
        (_, Some(a)) if broken => a.clone(),
        (Some(s), _) => super::duration(s),
        (None, Some(a)) => a.clone(),
        (None, None) if unknown => "?".to_string(),
        (None, None) if broken => String::new(),
        (None, None) => return Line::from(Span::styled("—", theme.muted())),
    };
    if unknown && text != "?" {
        text.push_str(" ?");
    }
    let style = if broken {
        text = if text.is_empty() { "✖ broken".into() } else { format!("✖ {text}") };
        Style::default().fg(theme.error).add_modifier(Modifier::BOLD)
    } else {
        match max_secs {
            Some(s) if s >= 60.0 => Style::default().fg(theme.error),
            Some(s) if s >= 10.0 => Style::default().fg(theme.warn),
            Some(_) => Style::default().fg(theme.ok),
            None if amount.is_some() => Style::default().fg(theme.warn),
            None => theme.muted(),
        }
    };
    Line::from(Span::styled(text, style))
}

/// Bound claims of all, coloured; `↻` while one is being resized.
fn pvc_cell(c: &ClusterView, theme: &Theme) -> Line<'static> {
    if c.pvcs.is_empty() {
        return Line::from(Span::styled("—", theme.muted()));
    }
    let bound = c.pvcs.iter().filter(|p| p.phase == "Bound").count();
    let colour = if bound == c.pvcs.len() { theme.ok } else { theme.warn };
    let mut spans = vec![Span::styled(format!("{bound}/{}", c.pvcs.len()), Style::default().fg(colour))];
    if c.pvcs.iter().any(|p| p.resizing) {
        spans.push(Span::styled(" ↻", Style::default().fg(theme.info)));
    }
    Line::from(spans)
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
    // Only the page of rows holding the selection is built, so a list of thousands costs what a screenful
    // costs; paging (rather than a remembered offset) keeps the view stateless.
    let height = area.height.saturating_sub(3).max(1) as usize;
    let start = (app.selected / height) * height;
    let window = &rows[start..(start + height).min(rows.len())];
    let col = |header, sort, priority, min: usize, cells: Vec<Line<'static>>| {
        let mut want = cells.iter().map(|l| l.width()).max().unwrap_or(0).max(header_width(header, sort, app));
        want = want.max(1);
        Column { header, sort, priority, want, min: min.min(want), cells }
    };
    let one_ns = app.namespace.is_some();
    let mut columns = vec![
        col(
            "KIND",
            Some(SortColumn::Kind),
            2,
            8,
            window.iter().map(|c| Line::from(Span::styled(c.kind.label(), theme.muted()))).collect(),
        ),
        // In one namespace every row says the same: it goes early.
        col(
            "NAMESPACE",
            Some(SortColumn::Namespace),
            if one_ns { 12 } else { 5 },
            9,
            window.iter().map(|c| Line::from(c.namespace.clone())).collect(),
        ),
        col(
            "NAME",
            Some(SortColumn::Name),
            0,
            12,
            window
                .iter()
                .map(|c| {
                    Line::from(Span::styled(c.name.clone(), Style::default().fg(theme.fg).add_modifier(Modifier::BOLD)))
                })
                .collect(),
        ),
        col("STATE", Some(SortColumn::State), 1, 9, window.iter().map(|c| state_cell(c, theme)).collect()),
        col("READY", Some(SortColumn::Ready), 3, 9, window.iter().map(|c| ready_cell(c, theme)).collect()),
        col("PRIMARY", None, 6, 10, window.iter().map(|c| primary_cell(c, theme)).collect()),
        col("LAG", None, 4, 8, window.iter().map(|c| lag_cell(c, theme)).collect()),
        col("PVC", None, 8, 3, window.iter().map(|c| pvc_cell(c, theme)).collect()),
        col(
            "VERSION",
            None,
            10,
            6,
            window
                .iter()
                // The operator release the resource is written for, then the database's version.
                .map(|c| {
                    let text = match (&c.cr_version, &c.version) {
                        (Some(cr), Some(v)) => format!("{cr}/{v}"),
                        (Some(cr), None) => format!("{cr}/?"),
                        (None, Some(v)) => v.clone(),
                        (None, None) => "—".into(),
                    };
                    Line::from(Span::styled(text, theme.muted()))
                })
                .collect(),
        ),
        col("AGE", Some(SortColumn::Age), 9, 3, window.iter().map(|c| Line::from(age(app.now, c.created))).collect()),
        col(
            "BACKUP",
            Some(SortColumn::LastBackup),
            7,
            5,
            window
                .iter()
                .map(|c| match c.last_successful_backup {
                    Some(t) => Line::from(Span::styled(age(app.now, Some(t)), Style::default().fg(theme.fg))),
                    // A database that was never backed up is a risk worth colouring.
                    None => Line::from(Span::styled("never", Style::default().fg(theme.warn))),
                })
                .collect(),
        ),
        col(
            "ENDPOINT",
            Some(SortColumn::Endpoint),
            11,
            10,
            window
                .iter()
                .map(|c| Line::from(Span::styled(c.host.clone().unwrap_or_else(|| "—".into()), theme.muted())))
                .collect(),
        ),
    ];
    // Borders, the selection marker, and two spaces between columns.
    let room = (area.width as usize).saturating_sub(3);
    let used =
        |cols: &[Column]| -> usize { cols.iter().map(|c| c.min).sum::<usize>() + 2 * cols.len().saturating_sub(1) };
    while columns.len() > 1 && used(&columns) > room {
        let Some(worst) = columns.iter().enumerate().max_by_key(|(_, c)| c.priority).map(|(i, _)| i) else { break };
        columns.remove(worst);
    }
    // What is left over widens columns towards what their cells want, most important first.
    let mut spare = room.saturating_sub(used(&columns));
    let mut widths: Vec<usize> = columns.iter().map(|c| c.min).collect();
    let mut order: Vec<usize> = (0..columns.len()).collect();
    order.sort_by_key(|&i| columns[i].priority);
    for i in order {
        let more = (columns[i].want - widths[i]).min(spare);
        widths[i] += more;
        spare -= more;
    }
    // The last column takes what is still free (its cells are never cut while there is room).
    if let Some(last) = widths.last_mut() {
        *last += spare;
    }
    let header = Row::new(
        columns.iter().zip(&widths).map(|(c, w)| header_cell(c.header, c.sort, app, theme, *w)).collect::<Vec<_>>(),
    );
    let body: Vec<Row> = (0..window.len())
        .map(|r| {
            Row::new(
                columns
                    .iter()
                    .zip(&widths)
                    .map(|(c, w)| Cell::from(fit_line(c.cells[r].clone(), *w)))
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    let constraints: Vec<Constraint> = widths.iter().map(|w| Constraint::Length(*w as u16)).collect();
    let table = Table::new(body, constraints)
        .header(header)
        .block(block)
        .column_spacing(2)
        .style(Style::default().fg(theme.fg))
        .row_highlight_style(theme.selection().add_modifier(Modifier::BOLD))
        .highlight_symbol("▌");
    let mut state = TableState::default().with_selected(Some(app.selected - start));
    frame.render_stateful_widget(table, area, &mut state);
}

fn header_width(label: &str, col: Option<SortColumn>, app: &App) -> usize {
    label.chars().count() + usize::from(col.is_some() && col == Some(app.sort))
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
