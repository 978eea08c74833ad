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

/// dbdeck's ceiling for one size (pods of a component, instance sets of a PG cluster, pods of all of them):
/// no flag lifts it. Beyond the safe bounds below, which flags do lift, it keeps one object from making the
/// engine build and apply without end (every pod brings a claim, and for PG a StatefulSet).
pub const MAX_SIZE: i64 = 1000;
/// Where Percona sets no upper bound, dbdeck's safe one for a component's pods; lifted by the family's unsafe
/// flag (PXC/PS `spec.unsafeFlags`) or, for PG, which has none, by [`ALLOW_UNSAFE_SIZE`].
pub const MAX_SAFE_SIZE: i64 = 16;
/// The annotation (value `"true"`) that lifts [`MAX_SAFE_SIZE`] on a PerconaPGCluster.
pub const ALLOW_UNSAFE_SIZE: &str = "dbdeck.io/allow-unsafe-size";

/// Records a problem when `size` is above [`MAX_SIZE`]; returns whether it did.
pub fn check_size_ceiling(problems: &mut Problems, path: &str, size: i64) -> bool {
    if size > MAX_SIZE {
        problems.push(path, format!("{size} is above dbdeck's limit of {MAX_SIZE}; no setting allows more"));
    }
    size > MAX_SIZE
}

/// Checks a size against the safe bound (unless `unsafe_ok`) and the ceiling; `lift` says how to go past
/// the safe bound. Returns whether a problem was recorded.
pub fn check_size_bounds(
    problems: &mut Problems,
    path: &str,
    size: i64,
    safe_max: i64,
    unsafe_ok: bool,
    lift: &str,
) -> bool {
    if check_size_ceiling(problems, path, size) {
        true
    } else if size > safe_max && !unsafe_ok {
        problems.push(path, format!("{size} is above the safe maximum of {safe_max}; {lift} to allow it"));
        true
    } else {
        false
    }
}

/// A DNS-1123 subdomain (what Secret, ConfigMap and most object names must be): lower case letters, digits,
/// '-' and '.', labels starting and ending with a letter or digit, at most 253 characters.
pub fn check_dns_subdomain(problems: &mut Problems, path: &str, value: &str) {
    if value.is_empty() {
        problems.push(path, "is required");
        return;
    }
    if value.len() > 253 {
        problems.push(path, format!("\"{value}\" is {} characters long; at most 253 are allowed", value.len()));
    }
    let ok = value.split('.').all(|label| {
        !label.is_empty()
            && label.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    });
    if !ok {
        problems.push(
            path,
            format!(
                "\"{value}\" is not a valid Secret name: use lower case letters, digits, '-' and '.', starting and \
                 ending with a letter or digit"
            ),
        );
    }
}

/// A Secret name when one is given (an empty one is left to the field's own "is required" rule).
pub fn check_secret_name(problems: &mut Problems, path: &str, value: Option<&str>) {
    if let Some(v) = value.filter(|v| !v.is_empty()) {
        check_dns_subdomain(problems, path, v);
    }
}

/// Checks a container image reference as the distribution reference grammar has it:
/// `[host[:port]/]path[:tag][@digest]`, path components of lower case letters and digits joined by `.`, `_`, `__`
/// or `-`s, tags `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`, digests `algorithm:hex`. Returns the reason when it is not.
pub fn parse_image_reference(reference: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("\"{reference}\" is not a valid image reference: {why}"));
    if reference.is_empty() {
        return bad("it is empty");
    }
    if reference.len() > 255 + 128 + 72 {
        return bad("it is too long");
    }
    let (rest, digest) = match reference.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (reference, None),
    };
    if let Some(d) = digest {
        let Some((alg, hex)) = d.split_once(':') else { return bad("the digest must be algorithm:hex") };
        let alg_ok = !alg.is_empty()
            && alg
                .split(['+', '.', '_', '-'])
                .all(|c| !c.is_empty() && c.chars().all(|x| x.is_ascii_lowercase() || x.is_ascii_digit()));
        if !alg_ok || hex.len() < 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return bad("the digest must be algorithm:hex such as sha256:<64 hex digits>");
        }
    }
    // A tag follows the last ':' after the last '/' (a ':' before it is a registry port).
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if let Some(t) = tag {
        let ok = !t.is_empty()
            && t.len() <= 128
            && t.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            && t.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !ok {
            return bad("a tag is up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'");
        }
    }
    if name.is_empty() {
        return bad("the repository name is missing");
    }
    if name.len() > 255 {
        return bad("the name is longer than 255 characters");
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    // The first part is a registry host when it has a '.' or ':' or is localhost.
    if parts.len() > 1 && (parts[0].contains(['.', ':']) || parts[0] == "localhost") {
        let host = parts.remove(0);
        let (h, port) = match host.rsplit_once(':') {
            Some((h, p)) if !h.starts_with('[') || h.ends_with(']') => (h, Some(p)),
            _ => (host, None),
        };
        let host_ok = if h.starts_with('[') {
            h.ends_with(']') && h[1..h.len() - 1].parse::<std::net::Ipv6Addr>().is_ok()
        } else {
            !h.is_empty()
                && h.split('.').all(|l| {
                    !l.is_empty()
                        && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                        && !l.starts_with('-')
                        && !l.ends_with('-')
                })
        };
        if !host_ok || port.is_some_and(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_digit())) {
            return bad("the registry host is not a host name with an optional :port");
        }
    }
    for comp in &parts {
        if !path_component_ok(comp) {
            return bad(
                "repository path components are lower case letters and digits, separated by '.', '_', '__' or '-'",
            );
        }
    }
    Ok(())
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn path_component_ok(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !b[0].is_ascii_lowercase() && !b[0].is_ascii_digit() {
        return false;
    }
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator: '.', '_', '__' or one or more '-', then an alphanumeric.
        let start = i;
        match b[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if i < b.len() && b[i] == b'_' {
                    i += 1;
                }
            }
            b'-' => {
                while i < b.len() && b[i] == b'-' {
                    i += 1;
                }
            }
            _ => return false,
        }
        if i == start || i >= b.len() || !alnum(b[i]) {
            return false;
        }
    }
    true
}

/// Records a problem at `path` when `image` is given and is not a valid reference.
pub fn check_image(problems: &mut Problems, path: &str, image: Option<&str>) {
    if let Some(i) = image.filter(|i| !i.trim().is_empty())
        && let Err(e) = parse_image_reference(i)
    {
        problems.push(path, e);
    }
}

/// Every request and limit parses and is not negative, and no request exceeds its limit (the API server refuses
/// such pods).
pub fn check_resource_requirements(
    problems: &mut Problems,
    path: &str,
    r: Option<&k8s_openapi::api::core::v1::ResourceRequirements>,
) {
    let Some(r) = r else { return };
    for (kind, map) in [("requests", &r.requests), ("limits", &r.limits)] {
        for (name, q) in map.iter().flatten() {
            check_quantity(problems, &format!("{path}.{kind}.{name}"), &q.0);
        }
    }
    if let (Some(req), Some(lim)) = (&r.requests, &r.limits) {
        for (name, rq) in req {
            let Some(lq) = lim.get(name) else { continue };
            if let (Ok(rv), Ok(lv)) = (parse_quantity(&rq.0), parse_quantity(&lq.0))
                && rv > lv
            {
                problems.push(
                    format!("{path}.requests.{name}"),
                    format!("request {} is larger than the limit {}; a request may not exceed its limit", rq.0, lq.0),
                );
            }
        }
    }
}

/// A probe's timings must not be negative; thresholds and period at least 1 when given (the API server's rules).
pub fn check_probe(problems: &mut Problems, path: &str, probe: Option<&k8s_openapi::api::core::v1::Probe>) {
    let Some(pr) = probe else { return };
    for (field, v, min) in [
        ("initialDelaySeconds", pr.initial_delay_seconds, 0),
        ("timeoutSeconds", pr.timeout_seconds, 0),
        ("periodSeconds", pr.period_seconds, 0),
        ("successThreshold", pr.success_threshold, 0),
        ("failureThreshold", pr.failure_threshold, 0),
    ] {
        if let Some(v) = v.filter(|v| *v < min) {
            problems.push(format!("{path}.{field}"), format!("{v} must not be negative"));
        }
    }
    if let Some(g) = pr.termination_grace_period_seconds.filter(|g| *g < 1) {
        problems.push(format!("{path}.terminationGracePeriodSeconds"), format!("{g} must be at least 1 (seconds)"));
    }
}

/// `1.20.0`-style versions, as hashicorp/go-version (what Percona parses `crVersion` with) accepts them in
/// practice: an optional `v`, one to three dot-separated numbers, an optional `-pre` or `+build` suffix.
pub fn is_version(v: &str) -> bool {
    let v = v.strip_prefix('v').unwrap_or(v);
    let core = v.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    !core.is_empty() && parts.len() <= 3 && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
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

    #[test]
    fn image_references_follow_the_distribution_grammar() {
        for ok in [
            "percona/percona-xtradb-cluster:8.4.7-7.1",
            "busybox",
            "docker.io/library/busybox:latest",
            "localhost:5000/a/b_c__d-e.f:tag_1",
            "registry.example.com:443/percona/haproxy@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "perconalab/pmm-client:3.4.1",
            "[::1]:5000/x:y",
        ] {
            assert!(parse_image_reference(ok).is_ok(), "{ok}: {:?}", parse_image_reference(ok));
        }
        for bad in [":::", "", "Percona/x", "a:", "a::b", "x:-tag", "a//b", "a/-b", "a@sha256:xyz", "-a", "a:b c"] {
            assert!(parse_image_reference(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn secret_names_are_dns_subdomains() {
        let mut p = Problems::new();
        check_secret_name(&mut p, "x", Some("my-secret.v1"));
        check_secret_name(&mut p, "x", None);
        assert!(p.is_empty());
        for bad in ["Bad Secret Name!", "Bad_Secret", "-a", "a..b"] {
            let mut p = Problems::new();
            check_secret_name(&mut p, "x", Some(bad));
            assert_eq!(p.len(), 1, "{bad}");
        }
    }

    #[test]
    fn requests_may_not_exceed_limits() {
        use k8s_openapi::api::core::v1::ResourceRequirements;
        use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
        let q = |v: &str| Quantity(v.into());
        let r = ResourceRequirements {
            requests: Some([("cpu".to_string(), q("1500m")), ("memory".to_string(), q("1Gi"))].into()),
            limits: Some([("cpu".to_string(), q("1")), ("memory".to_string(), q("2Gi"))].into()),
            ..Default::default()
        };
        let mut p = Problems::new();
        check_resource_requirements(&mut p, "r", Some(&r));
        assert_eq!(p.len(), 1, "{p}");
        assert_eq!(p.0[0].path, "r.requests.cpu");
    }

    #[test]
    fn versions() {
        for ok in ["1.20.0", "1.20", "v1.20.0", "1.20.0-rc1"] {
            assert!(is_version(ok), "{ok}");
        }
        for bad in ["", "latest", "1..0", "1.2.3.4", "one.two", "x.y.z"] {
            assert!(!is_version(bad), "{bad}");
        }
    }
}
