//! The `?` screen, generated from the keymap so it lists exactly the bindings that work.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, BorderType, Paragraph};

use crate::console::app::App;
use crate::console::keymap::Keymap;
use crate::console::theme::Theme;

/// (section title, [(keys, what it does)]) for every binding of the registry.
pub fn rows(keymap: &Keymap, readonly: bool) -> Vec<(&'static str, Vec<(String, &'static str)>)> {
    keymap
        .help_sections(readonly)
        .into_iter()
        .map(|(ctx, bs)| (ctx.title(), bs.into_iter().map(|b| (b.keys_label(), b.help)).collect()))
        .collect()
}

pub fn draw(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let sections = rows(&app.keymap, app.readonly);
    let kw = sections.iter().flat_map(|(_, r)| r.iter().map(|(k, _)| k.chars().count())).max().unwrap_or(4);
    // Two columns of sections when the screen is wide enough.
    let mut cols: [Vec<Line>; 2] = [Vec::new(), Vec::new()];
    let total: usize = sections.iter().map(|(_, r)| r.len() + 2).sum();
    let two = area.width >= 100;
    let mut used = 0;
    for (title, rows) in &sections {
        let col = usize::from(two && used >= total / 2);
        used += rows.len() + 2;
        cols[col]
            .push(Line::from(Span::styled(format!(" {title}"), theme.accent().add_modifier(Modifier::UNDERLINED))));
        for (k, h) in rows {
            cols[col].push(Line::from(vec![
                Span::styled(format!("   {k:>kw$}  "), Style::default().fg(theme.accent)),
                Span::styled(h.to_string(), Style::default().fg(theme.fg)),
            ]));
        }
        cols[col].push(Line::default());
    }
    let title = Line::from(vec![
        Span::styled(" help ", theme.accent()),
        Span::styled("— keys can be remapped in the config file's [keys] table ", theme.muted()),
    ]);
    let block = Block::bordered().border_type(BorderType::Rounded).border_style(theme.border()).title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [a, b] = cols;
    if two {
        let half = inner.width / 2;
        let left = Rect { width: half, ..inner };
        let right = Rect { x: inner.x + half, width: inner.width - half, ..inner };
        frame.render_widget(Paragraph::new(Text::from(a)).scroll((app.help_scroll, 0)), left);
        frame.render_widget(Paragraph::new(Text::from(b)).scroll((app.help_scroll, 0)), right);
    } else {
        frame.render_widget(Paragraph::new(Text::from(a)).scroll((app.help_scroll, 0)), inner);
    }
}
