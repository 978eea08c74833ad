//! The create wizard: kind → basics → resources → proxy → backup → review YAML → create.
//!
//! It builds the custom resource as JSON with Percona's field names and validates it with the model's rules
//! (`AnyResource::from_value(..).validate()`, the same as `dbdeck validate`). Form-level checks (a size that is
//! not a number, a bad cron, a missing bucket) fill in where the model reports nothing for that field, so a
//! field never shows the same fault twice.

use serde_json::{Value, json};

use super::action::{CheckOutcome, RemoteCheck, WizardQuery};
use super::form::{Field, FieldValue, get, path_is_under, set};
use crate::api::common::{check_cron, check_dns_label, check_quantity, parse_quantity};
use crate::api::{AnyResource, ParseError, Problem, Problems, pg, ps, pxc};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Kind,
    Basics,
    Resources,
    Proxy,
    Backup,
    Review,
}

impl Step {
    pub const ALL: [Step; 6] = [Step::Kind, Step::Basics, Step::Resources, Step::Proxy, Step::Backup, Step::Review];
    pub fn title(&self) -> &'static str {
        match self {
            Step::Kind => "Kind",
            Step::Basics => "Name & version",
            Step::Resources => "Size & storage",
            Step::Proxy => "Proxy",
            Step::Backup => "Backups",
            Step::Review => "Review",
        }
    }
    pub fn index(&self) -> usize {
        Step::ALL.iter().position(|s| s == self).unwrap_or(0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    Pxc,
    PsAsync,
    PsGr,
    Pg,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Wizard {
    pub step: Step,
    pub focus: usize,
    /// Fields of every step; which are visible depends on the step and the kind.
    pub fields: Vec<Field>,
    built_for: Option<Family>,
    /// Problems of the resource as it stands (model rules first, then form checks, then the API's answers).
    pub problems: Vec<Problem>,
    pub review_scroll: u16,
    /// What the API said about the names (cluster, StorageClass, Secret); each answer holds while its field
    /// keeps the value it was asked about.
    pub remote: Vec<RemoteCheck>,
    /// A check is on its way.
    pub checking: bool,
}

impl Wizard {
    pub fn new(namespace: &str) -> Wizard {
        let mut w = Wizard {
            step: Step::Kind,
            focus: 0,
            fields: vec![
                Field::choice(
                    "kind",
                    "Kind",
                    "kind",
                    vec!["pxc", "ps", "pg"],
                    0,
                    "PXC: Galera · PS: MySQL replication · PG: PostgreSQL/Patroni",
                ),
                Field::choice(
                    "cluster-type",
                    "Replication",
                    "spec.mysql.clusterType",
                    vec!["async", "group-replication"],
                    0,
                    "PS only: async (orchestrator + HAProxy) or group replication",
                ),
                Field::text("name", "Name", "metadata.name", "cluster1", "lower case letters, digits and '-'"),
                Field::text("namespace", "Namespace", "metadata.namespace", namespace, ""),
            ],
            built_for: None,
            problems: Vec::new(),
            review_scroll: 0,
            remote: Vec::new(),
            checking: false,
        };
        w.rebuild();
        w
    }

    fn family(&self) -> Family {
        match (self.value("kind"), self.value("cluster-type")) {
            ("pxc", _) => Family::Pxc,
            ("ps", "group-replication") => Family::PsGr,
            ("ps", _) => Family::PsAsync,
            _ => Family::Pg,
        }
    }

    pub fn field(&self, id: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.id == id)
    }
    fn field_mut(&mut self, id: &str) -> Option<&mut Field> {
        self.fields.iter_mut().find(|f| f.id == id)
    }
    pub fn value(&self, id: &str) -> &str {
        self.field(id).map(Field::as_str).unwrap_or("")
    }

    /// Re-creates the kind-specific fields with that kind's defaults (name and namespace are kept).
    fn rebuild(&mut self) {
        let fam = self.family();
        if self.built_for == Some(fam) {
            self.refresh();
            return;
        }
        self.fields.truncate(4);
        let (ver, size, size_path, cpu, mem, storage, proxies): (
            &str,
            &str,
            &str,
            &str,
            &str,
            &str,
            Vec<&'static str>,
        ) = match fam {
            Family::Pxc => ("1.20.0", "3", "spec.pxc.size", "600m", "1G", "6G", vec!["haproxy", "proxysql", "none"]),
            Family::PsAsync => ("1.3.0", "3", "spec.mysql.size", "600m", "1G", "2Gi", vec!["haproxy"]),
            Family::PsGr => ("1.3.0", "3", "spec.mysql.size", "600m", "1G", "2Gi", vec!["router", "haproxy"]),
            Family::Pg => ("3.1.0", "3", "spec.instances[0].replicas", "", "", "1Gi", vec!["pgbouncer", "none"]),
        };
        let storage_types = match fam {
            Family::Pxc => vec!["s3", "filesystem"],
            Family::PsAsync | Family::PsGr => vec!["s3"],
            Family::Pg => vec!["s3", "volume"],
        };
        let mut f =
            vec![Field::text("version", "Operator version", "spec.crVersion", ver, "crVersion of the resource")];
        if fam == Family::Pg {
            f.push(Field::int("pg-version", "PostgreSQL", "spec.postgresVersion", "18", "major version"));
        }
        f.push(Field::int(
            "size",
            "Database pods",
            size_path,
            size,
            match fam {
                Family::Pxc => "Galera needs an odd size, 3 or 5",
                Family::Pg => "1 primary + standbys",
                _ => "1 source + replicas",
            },
        ));
        f.push(Field::optional("cpu", "CPU request", "", cpu, "e.g. 600m, 2"));
        f.push(Field::optional("memory", "Memory request", "", mem, "e.g. 1G, 4Gi"));
        f.push(Field::text("storage", "Storage size", "", storage, "e.g. 6G, 100Gi"));
        f.push(Field::optional("storage-class", "Storage class", "", "", "empty = the cluster's default class"));
        f.push(Field::choice("proxy", "Proxy", "", proxies, 0, "what clients connect to"));
        f.push(Field::int("proxy-size", "Proxy pods", "", "3", ""));
        f.push(Field::toggle("backup", "Backups", "spec.backup", true, "space toggles"));
        f.push(Field::text(
            "storage-name",
            "Storage name",
            "",
            if fam == Family::Pg { "repo1" } else { "s3-backups" },
            "",
        ));
        f.push(Field::choice("storage-type", "Storage type", "", storage_types, 0, ""));
        if fam != Family::PsAsync && fam != Family::PsGr {
            // Percona's defaults for a volume-backed backup store: 6G (PXC filesystem), 1Gi (PG repo).
            let size = if fam == Family::Pg { "1Gi" } else { "6G" };
            f.push(Field::text("backup-size", "Backup volume", "", size, "size of the backup PVC"));
        }
        f.push(Field::text("bucket", "S3 bucket", "", "", "required for s3"));
        f.push(Field::text("region", "S3 region", "", "us-east-1", ""));
        if fam == Family::Pg {
            f.push(Field::text("endpoint", "S3 endpoint", "", "", "required by pgBackRest, e.g. s3.amazonaws.com"));
        }
        if fam != Family::Pg {
            f.push(Field::text(
                "credentials",
                "Credentials secret",
                "",
                "",
                "Secret with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY",
            ));
        }
        f.push(Field::text("schedule", "Schedule (cron)", "", "0 0 * * *", "minute hour day month weekday"));
        self.fields.extend(f);
        self.built_for = Some(fam);
        self.refresh();
    }

    /// Field paths that depend on other fields (proxy kind, storage name), then validation.
    pub fn refresh(&mut self) {
        let fam = self.family();
        let proxy = self.value("proxy").to_string();
        let store = self.value("storage-name").to_string();
        let db = match fam {
            Family::Pxc => "spec.pxc",
            Family::PsAsync | Family::PsGr => "spec.mysql",
            Family::Pg => "spec.instances[0]",
        };
        let storage_path = match fam {
            Family::Pg => format!("{db}.dataVolumeClaimSpec"),
            _ => format!("{db}.volumeSpec.persistentVolumeClaim"),
        };
        let proxy_path = match (fam, proxy.as_str()) {
            (Family::Pxc, p) => format!("spec.{p}.size"),
            (Family::PsAsync | Family::PsGr, p) => format!("spec.proxy.{p}.size"),
            (Family::Pg, _) => "spec.proxy.pgBouncer.replicas".to_string(),
        };
        let (backup_root, store_root) = match fam {
            Family::Pg => ("spec.backups".to_string(), "spec.backups.pgbackrest.repos[0]".to_string()),
            _ => ("spec.backup".to_string(), format!("spec.backup.storages.{store}")),
        };
        let set_path = |w: &mut Wizard, id: &str, p: String| {
            if let Some(f) = w.field_mut(id) {
                f.path = p;
            }
        };
        set_path(self, "cpu", format!("{db}.resources.requests.cpu"));
        set_path(self, "memory", format!("{db}.resources.requests.memory"));
        set_path(self, "storage", format!("{storage_path}.resources.requests.storage"));
        set_path(self, "storage-class", format!("{storage_path}.storageClassName"));
        set_path(self, "proxy", format!("{}.proxy", if fam == Family::Pg { "spec.proxy" } else { "spec" }));
        set_path(self, "proxy-size", proxy_path);
        set_path(self, "backup", backup_root);
        set_path(
            self,
            "storage-name",
            if fam == Family::Pg { format!("{store_root}.name") } else { "spec.backup.storages".to_string() },
        );
        set_path(self, "storage-type", format!("{store_root}.{}", if fam == Family::Pg { "s3" } else { "type" }));
        set_path(
            self,
            "backup-size",
            if fam == Family::Pg {
                format!("{store_root}.volume.volumeClaimSpec.resources.requests.storage")
            } else {
                format!("{store_root}.volume.persistentVolumeClaim.resources.requests.storage")
            },
        );
        set_path(self, "bucket", format!("{store_root}.s3.bucket"));
        set_path(self, "region", format!("{store_root}.s3.region"));
        set_path(self, "endpoint", format!("{store_root}.s3.endpoint"));
        set_path(self, "credentials", format!("{store_root}.s3.credentialsSecret"));
        set_path(
            self,
            "schedule",
            if fam == Family::Pg {
                format!("{store_root}.schedules.full")
            } else {
                "spec.backup.schedule[0].schedule".to_string()
            },
        );
        self.problems = self.validate();
    }

    /// Ids of the fields shown on a step, given the current choices.
    pub fn step_fields(&self, step: Step) -> Vec<&'static str> {
        let fam = self.family();
        match step {
            Step::Kind if self.value("kind") == "ps" => vec!["kind", "cluster-type"],
            Step::Kind => vec!["kind"],
            Step::Basics if fam == Family::Pg => vec!["name", "namespace", "version", "pg-version"],
            Step::Basics => vec!["name", "namespace", "version"],
            Step::Resources => vec!["size", "cpu", "memory", "storage", "storage-class"],
            Step::Proxy if self.value("proxy") == "none" => vec!["proxy"],
            Step::Proxy => vec!["proxy", "proxy-size"],
            Step::Backup if !self.field("backup").is_some_and(Field::is_on) => vec!["backup"],
            Step::Backup => {
                let mut v = vec!["backup", "storage-name", "storage-type"];
                if self.value("storage-type") == "s3" {
                    v.extend(["bucket", "region"]);
                    v.push(if fam == Family::Pg { "endpoint" } else { "credentials" });
                } else {
                    v.push("backup-size");
                }
                v.push("schedule");
                v
            }
            Step::Review => vec![],
        }
    }

    pub fn focused_id(&self) -> Option<&'static str> {
        self.step_fields(self.step).get(self.focus).copied()
    }

    pub fn input(&mut self, c: char) {
        // Space on a choice is the next choice (the kind choice rebuilds the fields); in text it is typed.
        if c == ' '
            && self
                .focused_id()
                .and_then(|id| self.field(id))
                .is_some_and(|f| matches!(f.value, FieldValue::Choice { .. }))
        {
            return self.cycle(true);
        }
        if let Some(id) = self.focused_id()
            && let Some(f) = self.field_mut(id)
        {
            f.input(c);
        }
        self.refresh();
    }

    /// What to ask the API: does a cluster of this name exist, does the StorageClass, does the S3 Secret.
    pub fn query(&self) -> WizardQuery {
        let v = self.resource();
        let s = |p: &str| v.pointer(p).and_then(Value::as_str).unwrap_or("").to_string();
        let s3_secret = self.field("backup").is_some_and(Field::is_on)
            && self.value("storage-type") == "s3"
            && self.family() != Family::Pg;
        WizardQuery {
            api_version: s("/apiVersion"),
            kind: s("/kind"),
            namespace: self.value("namespace").trim().to_string(),
            name: self.value("name").trim().to_string(),
            storage_class: self.value("storage-class").trim().to_string(),
            secret: if s3_secret { self.value("credentials").trim().to_string() } else { String::new() },
        }
    }

    /// Answers that still hold (their field has the value that was asked about).
    fn current_remote(&self) -> impl Iterator<Item = &RemoteCheck> {
        self.remote.iter().filter(|r| self.value(r.field).trim() == r.value)
    }

    /// Fields the API could not be asked about, with why: shown, not blocking.
    pub fn unchecked(&self) -> Vec<(&'static str, String)> {
        self.current_remote()
            .filter_map(|r| match &r.outcome {
                CheckOutcome::Unchecked(why) => Some((r.field, why.clone())),
                _ => None,
            })
            .collect()
    }
    pub fn backspace(&mut self) {
        if let Some(id) = self.focused_id()
            && let Some(f) = self.field_mut(id)
        {
            f.backspace();
        }
        self.refresh();
    }
    pub fn cycle(&mut self, forward: bool) {
        if let Some(id) = self.focused_id()
            && let Some(f) = self.field_mut(id)
        {
            f.cycle(forward);
        }
        if self.step == Step::Kind {
            self.rebuild();
        } else {
            self.refresh();
        }
        self.focus = self.focus.min(self.step_fields(self.step).len().saturating_sub(1));
    }
    pub fn move_focus(&mut self, forward: bool) {
        let n = self.step_fields(self.step).len();
        if n == 0 {
            return;
        }
        self.focus = if forward { (self.focus + 1) % n } else { (self.focus + n - 1) % n };
    }

    /// Problems that belong to the fields of a step.
    pub fn step_problems(&self, step: Step) -> Vec<&Problem> {
        if step == Step::Review {
            return self.problems.iter().collect();
        }
        let ids = self.step_fields(step);
        self.problems
            .iter()
            .filter(|p| ids.iter().filter_map(|id| self.field(id)).any(|f| path_is_under(&p.path, &f.path)))
            .collect()
    }

    /// Moves to the next step when the current one has no problems; returns whether it moved.
    pub fn next_step(&mut self) -> bool {
        if !self.step_problems(self.step).is_empty() || self.step == Step::Review {
            return false;
        }
        if self.step == Step::Kind {
            self.rebuild();
        }
        self.step = Step::ALL[self.step.index() + 1];
        self.focus = 0;
        true
    }

    pub fn prev_step(&mut self) -> bool {
        if self.step == Step::Kind {
            return false;
        }
        self.step = Step::ALL[self.step.index() - 1];
        self.focus = 0;
        true
    }

    /// The custom resource the wizard describes.
    pub fn resource(&self) -> Value {
        let fam = self.family();
        let (api_version, kind) = match fam {
            Family::Pxc => ("pxc.percona.com/v1", "PerconaXtraDBCluster"),
            Family::PsAsync | Family::PsGr => ("ps.percona.com/v1", "PerconaServerMySQL"),
            Family::Pg => ("pgv2.percona.com/v2", "PerconaPGCluster"),
        };
        let mut v = json!({
            "apiVersion": api_version,
            "kind": kind,
            "metadata": {"name": self.value("name").trim(), "namespace": self.value("namespace").trim()},
            "spec": {},
        });
        let put = |v: &mut Value, w: &Wizard, id: &str| {
            if let Some(f) = w.field(id)
                && let Some(j) = f.json()
            {
                set(v, &f.path, j);
            }
        };
        put(&mut v, self, "version");
        match fam {
            Family::Pxc => {}
            Family::PsAsync | Family::PsGr => put(&mut v, self, "cluster-type"),
            Family::Pg => {
                put(&mut v, self, "pg-version");
                set(&mut v, "spec.instances[0].name", json!("instance1"));
            }
        }
        for id in ["size", "cpu", "memory", "storage", "storage-class"] {
            put(&mut v, self, id);
        }
        if fam == Family::Pg {
            set(&mut v, "spec.instances[0].dataVolumeClaimSpec.accessModes", json!(["ReadWriteOnce"]));
        }
        let proxy = self.value("proxy");
        match fam {
            Family::Pxc => {
                set(&mut v, "spec.haproxy.enabled", json!(proxy == "haproxy"));
                set(&mut v, "spec.proxysql.enabled", json!(proxy == "proxysql"));
            }
            Family::PsAsync | Family::PsGr => {
                set(&mut v, "spec.proxy.haproxy.enabled", json!(proxy == "haproxy"));
                set(&mut v, "spec.proxy.router.enabled", json!(proxy == "router"));
                if fam == Family::PsAsync {
                    set(&mut v, "spec.orchestrator.enabled", json!(true));
                    set(&mut v, "spec.orchestrator.size", json!(3));
                }
            }
            Family::Pg if proxy == "none" => {}
            Family::Pg => {}
        }
        if proxy != "none" {
            put(&mut v, self, "proxy-size");
        }
        self.put_images(&mut v, fam, proxy);
        let backup_on = self.field("backup").is_some_and(Field::is_on);
        match fam {
            Family::Pg => {
                set(&mut v, "spec.backups.enabled", json!(backup_on));
                if backup_on {
                    put(&mut v, self, "storage-name");
                    if self.value("storage-type") == "s3" {
                        put(&mut v, self, "bucket");
                        put(&mut v, self, "region");
                        put(&mut v, self, "endpoint");
                    } else {
                        let repo = "spec.backups.pgbackrest.repos[0].volume.volumeClaimSpec";
                        set(&mut v, &format!("{repo}.accessModes"), json!(["ReadWriteOnce"]));
                        put(&mut v, self, "backup-size");
                    }
                    put(&mut v, self, "schedule");
                }
            }
            _ => {
                if fam != Family::Pxc {
                    set(&mut v, "spec.backup.enabled", json!(backup_on));
                }
                if backup_on {
                    let name = self.value("storage-name").trim().to_string();
                    let stype = self.value("storage-type");
                    let root = format!("spec.backup.storages.{name}");
                    set(&mut v, &format!("{root}.type"), json!(stype));
                    if stype == "s3" {
                        put(&mut v, self, "bucket");
                        put(&mut v, self, "region");
                        put(&mut v, self, "credentials");
                    } else {
                        put(&mut v, self, "backup-size");
                    }
                    set(&mut v, "spec.backup.schedule[0].name", json!("daily"));
                    put(&mut v, self, "schedule");
                    set(&mut v, "spec.backup.schedule[0].storageName", json!(name));
                }
            }
        }
        v
    }

    /// Container images: the defaults the api modules pin for this operator release (the wizard offers no
    /// image choice; the edit form or `$EDITOR` changes them later).
    fn put_images(&self, v: &mut Value, fam: Family, proxy: &str) {
        let backup_on = self.field("backup").is_some_and(Field::is_on);
        match fam {
            Family::Pxc => {
                set(v, "spec.pxc.image", json!(pxc::defaults::PXC_IMAGE));
                match proxy {
                    "haproxy" => set(v, "spec.haproxy.image", json!(pxc::defaults::HAPROXY_IMAGE)),
                    "proxysql" => {
                        set(v, "spec.proxysql.image", json!(pxc::defaults::PROXYSQL_IMAGE));
                        // ProxySQL keeps its state on a claim of its own (Percona's sample: 2G).
                        let pvc = "spec.proxysql.volumeSpec.persistentVolumeClaim.resources.requests.storage";
                        set(v, pvc, json!(pxc::defaults::PROXYSQL_STORAGE));
                    }
                    _ => {}
                }
                if backup_on {
                    set(v, "spec.backup.image", json!(pxc::defaults::BACKUP_IMAGE));
                }
            }
            Family::PsAsync | Family::PsGr => {
                set(v, "spec.mysql.image", json!(ps::images::MYSQL));
                match proxy {
                    "haproxy" => set(v, "spec.proxy.haproxy.image", json!(ps::images::HAPROXY)),
                    "router" => set(v, "spec.proxy.router.image", json!(ps::images::ROUTER)),
                    _ => {}
                }
                if fam == Family::PsAsync {
                    set(v, "spec.orchestrator.image", json!(ps::images::ORCHESTRATOR));
                }
                if backup_on {
                    set(v, "spec.backup.image", json!(ps::images::BACKUP));
                }
            }
            Family::Pg => {
                let major = self.value("pg-version").trim().parse::<i64>().ok();
                if let Some(image) = major.and_then(pg::default_postgres_image) {
                    set(v, "spec.image", json!(image));
                }
                if proxy != "none" {
                    set(v, "spec.proxy.pgBouncer.image", json!(pg::DEFAULT_PGBOUNCER_IMAGE));
                }
                if backup_on {
                    set(v, "spec.backups.pgbackrest.image", json!(pg::DEFAULT_PGBACKREST_IMAGE));
                }
            }
        }
    }

    /// All problems of the resource: the model's first, then form checks for fields the model said nothing about.
    pub fn validate(&self) -> Vec<Problem> {
        let resource = self.resource();
        let form = self.form_checks().0;
        let mut out: Vec<Problem> = match AnyResource::from_value(resource) {
            Ok(r) => r.validate().0,
            // A type error ("expected i32") on a field the form explains in its own words gives way to that.
            Err(ParseError::Field { path, .. }) if form.iter().any(|f| path_is_under(&path, &f.path)) => vec![],
            Err(ParseError::Field { path, message }) => vec![Problem::new(path, message)],
            Err(e) => vec![Problem::new("(document)", e.to_string())],
        };
        for p in form {
            if !out.iter().any(|o| path_is_under(&o.path, &p.path) || path_is_under(&p.path, &o.path)) {
                out.push(p);
            }
        }
        for r in self.current_remote() {
            if let CheckOutcome::Problem(message) = &r.outcome
                && let Some(f) = self.field(r.field)
            {
                let path = if r.field == "name" { "metadata.name".to_string() } else { f.path.clone() };
                out.push(Problem::new(path, message.clone()));
            }
        }
        out
    }

    fn form_checks(&self) -> Problems {
        let fam = self.family();
        let mut p = Problems::new();
        let path = |id: &str| self.field(id).map(|f| f.path.clone()).unwrap_or_default();
        check_dns_label(&mut p, "metadata.name", self.value("name").trim(), 63);
        check_dns_label(&mut p, "metadata.namespace", self.value("namespace").trim(), 63);
        if self.value("version").trim().is_empty() {
            p.push(path("version"), "is required");
        }
        let int = |p: &mut Problems, id: &str| -> Option<i64> {
            let t = self.value(id).trim();
            match t.parse::<i64>() {
                Ok(n) if n >= 0 => Some(n),
                _ => {
                    p.push(path(id), format!("{t:?} is not a whole number"));
                    None
                }
            }
        };
        if fam == Family::Pg {
            int(&mut p, "pg-version");
        }
        if let Some(n) = int(&mut p, "size") {
            if fam == Family::Pxc && !(n % 2 == 1 && (3..=5).contains(&n)) {
                p.push(
                    path("size"),
                    format!("{n} pods: Galera needs an odd size between 3 and 5 (unsafeFlags.pxcSize allows others)"),
                );
            } else if n < 1 {
                p.push(path("size"), "needs at least 1 pod");
            }
        }
        for id in ["cpu", "memory"] {
            let t = self.value(id).trim();
            if !t.is_empty() {
                check_quantity(&mut p, &path(id), t);
            }
        }
        let storage = self.value("storage").trim();
        if storage.is_empty() {
            p.push(path("storage"), "is required");
        } else {
            check_quantity(&mut p, &path("storage"), storage);
            if parse_quantity(storage).is_ok_and(|q| q == 0.0) {
                p.push(path("storage"), "must be larger than 0");
            }
        }
        if self.value("proxy") != "none"
            && let Some(n) = int(&mut p, "proxy-size")
        {
            if fam == Family::Pxc && n < 2 {
                p.push(
                    path("proxy-size"),
                    format!("{n} proxy pods: at least 2 are needed (unsafeFlags.proxySize allows fewer)"),
                );
            } else if n < 1 {
                p.push(path("proxy-size"), "needs at least 1 pod");
            }
        }
        if self.field("backup").is_some_and(Field::is_on) {
            check_dns_label(&mut p, &path("storage-name"), self.value("storage-name").trim(), 63);
            if self.value("storage-type") == "s3" {
                if self.value("bucket").trim().is_empty() {
                    p.push(path("bucket"), "is required for s3 storage");
                }
                if fam != Family::Pg && self.value("credentials").trim().is_empty() {
                    p.push(path("credentials"), "is required for s3 storage (a Secret name)");
                }
            } else {
                check_quantity(&mut p, &path("backup-size"), self.value("backup-size").trim());
            }
            check_cron(&mut p, &path("schedule"), self.value("schedule").trim());
        }
        p
    }

    /// The review step's YAML.
    pub fn yaml(&self) -> String {
        serde_yaml::to_string(&self.resource()).unwrap_or_else(|e| format!("# cannot render YAML: {e}"))
    }

    /// The resource to create, when there is nothing left to fix.
    pub fn ready_resource(&self) -> Option<Value> {
        self.problems.is_empty().then(|| self.resource())
    }

    pub fn name(&self) -> String {
        get(&self.resource(), "metadata.name").and_then(Value::as_str).unwrap_or("").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(w: &mut Wizard, id: &str, text: &str) {
        let f = w.field_mut(id).unwrap();
        f.value = super::super::form::FieldValue::Text(text.into());
        w.refresh();
    }

    #[test]
    fn pxc_defaults_build_a_percona_resource() {
        let mut w = Wizard::new("db");
        fill(&mut w, "bucket", "backups");
        fill(&mut w, "credentials", "s3-creds");
        assert!(w.problems.is_empty(), "{:?}", w.problems);
        let v = w.ready_resource().unwrap();
        assert_eq!(v["kind"], "PerconaXtraDBCluster");
        assert_eq!(v["spec"]["pxc"]["size"], 3);
        assert_eq!(v["spec"]["haproxy"]["enabled"], true);
        assert_eq!(v["spec"]["haproxy"]["size"], 3);
        assert_eq!(v["spec"]["pxc"]["volumeSpec"]["persistentVolumeClaim"]["resources"]["requests"]["storage"], "6G");
        assert_eq!(v["spec"]["backup"]["storages"]["s3-backups"]["s3"]["bucket"], "backups");
        assert_eq!(v["spec"]["backup"]["schedule"][0]["storageName"], "s3-backups");
    }

    #[test]
    fn ps_and_pg_shapes() {
        let mut w = Wizard::new("db");
        w.cycle(true); // kind → ps
        w.focus = 1;
        w.cycle(true); // group replication
        let v = w.resource();
        assert_eq!(v["spec"]["mysql"]["clusterType"], "group-replication");
        assert_eq!(v["spec"]["proxy"]["router"]["enabled"], true);
        assert_eq!(v["spec"]["proxy"]["router"]["size"], 3);
        let mut w = Wizard::new("db");
        w.focus = 0;
        w.cycle(false); // kind → pg
        fill(&mut w, "bucket", "b");
        fill(&mut w, "endpoint", "s3.amazonaws.com");
        let v = w.resource();
        assert_eq!(v["kind"], "PerconaPGCluster");
        assert_eq!(v["spec"]["instances"][0]["replicas"], 3);
        assert_eq!(v["spec"]["proxy"]["pgBouncer"]["replicas"], 3);
        assert_eq!(v["spec"]["backups"]["pgbackrest"]["repos"][0]["schedules"]["full"], "0 0 * * *");
        assert!(w.problems.is_empty(), "{:?}", w.problems);
    }

    #[test]
    fn volume_backups_get_their_own_size() {
        let mut w = Wizard::new("db");
        w.step = Step::Backup;
        w.focus = 2;
        w.cycle(true); // filesystem
        assert_eq!(w.step_fields(Step::Backup), ["backup", "storage-name", "storage-type", "backup-size", "schedule"]);
        let v = w.resource();
        assert_eq!(v["spec"]["backup"]["storages"]["s3-backups"]["type"], "filesystem");
        assert_eq!(
            v["spec"]["backup"]["storages"]["s3-backups"]["volume"]["persistentVolumeClaim"]["resources"]["requests"]["storage"],
            "6G"
        );
        fill(&mut w, "backup-size", "lots");
        assert_eq!(w.step_problems(Step::Backup).len(), 1);
    }

    #[test]
    fn problems_block_the_step_and_sit_on_their_field() {
        let mut w = Wizard::new("db");
        assert!(w.next_step());
        fill(&mut w, "name", "Bad_Name");
        assert_eq!(w.step_problems(Step::Basics).len(), 1);
        assert!(!w.next_step());
        fill(&mut w, "name", "good");
        assert!(w.next_step());
        fill(&mut w, "size", "4");
        let probs = w.step_problems(Step::Resources);
        assert_eq!(probs.len(), 1);
        assert_eq!(probs[0].path, "spec.pxc.size");
        assert!(!w.next_step());
    }
}
