//! The `/` filter: case-insensitive regex (k9s style), falling back to plain text when the pattern is not a
//! valid regex, and `!` in front for the inverse. A pattern anchored with `^` or `$` is about the name: `^shop`
//! means names that start with shop, not rows whose first column does; unanchored ones search the whole row.

use regex::Regex;

#[derive(Clone, Debug)]
pub struct Filter {
    pub raw: String,
    inverse: bool,
    matcher: Matcher,
    /// Set when the text was not a valid regex and is matched literally instead.
    pub note: Option<String>,
    /// `^` at the start or `$` at the end: matched against the name only.
    anchored: bool,
}

#[derive(Clone, Debug)]
enum Matcher {
    Everything,
    Regex(Regex),
    Text(String),
}

impl Filter {
    pub fn parse(raw: &str) -> Filter {
        let trimmed = raw.trim();
        let (inverse, pattern) = match trimmed.strip_prefix('!') {
            Some(rest) => (true, rest.trim_start()),
            None => (false, trimmed),
        };
        if pattern.is_empty() {
            return Filter {
                raw: raw.to_string(),
                inverse: false,
                matcher: Matcher::Everything,
                note: None,
                anchored: false,
            };
        }
        let (matcher, note) = match Regex::new(&format!("(?i){pattern}")) {
            Ok(re) => (Matcher::Regex(re), None),
            Err(_) => (Matcher::Text(pattern.to_lowercase()), Some("not a valid regex; matching as text".to_string())),
        };
        let anchored = pattern.starts_with('^') || (pattern.ends_with('$') && !pattern.ends_with("\\$"));
        Filter { raw: raw.to_string(), inverse, matcher, note, anchored }
    }

    pub fn is_empty(&self) -> bool {
        matches!(self.matcher, Matcher::Everything)
    }

    /// Whether a row passes: an anchored pattern is matched against `name`, any other against `row` (the
    /// row's searchable text).
    pub fn matches_row(&self, name: &str, row: &str) -> bool {
        self.matches(if self.anchored { name } else { row })
    }

    /// Whether a row, given as its searchable text, passes the filter.
    pub fn matches(&self, haystack: &str) -> bool {
        let hit = match &self.matcher {
            Matcher::Everything => return true,
            Matcher::Regex(re) => re.is_match(haystack),
            Matcher::Text(t) => haystack.to_lowercase().contains(t),
        };
        hit != self.inverse
    }
}

impl Default for Filter {
    fn default() -> Self {
        Filter::parse("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substring_regex_and_inverse() {
        assert!(Filter::parse("").matches("anything"));
        assert!(Filter::parse("prod").matches("pxc db-prod cluster1"));
        assert!(Filter::parse("PROD").matches("pxc db-prod cluster1"), "case-insensitive");
        assert!(!Filter::parse("staging").matches("pxc db-prod cluster1"));
        assert!(Filter::parse("^pg .*orders").matches("pg shop orders"));
        assert!(!Filter::parse("^pg .*orders").matches("pxc shop orders"));
        assert!(Filter::parse("pxc|pg").matches("pg a b"));
        assert!(!Filter::parse("!prod").matches("db-prod"));
        assert!(Filter::parse("! prod").matches("db-staging"));
        assert!(Filter::parse("!").matches("x"), "a bare ! filters nothing");
    }

    #[test]
    fn anchors_are_about_the_name() {
        let row = "pxc shop cart ready cart-haproxy.shop";
        assert!(Filter::parse("^cart").matches_row("cart", row));
        assert!(!Filter::parse("^pxc").matches_row("cart", row), "the row starts with the kind, the name does not");
        assert!(Filter::parse("rt$").matches_row("cart", row));
        assert!(!Filter::parse("shop$").matches_row("cart", row), "the row ends with the endpoint");
        assert!(Filter::parse("^c.*t$").matches_row("cart", row));
        assert!(Filter::parse("haproxy").matches_row("cart", row), "unanchored: anywhere in the row");
        assert!(!Filter::parse("!^cart").matches_row("cart", row));
    }

    #[test]
    fn invalid_regex_matches_as_text() {
        let f = Filter::parse("a(b");
        assert!(f.note.is_some());
        assert!(f.matches("xa(by"));
        assert!(!f.matches("ab"));
    }
}
