//! The edit form for everyday changes (sizes, resources, storage, pause, backup schedules), and the review of
//! any change as a unified YAML diff with a server dry-run result before it is applied.

use serde_json::Value;
use similar::{ChangeTag, TextDiff};

use super::action::ClusterRef;
use super::form::{Field, FieldType, get, merge_patch, path_is_under, set};
use crate::api::common::{check_cron, check_quantity, parse_quantity};
use crate::api::{AnyResource, ParseError, Problem, Problems};
use crate::observe::view::ClusterKind;

#[derive(Clone, Debug, PartialEq)]
pub struct EditForm {
    pub target: ClusterRef,
    pub before: Value,
    pub fields: Vec<Field>,
    pub focus: usize,
    pub problems: Vec<Problem>,
    pub scale_only: bool,
}

fn text_at(v: &Value, path: &str) -> Option<String> {
    get(v, path).and_then(|x| match x {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// One cron field per backup schedule the cluster has: PXC and PS name theirs in `spec.backup.schedule[]`;
/// PG has full/differential/incremental schedules per pgBackRest repo. Adding or removing a schedule is a job
/// for the YAML (`E`).
fn schedule_fields(kind: ClusterKind, before: &Value) -> Vec<Field> {
    let mut out = Vec::new();
    match kind {
        ClusterKind::Pxc | ClusterKind::Ps { .. } => {
            let list = get(before, "spec.backup.schedule").and_then(Value::as_array).cloned().unwrap_or_default();
            for (i, item) in list.iter().enumerate() {
                let path = format!("spec.backup.schedule[{i}].schedule");
                let Some(cron) = text_at(before, &path) else { continue };
                let name = item.get("name").and_then(Value::as_str).unwrap_or("unnamed");
                let mut f = Field::text("schedule", "", path, &cron, "cron");
                f.label = format!("Schedule {name}").into();
                out.push(f);
            }
        }
        ClusterKind::Pg => {
            let repos =
                get(before, "spec.backups.pgbackrest.repos").and_then(Value::as_array).cloned().unwrap_or_default();
            for (i, repo) in repos.iter().enumerate() {
                let name = repo.get("name").and_then(Value::as_str).unwrap_or("repo");
                for kind in ["full", "differential", "incremental"] {
                    let path = format!("spec.backups.pgbackrest.repos[{i}].schedules.{kind}");
                    let Some(cron) = text_at(before, &path) else { continue };
                    let mut f = Field::text("schedule", "", path, &cron, "cron");
                    f.label = format!("Schedule {name} {kind}").into();
                    out.push(f);
                }
            }
        }
    }
    out
}

impl EditForm {
    /// Builds the form from the resource as the server has it. Fields whose path is absent are left out,
    /// except the ones every cluster has (size, pause). `scale_only` keeps just the pod counts (the `s` key).
    pub fn new(target: ClusterRef, before: Value, scale_only: bool) -> EditForm {
        let (db, storage, proxies): (&str, String, Vec<(&str, String)>) = match target.kind {
            ClusterKind::Pxc => (
                "spec.pxc",
                "spec.pxc.volumeSpec.persistentVolumeClaim.resources.requests.storage".into(),
                vec![("haproxy", "spec.haproxy".into()), ("proxysql", "spec.proxysql".into())],
            ),
            ClusterKind::Ps { .. } => (
                "spec.mysql",
                "spec.mysql.volumeSpec.persistentVolumeClaim.resources.requests.storage".into(),
                vec![("haproxy", "spec.proxy.haproxy".into()), ("router", "spec.proxy.router".into())],
            ),
            ClusterKind::Pg => {
                ("spec.instances[0]", "spec.instances[0].dataVolumeClaimSpec.resources.requests.storage".into(), vec![])
            }
        };
        let mut fields = Vec::new();
        let size_path = if target.kind == ClusterKind::Pg { format!("{db}.replicas") } else { format!("{db}.size") };
        fields.push(Field::int(
            "size",
            "Database pods",
            &size_path,
            &text_at(&before, &size_path).unwrap_or_default(),
            "",
        ));
        for (name, root) in proxies {
            if get(&before, &format!("{root}.enabled")) == Some(&Value::Bool(true)) {
                let p = format!("{root}.size");
                fields.push(Field::int(
                    "proxy-size",
                    if name == "router" { "Router pods" } else { "Proxy pods" },
                    &p,
                    &text_at(&before, &p).unwrap_or_default(),
                    name,
                ));
            }
        }
        if target.kind == ClusterKind::Pg && get(&before, "spec.proxy.pgBouncer").is_some() {
            let p = "spec.proxy.pgBouncer.replicas";
            fields.push(Field::int("proxy-size", "pgBouncer pods", p, &text_at(&before, p).unwrap_or_default(), ""));
        }
        for (id, label, leaf) in [("cpu", "CPU request", "cpu"), ("memory", "Memory request", "memory")] {
            let p = format!("{db}.resources.requests.{leaf}");
            fields.push(Field::optional(id, label, &p, &text_at(&before, &p).unwrap_or_default(), "empty = unset"));
        }
        if let Some(s) = text_at(&before, &storage) {
            fields.push(Field::text("storage", "Storage size", &storage, &s, "grow only"));
        }
        fields.extend(schedule_fields(target.kind, &before));
        let paused = get(&before, "spec.pause").and_then(Value::as_bool).unwrap_or(false);
        fields.push(Field::toggle("pause", "Paused", "spec.pause", paused, "space toggles"));
        if scale_only {
            fields.retain(|f| matches!(f.id, "size" | "proxy-size"));
        }
        let mut form = EditForm { target, before, fields, focus: 0, problems: vec![], scale_only };
        form.refresh();
        form
    }

    pub fn focused(&mut self) -> Option<&mut Field> {
        self.fields.get_mut(self.focus)
    }

    pub fn refresh(&mut self) {
        self.problems = self.validate();
    }

    /// The resource with the form's values written in. Untouched fields write nothing, so a form that
    /// was only looked at produces no change.
    pub fn after(&self) -> Value {
        let mut v = self.before.clone();
        for f in &self.fields {
            let original = get(&self.before, &f.path);
            let new = f.json();
            let unchanged = match (&new, original) {
                (None, None) => true,
                (Some(n), Some(o)) => n == o,
                (Some(Value::Bool(false)), None) => f.kind == FieldType::Bool,
                _ => false,
            };
            if unchanged {
                continue;
            }
            match new {
                Some(n) => set(&mut v, &f.path, n),
                None => remove(&mut v, &f.path),
            }
        }
        // PXC and PS grow claims only with their expansion switch on (off in Percona's cr.yaml); a form that
        // grows storage means it, so the switch goes into the same change, where the review shows it.
        if let Some(switch) = expansion_switch(self.target.kind)
            && self.storage_grows()
            && get(&v, switch) != Some(&Value::Bool(true))
        {
            set(&mut v, switch, Value::Bool(true));
        }
        v
    }

    /// Whether the form's storage size is larger than the server's.
    fn storage_grows(&self) -> bool {
        self.fields.iter().filter(|f| f.id == "storage").any(|f| {
            let old = text_at(&self.before, &f.path).and_then(|o| parse_quantity(&o).ok());
            matches!((old, parse_quantity(f.as_str().trim())), (Some(old), Ok(new)) if new > old)
        })
    }

    pub fn validate(&self) -> Vec<Problem> {
        // Problems the resource already had on the server are not this edit's doing: a form that only
        // scales must not be blocked by, say, a missing image the user has not touched (the dry-run still
        // asks the server). Only problems the edit introduces block it.
        let existing = model_problems(self.before.clone());
        let mut out: Vec<Problem> =
            model_problems(self.after()).into_iter().filter(|p| !existing.contains(p)).collect();
        let mut p = Problems::new();
        for f in &self.fields {
            let t = f.as_str().trim();
            match (f.id, &f.kind) {
                (_, FieldType::Integer) if t.parse::<u32>().is_err() => {
                    p.push(&f.path, format!("{t:?} is not a whole number"))
                }
                ("cpu" | "memory", _) if !t.is_empty() => check_quantity(&mut p, &f.path, t),
                ("storage", _) => {
                    check_quantity(&mut p, &f.path, t);
                    let old = text_at(&self.before, &f.path).and_then(|o| parse_quantity(&o).ok());
                    if let (Some(old), Ok(new)) = (old, parse_quantity(t))
                        && new < old
                    {
                        p.push(&f.path, "volumes cannot shrink; only a larger size is accepted");
                    }
                }
                ("schedule", _) => check_cron(&mut p, &f.path, t),
                _ => {}
            }
        }
        for prob in p.0 {
            if !out.iter().any(|o| path_is_under(&o.path, &prob.path) || path_is_under(&prob.path, &o.path)) {
                out.push(prob);
            }
        }
        out
    }

    /// The change as a merge patch, when there is one and nothing to fix.
    pub fn patch(&self) -> Result<Option<Value>, &[Problem]> {
        if !self.problems.is_empty() {
            return Err(&self.problems);
        }
        Ok(merge_patch(&self.before, &self.after()))
    }
}

/// The switch that lets the engine grow a family's data claims; PG grows them without one.
fn expansion_switch(kind: ClusterKind) -> Option<&'static str> {
    match kind {
        ClusterKind::Pxc => Some("spec.enableVolumeExpansion"),
        ClusterKind::Ps { .. } => Some("spec.storageScaling.enableVolumeScaling"),
        ClusterKind::Pg => None,
    }
}

/// The storage requests of a cluster's data volumes, by path: what may grow but never shrink.
fn volume_paths(kind: ClusterKind, doc: &Value) -> Vec<String> {
    match kind {
        ClusterKind::Pxc => vec![
            "spec.pxc.volumeSpec.persistentVolumeClaim.resources.requests.storage".into(),
            "spec.proxysql.volumeSpec.persistentVolumeClaim.resources.requests.storage".into(),
        ],
        ClusterKind::Ps { .. } => vec!["spec.mysql.volumeSpec.persistentVolumeClaim.resources.requests.storage".into()],
        ClusterKind::Pg => {
            let n = get(doc, "spec.instances").and_then(Value::as_array).map(Vec::len).unwrap_or(0);
            (0..n)
                .flat_map(|i| {
                    [
                        format!("spec.instances[{i}].dataVolumeClaimSpec.resources.requests.storage"),
                        format!("spec.instances[{i}].walVolumeClaimSpec.resources.requests.storage"),
                    ]
                })
                .collect()
        }
    }
}

/// Volumes the edit makes smaller (the form refuses the same): a claim can only grow.
pub fn shrinking_volumes(kind: ClusterKind, before: &Value, after: &Value) -> Vec<Problem> {
    let mut out = Vec::new();
    for path in volume_paths(kind, before) {
        let old = text_at(before, &path).and_then(|o| parse_quantity(&o).ok().map(|q| (o, q)));
        let new = text_at(after, &path).and_then(|n| parse_quantity(&n).ok().map(|q| (n, q)));
        if let (Some((o, oq)), Some((n, nq))) = (old, new)
            && nq < oq
        {
            out.push(Problem::new(path, format!("volumes cannot shrink ({o} → {n}); only a larger size is accepted")));
        }
    }
    out
}

const HEADER_FIRST: &str = "# dbdeck: this edit was NOT applied.";

/// The user's text with the reason on top as `#` comments (YAML ignores them), as `kubectl edit` re-opens.
pub fn with_error_header(error: &str, text: &str) -> String {
    let mut out =
        format!("{HEADER_FIRST} Fix it below and save to try again;\n# save it unchanged, or empty, to cancel.\n#\n");
    for l in error.lines() {
        out.push_str(&format!("# error: {l}\n"));
    }
    out.push_str("#\n");
    out.push_str(text);
    out
}

/// The text without a header [`with_error_header`] put there.
pub fn strip_error_header(text: &str) -> String {
    if !text.starts_with(HEADER_FIRST) {
        return text.to_string();
    }
    let mut lines = text.lines().peekable();
    while lines.peek().is_some_and(|l| l.starts_with('#')) {
        lines.next();
    }
    let mut rest: String = lines.collect::<Vec<_>>().join("\n");
    if text.ends_with('\n') {
        rest.push('\n');
    }
    rest
}

/// The model's rules (the same as `dbdeck validate`) applied to a document.
pub(crate) fn model_problems(doc: Value) -> Vec<Problem> {
    match AnyResource::from_value(doc) {
        Ok(r) => r.validate().0,
        Err(ParseError::Field { path, message }) => vec![Problem::new(path, message)],
        Err(e) => vec![Problem::new("(document)", e.to_string())],
    }
}

fn remove(v: &mut Value, path: &str) {
    let (parent, leaf) = match path.rfind('.') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path),
    };
    let target = if parent.is_empty() { Some(v) } else { super::form::get_mut(v, parent) };
    if let Some(Value::Object(m)) = target {
        m.remove(leaf);
    }
}

/// The dry-run state of a pending change.
#[derive(Clone, Debug, PartialEq)]
pub enum DryRun {
    Pending,
    Ok,
    Failed(String),
}

/// A change waiting for confirmation: the diff of YAML before/after and the server's dry-run answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Review {
    pub target: ClusterRef,
    pub patch: Value,
    pub diff: Vec<DiffLine>,
    pub dry_run: DryRun,
    pub scroll: u16,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiffLine {
    Hunk(String),
    Same(String),
    Added(String),
    Removed(String),
}

impl Review {
    pub fn new(target: ClusterRef, before: &Value, after: &Value, patch: Value) -> Review {
        Review { target, patch, diff: yaml_diff(before, after), dry_run: DryRun::Pending, scroll: 0 }
    }
}

/// Unified diff (3 lines of context) of the two resources as YAML, without server-managed noise.
pub fn yaml_diff(before: &Value, after: &Value) -> Vec<DiffLine> {
    let clean = |v: &Value| {
        let mut v = v.clone();
        if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("managedFields");
            m.remove("resourceVersion");
        }
        if let Some(m) = v.as_object_mut() {
            m.remove("status");
        }
        serde_yaml::to_string(&v).unwrap_or_default()
    };
    let (a, b) = (clean(before), clean(after));
    let diff = TextDiff::from_lines(&a, &b);
    let mut out = Vec::new();
    for group in diff.grouped_ops(3) {
        let (Some(first), Some(last)) = (group.first(), group.last()) else { continue };
        let old = first.old_range().start..last.old_range().end;
        let new = first.new_range().start..last.new_range().end;
        out.push(DiffLine::Hunk(format!("@@ -{},{} +{},{} @@", old.start + 1, old.len(), new.start + 1, new.len())));
        for op in &group {
            for change in diff.iter_changes(op) {
                let line = change.value().trim_end_matches('\n').to_string();
                out.push(match change.tag() {
                    ChangeTag::Equal => DiffLine::Same(line),
                    ChangeTag::Insert => DiffLine::Added(line),
                    ChangeTag::Delete => DiffLine::Removed(line),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pxc() -> Value {
        json!({
            "apiVersion": "pxc.percona.com/v1", "kind": "PerconaXtraDBCluster",
            "metadata": {"name": "cluster1", "namespace": "db"},
            "spec": {
                "crVersion": "1.20.0",
                "pxc": {"size": 3, "image": "percona/percona-xtradb-cluster:8.4.7-7.1",
                        "resources": {"requests": {"cpu": "600m", "memory": "1G"}},
                        "volumeSpec": {"persistentVolumeClaim": {"resources": {"requests": {"storage": "6G"}}}}},
                "haproxy": {"enabled": true, "size": 3, "image": "percona/haproxy:2.8.17"},
                "proxysql": {"enabled": false}
            }
        })
    }

    #[test]
    fn problems_already_on_the_server_do_not_block_a_scale() {
        let mut before = pxc();
        before["spec"]["pxc"].as_object_mut().unwrap().remove("image");
        let mut f = EditForm::new(target(), before, true);
        set_text(&mut f, "size", "5");
        assert_eq!(f.patch(), Ok(Some(json!({"spec": {"pxc": {"size": 5}}}))));
        set_text(&mut f, "size", "4");
        assert_eq!(f.problems.len(), 1, "{:?}", f.problems);
        assert_eq!(f.problems[0].path, "spec.pxc.size");
    }

    #[test]
    fn every_backup_schedule_gets_its_own_field() {
        let mut before = pxc();
        before["spec"]["backup"] = json!({"image": "percona/percona-xtrabackup:8.4", "storages": {"s3": {"type": "s3",
            "s3": {"bucket": "b", "credentialsSecret": "c"}}},
            "schedule": [{"name": "daily", "schedule": "0 0 * * *", "storageName": "s3", "keep": 3},
                         {"name": "hourly", "schedule": "0 * * * *", "storageName": "s3", "keep": 24}]});
        let mut f = EditForm::new(target(), before, false);
        let labels: Vec<String> = f.fields.iter().filter(|x| x.id == "schedule").map(|x| x.label.to_string()).collect();
        assert_eq!(labels, ["Schedule daily", "Schedule hourly"]);
        let second = f.fields.iter_mut().find(|x| x.label == "Schedule hourly").unwrap();
        second.value = super::super::form::FieldValue::Text("30 * * * *".into());
        f.refresh();
        let after = f.after();
        assert_eq!(after["spec"]["backup"]["schedule"][0]["schedule"], "0 0 * * *");
        assert_eq!(after["spec"]["backup"]["schedule"][1]["schedule"], "30 * * * *");
        assert_eq!(after["spec"]["backup"]["schedule"][1]["keep"], 24, "the rest of the item is kept");

        let pg = json!({"apiVersion": "pgv2.percona.com/v2", "kind": "PerconaPGCluster",
            "metadata": {"name": "pg1", "namespace": "db"},
            "spec": {"instances": [{"name": "instance1", "replicas": 3}],
                     "backups": {"pgbackrest": {"repos": [
                         {"name": "repo1", "schedules": {"full": "0 0 * * 6", "differential": "0 1 * * 1-5"}},
                         {"name": "repo2", "schedules": {"incremental": "0 */4 * * *"}}]}}}});
        let t = ClusterRef { kind: ClusterKind::Pg, namespace: "db".into(), name: "pg1".into() };
        let f = EditForm::new(t, pg, false);
        let labels: Vec<String> = f.fields.iter().filter(|x| x.id == "schedule").map(|x| x.label.to_string()).collect();
        assert_eq!(labels, ["Schedule repo1 full", "Schedule repo1 differential", "Schedule repo2 incremental"]);
    }

    fn target() -> ClusterRef {
        ClusterRef { kind: ClusterKind::Pxc, namespace: "db".into(), name: "cluster1".into() }
    }

    fn set_text(f: &mut EditForm, id: &str, t: &str) {
        let field = f.fields.iter_mut().find(|x| x.id == id).unwrap();
        field.value = super::super::form::FieldValue::Text(t.into());
        f.refresh();
    }

    #[test]
    fn untouched_form_changes_nothing() {
        let f = EditForm::new(target(), pxc(), false);
        assert_eq!(f.patch(), Ok(None));
        assert_eq!(
            f.fields.iter().map(|x| x.id).collect::<Vec<_>>(),
            ["size", "proxy-size", "cpu", "memory", "storage", "pause"]
        );
    }

    #[test]
    fn scale_and_pause_make_a_small_patch() {
        let mut f = EditForm::new(target(), pxc(), false);
        set_text(&mut f, "size", "5");
        f.fields.iter_mut().find(|x| x.id == "pause").unwrap().cycle(true);
        f.refresh();
        assert_eq!(f.patch(), Ok(Some(json!({"spec": {"pxc": {"size": 5}, "pause": true}}))));
        let r = Review::new(target(), &f.before, &f.after(), json!({}));
        assert!(r.diff.contains(&DiffLine::Removed("    size: 3".into())), "{:?}", r.diff);
        assert!(r.diff.contains(&DiffLine::Added("    size: 5".into())));
        assert!(r.diff.contains(&DiffLine::Added("  pause: true".into())));
    }

    #[test]
    fn scale_form_has_only_pod_counts() {
        let f = EditForm::new(target(), pxc(), true);
        assert_eq!(f.fields.iter().map(|x| x.id).collect::<Vec<_>>(), ["size", "proxy-size"]);
    }

    #[test]
    fn shrinking_storage_and_bad_numbers_are_refused() {
        let mut f = EditForm::new(target(), pxc(), false);
        set_text(&mut f, "storage", "2G");
        set_text(&mut f, "size", "x");
        let paths: Vec<_> = f.problems.iter().map(|p| p.path.as_str()).collect();
        assert!(paths.contains(&"spec.pxc.size"));
        assert!(paths.contains(&"spec.pxc.volumeSpec.persistentVolumeClaim.resources.requests.storage"));
        assert!(f.patch().is_err());
    }

    #[test]
    fn growing_storage_turns_on_volume_expansion_in_the_same_change() {
        let mut f = EditForm::new(target(), pxc(), false);
        set_text(&mut f, "storage", "12G");
        assert_eq!(
            f.patch(),
            Ok(Some(json!({"spec": {"enableVolumeExpansion": true,
                "pxc": {"volumeSpec": {"persistentVolumeClaim": {"resources": {"requests": {"storage": "12G"}}}}}}})))
        );
        // Any other change leaves the switch as the server has it.
        let mut f = EditForm::new(target(), pxc(), false);
        set_text(&mut f, "cpu", "");
        assert!(!f.after()["spec"].as_object().unwrap().contains_key("enableVolumeExpansion"));
    }

    #[test]
    fn clearing_an_optional_field_removes_it() {
        let mut f = EditForm::new(target(), pxc(), false);
        set_text(&mut f, "cpu", "");
        assert_eq!(f.patch(), Ok(Some(json!({"spec": {"pxc": {"resources": {"requests": {"cpu": null}}}}}))));
    }
}
