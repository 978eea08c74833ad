//! A result row as column name → text, the common shape the parsing functions work on.
//!
//! MySQL and MariaDB spell the same replica-status columns differently (`Seconds_Behind_Master` vs
//! `Seconds_Behind_Source`) and servers change case between versions, so lookups take several names and ignore case.

/// One row: columns in server order, NULL as `None`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TextRow {
    columns: Vec<(String, Option<String>)>,
}

impl TextRow {
    pub fn new(columns: Vec<(String, Option<String>)>) -> Self {
        TextRow { columns }
    }

    /// Builds a row from literal pairs; handy for tests and for `SHOW STATUS` style name/value lists.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, Option<&'a str>)>) -> Self {
        TextRow { columns: pairs.into_iter().map(|(k, v)| (k.to_string(), v.map(str::to_string))).collect() }
    }

    /// The value of the first of `names` that exists; `None` if no such column or the value is NULL.
    pub fn get(&self, names: &[&str]) -> Option<&str> {
        names.iter().find_map(|name| {
            self.columns.iter().find(|(col, _)| col.eq_ignore_ascii_case(name)).and_then(|(_, v)| v.as_deref())
        })
    }

    /// Like [`TextRow::get`], with NULL and a missing column both read as the empty string.
    pub fn text(&self, names: &[&str]) -> String {
        self.get(names).unwrap_or_default().to_string()
    }

    pub fn has_column(&self, name: &str) -> bool {
        self.columns.iter().any(|(col, _)| col.eq_ignore_ascii_case(name))
    }

    pub fn u64(&self, names: &[&str]) -> Option<u64> {
        self.get(names).and_then(|v| v.trim().parse().ok())
    }

    pub fn f64(&self, names: &[&str]) -> Option<f64> {
        self.get(names).and_then(|v| v.trim().parse().ok())
    }

    /// `ON`/`YES`/`1`/`TRUE` → true, anything else → false.
    pub fn flag(&self, names: &[&str]) -> bool {
        self.get(names)
            .map(|v| matches!(v.trim().to_ascii_uppercase().as_str(), "ON" | "YES" | "1" | "TRUE"))
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_try_each_spelling_and_ignore_case() {
        let row =
            TextRow::from_pairs([("Seconds_Behind_Source", Some("12")), ("Last_Error", None), ("On", Some("ON"))]);
        assert_eq!(row.u64(&["Seconds_Behind_Master", "seconds_behind_source"]), Some(12));
        assert_eq!(row.get(&["Last_Error"]), None);
        assert!(row.has_column("last_error"));
        assert_eq!(row.text(&["Missing"]), "");
        assert!(row.flag(&["on"]));
        assert!(!row.flag(&["Missing"]));
    }
}
