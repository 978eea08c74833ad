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
    let nw = sections.iter().flat_map(|(_, r)| r.iter().map(|(_, _, n)| n.chars().count())).max().unwrap_or(4);
    let cw = crate::console::command::HELP.iter().map(|(c, _)| c.chars().count()).max().unwrap_or(4);
    let block = Block::bordered().border_type(BorderType::Rounded).border_style(theme.border()).title(Line::from(vec![
        Span::styled(" help ", theme.accent()),
        Span::styled(
            "— keys can be remapped by name in [keys] of ~/.config/dbdeck/config.toml (or $XDG_CONFIG_HOME/dbdeck) ",
            theme.muted(),
        ),
    ]));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    // As many columns of sections as the width takes (each as wide as its widest row), filled in order and
    // balanced by height.
    // Without the binding names when that is what makes a second column fit (the names are the config
    // file's words; on a wide screen they stay).
    let full_w = (3 + kw + 2 + hw + 2 + nw).max(4 + cw + 30) + 2;
    let bare_w = (3 + kw + 2 + hw).max(4 + cw + 30) + 2;
    let names = (inner.width as usize) / full_w >= 2 || (inner.width as usize) / bare_w < 2;
    let col_w = if names { full_w } else { bare_w };
    let ncols = ((inner.width as usize) / col_w).clamp(1, 4);
    let total: usize =
        sections.iter().map(|(_, r)| r.len() + 2).sum::<usize>() + crate::console::command::HELP.len() + 1;
    let per_col = total.div_ceil(ncols);
    let mut cols: Vec<Vec<Line>> = vec![Vec::new(); ncols];
    let mut col = 0;
    for (title, rows) in &sections {
        if col + 1 < ncols && !cols[col].is_empty() && cols[col].len() + rows.len() / 2 >= per_col {
            col += 1;
        }
        cols[col]
            .push(Line::from(Span::styled(format!(" {title}"), theme.accent().add_modifier(Modifier::UNDERLINED))));
        for (k, h, name) in rows {
            cols[col].push(Line::from(vec![
                Span::styled(format!("   {k:>kw$}  "), Style::default().fg(theme.accent)),
                Span::styled(format!("{h:<hw$}  "), Style::default().fg(theme.fg)),
                // The name to remap it by, so the help is also the reference for the config file.
                Span::styled(if names { name.to_string() } else { String::new() }, theme.muted()),
            ]));
        }
        cols[col].push(Line::default());
    }
    // The `:` commands go under the key sections, in the shortest column.
    let shortest = (0..ncols).min_by_key(|i| cols[*i].len()).unwrap_or(0);
    cols[shortest]
        .push(Line::from(Span::styled(" Commands (type : first)", theme.accent().add_modifier(Modifier::UNDERLINED))));
    for (c, what) in crate::console::command::HELP {
        cols[shortest].push(Line::from(vec![
            Span::styled(format!("   {c:<cw$}  "), Style::default().fg(theme.accent)),
            Span::styled(what.to_string(), Style::default().fg(theme.fg)),
        ]));
    }
    let w = inner.width / ncols as u16;
    for (i, lines) in cols.into_iter().enumerate() {
        let x = inner.x + w * i as u16;
        let width = if i + 1 == ncols { inner.width - w * i as u16 } else { w };
        let rect = Rect { x, width, ..inner };
        frame.render_widget(Paragraph::new(Text::from(lines)).scroll((app.help_scroll, 0)), rect);
    }
}
