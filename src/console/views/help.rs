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
    named_rows(keymap, readonly)
        .into_iter()
        .map(|(title, rows)| (title, rows.into_iter().map(|(k, h, _)| (k, h)).collect()))
        .collect()
}

/// keys, what it does, the binding's name.
type NamedRow = (String, &'static str, &'static str);

/// As [`rows`], with the binding's name: the word the config file's `[keys]` table takes.
fn named_rows(keymap: &Keymap, readonly: bool) -> Vec<(&'static str, Vec<NamedRow>)> {
    keymap
        .help_sections(readonly)
        .into_iter()
        .map(|(ctx, bs)| (ctx.title(), bs.into_iter().map(|b| (b.keys_label(), b.help, b.name)).collect()))
        .collect()
}

pub fn draw(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let sections = named_rows(&app.keymap, app.readonly);
    let kw = sections.iter().flat_map(|(_, r)| r.iter().map(|(k, _, _)| k.chars().count())).max().unwrap_or(4);
    let hw = sections.iter().flat_map(|(_, r)| r.iter().map(|(_, h, _)| h.chars().count())).max().unwrap_or(4);
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
        for (k, h, name) in rows {
            cols[col].push(Line::from(vec![
                Span::styled(format!("   {k:>kw$}  "), Style::default().fg(theme.accent)),
                Span::styled(format!("{h:<hw$}  "), Style::default().fg(theme.fg)),
                // The name to remap it by, so the help is also the reference for the config file.
                Span::styled(name.to_string(), theme.muted()),
            ]));
        }
        cols[col].push(Line::default());
    }
    // The `:` commands go under the key sections, in the shorter column.
    let shorter = usize::from(two && cols[1].len() < cols[0].len());
    let cw = crate::console::command::HELP.iter().map(|(c, _)| c.chars().count()).max().unwrap_or(4);
    cols[shorter]
        .push(Line::from(Span::styled(" Commands (type : first)", theme.accent().add_modifier(Modifier::UNDERLINED))));
    for (c, what) in crate::console::command::HELP {
        cols[shorter].push(Line::from(vec![
            Span::styled(format!("   {c:<cw$}  "), Style::default().fg(theme.accent)),
            Span::styled(what.to_string(), Style::default().fg(theme.fg)),
        ]));
    }
    let title = Line::from(vec![
        Span::styled(" help ", theme.accent()),
        Span::styled(
            "— keys can be remapped by name in [keys] of ~/.config/dbdeck/config.toml (or $XDG_CONFIG_HOME/dbdeck) ",
            theme.muted(),
        ),
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
