//! The StatefulSet controller's decision for one sync: which ControllerRevision, PVCs and pods to create,
//! which pods to delete, which PVC owner references to change, and the new status. It follows the
//! upstream controller's order: live replicas in ascending ordinal (OrderedReady stops at the first
//! missing or unready one), then condemned pods in descending ordinal, then the rolling update from the
//! highest ordinal down to the partition, one pod at a time.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};

use super::{is_terminating, name_of, namespace_of, pod_is_ready, uid_of};

pub const LABEL_REVISION_HASH: &str = "controller-revision-hash";
pub const LABEL_POD_NAME: &str = "statefulset.kubernetes.io/pod-name";
pub const LABEL_POD_INDEX: &str = "apps.kubernetes.io/pod-index";
/// Label ControllerRevisions carry with the bare template hash.
pub const LABEL_HASH: &str = "controller.kubernetes.io/hash";

/// What the controller does now. Apply in field order: revision, PVC owner references, PVCs, pods,
/// deletions, then status.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StsPlan {
    /// A ControllerRevision for the current template, when none exists yet.
    pub create_revision: Option<Value>,
    /// PVCs to create (missing claims of pods that are created or already exist).
    pub create_pvcs: Vec<Value>,
    /// Existing PVCs whose `metadata.ownerReferences` must become the given list (retention policy).
    pub update_pvc_owner_refs: Vec<(String, Vec<Value>)>,
    /// Pods to create.
    pub create_pods: Vec<Value>,
    /// Names of pods to delete.
    pub delete_pods: Vec<String>,
    /// The StatefulSet's new `status`.
    pub status: Value,
}

/// One pod as the planner sees it, updated as the plan creates and deletes pods so that the status
/// describes the state after the plan is applied.
#[derive(Debug, Clone)]
struct PodView {
    ordinal: i64,
    name: String,
    uid: String,
    revision: String,
    ready: bool,
    available: bool,
    terminating: bool,
    finished: bool,
}

impl PodView {
    fn healthy(&self) -> bool {
        self.ready && self.available && !self.terminating
    }
}

/// StatefulSet settings with their API defaults applied.
struct Spec<'a> {
    name: &'a str,
    namespace: &'a str,
    uid: &'a str,
    replicas: i64,
    start: i64,
    parallel: bool,
    rolling: bool,
    partition: i64,
    min_ready_seconds: i64,
    service_name: &'a str,
    template: Value,
    claim_templates: &'a [Value],
    when_deleted_delete: bool,
    when_scaled_delete: bool,
}

fn int_at(v: &Value, p: &str, default: i64) -> i64 {
    v.pointer(p).and_then(Value::as_i64).unwrap_or(default)
}

fn str_at<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or("")
}

impl<'a> Spec<'a> {
    fn read(sts: &'a Value) -> Self {
        Spec {
            name: name_of(sts),
            namespace: namespace_of(sts),
            uid: uid_of(sts),
            replicas: int_at(sts, "/spec/replicas", 1).max(0),
            start: int_at(sts, "/spec/ordinals/start", 0).max(0),
            parallel: str_at(sts, "/spec/podManagementPolicy") == "Parallel",
            rolling: str_at(sts, "/spec/updateStrategy/type") != "OnDelete",
            partition: int_at(sts, "/spec/updateStrategy/rollingUpdate/partition", 0).max(0),
            min_ready_seconds: int_at(sts, "/spec/minReadySeconds", 0).max(0),
            service_name: str_at(sts, "/spec/serviceName"),
            template: sts.pointer("/spec/template").cloned().unwrap_or_else(|| json!({})),
            claim_templates: sts
                .pointer("/spec/volumeClaimTemplates")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or(&[]),
            when_deleted_delete: str_at(sts, "/spec/persistentVolumeClaimRetentionPolicy/whenDeleted") == "Delete",
            when_scaled_delete: str_at(sts, "/spec/persistentVolumeClaimRetentionPolicy/whenScaled") == "Delete",
        }
    }

    fn in_range(&self, ordinal: i64) -> bool {
        ordinal >= self.start && ordinal < self.start + self.replicas
    }

    fn owner_ref(&self, controller: bool) -> Value {
        let mut r = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "name": self.name, "uid": self.uid});
        if controller {
            r["controller"] = json!(true);
            r["blockOwnerDeletion"] = json!(true);
        }
        r
    }

    fn owns(&self, obj: &Value) -> bool {
        obj.pointer("/metadata/ownerReferences").and_then(Value::as_array).is_some_and(|refs| {
            refs.iter().any(|r| {
                r.get("controller").and_then(Value::as_bool) == Some(true)
                    && r.get("kind").and_then(Value::as_str) == Some("StatefulSet")
                    && if self.uid.is_empty() {
                        r.get("name").and_then(Value::as_str) == Some(self.name)
                    } else {
                        r.get("uid").and_then(Value::as_str) == Some(self.uid)
                    }
            })
        })
    }

    fn claim_name(&self, template: &Value, ordinal: i64) -> String {
        format!("{}-{}-{ordinal}", name_of(template), self.name)
    }
}

/// Object with keys sorted at every level, so equal templates hash equally whatever their key order.
fn canonical(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(keys.into_iter().map(|k| (k.clone(), canonical(&m[k]))).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// FNV-1a, 32 bit: the hash family upstream uses for revision names.
fn fnv32a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(*b)).wrapping_mul(0x0100_0193))
}

/// Stable hash of a pod template, rendered in the vowel-free alphabet Kubernetes uses for generated
/// names (`rand.SafeEncodeString`) so it never spells words.
pub fn template_hash(template: &Value, collision_count: i64) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut bytes = canonical(template).to_string().into_bytes();
    if collision_count > 0 {
        bytes.extend_from_slice(&collision_count.to_le_bytes());
    }
    fnv32a(&bytes).to_string().bytes().map(|d| ALPHABET[usize::from(d) % ALPHABET.len()] as char).collect()
}

fn revision_template(rev: &Value) -> Option<Value> {
    let mut t = rev.pointer("/data/spec/template")?.clone();
    if let Some(m) = t.as_object_mut() {
        m.remove("$patch");
    }
    Some(t)
}

/// Finds the revision holding `template` or builds a new one. Returns (name, new object if any,
/// collision count).
fn update_revision(spec: &Spec, revisions: &[&Value], mut collision: i64) -> (String, Option<Value>, i64) {
    let wanted = canonical(&spec.template);
    if let Some(rev) = revisions.iter().find(|r| revision_template(r).map(|t| canonical(&t)) == Some(wanted.clone())) {
        return (name_of(rev).to_string(), None, collision);
    }
    loop {
        let hash = template_hash(&spec.template, collision);
        let name = format!("{}-{hash}", spec.name);
        if revisions.iter().any(|r| name_of(r) == name) {
            // Same name, different content: a hash collision; upstream bumps collisionCount and retries.
            collision += 1;
            continue;
        }
        let next = revisions.iter().filter_map(|r| r.get("revision").and_then(Value::as_i64)).max().unwrap_or(0) + 1;
        let mut labels =
            spec.template.pointer("/metadata/labels").and_then(Value::as_object).cloned().unwrap_or_default();
        labels.insert(LABEL_HASH.into(), json!(hash));
        let mut data_template = spec.template.clone();
        if let Some(m) = data_template.as_object_mut() {
            m.insert("$patch".into(), json!("replace"));
        }
        let rev = json!({
            "apiVersion": "apps/v1",
            "kind": "ControllerRevision",
            "metadata": {
                "name": name,
                "namespace": spec.namespace,
                "labels": labels,
                "ownerReferences": [spec.owner_ref(true)],
            },
            "data": {"spec": {"template": data_template}},
            "revision": next,
        });
        return (name, Some(rev), collision);
    }
}

fn ordinal_of(spec: &Spec, pod_name: &str) -> Option<i64> {
    let digits = pod_name.strip_prefix(spec.name)?.strip_prefix('-')?;
    // Only canonical numbers: "01" is not ordinal 1.
    if digits.is_empty() || (digits.len() > 1 && digits.starts_with('0')) || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    digits.parse().ok()
}

fn is_available(pod: &Value, min_ready_seconds: i64, now: DateTime<Utc>) -> bool {
    if !pod_is_ready(pod) {
        return false;
    }
    if min_ready_seconds == 0 {
        return true;
    }
    let since = pod
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c.get("type").and_then(Value::as_str) == Some("Ready")))
        .and_then(|c| c.get("lastTransitionTime").and_then(Value::as_str))
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok());
    since.is_some_and(|t| t.with_timezone(&Utc) + Duration::seconds(min_ready_seconds) <= now)
}

fn view(spec: &Spec, pod: &Value, ordinal: i64, now: DateTime<Utc>) -> PodView {
    PodView {
        ordinal,
        name: name_of(pod).to_string(),
        uid: uid_of(pod).to_string(),
        revision: str_at(pod, &format!("/metadata/labels/{}", LABEL_REVISION_HASH)).to_string(),
        ready: pod_is_ready(pod),
        available: is_available(pod, spec.min_ready_seconds, now),
        terminating: is_terminating(pod),
        finished: matches!(str_at(pod, "/status/phase"), "Failed" | "Succeeded"),
    }
}

fn new_pod(spec: &Spec, ordinal: i64, revision: &str, template: &Value) -> Value {
    let name = format!("{}-{ordinal}", spec.name);
    let mut labels = template.pointer("/metadata/labels").and_then(Value::as_object).cloned().unwrap_or_default();
    labels.insert(LABEL_REVISION_HASH.into(), json!(revision));
    labels.insert(LABEL_POD_NAME.into(), json!(name));
    labels.insert(LABEL_POD_INDEX.into(), json!(ordinal.to_string()));
    let mut metadata = json!({
        "name": name,
        "namespace": spec.namespace,
        "labels": labels,
        "ownerReferences": [spec.owner_ref(true)],
    });
    for key in ["annotations", "finalizers"] {
        if let Some(v) = template.pointer(&format!("/metadata/{key}")) {
            metadata[key] = v.clone();
        }
    }
    let mut pod_spec = template.get("spec").cloned().unwrap_or_else(|| json!({}));
    pod_spec["hostname"] = json!(name);
    if !spec.service_name.is_empty() {
        pod_spec["subdomain"] = json!(spec.service_name);
    }
    let mut volumes: Vec<Value> = pod_spec.get("volumes").and_then(Value::as_array).cloned().unwrap_or_default();
    for claim in spec.claim_templates {
        let vol_name = name_of(claim);
        volumes.retain(|v| v.get("name").and_then(Value::as_str) != Some(vol_name));
        volumes
            .push(json!({"name": vol_name, "persistentVolumeClaim": {"claimName": spec.claim_name(claim, ordinal)}}));
    }
    if !volumes.is_empty() {
        pod_spec["volumes"] = Value::Array(volumes);
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": pod_spec})
}

fn new_pvc(spec: &Spec, sts: &Value, claim: &Value, ordinal: i64) -> Value {
    let mut labels = claim.pointer("/metadata/labels").and_then(Value::as_object).cloned().unwrap_or_default();
    if let Some(sel) = sts.pointer("/spec/selector/matchLabels").and_then(Value::as_object) {
        labels.extend(sel.clone());
    }
    let mut metadata = json!({
        "name": spec.claim_name(claim, ordinal),
        "namespace": spec.namespace,
        "labels": labels,
    });
    if let Some(a) = claim.pointer("/metadata/annotations") {
        metadata["annotations"] = a.clone();
    }
    // A new claim belongs to a live replica: only whenDeleted=Delete ties it to the set.
    if spec.when_deleted_delete {
        metadata["ownerReferences"] = json!([spec.owner_ref(false)]);
    }
    let mut pvc_spec = claim.get("spec").cloned().unwrap_or_else(|| json!({}));
    if pvc_spec.get("volumeMode").is_none() {
        pvc_spec["volumeMode"] = json!("Filesystem");
    }
    json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": metadata, "spec": pvc_spec})
}

/// Owner references a claim should have under the retention policy (upstream
/// `updateClaimOwnerRefForSetAndPod`): refs to the set and to this ordinal's pod are added or removed,
/// others are kept.
fn desired_claim_refs(spec: &Spec, claim: &Value, ordinal: i64, pod: Option<&PodView>) -> Vec<Value> {
    let current: Vec<Value> =
        claim.pointer("/metadata/ownerReferences").and_then(Value::as_array).cloned().unwrap_or_default();
    let pod_uid = pod.map(|p| p.uid.as_str()).filter(|u| !u.is_empty());
    let is_set_ref = |r: &Value| {
        r.get("kind").and_then(Value::as_str) == Some("StatefulSet")
            && r.get("name").and_then(Value::as_str) == Some(spec.name)
    };
    let is_pod_ref = |r: &Value| {
        r.get("kind").and_then(Value::as_str) == Some("Pod")
            && r.get("name").and_then(Value::as_str) == Some(&format!("{}-{ordinal}", spec.name))
    };
    let scaled_down = !spec.in_range(ordinal);
    let want_set = spec.when_deleted_delete && !(scaled_down && spec.when_scaled_delete);
    let want_pod = scaled_down && spec.when_scaled_delete;
    let mut refs: Vec<Value> = current.iter().filter(|r| !is_set_ref(r) && !is_pod_ref(r)).cloned().collect();
    if want_set {
        refs.push(current.iter().find(|r| is_set_ref(r)).cloned().unwrap_or_else(|| spec.owner_ref(false)));
    }
    if want_pod {
        match (current.iter().find(|r| is_pod_ref(r)), pod, pod_uid) {
            (Some(existing), _, _) => refs.push(existing.clone()),
            (None, Some(p), Some(uid)) => {
                refs.push(json!({"apiVersion": "v1", "kind": "Pod", "name": p.name, "uid": uid}));
            }
            // The pod is already gone: nothing to own the claim by.
            _ => {}
        }
    }
    refs
}

/// Plans one sync of the StatefulSet controller. `pods`, `pvcs` and `revisions` may hold unrelated
/// objects of the namespace; only those the set owns (or whose names it generates) are used.
pub fn plan(sts: &Value, pods: &[Value], pvcs: &[Value], revisions: &[Value]) -> StsPlan {
    plan_at(sts, pods, pvcs, revisions, Utc::now())
}

/// [`plan`] with an explicit clock (for `minReadySeconds`).
pub fn plan_at(sts: &Value, pods: &[Value], pvcs: &[Value], revisions: &[Value], now: DateTime<Utc>) -> StsPlan {
    let spec = Spec::read(sts);
    let mut out = StsPlan::default();
    let revisions: Vec<&Value> = revisions
        .iter()
        .filter(|r| spec.owns(r) || (spec.uid.is_empty() && name_of(r).starts_with(&format!("{}-", spec.name))))
        .collect();

    let (update_rev, new_rev, collision) = update_revision(&spec, &revisions, int_at(sts, "/status/collisionCount", 0));
    let status_current = str_at(sts, "/status/currentRevision");
    let current_rev = if !status_current.is_empty()
        && (status_current == update_rev || revisions.iter().any(|r| name_of(r) == status_current))
    {
        status_current.to_string()
    } else {
        // No history yet: the first revision is both current and update.
        update_rev.clone()
    };
    let current_template = revisions
        .iter()
        .find(|r| name_of(r) == current_rev)
        .and_then(|r| revision_template(r))
        .unwrap_or_else(|| spec.template.clone());
    out.create_revision = new_rev;

    let mut views: Vec<PodView> = pods
        .iter()
        .filter(|p| spec.owns(p))
        .filter_map(|p| Some(view(&spec, p, ordinal_of(&spec, name_of(p))?, now)))
        .collect();
    views.sort_by_key(|v| v.ordinal);
    let existing_claims: std::collections::HashSet<&str> = pvcs.iter().map(name_of).collect();

    // Claim owner references follow the retention policy for every claim of an ordinal we know.
    for claim_tpl in spec.claim_templates {
        for pvc in pvcs {
            let prefix = format!("{}-{}-", name_of(claim_tpl), spec.name);
            let Some(ordinal) = name_of(pvc).strip_prefix(&prefix).and_then(|s| s.parse::<i64>().ok()) else {
                continue;
            };
            let pod = views.iter().find(|v| v.ordinal == ordinal);
            let refs = desired_claim_refs(&spec, pvc, ordinal, pod);
            let current =
                pvc.pointer("/metadata/ownerReferences").and_then(Value::as_array).cloned().unwrap_or_default();
            if refs != current {
                out.update_pvc_owner_refs.push((name_of(pvc).to_string(), refs));
            }
        }
    }

    let mut blocked = false;
    // Live replicas, ascending.
    for ordinal in spec.start..spec.start + spec.replicas {
        let index = ordinal - spec.start;
        // A pod to create, or one that lost a claim (e.g. a PVC deleted by hand), gets its claims first,
        // as upstream creates missing claims for new and pending pods.
        let pod_exists_healthy = views.iter().any(|v| v.ordinal == ordinal && v.healthy());
        if !pod_exists_healthy {
            for claim in spec.claim_templates {
                let claim_name = spec.claim_name(claim, ordinal);
                if !existing_claims.contains(claim_name.as_str()) {
                    out.create_pvcs.push(new_pvc(&spec, sts, claim, ordinal));
                }
            }
        }
        match views.iter_mut().find(|v| v.ordinal == ordinal) {
            None => {
                let use_current = spec.rolling && index < spec.partition;
                let (rev, template) =
                    if use_current { (&current_rev, &current_template) } else { (&update_rev, &spec.template) };
                let pod = new_pod(&spec, ordinal, rev, template);
                views.push(PodView {
                    ordinal,
                    name: name_of(&pod).to_string(),
                    uid: String::new(),
                    revision: rev.clone(),
                    ready: false,
                    available: false,
                    terminating: false,
                    finished: false,
                });
                out.create_pods.push(pod);
                if !spec.parallel {
                    blocked = true;
                    break;
                }
            }
            Some(v) if v.finished && !v.terminating => {
                // Failed or Succeeded pods are deleted; the next sync recreates them.
                out.delete_pods.push(v.name.clone());
                v.terminating = true;
                if !spec.parallel {
                    blocked = true;
                    break;
                }
            }
            Some(v) => {
                if !spec.parallel && !v.healthy() {
                    blocked = true;
                    break;
                }
            }
        }
    }
    views.sort_by_key(|v| v.ordinal);

    // Condemned pods, highest ordinal first.
    if !blocked {
        let first_unhealthy =
            views.iter().filter(|v| spec.in_range(v.ordinal)).find(|v| !v.healthy()).map(|v| v.ordinal).or_else(|| {
                views.iter().rev().filter(|v| !spec.in_range(v.ordinal)).find(|v| !v.healthy()).map(|v| v.ordinal)
            });
        let condemned: Vec<i64> = views.iter().rev().filter(|v| !spec.in_range(v.ordinal)).map(|v| v.ordinal).collect();
        for ordinal in condemned {
            let Some(v) = views.iter_mut().find(|v| v.ordinal == ordinal) else { continue };
            if v.terminating {
                if spec.parallel {
                    continue;
                }
                blocked = true;
                break;
            }
            if !spec.parallel && !v.healthy() && first_unhealthy != Some(ordinal) {
                blocked = true;
                break;
            }
            out.delete_pods.push(v.name.clone());
            v.terminating = true;
            if !spec.parallel {
                blocked = true;
                break;
            }
        }
    }

    // Rolling update: highest ordinal first, down to the partition, one pod at a time.
    if !blocked && spec.rolling {
        for ordinal in (spec.start + spec.partition..spec.start + spec.replicas).rev() {
            let Some(v) = views.iter_mut().find(|v| v.ordinal == ordinal) else { break };
            if v.revision != update_rev && !v.terminating {
                out.delete_pods.push(v.name.clone());
                v.terminating = true;
                break;
            }
            if !v.healthy() {
                break;
            }
        }
    }

    out.status = status(sts, &spec, &views, &current_rev, &update_rev, collision);
    out
}

fn status(sts: &Value, spec: &Spec, views: &[PodView], current: &str, update: &str, collision: i64) -> Value {
    let live: Vec<&PodView> = views.iter().filter(|v| !v.terminating).collect();
    let count = |f: &dyn Fn(&PodView) -> bool| live.iter().filter(|v| f(v)).count() as i64;
    let replicas = live.len() as i64;
    let ready = count(&|v| v.ready);
    let available = count(&|v| v.available);
    let mut current_replicas = count(&|v| v.revision == current);
    let updated = count(&|v| v.revision == update);
    let mut current = current.to_string();
    // Upstream completes a rolling update (and only a rolling update, not OnDelete) once every pod
    // runs the update revision and is ready.
    if spec.rolling && updated == replicas && ready == replicas {
        current = update.to_string();
        current_replicas = updated;
    }
    let mut st = Map::new();
    st.insert("observedGeneration".into(), json!(int_at(sts, "/metadata/generation", 1)));
    st.insert("replicas".into(), json!(replicas));
    st.insert("readyReplicas".into(), json!(ready));
    st.insert("currentReplicas".into(), json!(current_replicas));
    st.insert("updatedReplicas".into(), json!(updated));
    st.insert("currentRevision".into(), json!(current));
    st.insert("updateRevision".into(), json!(update));
    st.insert("collisionCount".into(), json!(collision));
    st.insert("availableReplicas".into(), json!(available));
    Value::Object(st)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sts(replicas: i64, extra: Value) -> Value {
        let mut s = json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "db", "namespace": "ns", "uid": "sts-uid", "generation": 3},
            "spec": {
                "replicas": replicas,
                "serviceName": "db-headless",
                "selector": {"matchLabels": {"app": "db"}},
                "template": {
                    "metadata": {"labels": {"app": "db"}},
                    "spec": {"containers": [{"name": "mysql", "image": "percona:8.0"}]}
                },
                "volumeClaimTemplates": [{
                    "metadata": {"name": "datadir"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
                }]
            }
        });
        merge(&mut s, extra);
        s
    }

    fn merge(into: &mut Value, from: Value) {
        match (into, from) {
            (Value::Object(a), Value::Object(b)) => {
                for (k, v) in b {
                    merge(a.entry(k).or_insert(Value::Null), v);
                }
            }
            (a, b) => *a = b,
        }
    }

    /// A tiny cluster: applies plans as the store and kubelet would, with pods becoming Ready on demand.
    struct World {
        sts: Value,
        pods: Vec<Value>,
        pvcs: Vec<Value>,
        revisions: Vec<Value>,
        next_uid: u32,
    }

    impl World {
        fn new(sts: Value) -> Self {
            World { sts, pods: vec![], pvcs: vec![], revisions: vec![], next_uid: 0 }
        }

        fn uid(&mut self) -> String {
            self.next_uid += 1;
            format!("uid-{}", self.next_uid)
        }

        fn step(&mut self) -> StsPlan {
            let p = plan(&self.sts, &self.pods, &self.pvcs, &self.revisions);
            if let Some(r) = &p.create_revision {
                self.revisions.push(r.clone());
            }
            for (name, refs) in &p.update_pvc_owner_refs {
                let pvc = self.pvcs.iter_mut().find(|c| name_of(c) == name).unwrap();
                pvc["metadata"]["ownerReferences"] = json!(refs);
            }
            for c in &p.create_pvcs {
                let mut c = c.clone();
                c["metadata"]["uid"] = json!(self.uid());
                self.pvcs.push(c);
            }
            for pod in &p.create_pods {
                let mut pod = pod.clone();
                pod["metadata"]["uid"] = json!(self.uid());
                pod["status"] = json!({"phase": "Pending"});
                self.pods.push(pod);
            }
            self.pods.retain(|pod| !p.delete_pods.contains(&name_of(pod).to_string()));
            self.sts["status"] = p.status.clone();
            p
        }

        fn make_ready(&mut self) {
            for pod in &mut self.pods {
                pod["status"] = json!({"phase": "Running", "conditions": [
                    {"type": "Ready", "status": "True", "lastTransitionTime": "2020-01-01T00:00:00Z"}]});
            }
        }

        /// Steps and readies pods until nothing changes; returns the number of steps.
        fn converge(&mut self) -> usize {
            for i in 0..50 {
                let p = self.step();
                self.make_ready();
                if p.create_pods.is_empty() && p.delete_pods.is_empty() && p.create_pvcs.is_empty() {
                    return i;
                }
            }
            panic!("did not converge");
        }

        fn pod_names(&self) -> Vec<String> {
            let mut n: Vec<String> = self.pods.iter().map(|p| name_of(p).to_string()).collect();
            n.sort();
            n
        }

        fn pod(&self, name: &str) -> &Value {
            self.pods.iter().find(|p| name_of(p) == name).unwrap()
        }
    }

    fn names(objs: &[Value]) -> Vec<&str> {
        objs.iter().map(name_of).collect()
    }

    #[test]
    fn ordered_ready_creates_one_at_a_time() {
        let mut w = World::new(sts(3, json!({})));
        let p = w.step();
        assert!(p.create_revision.is_some());
        assert_eq!(names(&p.create_pods), ["db-0"]);
        assert_eq!(names(&p.create_pvcs), ["datadir-db-0"]);
        assert_eq!(p.status["replicas"], 1);
        assert_eq!(p.status["readyReplicas"], 0);
        // db-0 is not Ready yet: nothing more happens.
        let p = w.step();
        assert!(p.create_pods.is_empty() && p.create_pvcs.is_empty() && p.create_revision.is_none());
        w.make_ready();
        let p = w.step();
        assert_eq!(names(&p.create_pods), ["db-1"]);
        w.make_ready();
        assert_eq!(names(&w.step().create_pods), ["db-2"]);
        w.make_ready();
        let p = w.step();
        assert!(p.create_pods.is_empty());
        assert_eq!(p.status["readyReplicas"], 3);
        assert_eq!(p.status["availableReplicas"], 3);
        assert_eq!(p.status["observedGeneration"], 3);
        assert_eq!(p.status["currentRevision"], p.status["updateRevision"]);
        assert_eq!(p.status["currentReplicas"], 3);
    }

    #[test]
    fn parallel_creates_all_at_once() {
        let mut w = World::new(sts(3, json!({"spec": {"podManagementPolicy": "Parallel"}})));
        let p = w.step();
        assert_eq!(names(&p.create_pods), ["db-0", "db-1", "db-2"]);
        assert_eq!(names(&p.create_pvcs), ["datadir-db-0", "datadir-db-1", "datadir-db-2"]);
    }

    #[test]
    fn pod_identity_labels_volumes_and_owner() {
        let mut w = World::new(sts(1, json!({})));
        let p = w.step();
        let pod = &p.create_pods[0];
        let rev = name_of(p.create_revision.as_ref().unwrap());
        assert!(rev.starts_with("db-"));
        assert_eq!(pod["metadata"]["labels"][LABEL_REVISION_HASH], rev);
        assert_eq!(pod["metadata"]["labels"][LABEL_POD_NAME], "db-0");
        assert_eq!(pod["metadata"]["labels"][LABEL_POD_INDEX], "0");
        assert_eq!(pod["metadata"]["labels"]["app"], "db");
        assert_eq!(pod["metadata"]["ownerReferences"][0]["uid"], "sts-uid");
        assert_eq!(pod["metadata"]["ownerReferences"][0]["controller"], true);
        assert_eq!(pod["spec"]["hostname"], "db-0");
        assert_eq!(pod["spec"]["subdomain"], "db-headless");
        assert_eq!(
            pod["spec"]["volumes"][0],
            json!({"name": "datadir", "persistentVolumeClaim": {"claimName": "datadir-db-0"}})
        );
        let pvc = &p.create_pvcs[0];
        assert_eq!(pvc["metadata"]["labels"]["app"], "db");
        assert_eq!(pvc["spec"]["resources"]["requests"]["storage"], "1Gi");
        assert!(pvc["metadata"].get("ownerReferences").is_none(), "Retain policy: no owner");
        let r = p.create_revision.clone().unwrap();
        assert_eq!(r["revision"], 1);
        assert_eq!(r["data"]["spec"]["template"]["$patch"], "replace");
        assert_eq!(r["metadata"]["labels"][LABEL_HASH], rev.strip_prefix("db-").unwrap());
    }

    #[test]
    fn template_hash_is_stable_and_order_independent() {
        let a = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"x": 1}});
        let b = json!({"spec": {"x": 1}, "metadata": {"labels": {"b": "2", "a": "1"}}});
        assert_eq!(template_hash(&a, 0), template_hash(&b, 0));
        assert_ne!(template_hash(&a, 0), template_hash(&a, 1));
        assert_ne!(template_hash(&a, 0), template_hash(&json!({"spec": {"x": 2}}), 0));
        assert!(template_hash(&a, 0).bytes().all(|c| b"bcdfghjklmnpqrstvwxz2456789".contains(&c)));
    }

    #[test]
    fn deleted_pod_is_recreated_with_same_name_and_claim() {
        let mut w = World::new(sts(3, json!({})));
        w.converge();
        let claims_before = w.pvcs.len();
        w.pods.retain(|p| name_of(p) != "db-1");
        let p = w.step();
        assert_eq!(names(&p.create_pods), ["db-1"]);
        assert!(p.create_pvcs.is_empty());
        assert_eq!(p.create_pods[0]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"], "datadir-db-1");
        assert_eq!(w.pvcs.len(), claims_before);
    }

    #[test]
    fn scale_down_highest_first_one_at_a_time() {
        let mut w = World::new(sts(4, json!({})));
        w.converge();
        w.sts["spec"]["replicas"] = json!(2);
        let p = w.step();
        assert_eq!(p.delete_pods, ["db-3"]);
        assert_eq!(p.status["replicas"], 3);
        let p = w.step();
        assert_eq!(p.delete_pods, ["db-2"]);
        assert!(w.step().delete_pods.is_empty());
        assert_eq!(w.pod_names(), ["db-0", "db-1"]);
        // Claims are kept (Retain).
        assert_eq!(w.pvcs.len(), 4);
    }

    #[test]
    fn ordered_ready_scale_down_waits_for_unready_replicas() {
        let mut w = World::new(sts(3, json!({})));
        w.converge();
        w.sts["spec"]["replicas"] = json!(1);
        w.pods.iter_mut().find(|p| name_of(p) == "db-0").unwrap()["status"]["phase"] = json!("Pending");
        assert!(w.step().delete_pods.is_empty());
    }

    #[test]
    fn parallel_scale_down_deletes_all_condemned() {
        let mut w = World::new(sts(3, json!({"spec": {"podManagementPolicy": "Parallel"}})));
        w.converge();
        w.sts["spec"]["replicas"] = json!(1);
        assert_eq!(w.step().delete_pods, ["db-2", "db-1"]);
    }

    fn change_image(w: &mut World, image: &str) {
        w.sts["spec"]["template"]["spec"]["containers"][0]["image"] = json!(image);
        w.sts["metadata"]["generation"] = json!(4);
    }

    #[test]
    fn rolling_update_highest_first_waits_for_ready() {
        let mut w = World::new(sts(3, json!({})));
        w.converge();
        let old = w.sts["status"]["currentRevision"].as_str().unwrap().to_string();
        change_image(&mut w, "percona:8.4");
        let p = w.step();
        let new = name_of(p.create_revision.as_ref().unwrap()).to_string();
        assert_eq!(p.create_revision.as_ref().unwrap()["revision"], 2);
        assert_eq!(p.delete_pods, ["db-2"]);
        assert_eq!(p.status["updateRevision"], new.as_str());
        assert_eq!(p.status["currentRevision"], old.as_str());
        // Recreated at the new revision; nothing else while it is not Ready.
        let p = w.step();
        assert_eq!(names(&p.create_pods), ["db-2"]);
        assert_eq!(p.create_pods[0]["metadata"]["labels"][LABEL_REVISION_HASH], new.as_str());
        assert_eq!(p.create_pods[0]["spec"]["containers"][0]["image"], "percona:8.4");
        assert!(w.step().delete_pods.is_empty());
        w.make_ready();
        assert_eq!(w.step().delete_pods, ["db-1"]);
        w.converge();
        let st = &w.sts["status"];
        assert_eq!(st["currentRevision"], new.as_str());
        assert_eq!(st["updatedReplicas"], 3);
        assert_eq!(st["currentReplicas"], 3);
        assert_eq!(st["observedGeneration"], 4);
        assert_eq!(w.pod("db-0")["spec"]["containers"][0]["image"], "percona:8.4");
    }

    #[test]
    fn rolling_update_honours_partition() {
        let mut w = World::new(sts(
            3,
            json!({"spec": {"updateStrategy":
            {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}}}),
        ));
        w.converge();
        let old = w.sts["status"]["currentRevision"].as_str().unwrap().to_string();
        change_image(&mut w, "percona:8.4");
        w.converge();
        assert_eq!(w.pod("db-2")["spec"]["containers"][0]["image"], "percona:8.4");
        assert_eq!(w.pod("db-1")["spec"]["containers"][0]["image"], "percona:8.0");
        assert_eq!(w.pod("db-0")["metadata"]["labels"][LABEL_REVISION_HASH], old.as_str());
        let st = &w.sts["status"];
        assert_eq!(st["updatedReplicas"], 1);
        assert_eq!(st["currentReplicas"], 2);
        assert_eq!(st["currentRevision"], old.as_str());
        // A pod below the partition that is deleted comes back at the current revision.
        w.pods.retain(|p| name_of(p) != "db-0");
        let p = w.step();
        assert_eq!(p.create_pods[0]["metadata"]["labels"][LABEL_REVISION_HASH], old.as_str());
        assert_eq!(p.create_pods[0]["spec"]["containers"][0]["image"], "percona:8.0");
    }

    #[test]
    fn on_delete_never_deletes_for_updates() {
        let mut w = World::new(sts(2, json!({"spec": {"updateStrategy": {"type": "OnDelete"}}})));
        w.converge();
        change_image(&mut w, "percona:8.4");
        assert_eq!(w.converge(), 0);
        assert_eq!(w.pod("db-1")["spec"]["containers"][0]["image"], "percona:8.0");
        w.pods.retain(|p| name_of(p) != "db-1");
        w.converge();
        assert_eq!(w.pod("db-1")["spec"]["containers"][0]["image"], "percona:8.4");
        assert_eq!(w.sts["status"]["updatedReplicas"], 1);
    }

    #[test]
    fn failed_pod_is_deleted_then_recreated() {
        let mut w = World::new(sts(2, json!({})));
        w.converge();
        w.pods.iter_mut().find(|p| name_of(p) == "db-0").unwrap()["status"]["phase"] = json!("Failed");
        assert_eq!(w.step().delete_pods, ["db-0"]);
        assert_eq!(names(&w.step().create_pods), ["db-0"]);
    }

    #[test]
    fn retention_when_deleted_delete_owns_claims_by_the_set() {
        let mut w = World::new(sts(
            2,
            json!({"spec": {"persistentVolumeClaimRetentionPolicy":
            {"whenDeleted": "Delete", "whenScaled": "Retain"}}}),
        ));
        let p = w.step();
        let refs = &p.create_pvcs[0]["metadata"]["ownerReferences"];
        assert_eq!(refs, &json!([{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "uid": "sts-uid"}]));
        w.converge();
        // Scaling down keeps the set's reference (whenScaled=Retain).
        w.sts["spec"]["replicas"] = json!(1);
        let p = w.step();
        assert!(p.update_pvc_owner_refs.is_empty());
    }

    #[test]
    fn retention_when_scaled_delete_hands_claim_to_the_condemned_pod() {
        let mut w = World::new(sts(
            2,
            json!({"spec": {"persistentVolumeClaimRetentionPolicy":
            {"whenDeleted": "Retain", "whenScaled": "Delete"}}}),
        ));
        w.converge();
        assert!(w.pvcs.iter().all(|c| c["metadata"].get("ownerReferences").is_none()));
        w.sts["spec"]["replicas"] = json!(1);
        let uid = w.pod("db-1")["metadata"]["uid"].clone();
        let p = w.step();
        assert_eq!(p.delete_pods, ["db-1"]);
        assert_eq!(
            p.update_pvc_owner_refs,
            vec![(
                "datadir-db-1".to_string(),
                vec![json!({"apiVersion": "v1", "kind": "Pod", "name": "db-1", "uid": uid})]
            )]
        );
        // Switching the policy back to Retain drops the pod reference again.
        w.sts["spec"]["persistentVolumeClaimRetentionPolicy"] =
            json!({"whenDeleted": "Retain", "whenScaled": "Retain"});
        let p = w.step();
        assert_eq!(p.update_pvc_owner_refs, vec![("datadir-db-1".to_string(), vec![])]);
    }

    #[test]
    fn min_ready_seconds_gates_availability() {
        let mut w = World::new(sts(1, json!({"spec": {"minReadySeconds": 30}})));
        w.step();
        w.make_ready();
        let long_ago = plan_at(&w.sts, &w.pods, &w.pvcs, &w.revisions, Utc::now());
        assert_eq!(long_ago.status["availableReplicas"], 1);
        w.pods[0]["status"]["conditions"][0]["lastTransitionTime"] = json!("2030-01-01T00:00:00Z");
        let now: DateTime<Utc> = "2030-01-01T00:00:10Z".parse().unwrap();
        let p = plan_at(&w.sts, &w.pods, &w.pvcs, &w.revisions, now);
        assert_eq!(p.status["readyReplicas"], 1);
        assert_eq!(p.status["availableReplicas"], 0);
    }

    #[test]
    fn ignores_pods_of_other_owners_and_odd_names() {
        let mut w = World::new(sts(1, json!({})));
        w.pods.push(json!({"metadata": {"name": "db-0", "namespace": "ns", "ownerReferences": [
            {"kind": "StatefulSet", "name": "db", "uid": "other", "controller": true}]}}));
        let p = w.step();
        assert_eq!(names(&p.create_pods), ["db-0"], "a pod owned by someone else is not ours");
        assert_eq!(ordinal_of(&Spec::read(&w.sts), "db-01"), None);
        assert_eq!(ordinal_of(&Spec::read(&w.sts), "db-10"), Some(10));
    }

    #[test]
    fn ordinals_start_shifts_names_and_claims() {
        let mut w = World::new(sts(2, json!({"spec": {"ordinals": {"start": 5}, "podManagementPolicy": "Parallel"}})));
        let p = w.step();
        assert_eq!(names(&p.create_pods), ["db-5", "db-6"]);
        assert_eq!(names(&p.create_pvcs), ["datadir-db-5", "datadir-db-6"]);
        assert_eq!(p.create_pods[0]["metadata"]["labels"][LABEL_POD_INDEX], "5");
        w.make_ready();
        w.sts["spec"]["ordinals"]["start"] = json!(6);
        let p = w.step();
        assert_eq!(names(&p.create_pods), ["db-7"]);
        assert_eq!(p.delete_pods, ["db-5"]);
    }

    #[test]
    fn hash_collision_bumps_collision_count() {
        let set = sts(1, json!({}));
        let hash = template_hash(&set["spec"]["template"], 0);
        // A revision already carries the name this template hashes to, but holds another template.
        let squatter = json!({"apiVersion": "apps/v1", "kind": "ControllerRevision",
            "metadata": {"name": format!("db-{hash}"), "ownerReferences": [
                {"kind": "StatefulSet", "name": "db", "uid": "sts-uid", "controller": true}]},
            "data": {"spec": {"template": {"spec": {"containers": []}, "$patch": "replace"}}}, "revision": 1});
        let p = plan(&set, &[], &[], &[squatter]);
        let rev = p.create_revision.unwrap();
        assert_eq!(name_of(&rev), format!("db-{}", template_hash(&set["spec"]["template"], 1)));
        assert_eq!(rev["revision"], 2);
        assert_eq!(p.status["collisionCount"], 1);
    }
}
