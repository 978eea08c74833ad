//! The create wizard, the edit form and the review of a change (YAML diff + server dry-run).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, BorderType, Paragraph};

use crate::api::Problem;
use crate::console::app::App;
use crate::console::edit::{DiffLine, DryRun};
use crate::console::form::{Field, FieldValue, path_is_under};
use crate::console::theme::Theme;
use crate::console::wizard::Step;

fn block<'a>(title: Line<'a>, theme: &Theme) -> Block<'a> {
    Block::bordered().border_type(BorderType::Rounded).border_style(theme.border()).title(title)
}

/// Each problem is shown once, under the field with the most specific matching path.
fn owner<'a>(p: &Problem, fields: &[&'a Field]) -> Option<&'a str> {
    fields.iter().filter(|f| path_is_under(&p.path, &f.path)).max_by_key(|f| f.path.len()).map(|f| f.id)
}

/// Field rows: label, value (with cursor when focused), hint, and problems in the error colour below.
fn field_lines(
    fields: &[&Field],
    focus: usize,
    problems: &[Problem],
    notes: &[(&'static str, String)],
    width: usize,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let lw = fields.iter().map(|f| f.label.chars().count()).max().unwrap_or(0);
    let mut lines = Vec::new();
    for (i, f) in fields.iter().enumerate() {
        let focused = i == focus;
        let marker = if focused { Span::styled("▌", theme.accent()) } else { Span::raw(" ") };
        let lab = Span::styled(format!(" {:<lw$}  ", f.label), if focused { theme.accent() } else { theme.muted() });
        let value_style = if focused { theme.selection() } else { Style::default().fg(theme.fg) };
        let val = match &f.value {
            FieldValue::Text(s) => {
                let mut t = s.clone();
                if focused {
                    t.push('█');
                } else if t.is_empty() {
                    t = "·".into();
                }
                Span::styled(format!(" {t} "), value_style)
            }
            FieldValue::Choice { options, index } => {
                let shown = options
                    .iter()
                    .enumerate()
                    .map(|(j, o)| if j == *index { format!("[{o}]") } else { format!(" {o} ") })
                    .collect::<Vec<_>>()
                    .join(" ");
                Span::styled(format!("◂ {shown} ▸"), value_style)
            }
            FieldValue::Toggle(on) => Span::styled(if *on { " [x] yes " } else { " [ ] no " }.to_string(), value_style),
        };
        let mut row = vec![marker, lab, val];
        if !f.hint.is_empty() {
            row.push(Span::styled(format!("   {}", f.hint), theme.muted()));
        }
        lines.push(Line::from(row));
        // Messages wrap under the value (a long one is read whole, not cut at the border).
        let room = width.saturating_sub(lw + 8).max(20);
        for p in problems.iter().filter(|p| owner(p, fields) == Some(f.id)) {
            for (i, l) in super::wrap(&p.message, room).into_iter().enumerate() {
                let glyph = if i == 0 { "✖" } else { " " };
                lines.push(Line::from(Span::styled(
                    format!("   {:<lw$}  {glyph} {l}", ""),
                    Style::default().fg(theme.error),
                )));
            }
        }
        for (_, note) in notes.iter().filter(|(id, _)| *id == f.id) {
            for (i, l) in super::wrap(note, room).into_iter().enumerate() {
                let glyph = if i == 0 { "▲" } else { " " };
                lines.push(Line::from(Span::styled(
                    format!("   {:<lw$}  {glyph} {l}", ""),
                    Style::default().fg(theme.warn),
                )));
            }
        }
    }
    lines
}

pub fn wizard(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let Some(w) = &app.wizard else { return };
    let [steps_area, main] = Layout::horizontal([Constraint::Length(28), Constraint::Min(20)]).areas(area);
    let mut steps = Vec::new();
    for s in Step::ALL {
        let (glyph, style) = if s == w.step {
            ("▸", theme.accent())
        } else if s.index() < w.step.index() {
            ("✓", Style::default().fg(theme.ok))
        } else {
            (" ", theme.muted())
        };
        let count = w.step_problems(s).len();
        let mut spans = vec![Span::styled(format!(" {glyph} {}. {}", s.index() + 1, s.title()), style)];
        if count > 0 && s != Step::Review && s.index() <= w.step.index() {
            spans.push(Span::styled(format!(" ({count})"), Style::default().fg(theme.error)));
        }
        steps.push(Line::from(spans));
    }
    frame.render_widget(
        Paragraph::new(steps).block(block(Line::from(Span::styled(" new cluster ", theme.accent())), theme)),
        steps_area,
    );

    let title = Line::from(vec![
        Span::styled(format!(" {}. {} ", w.step.index() + 1, w.step.title()), theme.accent()),
        Span::styled(format!("— {} {} ", w.value("kind"), w.value("name")), theme.muted()),
    ]);
    if w.step == Step::Review {
        let problems = &w.problems;
        let yaml = w.yaml();
        let mut lines: Vec<Line> = Vec::new();
        let room = main.width.saturating_sub(6) as usize;
        if w.checking {
            lines.push(Line::from(Span::styled(" asking the API whether the names exist…", theme.muted())));
        } else if problems.is_empty() {
            lines.push(Line::from(Span::styled(" ✓ valid — enter creates it", Style::default().fg(theme.ok))));
        } else {
            for p in problems {
                for (i, l) in super::wrap(&format!("{}: {}", p.path, p.message), room).into_iter().enumerate() {
                    let glyph = if i == 0 { "✖" } else { " " };
                    lines.push(Line::from(Span::styled(format!(" {glyph} {l}"), Style::default().fg(theme.error))));
                }
            }
        }
        for (field, note) in w.unchecked() {
            for (i, l) in super::wrap(&format!("{field}: {note}"), room).into_iter().enumerate() {
                let glyph = if i == 0 { "▲" } else { " " };
                lines.push(Line::from(Span::styled(format!(" {glyph} {l}"), Style::default().fg(theme.warn))));
            }
        }
        lines.push(Line::default());
        lines.extend(yaml.lines().map(|l| yaml_line(l, theme)));
        frame.render_widget(
            Paragraph::new(Text::from(lines)).scroll((w.review_scroll, 0)).block(block(title, theme)),
            main,
        );
        return;
    }
    let ids = w.step_fields(w.step);
    let fields: Vec<&Field> = ids.iter().filter_map(|id| w.field(id)).collect();
    let mut lines = vec![Line::default()];
    let width = main.width.saturating_sub(2) as usize;
    lines.extend(field_lines(&fields, w.focus, &w.problems, &w.unchecked(), width, theme));
    if w.checking {
        lines.push(Line::default());
        lines.push(Line::from(Span::styled(" asking the API whether the names exist…", theme.muted())));
    }
    frame.render_widget(Paragraph::new(Text::from(lines)).block(block(title, theme)), main);
}

/// YAML with keys muted and values in the normal colour, so the structure reads at a glance.
fn yaml_line(l: &str, theme: &Theme) -> Line<'static> {
    match l.find(": ") {
        Some(i) if !l.trim_start().starts_with('#') => Line::from(vec![
            Span::styled(format!(" {}", &l[..i + 1]), Style::default().fg(theme.accent)),
            Span::styled(l[i + 1..].to_string(), Style::default().fg(theme.fg)),
        ]),
        _ if l.ends_with(':') => Line::from(Span::styled(format!(" {l}"), Style::default().fg(theme.accent))),
        _ => Line::from(Span::styled(format!(" {l}"), Style::default().fg(theme.fg))),
    }
}

pub fn edit(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let Some(f) = &app.edit else { return };
    let verb = if f.scale_only { "scale" } else { "edit" };
    let title = Line::from(vec![
        Span::styled(format!(" {verb} "), theme.accent()),
        Span::styled(format!("{} {}/{} ", f.target.kind.short(), f.target.namespace, f.target.name), theme.muted()),
    ]);
    let fields: Vec<&Field> = f.fields.iter().collect();
    let mut lines = vec![Line::default()];
    lines.extend(field_lines(&fields, f.focus, &f.problems, &[], area.width.saturating_sub(2) as usize, theme));
    lines.push(Line::default());
    let (text, style) = match f.patch() {
        Err(_) => ("fix the fields marked ✖ to continue".to_string(), Style::default().fg(theme.error)),
        Ok(None) => ("no change yet".to_string(), theme.muted()),
        Ok(Some(_)) => {
            ("enter shows the diff and asks the server for a dry run".to_string(), Style::default().fg(theme.info))
        }
    };
    lines.push(Line::from(Span::styled(format!(" {text}"), style)));
    frame.render_widget(Paragraph::new(Text::from(lines)).block(block(title, theme)), area);
}

pub fn review(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let Some(r) = &app.review else { return };
    let title = Line::from(vec![
        Span::styled(" review change ", theme.accent()),
        Span::styled(format!("{} {}/{} ", r.target.kind.short(), r.target.namespace, r.target.name), theme.muted()),
    ]);
    let dry = match &r.dry_run {
        DryRun::Pending => Line::from(vec![
            Span::styled(" server dry-run: ", theme.muted()),
            Span::styled("running…", Style::default().fg(theme.info)),
        ]),
        DryRun::Ok => Line::from(vec![
            Span::styled(" server dry-run: ", theme.muted()),
            Span::styled("ok ✓", Style::default().fg(theme.ok).add_modifier(Modifier::BOLD)),
            Span::styled("  enter applies", theme.muted()),
        ]),
        DryRun::Failed(_) => Line::from(vec![Span::styled(" server dry-run: ", theme.muted())]),
    };
    let mut lines = vec![dry];
    if let DryRun::Failed(e) = &r.dry_run {
        for (i, l) in
            super::wrap(&format!("error ✖ {e}"), area.width.saturating_sub(6) as usize).into_iter().enumerate()
        {
            let pad = if i == 0 { " " } else { "   " };
            lines.push(Line::from(Span::styled(
                format!("{pad}{l}"),
                Style::default().fg(theme.error).add_modifier(Modifier::BOLD),
            )));
        }
    }
    lines.push(Line::default());
    for d in &r.diff {
        lines.push(match d {
            DiffLine::Hunk(h) => Line::from(Span::styled(format!(" {h}"), Style::default().fg(theme.info))),
            DiffLine::Same(s) => Line::from(Span::styled(format!("  {s}"), theme.muted())),
            DiffLine::Added(s) => Line::from(Span::styled(format!(" +{s}"), Style::default().fg(theme.diff_add))),
            DiffLine::Removed(s) => Line::from(Span::styled(format!(" -{s}"), Style::default().fg(theme.diff_remove))),
        });
    }
    frame.render_widget(Paragraph::new(Text::from(lines)).scroll((r.scroll, 0)).block(block(title, theme)), area);
}
