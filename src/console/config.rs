//! The console's config file (`~/.config/dbdeck/config.toml`): a theme and key remaps.
//!
//! ```toml
//! theme = "dracula"          # a built-in name or a path to a theme file
//! [keys]
//! filter = "f"
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::keymap::{Keymap, KeymapError};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    #[error("{path}: {source}")]
    Keys { path: String, source: KeymapError },
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Config {
    pub theme: Option<String>,
    pub keymap: Keymap,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Top {
    theme: Option<String>,
    #[serde(default)]
    keys: Option<toml::Table>,
}

impl Config {
    /// Parses the file's text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let top: Top = toml::from_str(text)
            .map_err(|e| ConfigError::Invalid { path: origin.to_string(), message: e.message().to_string() })?;
        let keymap = match top.keys {
            Some(keys) => {
                let mut t = toml::Table::new();
                t.insert("keys".into(), toml::Value::Table(keys));
                Keymap::from_config(&t.to_string())
                    .map_err(|source| ConfigError::Keys { path: origin.to_string(), source })?
            }
            None => Keymap::default(),
        };
        Ok(Config { theme: top.theme, keymap })
    }

    /// Reads the file; a missing file is the default configuration.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Config::parse(&text, &path.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(source) => Err(ConfigError::Read { path: path.display().to_string(), source }),
        }
    }

    pub fn default_path() -> Option<PathBuf> {
        dirs::config_dir().map(|d| d.join("dbdeck").join("config.toml"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::action::Action;
    use crate::console::keymap::{Context, Key};

    #[test]
    fn theme_and_keys() {
        let c = Config::parse("theme = \"light\"\n[keys]\nfilter = \"f\"\n", "c.toml").unwrap();
        assert_eq!(c.theme.as_deref(), Some("light"));
        assert_eq!(c.keymap.resolve(&[Context::List], Key::ch('f')), Some(Action::StartFilter));
    }

    #[test]
    fn errors_name_the_file() {
        let e = Config::parse("colour = 1\n", "c.toml").unwrap_err().to_string();
        assert!(e.starts_with("c.toml: "), "{e}");
        let e = Config::parse("[keys]\nnope = \"x\"\n", "c.toml").unwrap_err().to_string();
        assert!(e.contains("c.toml") && e.contains("nope"), "{e}");
    }

    #[test]
    fn missing_file_is_default() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Config::load(&dir.path().join("none.toml")).unwrap(), Config::default());
    }
}
