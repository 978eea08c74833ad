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

pub fn delete(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let Some(d) = &app.delete else { return };
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
    lines.push(Line::from(vec![
        Span::styled("y", theme.accent()),
        Span::styled("/enter yes   ", theme.muted()),
        Span::styled("n", theme.accent()),
        Span::styled("/esc no", theme.muted()),
    ]));
    let width = lines.iter().map(|l| l.width()).max().unwrap_or(20).max(q.title.len() + 4) as u16 + 6;
    let rect = centered(area, width, lines.len() as u16 + 2);
    frame.render_widget(Clear, rect);
    frame.render_widget(Paragraph::new(Text::from(lines)).block(modal(q.title.clone(), theme.warn, theme)), rect);
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
