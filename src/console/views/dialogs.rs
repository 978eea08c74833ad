//! Modal dialogs drawn over the current screen: typed-name delete confirmation and yes/no questions.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, BorderType, Clear, Padding, Paragraph, Wrap};

use super::centered;
use crate::console::app::App;
use crate::console::theme::Theme;

fn modal<'a>(title: String, colour: ratatui::style::Color, theme: &Theme) -> Block<'a> {
    Block::bordered()
        .border_type(BorderType::Double)
        .border_style(Style::default().fg(colour))
        .title(Span::styled(format!(" {title} "), Style::default().fg(colour).add_modifier(Modifier::BOLD)))
        .style(theme.base())
        .padding(Padding::horizontal(1))
}

/// The typed-name delete of one backup: what goes (the object, and the data only with the finalizer).
fn delete_backup(app: &App, b: &crate::console::app::BackupDelete, theme: &Theme, frame: &mut Frame, area: Rect) {
    let Some(d) = &app.delete else { return };
    let t = &d.target;
    let fg = Style::default().fg(theme.fg);
    let mut lines = vec![
        Line::from(vec![
            Span::styled("Delete backup ", fg),
            Span::styled(format!("{}/{}", t.namespace, b.name), theme.accent()),
            Span::styled(format!(" of {} {}?", t.kind.short(), t.name), fg),
        ]),
        Line::default(),
    ];
    let place = b.destination.clone().or_else(|| b.storage.clone()).unwrap_or_else(|| "its storage".into());
    if b.deletes_data {
        lines.push(Line::from(vec![
            Span::styled("Data: DELETED. ", Style::default().fg(theme.error).add_modifier(Modifier::BOLD)),
            Span::styled(
                format!(
                    "The backup has the percona.com/delete-backup finalizer: the operator removes {place} before \
                     the object goes."
                ),
                fg,
            ),
        ]));
    } else {
        let kept = if t.kind == crate::observe::view::ClusterKind::Pg {
            "pgBackRest keeps the backup in its repo until its retention expires it."
        } else {
            "No percona.com/delete-backup finalizer: only the object goes; the data stays in storage."
        };
        lines.push(Line::from(vec![
            Span::styled("Data: kept. ", Style::default().fg(theme.ok).add_modifier(Modifier::BOLD)),
            Span::styled(format!("{kept} ({place})"), fg),
        ]));
    }
    lines.push(Line::default());
    let matches = d.typed == b.name;
    lines.push(Line::from(vec![
        Span::styled("Type the backup name to confirm: ", fg),
        Span::styled(
            format!(" {}█ ", d.typed),
            if matches { Style::default().fg(theme.bg).bg(theme.error) } else { theme.selection() },
        ),
    ]));
    lines.push(Line::from(Span::styled("enter deletes · esc cancels", theme.muted())));
    let rect = centered(area, 96, lines.len() as u16 + 5);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(Text::from(lines)).wrap(Wrap { trim: false }).block(modal(
            "delete backup".into(),
            theme.error,
            theme,
        )),
        rect,
    );
}

pub fn delete(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let Some(d) = &app.delete else { return };
    if let Some(b) = &d.backup {
        return delete_backup(app, b, theme, frame, area);
    }
    let t = &d.target;
    let fg = Style::default().fg(theme.fg);
    let mut lines = vec![
        Line::from(vec![
            Span::styled("Delete ", fg),
            Span::styled(format!("{} {}/{}", t.kind.short(), t.namespace, t.name), theme.accent()),
            Span::styled("? Its pods, services and secrets go with it.", fg),
        ]),
        Line::default(),
    ];
    if d.pvc_finalizers.is_empty() {
        lines.push(Line::from(vec![
            Span::styled("PVCs: kept. ", Style::default().fg(theme.ok).add_modifier(Modifier::BOLD)),
            Span::styled(
                format!("{} PVC(s) stay with the data; a new cluster with the same name reuses them.", d.pvcs.len()),
                fg,
            ),
        ]));
    } else {
        lines.push(Line::from(vec![
            Span::styled("PVCs: DELETED. ", Style::default().fg(theme.error).add_modifier(Modifier::BOLD)),
            Span::styled(
                format!("{} removes {} PVC(s) and their data.", d.pvc_finalizers.join(", "), d.pvcs.len()),
                fg,
            ),
        ]));
    }
    for p in d.pvcs.iter().take(4) {
        lines.push(Line::from(Span::styled(format!("  · {p}"), theme.muted())));
    }
    if d.pvcs.len() > 4 {
        lines.push(Line::from(Span::styled(format!("  · … and {} more", d.pvcs.len() - 4), theme.muted())));
    }
    lines.push(Line::default());
    let matches = d.typed == t.name;
    lines.push(Line::from(vec![
        Span::styled("Type the cluster name to confirm: ", fg),
        Span::styled(
            format!(" {}█ ", d.typed),
            if matches { Style::default().fg(theme.bg).bg(theme.error) } else { theme.selection() },
        ),
    ]));
    lines.push(Line::from(Span::styled("enter deletes · esc cancels", theme.muted())));
    // One spare line for the PVC sentence, which may wrap.
    let h = lines.len() as u16 + 3;
    let rect = centered(area, 84, h);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(Text::from(lines)).wrap(Wrap { trim: false }).block(modal("delete".into(), theme.error, theme)),
        rect,
    );
}

pub fn question(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let Some(q) = &app.question else { return };
    let mut lines: Vec<Line> =
        q.lines.iter().map(|l| Line::from(Span::styled(l.clone(), Style::default().fg(theme.fg)))).collect();
    if !q.choices.is_empty() {
        let mut spans = vec![Span::raw("  ")];
        for (i, c) in q.choices.iter().enumerate() {
            let style = if i == q.choice { theme.selection().add_modifier(Modifier::BOLD) } else { theme.muted() };
            spans.push(Span::styled(format!(" {c} "), style));
            spans.push(Span::raw(" "));
        }
        lines.push(Line::from(spans));
    }
    lines.push(Line::default());
    if let Some(name) = &q.confirm_name {
        let matches = q.typed == *name;
        lines.push(Line::from(vec![
            Span::styled(format!("Type {name} to confirm: "), Style::default().fg(theme.fg)),
            Span::styled(
                format!(" {}█ ", q.typed),
                if matches { Style::default().fg(theme.bg).bg(theme.warn) } else { theme.selection() },
            ),
        ]));
        lines.push(Line::from(vec![
            Span::styled("enter", theme.accent()),
            Span::styled(" confirms   ", theme.muted()),
            Span::styled("esc", theme.accent()),
            Span::styled(" cancels", theme.muted()),
        ]));
    } else {
        lines.push(Line::from(vec![
            Span::styled("y", theme.accent()),
            Span::styled("/enter yes   ", theme.muted()),
            Span::styled("n", theme.accent()),
            Span::styled("/esc no", theme.muted()),
        ]));
    }
    // As wide as the longest line where there is room; longer lines wrap.
    let want = lines.iter().map(|l| l.width()).max().unwrap_or(20).max(q.title.len() + 4) as u16 + 6;
    let width = want.min(area.width);
    let inner = width.saturating_sub(4).max(1) as usize;
    let rows: usize = lines.iter().map(|l| l.width().max(1).div_ceil(inner)).sum();
    let rect = centered(area, width, rows as u16 + 2);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(Text::from(lines)).wrap(Wrap { trim: false }).block(modal(q.title.clone(), theme.warn, theme)),
        rect,
    );
}

/// A scrollable text popup: the text wraps to the popup's width, ↑/↓ scroll, esc closes.
pub fn popup(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let Some(p) = &app.popup else { return };
    let width = area.width.saturating_sub(4).clamp(20, 120);
    let inner = width.saturating_sub(4) as usize;
    let lines: Vec<Line> = p
        .lines
        .iter()
        .flat_map(|l| if l.is_empty() { vec![String::new()] } else { super::wrap(l, inner) })
        .map(|l| Line::from(Span::styled(l, Style::default().fg(theme.fg))))
        .collect();
    let height = (lines.len() as u16 + 3).min(area.height);
    let rect = centered(area, width, height);
    let foot = Line::from(vec![
        Span::styled(" ↑/↓ scroll ", theme.muted()),
        Span::styled("esc", theme.accent()),
        Span::styled(" close ", theme.muted()),
    ]);
    let block = modal(p.title.clone(), theme.accent, theme).title_bottom(foot);
    frame.render_widget(Clear, rect);
    frame.render_widget(Paragraph::new(Text::from(lines)).scroll((p.scroll, 0)).block(block), rect);
}

/// The namespace or context picker: typed text narrows the list, ↑/↓ choose, enter switches.
pub fn picker(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let Some(p) = &app.picker else { return };
    let what = match p.kind {
        crate::console::action::PickKind::Namespace => "namespace",
        crate::console::action::PickKind::Context => "context",
    };
    let mut lines = vec![
        Line::from(vec![
            Span::styled("filter ", theme.muted()),
            Span::styled(format!("{}█", p.filter), theme.selection()),
        ]),
        Line::default(),
    ];
    let shown = p.shown();
    let room = area.height.saturating_sub(8).max(3) as usize;
    let start = (p.selected / room) * room;
    match &p.items {
        None => lines.push(Line::from(Span::styled(format!("reading the {what}s…"), theme.muted()))),
        Some(_) if shown.is_empty() => {
            lines.push(Line::from(Span::styled(format!("no {what} matches"), theme.muted())))
        }
        Some(_) => {
            for (i, name) in shown.iter().enumerate().skip(start).take(room) {
                let style =
                    if i == p.selected { theme.selection().add_modifier(Modifier::BOLD) } else { theme.fg(theme.fg) };
                lines.push(Line::from(Span::styled(format!(" {name} "), style)));
            }
        }
    }
    if let Some(n) = &p.note {
        lines.push(Line::default());
        lines.push(Line::from(Span::styled(n.clone(), Style::default().fg(theme.warn))));
    }
    lines.push(Line::default());
    lines.push(Line::from(Span::styled("type to narrow · ↑/↓ · enter switches · esc cancels", theme.muted())));
    let width = area.width.saturating_sub(4).clamp(20, 72);
    let rect = centered(area, width, lines.len() as u16 + 2);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(Text::from(lines)).wrap(Wrap { trim: false }).block(modal(
            format!("choose a {what}"),
            theme.accent,
            theme,
        )),
        rect,
    );
}

/// A whole screen for a condition the console cannot start past (no kubeconfig, API unreachable, CRDs missing):
/// the sentence that says what is wrong and the keys that are accepted.
pub fn message_screen(theme: &Theme, title: &str, text: &str, keys: &[(char, &str)], frame: &mut Frame) {
    let area = frame.area();
    frame.render_widget(ratatui::widgets::Block::new().style(theme.base()), area);
    // The first paragraph says what is wrong (error colour); later ones (after a blank line) say what to check.
    let mut lines = Vec::new();
    for (i, para) in text.split("\n\n").enumerate() {
        if i > 0 {
            lines.push(Line::default());
        }
        let style = if i == 0 { theme.fg(theme.error) } else { Style::default().fg(theme.fg) };
        lines.push(Line::from(Span::styled(para.to_string(), style)));
    }
    lines.push(Line::default());
    for (k, what) in keys {
        lines.push(Line::from(vec![
            Span::styled(format!("  {k}  "), theme.accent()),
            Span::styled(what.to_string(), Style::default().fg(theme.fg)),
        ]));
    }
    let width = area.width.saturating_sub(8).clamp(20, 100);
    // Room for the wrapped sentence: its length over the inner width, plus the keys and the border.
    let inner = width.saturating_sub(4).max(1);
    // Each paragraph's wrapped rows, and a blank row between paragraphs.
    let text_rows: u16 = text.split("\n\n").map(|p| (p.chars().count() as u16).div_ceil(inner) + 1).sum::<u16>() - 1;
    let rect = centered(area, width, text_rows + keys.len() as u16 + 4);
    frame.render_widget(
        Paragraph::new(Text::from(lines)).wrap(Wrap { trim: true }).block(modal(title.to_string(), theme.error, theme)),
        rect,
    );
}
