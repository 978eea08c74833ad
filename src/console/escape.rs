//! Puts back together the keys crossterm splits when `esc` and an arrow arrive in one read.
//!
//! An arrow key is the bytes `ESC [ A`. When the user presses `esc` and then an arrow while the loop is busy (or
//! tmux sends both at once), the terminal holds `ESC ESC [ A`; crossterm reads `ESC ESC` as one `esc` and the rest
//! as the characters `[` and `A`, and `A` means "sort by age" in the list, so the selection seemed to jump. Keys
//! that follow an `esc` within [`BURST`] and spell the tail of a cursor-key sequence are turned back into that key;
//! anything else is passed on unchanged (a `[` typed by a person after `esc` is far slower than the burst).

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Keys read in the same burst as an `esc` arrive within microseconds; people type tens of milliseconds apart.
pub const BURST: Duration = Duration::from_millis(15);

#[derive(Debug, Default)]
pub struct SplitEscape {
    /// When the last `esc` came, while a sequence could still follow it.
    esc_at: Option<Instant>,
    /// Characters held back because they may be the tail of a sequence (`[`, `[5`, `O`).
    held: Vec<KeyEvent>,
}

fn plain_char(k: &KeyEvent) -> Option<char> {
    match k.code {
        KeyCode::Char(c) if k.modifiers.difference(KeyModifiers::SHIFT).is_empty() => Some(c),
        _ => None,
    }
}

impl SplitEscape {
    /// Feeds one key pressed at `at`; returns the keys to act on now (possibly none while a sequence may follow).
    pub fn push(&mut self, key: KeyEvent, at: Instant) -> Vec<KeyEvent> {
        let mut out = Vec::new();
        let in_burst = self.esc_at.is_some_and(|t| at.saturating_duration_since(t) <= BURST);
        if !in_burst {
            out.extend(self.flush());
        }
        if key.code == KeyCode::Esc && key.modifiers.is_empty() {
            out.extend(self.flush());
            out.push(key);
            self.esc_at = Some(at);
            return out;
        }
        let Some(c) = plain_char(&key).filter(|_| self.esc_at.is_some()) else {
            out.extend(self.flush());
            out.push(key);
            return out;
        };
        let prefix: String = self.held.iter().filter_map(plain_char).collect();
        let code = match (prefix.as_str(), c) {
            ("", '[' | 'O') => None,
            ("[", '1'..='8') => None,
            ("[" | "O", 'A') => Some(KeyCode::Up),
            ("[" | "O", 'B') => Some(KeyCode::Down),
            ("[" | "O", 'C') => Some(KeyCode::Right),
            ("[" | "O", 'D') => Some(KeyCode::Left),
            ("[" | "O", 'H') | ("[1" | "[7", '~') => Some(KeyCode::Home),
            ("[" | "O", 'F') | ("[4" | "[8", '~') => Some(KeyCode::End),
            ("[", 'Z') => Some(KeyCode::BackTab),
            ("[5", '~') => Some(KeyCode::PageUp),
            ("[6", '~') => Some(KeyCode::PageDown),
            ("[3", '~') => Some(KeyCode::Delete),
            _ => {
                out.extend(self.flush());
                out.push(key);
                return out;
            }
        };
        match code {
            None => self.held.push(key),
            Some(code) => {
                self.held.clear();
                self.esc_at = None;
                let modifiers = if code == KeyCode::BackTab { KeyModifiers::SHIFT } else { KeyModifiers::NONE };
                out.push(KeyEvent::new(code, modifiers));
            }
        }
        out
    }

    /// When held keys must be given up on (the loop calls [`SplitEscape::flush`] then).
    pub fn deadline(&self) -> Option<Instant> {
        if self.held.is_empty() { None } else { self.esc_at.map(|t| t + BURST) }
    }

    /// Gives back the held keys as they were typed.
    pub fn flush(&mut self) -> Vec<KeyEvent> {
        self.esc_at = None;
        std::mem::take(&mut self.held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }
    fn ch(c: char) -> KeyEvent {
        k(KeyCode::Char(c))
    }

    fn feed(s: &mut SplitEscape, keys: &[(KeyEvent, u64)]) -> Vec<KeyCode> {
        let t0 = Instant::now();
        let mut out = Vec::new();
        for (key, ms) in keys {
            out.extend(s.push(*key, t0 + Duration::from_millis(*ms)).into_iter().map(|e| e.code));
        }
        out
    }

    #[test]
    fn esc_then_arrows_read_together_become_esc_and_arrows() {
        let mut s = SplitEscape::default();
        let got = feed(&mut s, &[(k(KeyCode::Esc), 0), (ch('['), 0), (ch('A'), 0)]);
        assert_eq!(got, [KeyCode::Esc, KeyCode::Up]);
        let got = feed(&mut s, &[(k(KeyCode::Esc), 0), (ch('O'), 0), (ch('B'), 0)]);
        assert_eq!(got, [KeyCode::Esc, KeyCode::Down]);
        let got = feed(&mut s, &[(k(KeyCode::Esc), 0), (ch('['), 0), (ch('6'), 0), (ch('~'), 0)]);
        assert_eq!(got, [KeyCode::Esc, KeyCode::PageDown]);
        let got = feed(&mut s, &[(k(KeyCode::Esc), 0), (ch('['), 0), (ch('Z'), 0)]);
        assert_eq!(got, [KeyCode::Esc, KeyCode::BackTab]);
        assert_eq!(s.deadline(), None);
    }

    #[test]
    fn keys_typed_after_esc_pass_unchanged() {
        let mut s = SplitEscape::default();
        // A person typing `[` then `A` after esc: slower than the burst.
        let got = feed(&mut s, &[(k(KeyCode::Esc), 0), (ch('['), 40), (ch('A'), 80)]);
        assert_eq!(got, [KeyCode::Esc, KeyCode::Char('['), KeyCode::Char('A')]);
        // `[` then a letter that ends no sequence: both given back, in order.
        let got = feed(&mut s, &[(k(KeyCode::Esc), 0), (ch('['), 0), (ch('x'), 0)]);
        assert_eq!(got, [KeyCode::Esc, KeyCode::Char('['), KeyCode::Char('x')]);
        // Without an esc before it, `A` is just `A`.
        assert_eq!(feed(&mut s, &[(ch('A'), 0)]), [KeyCode::Char('A')]);
    }

    #[test]
    fn a_held_bracket_is_given_back_at_the_deadline() {
        let mut s = SplitEscape::default();
        let t0 = Instant::now();
        assert_eq!(s.push(k(KeyCode::Esc), t0).len(), 1);
        assert!(s.push(ch('['), t0).is_empty());
        assert_eq!(s.deadline(), Some(t0 + BURST));
        assert_eq!(s.flush().iter().map(|e| e.code).collect::<Vec<_>>(), [KeyCode::Char('[')]);
        assert_eq!(s.deadline(), None);
    }
}
