//! Types and checks shared by the three cluster families: problems with field paths, status pieces,
//! quantity and cron parsing, name rules, and schema helpers for free-form values.

use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// One thing wrong with an object, located by its field path (`spec.pxc.size`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl Problem {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self { path: path.into(), message: message.into() }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every problem found in one object; validation collects them all instead of stopping at the first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    pub fn new() -> Self {
        Self(Vec::new())
    }
    pub fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem::new(path, message));
    }
    pub fn extend(&mut self, other: Problems) {
        self.0.extend(other.0);
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn iter(&self) -> impl Iterator<Item = &Problem> {
        self.0.iter()
    }
    /// All problems joined on one line, as the engine puts them in `status.message`.
    pub fn one_line(&self) -> String {
        self.0.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; ")
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

/// Implemented by every cluster, backup and restore kind: returns all problems at once.
pub trait Validate {
    fn validate(&self) -> Problems;
}

/// A Percona-style condition (`type`, `status`, `reason`, `message`, `lastTransitionTime`).
/// PXC keeps these as a capped history; PS and PG use them like `metav1.Condition`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterCondition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// Cluster-level states shared by the three operators (PG never uses `error`).
pub mod state {
    pub const INITIALIZING: &str = "initializing";
    pub const READY: &str = "ready";
    pub const ERROR: &str = "error";
    pub const PAUSED: &str = "paused";
    pub const STOPPING: &str = "stopping";
}

/// Schema for a value kept free-form: any JSON, preserved by the API server as written.
pub fn any_value(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "x-kubernetes-preserve-unknown-fields": true })
}

/// Schema for a free-form object (a map whose shape we do not type).
pub fn any_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "object", "x-kubernetes-preserve-unknown-fields": true })
}

/// Schema for a list of free-form objects.
pub fn any_object_list(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "items": { "type": "object", "x-kubernetes-preserve-unknown-fields": true }
    })
}

/// Schema for an int-or-string field (`maxUnavailable: 1` or `"25%"`).
pub fn int_or_string(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "x-kubernetes-int-or-string": true })
}

/// Parses a Kubernetes quantity (`6G`, `1Gi`, `600m`, `1.5`, `1e3`) into its value in base units.
/// Returns an error sentence suitable for a [`Problem`].
pub fn parse_quantity(s: &str) -> Result<f64, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("must be a quantity such as 6G, 1Gi or 600m, got an empty string".into());
    }
    let bad = || format!("\"{s}\" is not a valid quantity (examples: 6G, 1Gi, 500Mi, 600m)");
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-')).unwrap_or(t.len());
    let (num, suffix) = t.split_at(split);
    if num.is_empty() || num == "+" || num == "-" || num.matches('.').count() > 1 {
        return Err(bad());
    }
    let base: f64 = num.parse().map_err(|_| bad())?;
    let mult = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        s if s.starts_with(['e', 'E']) => {
            let exp: i32 = s[1..].parse().map_err(|_| bad())?;
            10f64.powi(exp)
        }
        _ => return Err(bad()),
    };
    Ok(base * mult)
}

/// Checks a quantity and records a problem at `path` when it does not parse or is negative.
pub fn check_quantity(problems: &mut Problems, path: &str, value: &str) {
    match parse_quantity(value) {
        Ok(v) if v < 0.0 => problems.push(path, format!("\"{value}\" must not be negative")),
        Ok(_) => {}
        Err(e) => problems.push(path, e),
    }
}

/// Checks a cron schedule as Percona's operators accept it: five fields (minute hour day month
/// weekday) or a descriptor such as `@daily`.
pub fn check_cron(problems: &mut Problems, path: &str, schedule: &str) {
    if let Err(e) = parse_cron(schedule) {
        problems.push(path, e);
    }
}

/// A parsed backup schedule: a cron expression, or a fixed interval (`@every 30m`, as robfig/cron allows).
#[derive(Clone, Debug)]
pub enum Schedule {
    Cron(Box<croner::Cron>),
    Every(std::time::Duration),
}

impl Schedule {
    /// The first run strictly after `after`.
    pub fn next_after(&self, after: chrono::DateTime<chrono::Utc>) -> Option<chrono::DateTime<chrono::Utc>> {
        match self {
            Schedule::Cron(c) => c.find_next_occurrence(&after, false).ok(),
            Schedule::Every(d) => chrono::Duration::from_std(*d).ok().map(|d| after + d),
        }
    }
}

/// Parses a five-field cron expression or a descriptor (`@hourly`, `@daily`, `@weekly`, `@monthly`,
/// `@yearly`/`@annually`, `@midnight`, `@every 5m`).
pub fn parse_cron(schedule: &str) -> Result<Schedule, String> {
    let s = schedule.trim();
    if s.is_empty() {
        return Err("must be a cron schedule such as \"0 0 * * *\", got an empty string".into());
    }
    if let Some(rest) = s.strip_prefix("@every ") {
        return match parse_go_duration(rest.trim()) {
            Some(secs) if secs > 0 => Ok(Schedule::Every(std::time::Duration::from_secs(secs))),
            _ => Err(format!("\"{schedule}\": @every needs a duration such as 30m or 1h")),
        };
    }
    let s = if s == "@midnight" { "@daily" } else { s };
    if !s.starts_with('@') && s.split_whitespace().count() != 5 {
        return Err(format!(
            "\"{schedule}\" is not a cron schedule: expected 5 fields (minute hour day-of-month month day-of-week), found {}",
            s.split_whitespace().count()
        ));
    }
    s.parse::<croner::Cron>()
        .map(|c| Schedule::Cron(Box::new(c)))
        .map_err(|e| format!("\"{schedule}\" is not a valid cron schedule: {e}"))
}

/// Parses the subset of Go durations used in schedules and timeouts (`90s`, `5m`, `1h30m`).
pub fn parse_go_duration(s: &str) -> Option<u64> {
    let mut total = 0u64;
    let mut num = String::new();
    let mut seen = false;
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num.parse().ok()?;
        num.clear();
        total += match c {
            'h' => n * 3600,
            'm' => n * 60,
            's' => n,
            _ => return None,
        };
        seen = true;
    }
    if !num.is_empty() || !seen {
        return None;
    }
    Some(total)
}

/// A DNS-1123 label (`[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most `max` characters).
pub fn check_dns_label(problems: &mut Problems, path: &str, value: &str, max: usize) {
    if value.is_empty() {
        problems.push(path, "is required");
        return;
    }
    if value.len() > max {
        problems.push(path, format!("\"{value}\" is {} characters long; at most {max} are allowed", value.len()));
    }
    let ok_chars = value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let ok_ends =
        value.starts_with(|c: char| c.is_ascii_alphanumeric()) && value.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !ok_chars || !ok_ends {
        problems.push(
            path,
            format!("\"{value}\" must consist of lower case letters, digits and '-', and start and end with a letter or digit"),
        );
    }
}

/// Paths present in `original` but missing from `typed` (its parse-and-serialise round trip): fields our
/// schema — like Percona's — does not declare, which an API server would prune. Explicit `null`s are not
/// reported, since null and absent mean the same to the operators.
pub fn pruned_fields(original: &serde_json::Value, typed: &serde_json::Value) -> Vec<String> {
    fn walk(path: &str, a: &serde_json::Value, b: &serde_json::Value, out: &mut Vec<String>) {
        use serde_json::Value;
        match (a, b) {
            (Value::Object(am), Value::Object(bm)) => {
                for (k, av) in am {
                    let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                    match bm.get(k) {
                        Some(bv) => walk(&p, av, bv, out),
                        None if av.is_null() => {}
                        None => out.push(p),
                    }
                }
            }
            (Value::Array(aa), Value::Array(ba)) => {
                for (i, (av, bv)) in aa.iter().zip(ba).enumerate() {
                    walk(&format!("{path}[{i}]"), av, bv, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk("", original, typed, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(parse_quantity("6G").unwrap(), 6e9);
        assert_eq!(parse_quantity("1Gi").unwrap(), 1024f64.powi(3));
        assert!((parse_quantity("600m").unwrap() - 0.6).abs() < 1e-9);
        assert_eq!(parse_quantity("2").unwrap(), 2.0);
        assert_eq!(parse_quantity("1e3").unwrap(), 1000.0);
        assert!(parse_quantity("6GB").is_err());
        assert!(parse_quantity("lots").is_err());
        assert!(parse_quantity("").is_err());
        assert!(parse_quantity("1.2.3").is_err());
    }

    #[test]
    fn crons() {
        assert!(parse_cron("0 0 * * *").is_ok());
        assert!(parse_cron("*/30 * * * *").is_ok());
        assert!(parse_cron("0 0 * * 6").is_ok());
        assert!(parse_cron("@daily").is_ok());
        assert!(parse_cron("@every 5m").is_ok());
        assert!(parse_cron("0 0 * *").unwrap_err().contains("expected 5 fields"));
        assert!(parse_cron("61 0 * * *").is_err());
        assert!(parse_cron("").is_err());
    }

    #[test]
    fn labels() {
        let mut p = Problems::new();
        check_dns_label(&mut p, "metadata.name", "cluster1", 22);
        assert!(p.is_empty());
        check_dns_label(&mut p, "metadata.name", "Cluster_1", 22);
        check_dns_label(&mut p, "metadata.name", "a-very-long-cluster-name-indeed", 22);
        assert_eq!(p.len(), 2);
        assert!(p.0[1].message.contains("at most 22"));
    }

    #[test]
    fn pruned_fields_skip_nulls_and_walk_lists() {
        let a = serde_json::json!({"spec": {"size": 3, "sise": 4, "gone": null, "l": [{"x": 1, "y": 2}]}});
        let b = serde_json::json!({"spec": {"size": 3, "l": [{"x": 1}]}});
        assert_eq!(pruned_fields(&a, &b), ["spec.sise", "spec.l[0].y"]);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_go_duration("1h30m"), Some(5400));
        assert_eq!(parse_go_duration("90s"), Some(90));
        assert_eq!(parse_go_duration("5"), None);
    }
}
