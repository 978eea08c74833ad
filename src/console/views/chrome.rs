//! Header, banner, status/input line and the hint bar.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::console::app::{App, InputKind, Level};
use crate::console::theme::Theme;

pub fn header(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let width = area.width as usize;
    let ns = app.namespace.as_deref().unwrap_or("all");
    let mut crumbs = app.stack.iter().map(|s| s.crumb()).collect::<Vec<_>>().join(" › ");
    if app.scope.label() != "all" {
        crumbs.push_str(&format!(" ({})", app.scope.label()));
    }
    // What goes first when the line is too narrow: the theme, then the engine's word, then the crumbs are cut
    // (the screen's own title says where one is), then the context and namespace names.
    let readonly = app.readonly;
    let engine = app.engine.as_ref().map(|e| (e.header(), e.warns()));
    let right_for = |level: usize| -> Vec<Span<'static>> {
        let mut right = Vec::new();
        if readonly {
            right.push(Span::styled(
                " READ-ONLY ",
                Style::default().fg(theme.bg).bg(theme.warn).add_modifier(Modifier::BOLD),
            ));
            right.push(Span::raw(" "));
        }
        if let Some((text, warns)) = &engine
            && level < 2
        {
            let style = if *warns { Style::default().fg(theme.warn) } else { theme.muted() };
            right.push(Span::styled(format!("{text}  "), style));
        }
        if level < 1 {
            right.push(Span::styled(format!("theme {} ", app.theme_name), theme.muted()));
        }
        right
    };
    let fixed = " dbdeck ".len() + " ctx ".len() + "  ns ".len() + "  │ ".len();
    let need = |ctx: &str, ns: &str, crumbs: &str, right: &[Span]| {
        fixed
            + ctx.chars().count()
            + ns.chars().count()
            + crumbs.chars().count()
            + right.iter().map(|s| s.width()).sum::<usize>()
    };
    let mut level = 0;
    let mut right = right_for(0);
    while need(&app.context, ns, &crumbs, &right) > width && level < 2 {
        level += 1;
        right = right_for(level);
    }
    let right_w: usize = right.iter().map(|s| s.width()).sum();
    let over = need(&app.context, ns, &crumbs, &right).saturating_sub(width);
    if over > 0 {
        let keep = crumbs.chars().count().saturating_sub(over).max(8);
        crumbs = super::ellipsize(&crumbs, keep);
    }
    let mut ctx = app.context.clone();
    let mut nsw = ns.to_string();
    if need(&ctx, &nsw, &crumbs, &right) > width {
        let room = width.saturating_sub(fixed + right_w + crumbs.chars().count());
        ctx = super::ellipsize(&ctx, (room * 2 / 3).max(6));
        nsw = super::ellipsize(&nsw, room.saturating_sub(ctx.chars().count()).max(4));
    }
    let mut left = vec![
        Span::styled(" dbdeck ", theme.header()),
        Span::styled(" ctx ", theme.muted()),
        Span::styled(ctx, theme.accent()),
        Span::styled("  ns ", theme.muted()),
        Span::styled(nsw, theme.accent()),
        Span::styled("  │ ", theme.border()),
        Span::styled(crumbs, Style::default().fg(theme.fg)),
    ];
    let used: usize = left.iter().chain(right.iter()).map(|s| s.width()).sum();
    let gap = width.saturating_sub(used);
    left.push(Span::raw(" ".repeat(gap)));
    left.extend(right);
    frame.render_widget(Paragraph::new(Line::from(left)), area);
}

/// What the sandbox demo's database servers are doing (or how to get them), said once for every row.
pub fn sandbox_note(text: &str, theme: &Theme, frame: &mut Frame, area: Rect) {
    frame.render_widget(Paragraph::new(format!(" ⓘ {text}")).style(Style::default().fg(theme.info)), area);
}

pub fn banner(text: &str, theme: &Theme, frame: &mut Frame, area: Rect) {
    let style = Style::default().fg(theme.banner_fg).bg(theme.banner_bg).add_modifier(Modifier::BOLD);
    frame.render_widget(Paragraph::new(format!(" ⚠ {text}")).style(style), area);
}

/// Why the engine is off (or unchecked), kept on screen for as long as it holds: a status message would be
/// overwritten by the next one.
pub fn engine_notice(text: &str, theme: &Theme, frame: &mut Frame, area: Rect) {
    frame.render_widget(Paragraph::new(format!(" {text}")).style(Style::default().fg(theme.warn)), area);
}

/// The input line while typing a filter or command; otherwise the last status message or the filter in force.
pub fn status_line(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let line = if let Some(input) = &app.input {
        let (prompt, help) = match input.kind {
            InputKind::Filter => ("/", "  regex or text · ^name$ anchors the name · !inverse · enter keep · esc clear"),
            InputKind::Command => (":", "  pxc ps pg all · ns NAME · ctx NAME · sort COLUMN [desc] · backups · q"),
        };
        Line::from(vec![
            Span::styled(prompt, theme.accent()),
            Span::styled(input.text.clone(), Style::default().fg(theme.fg)),
            Span::styled("█", Style::default().fg(theme.accent)),
            Span::styled(help, theme.muted()),
        ])
    } else if let Some(s) = &app.status {
        let c = match s.level {
            Level::Info => theme.info,
            Level::Ok => theme.ok,
            Level::Error => theme.error,
        };
        // A message longer than the line ends in `…` and says where the whole of it is.
        let width = area.width as usize;
        let text = format!(" {}", s.text.replace('\n', " "));
        if text.chars().count() > width {
            let more = "  :messages shows all";
            let cut = super::ellipsize(&text, width.saturating_sub(more.len()));
            Line::from(vec![Span::styled(cut, Style::default().fg(c)), Span::styled(more, theme.muted())])
        } else {
            Line::from(Span::styled(text, Style::default().fg(c)))
        }
    } else if !app.filter.is_empty() {
        let mut spans =
            vec![Span::styled(" filter ", theme.muted()), Span::styled(format!("/{}", app.filter.raw), theme.accent())];
        if let Some(n) = &app.filter.note {
            spans.push(Span::styled(format!("  ({n})"), Style::default().fg(theme.warn)));
        }
        spans.push(Span::styled("  esc clears", theme.muted()));
        Line::from(spans)
    } else {
        Line::default()
    };
    frame.render_widget(Paragraph::new(line), area);
}

/// `key desc` pairs for what works right now, straight from the keymap. What does not fit the width is left out
/// whole (never cut mid-word), and the key to the help, where every binding is listed, always stays.
pub fn hint_bar(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let hints = app.keymap.hints(&app.contexts(), app.readonly);
    let piece =
        |b: &crate::console::keymap::Binding| (format!("<{}>", b.keys_label()), format!(" {}  ", b.hint_text()));
    let width = |(k, h): &(String, String)| k.chars().count() + h.chars().count();
    let help = hints.iter().find(|b| b.action == crate::console::action::Action::Help).map(|b| piece(b));
    let mut budget = (area.width as usize).saturating_sub(1 + help.as_ref().map_or(0, width));
    let mut shown = Vec::new();
    for b in hints.iter().filter(|b| b.action != crate::console::action::Action::Help) {
        let p = piece(b);
        if width(&p) > budget {
            break;
        }
        budget -= width(&p);
        shown.push(p);
    }
    shown.extend(help);
    let mut spans = vec![Span::raw(" ")];
    for (k, h) in shown {
        spans.push(Span::styled(k, theme.accent()));
        spans.push(Span::styled(h, theme.muted()));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
