//! Rendering. Every `draw` takes `&App` and the theme and only reads: no I/O, no blocking, no state changes.

pub mod chrome;
pub mod detail;
pub mod dialogs;
pub mod forms;
pub mod help;
pub mod list;

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::Block;

use super::app::{App, Screen};
use super::theme::Theme;
use crate::observe::view::{Behind, LagView};

/// Draws the whole screen for the current state.
pub fn draw(app: &App, theme: &Theme, frame: &mut Frame) {
    let area = frame.area();
    frame.render_widget(Block::new().style(theme.base()), area);
    let banner_h = u16::from(app.banner.is_some());
    let notice = app.engine.as_ref().and_then(|e| e.notice());
    let [header, sandbox_note, banner, body, notice_area, status, hints] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(u16::from(app.sandbox_note.is_some())),
        Constraint::Length(banner_h),
        Constraint::Min(1),
        Constraint::Length(u16::from(notice.is_some())),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    chrome::header(app, theme, frame, header);
    if let Some(text) = &app.sandbox_note {
        chrome::sandbox_note(text, theme, frame, sandbox_note);
    }
    if let Some(text) = &app.banner {
        chrome::banner(text, theme, frame, banner);
    }
    match app.screen() {
        Screen::Clusters => list::clusters(app, theme, frame, body),
        Screen::Backups => list::backups(app, theme, frame, body),
        Screen::Detail(r) => detail::draw(app, r, theme, frame, body),
        Screen::Help => help::draw(app, theme, frame, body),
        Screen::Wizard => forms::wizard(app, theme, frame, body),
        Screen::EditForm => forms::edit(app, theme, frame, body),
        Screen::Review => forms::review(app, theme, frame, body),
        Screen::ConfirmDelete => {
            draw_base(app, theme, frame, body);
            dialogs::delete(app, theme, frame, body);
        }
    }
    if app.question.is_some() {
        dialogs::question(app, theme, frame, body);
    }
    if app.picker.is_some() {
        dialogs::picker(app, theme, frame, body);
    }
    if app.popup.is_some() {
        dialogs::popup(app, theme, frame, body);
    }
    if let Some(text) = &notice {
        chrome::engine_notice(text, theme, frame, notice_area);
    }
    chrome::status_line(app, theme, frame, status);
    chrome::hint_bar(app, theme, frame, hints);
}

/// The list or detail under a dialog.
fn draw_base(app: &App, theme: &Theme, frame: &mut Frame, body: Rect) {
    match app.base_screen() {
        Screen::Detail(r) => detail::draw(app, r, theme, frame, body),
        Screen::Backups => list::backups(app, theme, frame, body),
        _ => list::clusters(app, theme, frame, body),
    }
}

/// `text` cut to `width` columns with `…` at the end when it is longer (never mid-character).
pub fn ellipsize(text: &str, width: usize) -> String {
    // Everything the console prints is one column per character (ASCII, box drawing, ✓ ▲ …).
    if text.chars().count() <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out: String = text.chars().take(width - 1).collect();
    out.push('…');
    out
}

/// Greedy word wrap to `width` columns; a word longer than a line is cut across lines.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(8);
    let mut lines = Vec::new();
    for para in text.lines() {
        let mut cur = String::new();
        for word in para.split_whitespace() {
            let mut word = word.to_string();
            while word.chars().count() > width {
                if !cur.is_empty() {
                    lines.push(std::mem::take(&mut cur));
                }
                let head: String = word.chars().take(width).collect();
                word = word.chars().skip(width).collect();
                lines.push(head);
            }
            if !cur.is_empty() && cur.chars().count() + 1 + word.chars().count() > width {
                lines.push(std::mem::take(&mut cur));
            }
            if !cur.is_empty() {
                cur.push(' ');
            }
            cur.push_str(&word);
        }
        lines.push(cur);
    }
    lines
}

/// Compact age as k9s prints it: `42s`, `17m`, `5h`, `3d`.
pub fn age(now: DateTime<Utc>, t: Option<DateTime<Utc>>) -> String {
    let Some(t) = t else { return "—".into() };
    let s = (now - t).num_seconds().max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..172800 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    }
}

/// Time until `t`, for schedules: `in 3h`.
pub fn until(now: DateTime<Utc>, t: DateTime<Utc>) -> String {
    if t <= now { "due now".into() } else { format!("in {}", age(t, Some(now))) }
}

pub fn duration(secs: f64) -> String {
    let s = secs.round() as i64;
    match s {
        ..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

pub fn bytes(n: u64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < U.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 { format!("{n} B") } else { format!("{v:.1} {}", U[i]) }
}

/// The LAG cell: a number only when it was read; `—` otherwise.
pub fn lag_text(lag: &LagView) -> String {
    match lag {
        LagView::NotApplicable => String::new(),
        LagView::Unknown { .. } => "—".into(),
        LagView::Known { seconds, behind, .. } => match behind {
            Some(Behind::Bytes(b)) => format!("{} ({})", duration(*seconds), bytes(*b)),
            Some(Behind::Transactions(t)) => format!("{} ({t} trx)", duration(*seconds)),
            None => duration(*seconds),
        },
        // No time figure from the server: the amount alone, never a made-up duration.
        LagView::Amount { behind, .. } => match behind {
            Behind::Bytes(b) => bytes(*b),
            Behind::Transactions(t) => format!("{t} trx"),
        },
    }
}

/// A sparkline of the samples in block characters, scaled to their maximum.
pub fn sparkline(samples: &[u64], width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let tail = &samples[samples.len().saturating_sub(width)..];
    let max = tail.iter().copied().max().unwrap_or(0);
    tail.iter().map(|&v| BARS[v.saturating_mul(7).checked_div(max).unwrap_or(0).min(7) as usize]).collect()
}

/// A rectangle of at most `w`×`h` in the middle of `area`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect { x: area.x + (area.width - w) / 2, y: area.y + (area.height - h) / 2, width: w, height: h }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn formats() {
        let now = Utc.with_ymd_and_hms(2026, 1, 10, 12, 0, 0).unwrap();
        assert_eq!(age(now, Some(now - chrono::Duration::seconds(42))), "42s");
        assert_eq!(age(now, Some(now - chrono::Duration::hours(5))), "5h");
        assert_eq!(age(now, Some(now - chrono::Duration::days(3))), "3d");
        assert_eq!(age(now, None), "—");
        assert_eq!(until(now, now + chrono::Duration::hours(3)), "in 3h");
        assert_eq!(duration(192.0), "3m12s");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(sparkline(&[0, 7, 14], 10), "▁▄█");
        assert_eq!(sparkline(&[0, 0], 10), "▁▁");
        assert_eq!(lag_text(&LagView::Unknown { reason: "x".into() }), "—");
        let amount = |behind| LagView::Amount { behind, note: None, read_at: now };
        assert_eq!(lag_text(&amount(Behind::Transactions(5))), "5 trx");
        assert_eq!(lag_text(&amount(Behind::Bytes(2048))), "2.0 KiB");
    }
}
