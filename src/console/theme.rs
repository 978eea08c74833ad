//! Colour themes: semantic slots read from `themes/*.toml`, by built-in name or by file path.
//!
//! Views never name a colour; they ask the theme for a slot (`ok`, `replica_role`, …), so a theme file
//! changes every colour on screen.

use std::path::Path;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

/// The built-in themes, embedded so the binary works without the `themes/` folder.
pub const BUILTIN: &[(&str, &str)] = &[
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    ("high-contrast", include_str!("../../themes/high-contrast.toml")),
    ("dracula", include_str!("../../themes/dracula.toml")),
];

#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    #[error("theme {0:?} is neither a built-in theme (dark, light, high-contrast, dracula) nor a readable file")]
    NotFound(String),
    #[error("theme file {path}: {message}")]
    Invalid { path: String, message: String },
}

/// Every colour the console uses.
#[derive(Clone, Debug, PartialEq)]
pub struct Theme {
    pub name: String,
    pub fg: Color,
    pub bg: Color,
    pub accent: Color,
    pub muted: Color,
    pub header_fg: Color,
    pub header_bg: Color,
    pub selection_fg: Color,
    pub selection_bg: Color,
    pub border: Color,
    pub ok: Color,
    pub warn: Color,
    pub error: Color,
    pub info: Color,
    pub primary_role: Color,
    pub replica_role: Color,
    pub proxy_role: Color,
    pub sparkline: Color,
    pub diff_add: Color,
    pub diff_remove: Color,
    pub banner_fg: Color,
    pub banner_bg: Color,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    name: String,
    colors: Colors,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Colors {
    fg: String,
    bg: String,
    accent: String,
    muted: String,
    header_fg: String,
    header_bg: String,
    selection_fg: String,
    selection_bg: String,
    border: String,
    ok: String,
    warn: String,
    error: String,
    info: String,
    primary_role: String,
    replica_role: String,
    proxy_role: String,
    sparkline: String,
    diff_add: String,
    diff_remove: String,
    banner_fg: String,
    banner_bg: String,
}

impl Theme {
    /// Parses a theme file's text; `origin` names it in error messages.
    pub fn parse(text: &str, origin: &str) -> Result<Theme, ThemeError> {
        let invalid = |message: String| ThemeError::Invalid { path: origin.to_string(), message };
        let file: ThemeFile = toml::from_str(text).map_err(|e| invalid(e.message().to_string()))?;
        let c = &file.colors;
        let col = |slot: &str, v: &str| -> Result<Color, ThemeError> {
            v.parse::<Color>()
                .map_err(|_| invalid(format!("colors.{slot}: {v:?} is not a colour (use #rrggbb or a name)")))
        };
        Ok(Theme {
            name: file.name.clone(),
            fg: col("fg", &c.fg)?,
            bg: col("bg", &c.bg)?,
            accent: col("accent", &c.accent)?,
            muted: col("muted", &c.muted)?,
            header_fg: col("header-fg", &c.header_fg)?,
            header_bg: col("header-bg", &c.header_bg)?,
            selection_fg: col("selection-fg", &c.selection_fg)?,
            selection_bg: col("selection-bg", &c.selection_bg)?,
            border: col("border", &c.border)?,
            ok: col("ok", &c.ok)?,
            warn: col("warn", &c.warn)?,
            error: col("error", &c.error)?,
            info: col("info", &c.info)?,
            primary_role: col("primary-role", &c.primary_role)?,
            replica_role: col("replica-role", &c.replica_role)?,
            proxy_role: col("proxy-role", &c.proxy_role)?,
            sparkline: col("sparkline", &c.sparkline)?,
            diff_add: col("diff-add", &c.diff_add)?,
            diff_remove: col("diff-remove", &c.diff_remove)?,
            banner_fg: col("banner-fg", &c.banner_fg)?,
            banner_bg: col("banner-bg", &c.banner_bg)?,
        })
    }

    /// A built-in theme by name.
    pub fn builtin(name: &str) -> Option<Theme> {
        BUILTIN.iter().find(|(n, _)| *n == name).and_then(|(n, text)| Theme::parse(text, n).ok())
    }

    /// `--theme NAME|PATH`: a built-in name first, then a file.
    pub fn load(name_or_path: &str) -> Result<Theme, ThemeError> {
        if let Some(t) = Theme::builtin(name_or_path) {
            return Ok(t);
        }
        let path = Path::new(name_or_path);
        let text = std::fs::read_to_string(path).map_err(|_| ThemeError::NotFound(name_or_path.to_string()))?;
        Theme::parse(&text, &path.display().to_string())
    }

    /// The default theme.
    pub fn dark() -> Theme {
        // The embedded file is checked by the tests, so this cannot fail at run time.
        Theme::builtin("dark").unwrap_or_else(Theme::fallback)
    }

    fn fallback() -> Theme {
        Theme {
            name: "fallback".into(),
            fg: Color::Reset,
            bg: Color::Reset,
            accent: Color::Cyan,
            muted: Color::DarkGray,
            header_fg: Color::Black,
            header_bg: Color::Cyan,
            selection_fg: Color::Black,
            selection_bg: Color::Cyan,
            border: Color::DarkGray,
            ok: Color::Green,
            warn: Color::Yellow,
            error: Color::Red,
            info: Color::Blue,
            primary_role: Color::Magenta,
            replica_role: Color::Cyan,
            proxy_role: Color::Blue,
            sparkline: Color::Cyan,
            diff_add: Color::Green,
            diff_remove: Color::Red,
            banner_fg: Color::White,
            banner_bg: Color::Red,
        }
    }

    /// The name of the built-in theme after this one (for the `t` key).
    pub fn next_builtin_name(current: &str) -> &'static str {
        let i = BUILTIN.iter().position(|(n, _)| *n == current).map(|i| i + 1).unwrap_or(0);
        BUILTIN[i % BUILTIN.len()].0
    }

    pub fn base(&self) -> Style {
        Style::default().fg(self.fg).bg(self.bg)
    }
    pub fn fg(&self, c: Color) -> Style {
        Style::default().fg(c)
    }
    pub fn muted(&self) -> Style {
        Style::default().fg(self.muted)
    }
    pub fn accent(&self) -> Style {
        Style::default().fg(self.accent).add_modifier(Modifier::BOLD)
    }
    pub fn header(&self) -> Style {
        Style::default().fg(self.header_fg).bg(self.header_bg).add_modifier(Modifier::BOLD)
    }
    pub fn selection(&self) -> Style {
        Style::default().fg(self.selection_fg).bg(self.selection_bg)
    }
    pub fn border(&self) -> Style {
        Style::default().fg(self.border)
    }
    pub fn health(&self, h: crate::observe::view::Health) -> Style {
        use crate::observe::view::Health;
        let c = match h {
            Health::Ok => self.ok,
            Health::Progressing => self.info,
            Health::Warning => self.warn,
            Health::Failed => self.error,
            Health::Unknown => self.muted,
        };
        Style::default().fg(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_parses() {
        for (name, text) in BUILTIN {
            let t = Theme::parse(text, name).unwrap();
            assert_eq!(&t.name, name);
        }
    }

    #[test]
    fn bad_colour_names_the_slot() {
        let text = BUILTIN[0].1.replace("ok = \"", "ok = \"notacolour");
        let err = Theme::parse(&text, "x.toml").unwrap_err().to_string();
        assert!(err.contains("colors.ok"), "{err}");
        assert!(err.contains("x.toml"), "{err}");
    }

    #[test]
    fn load_from_path_and_unknown_name() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("mine.toml");
        std::fs::write(&p, BUILTIN[1].1.replace("name = \"light\"", "name = \"mine\"")).unwrap();
        assert_eq!(Theme::load(p.to_str().unwrap()).unwrap().name, "mine");
        assert!(matches!(Theme::load("no-such-theme"), Err(ThemeError::NotFound(_))));
    }

    #[test]
    fn cycling_visits_all() {
        let mut n = "dark";
        let mut seen = vec![];
        for _ in 0..BUILTIN.len() {
            n = Theme::next_builtin_name(n);
            seen.push(n);
        }
        assert_eq!(seen.last(), Some(&"dark"));
        assert_eq!(seen.len(), BUILTIN.len());
    }
}
