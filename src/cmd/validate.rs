//! `dbdeck validate -f FILE`: offline checks of cluster, backup and restore manifests.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::api::AnyResource;
use crate::cli::{ReportFormat, ValidateArgs};

/// One problem found in one document of one file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub file: String,
    /// 1-based index of the document in its file (0 when the file could not be split at all).
    pub document: usize,
    /// `Kind/name` when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    /// Field path, e.g. `spec.pxc.size`; absent for whole-document problems such as bad YAML.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file)?;
        if self.document > 0 {
            write!(f, " (document {})", self.document)?;
        }
        if let Some(o) = &self.object {
            write!(f, " {o}")?;
        }
        match &self.path {
            Some(p) => write!(f, ": {p}: {}", self.message),
            None => write!(f, ": {}", self.message),
        }
    }
}

/// The result of checking a set of inputs.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub documents: usize,
    pub findings: Vec<Finding>,
}

/// Deepest nesting dbdeck reads. No object of these kinds nests nearly this deep, and the YAML parser's time grows
/// with the square of the flow nesting (`[[[[…`), so deeper input is refused before it is parsed. It is also the
/// parser's own recursion limit.
pub const MAX_DEPTH: usize = 128;

/// The deepest flow nesting (`[` and `{`) of a YAML text and the 1-based line where it passes `limit` (0 when it
/// does not). Quoted strings, comments and block scalars (`|`, `>`) are skipped; one pass, linear in the text.
pub fn flow_depth(text: &str, limit: usize) -> (usize, usize) {
    let (mut depth, mut max, mut at) = (0usize, 0usize, 0usize);
    let (mut in_single, mut in_double, mut escape) = (false, false, false);
    let mut block_indent: Option<usize> = None;
    for (n, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        if let Some(bi) = block_indent {
            if line.trim().is_empty() || indent > bi {
                continue;
            }
            block_indent = None;
        }
        let mut prev = ' ';
        let mut content_end = line.len();
        for (i, c) in line.char_indices() {
            if in_double {
                match c {
                    _ if escape => escape = false,
                    '\\' => escape = true,
                    '"' => in_double = false,
                    _ => {}
                }
            } else if in_single {
                if c == '\'' {
                    in_single = false;
                }
            } else {
                let starts_token = prev.is_whitespace() || "[{,:".contains(prev);
                match c {
                    '#' if prev.is_whitespace() => {
                        content_end = i;
                        break;
                    }
                    '"' if starts_token => in_double = true,
                    '\'' if starts_token => in_single = true,
                    '[' | '{' if depth > 0 || prev.is_whitespace() || prev == '-' => {
                        depth += 1;
                        if depth > max {
                            max = depth;
                            if depth > limit && at == 0 {
                                at = n + 1;
                            }
                        }
                    }
                    ']' | '}' if depth > 0 => depth -= 1,
                    _ => {}
                }
            }
            prev = c;
        }
        // `key: |` or `- >-`: the more indented lines that follow are text.
        if depth == 0 && !in_single && !in_double {
            let head = line[..content_end].trim_end();
            let indicator = head.rsplit(|c: char| c.is_whitespace()).next().unwrap_or("");
            if (indicator.starts_with('|') || indicator.starts_with('>'))
                && indicator[1..].chars().all(|c| c == '+' || c == '-' || c.is_ascii_digit())
                && head.len() > indicator.len()
            {
                block_indent = Some(indent);
            } else if head == "|" || head == ">" {
                block_indent = Some(indent);
            }
        }
    }
    (max, at)
}

/// Checks the text of one file (already read) and appends what it finds.
pub fn check_text(report: &mut Report, file: &str, text: &str) {
    let (documents, findings) = (report.documents, report.findings.len());
    check_documents(report, file, text);
    if report.documents == documents && report.findings.len() == findings {
        report.findings.push(Finding {
            file: file.into(),
            document: 0,
            object: None,
            path: None,
            message: format!("no objects in {file} (it is empty or holds only comments)"),
        });
    }
}

fn check_documents(report: &mut Report, file: &str, text: &str) {
    let (depth, line) = flow_depth(text, MAX_DEPTH);
    if depth > MAX_DEPTH {
        report.findings.push(Finding {
            file: file.into(),
            document: 0,
            object: None,
            path: None,
            message: format!(
                "nests brackets more than {MAX_DEPTH} levels deep (line {line}); no object of these kinds nests \
                 that deep, so the file is not read"
            ),
        });
        return;
    }
    let mut index = 0;
    for doc in serde_yaml::Deserializer::from_str(text) {
        index += 1;
        let yaml = match serde_yaml::Value::deserialize(doc) {
            Ok(v) => v,
            Err(e) => {
                report.findings.push(Finding {
                    file: file.into(),
                    document: index,
                    object: None,
                    path: None,
                    message: format!("malformed YAML: {e}"),
                });
                // The YAML stream cannot be resynchronised after a syntax error.
                return;
            }
        };
        if yaml.is_null() {
            // `---` followed by nothing, or a document of only comments.
            index -= 1;
            continue;
        }
        // kubectl applies YAML merge keys (`<<: *defaults`) before it sends the object; do the same.
        let mut yaml = yaml;
        if let Err(e) = yaml.apply_merge() {
            report.findings.push(Finding {
                file: file.into(),
                document: index,
                object: None,
                path: None,
                message: format!("invalid YAML merge key (<<): {e}"),
            });
            continue;
        }
        let value: serde_json::Value = match serde_json::to_value(&yaml) {
            Ok(v) => v,
            Err(e) => {
                report.findings.push(Finding {
                    file: file.into(),
                    document: index,
                    object: None,
                    path: None,
                    message: format!("not representable as JSON (Kubernetes objects must be): {e}"),
                });
                continue;
            }
        };
        check_value(report, file, index, value);
    }
}

fn check_value(report: &mut Report, file: &str, index: usize, value: serde_json::Value) {
    // A `kind: List` (what `kubectl get -o yaml` prints) holds its objects in `items`.
    if value.get("kind").and_then(|k| k.as_str()) == Some("List") {
        if let Some(items) = value.get("items").and_then(|i| i.as_array()) {
            for item in items.clone() {
                check_value(report, file, index, item);
            }
            return;
        }
    }
    report.documents += 1;
    let label = object_label(&value);
    let mut value = value;
    // Percona's older PXC CRDs served versioned aliases (`pxc.percona.com/v1-12-0`) with the v1 schema; say so and
    // check the rest of the document as v1, so one outdated line does not hide every other problem.
    if let Some(av) = value.get("apiVersion").and_then(|v| v.as_str()).map(str::to_string) {
        if let Some(rest) = av.strip_prefix("pxc.percona.com/v1-") {
            if !rest.is_empty() && rest.split('-').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit())) {
                report.findings.push(Finding {
                    file: file.into(),
                    document: index,
                    object: label.clone(),
                    path: Some("apiVersion".into()),
                    message: format!(
                        "{av} is an old versioned alias that current operators no longer serve; use pxc.percona.com/v1 (same fields)"
                    ),
                });
                value["apiVersion"] = serde_json::Value::String("pxc.percona.com/v1".into());
            }
        }
    }
    match AnyResource::from_value(value.clone()) {
        Ok(res) => {
            for p in res.validate_document(&value).0 {
                report.findings.push(Finding {
                    file: file.into(),
                    document: index,
                    object: label.clone(),
                    path: Some(p.path),
                    message: p.message,
                });
            }
        }
        Err(crate::api::ParseError::Field { path, message }) => report.findings.push(Finding {
            file: file.into(),
            document: index,
            object: label,
            path: Some(path),
            message,
        }),
        Err(e) => report.findings.push(Finding {
            file: file.into(),
            document: index,
            object: label,
            path: None,
            message: e.to_string(),
        }),
    }
}

fn object_label(value: &serde_json::Value) -> Option<String> {
    let kind = value.get("kind").and_then(|k| k.as_str())?;
    let name = value.pointer("/metadata/name").and_then(|n| n.as_str()).unwrap_or("(no name)");
    Some(format!("{kind}/{name}"))
}

fn read_input(path: &Path) -> std::io::Result<String> {
    if path == Path::new("-") {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        Ok(s)
    } else {
        std::fs::read_to_string(path)
    }
}

fn display_name(path: &Path) -> String {
    if path == Path::new("-") { "<stdin>".into() } else { path.display().to_string() }
}

/// Checks every file; unreadable files are findings too.
pub fn check_files(files: &[PathBuf]) -> Report {
    let mut report = Report::default();
    for f in files {
        match read_input(f) {
            Ok(text) => check_text(&mut report, &display_name(f), &text),
            Err(e) => report.findings.push(Finding {
                file: display_name(f),
                document: 0,
                object: None,
                path: None,
                message: format!("cannot read: {e}"),
            }),
        }
    }
    report
}

/// Runs the sub-command; returns the process exit code (0 clean, 1 problems found).
pub fn run(args: &ValidateArgs) -> color_eyre::Result<i32> {
    let report = check_files(&args.files);
    match args.output {
        ReportFormat::Json => crate::cmd::out::println(&serde_json::to_string_pretty(&report)?),
        ReportFormat::Text => {
            for f in &report.findings {
                crate::cmd::out::println(&f.to_string());
            }
            let n = report.findings.len();
            if n == 0 {
                crate::cmd::out::println(&format!("{} document(s) checked, no problems found", report.documents));
            } else {
                crate::cmd::out::println(&format!("{} document(s) checked, {n} problem(s) found", report.documents));
            }
        }
    }
    Ok(if report.findings.is_empty() { 0 } else { 1 })
}
