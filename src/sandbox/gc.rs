//! DELETE semantics: preconditions, finalizers and `deletionTimestamp`, garbage collection through
//! ownerReferences (Background, Foreground, Orphan), namespace termination and CRD removal.
//! Collection runs synchronously inside the deleting request, so tests see a settled state.

use serde_json::{Value, json};

use super::crd;
use super::resources::ResourceType;
use super::status::ApiError;
use super::store::{
    DeleteOptions, Deleted, EventType, GroupResource, ObjectKey, Propagation, State, finalizers, now_rfc3339, str_at,
};
use super::views::to_view;

const FOREGROUND: &str = "foregroundDeletion";
const PROTECTED_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public"];

/// Whether `obj` holds up the foreground deletion of owner `uid`.
fn blocks(obj: &Value, uid: &str) -> bool {
    obj["metadata"]["ownerReferences"]
        .as_array()
        .is_some_and(|r| r.iter().any(|o| o["uid"] == uid && o["blockOwnerDeletion"].as_bool() == Some(true)))
}

fn without_owner(obj: &Value, uid: &str) -> Value {
    let mut o = obj.clone();
    if let Some(refs) = o["metadata"]["ownerReferences"].as_array_mut() {
        refs.retain(|r| r["uid"] != uid);
        if refs.is_empty()
            && let Some(m) = o["metadata"].as_object_mut()
        {
            m.remove("ownerReferences");
        }
    }
    o
}

fn is_namespace(gr: &GroupResource) -> bool {
    gr.group.is_empty() && gr.resource == "namespaces"
}

impl State {
    pub(crate) fn delete(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Deleted, ApiError> {
        let key = self.key(rt, ns, name);
        let Some(obj) = self.get(&key).cloned() else { return Err(ApiError::not_found(rt, name)) };
        let uid = str_at(&obj, "/metadata/uid").to_string();
        if let Some(want) = &opts.precondition_uid
            && *want != uid
        {
            return Err(ApiError::conflict(
                rt,
                name,
                &format!("Precondition failed: UID in precondition: {want}, UID in object meta: {uid}"),
            ));
        }
        if let Some(want) = &opts.precondition_rv {
            let have = str_at(&obj, "/metadata/resourceVersion");
            if want != have {
                return Err(ApiError::conflict(
                    rt,
                    name,
                    &format!(
                        "Precondition failed: ResourceVersion in precondition: {want}, ResourceVersion in object meta: {have}"
                    ),
                ));
            }
        }
        if is_namespace(&key.gr) && PROTECTED_NAMESPACES.contains(&name) {
            return Err(ApiError::forbidden(format!(
                "namespaces \"{name}\" is forbidden: this namespace may not be deleted"
            )));
        }
        if opts.dry_run {
            return Ok(Deleted { object: to_view(rt, &obj), removed: finalizers(&obj).is_empty() });
        }
        if !obj["metadata"]["deletionTimestamp"].is_null() {
            // Already terminating: nothing more to do until the finalizers go.
            return Ok(Deleted { object: to_view(rt, &obj), removed: false });
        }
        if opts.propagation == Propagation::Orphan {
            for dep in self.dependents_of(&uid) {
                if let Some(d) = self.get(&dep).cloned() {
                    self.put(&dep, without_owner(&d, &uid), EventType::Modified)?;
                }
            }
        }
        if crd::is_crd(&key.gr) {
            self.remove_custom_resources(&obj)?;
        }
        let has_dependents = !self.dependents_of(&uid).is_empty();
        let mut fins = finalizers(&obj);
        if opts.propagation == Propagation::Foreground && has_dependents && !fins.iter().any(|f| f == FOREGROUND) {
            fins.push(FOREGROUND.to_string());
        }
        let terminating_ns = is_namespace(&key.gr) && self.namespace_has_objects(name);
        if fins.is_empty() && !terminating_ns {
            let last = self.finish_removal(&key, None)?;
            let object = last.map(|l| to_view(rt, &l)).unwrap_or_else(|| to_view(rt, &obj));
            return Ok(Deleted { object, removed: true });
        }
        // Pending: mark the object and let finalizers, dependents or namespace contents go first.
        let mut marked = (*obj).clone();
        marked["metadata"]["deletionTimestamp"] = json!(now_rfc3339());
        marked["metadata"]["deletionGracePeriodSeconds"] = json!(0);
        if !fins.is_empty() {
            marked["metadata"]["finalizers"] = json!(fins);
        }
        if is_namespace(&key.gr) {
            marked["status"]["phase"] = json!("Terminating");
        }
        self.put(&key, marked, EventType::Modified)?;
        if terminating_ns {
            for k in self.keys_in_namespace(name) {
                self.delete_key(&k, Propagation::Background)?;
            }
            self.check_namespace_done(name)?;
        }
        if opts.propagation == Propagation::Foreground {
            for dep in self.dependents_of(&uid) {
                self.delete_key(&dep, Propagation::Foreground)?;
            }
            self.check_foreground(&uid)?;
        }
        match self.get(&key) {
            Some(now) => Ok(Deleted { object: to_view(rt, now), removed: false }),
            None => Ok(Deleted { object: to_view(rt, &obj), removed: true }),
        }
    }

    /// Deletes the object at `key` as the garbage collector would (missing objects are fine).
    fn delete_key(&mut self, key: &ObjectKey, propagation: Propagation) -> Result<(), ApiError> {
        let Some(rt) = self.type_for_gr(&key.gr) else { return Ok(()) };
        let opts = DeleteOptions { propagation, ..Default::default() };
        match self.delete(&rt, &key.namespace, &key.name, &opts) {
            Ok(_) => Ok(()),
            Err(e) if e.code == 404 => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Removes the object (optionally with a final state, e.g. finalizers emptied) and collects what that frees.
    pub(crate) fn finish_removal(
        &mut self,
        key: &ObjectKey,
        final_state: Option<Value>,
    ) -> Result<Option<Value>, ApiError> {
        let Some(last) = self.remove_raw(key, final_state)? else { return Ok(None) };
        let last = (*last).clone();
        self.after_remove(key, &last)?;
        Ok(Some(last))
    }

    fn after_remove(&mut self, key: &ObjectKey, last: &Value) -> Result<(), ApiError> {
        let uid = str_at(last, "/metadata/uid").to_string();
        // Dependents whose every owner is gone are collected; others just lose the dangling reference.
        for dep in self.dependents_of(&uid) {
            let Some(d) = self.get(&dep).cloned() else { continue };
            let other_owner_alive = d["metadata"]["ownerReferences"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["uid"].as_str())
                .any(|u| u != uid && self.key_of_uid(u).is_some());
            if other_owner_alive {
                self.put(&dep, without_owner(&d, &uid), EventType::Modified)?;
            } else {
                self.delete_key(&dep, Propagation::Background)?;
            }
        }
        for owner in last["metadata"]["ownerReferences"].as_array().into_iter().flatten() {
            if let Some(owner_uid) = owner["uid"].as_str() {
                self.check_foreground(owner_uid)?;
            }
        }
        if !key.namespace.is_empty() {
            self.check_namespace_done(&key.namespace)?;
        }
        Ok(())
    }

    /// Called after a write: dropping an ownerReference may unblock an owner's foreground deletion.
    pub(crate) fn after_update(&mut self, _key: &ObjectKey, old: &Value, new: &Value) -> Result<(), ApiError> {
        for owner in old["metadata"]["ownerReferences"].as_array().into_iter().flatten() {
            if let Some(owner_uid) = owner["uid"].as_str()
                && !blocks(new, owner_uid)
            {
                self.check_foreground(owner_uid)?;
            }
        }
        Ok(())
    }

    /// Finishes a foreground deletion once no dependent blocks it any more.
    fn check_foreground(&mut self, owner_uid: &str) -> Result<(), ApiError> {
        let Some(okey) = self.key_of_uid(owner_uid).cloned() else { return Ok(()) };
        let Some(owner) = self.get(&okey).cloned() else { return Ok(()) };
        if owner["metadata"]["deletionTimestamp"].is_null() || !finalizers(&owner).iter().any(|f| f == FOREGROUND) {
            return Ok(());
        }
        let blocked = self.dependents_of(owner_uid).iter().any(|d| self.get(d).is_some_and(|o| blocks(o, owner_uid)));
        if blocked {
            return Ok(());
        }
        let rest: Vec<String> = finalizers(&owner).into_iter().filter(|f| f != FOREGROUND).collect();
        let mut next = (*owner).clone();
        if rest.is_empty() {
            if let Some(m) = next["metadata"].as_object_mut() {
                m.remove("finalizers");
            }
            self.finish_removal(&okey, Some(next))?;
        } else {
            next["metadata"]["finalizers"] = json!(rest);
            self.put(&okey, next, EventType::Modified)?;
        }
        Ok(())
    }

    pub(crate) fn check_namespace_done(&mut self, ns: &str) -> Result<(), ApiError> {
        let key = ObjectKey { gr: GroupResource::of_namespaces(), namespace: String::new(), name: ns.to_string() };
        let Some(nsobj) = self.get(&key).cloned() else { return Ok(()) };
        if nsobj["metadata"]["deletionTimestamp"].is_null()
            || !finalizers(&nsobj).is_empty()
            || self.namespace_has_objects(ns)
        {
            return Ok(());
        }
        let mut last = (*nsobj).clone();
        last["spec"]["finalizers"] = json!([]);
        self.finish_removal(&key, Some(last))?;
        Ok(())
    }

    /// An object created with ownerReferences whose owners are all gone is collected, as upstream's
    /// collector does for dangling references (here at once rather than on its next pass).
    pub(crate) fn collect_if_orphaned(&mut self, key: &ObjectKey) -> Result<(), ApiError> {
        let Some(obj) = self.get(key).cloned() else { return Ok(()) };
        let owners: Vec<&str> = obj["metadata"]["ownerReferences"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["uid"].as_str())
            .collect();
        if owners.is_empty() || owners.iter().any(|u| self.key_of_uid(u).is_some()) {
            return Ok(());
        }
        tracing::debug!(object = %key.name, "collecting an object whose owners are all gone");
        self.delete_key(key, Propagation::Background)
    }

    /// Collects every object whose owners are all gone (after a reload, e.g. a crash mid-cascade).
    pub(crate) fn collect_orphans(&mut self) -> Result<(), ApiError> {
        let keys: Vec<ObjectKey> = self
            .objects
            .iter()
            .flat_map(|(gr, m)| {
                m.keys().map(|(ns, name)| ObjectKey { gr: gr.clone(), namespace: ns.clone(), name: name.clone() })
            })
            .collect();
        for k in keys {
            self.collect_if_orphaned(&k)?;
        }
        Ok(())
    }

    /// A deleted CRD takes its custom resources with it (their finalizers are not waited for).
    fn remove_custom_resources(&mut self, crd_obj: &Value) -> Result<(), ApiError> {
        let name = str_at(crd_obj, "/metadata/name").to_string();
        let types = self.crd_types.get(&name).cloned().unwrap_or_default();
        if let Some(t) = types.first() {
            let gr = GroupResource::of(t);
            for k in self.keys_of(&gr) {
                self.finish_removal(&k, None)?;
            }
        }
        self.crd_types.remove(&name);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::sandbox::store::tests::store;
    use crate::sandbox::store::{DeleteOptions, Propagation, Store, Subresource, WriteOptions, str_at};

    fn create(s: &Store, plural: &str, group: &str, body: serde_json::Value) -> serde_json::Value {
        let rt = s.resources().into_iter().find(|t| t.plural == plural && t.group == group).unwrap();
        s.create(&rt, "default", body, &WriteOptions::default()).unwrap()
    }

    fn owned_by(owner: &serde_json::Value, name: &str, block: bool) -> serde_json::Value {
        json!({"metadata": {"name": name, "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap",
            "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"], "blockOwnerDeletion": block}]}})
    }

    #[test]
    fn background_collects_dependents_and_orphan_strips_refs() {
        let s = store();
        let cm = s.resource("", "v1", "configmaps").unwrap();
        let sec = s.resource("", "v1", "secrets").unwrap();
        let owner = create(&s, "configmaps", "", json!({"metadata": {"name": "owner"}}));
        create(&s, "secrets", "", owned_by(&owner, "child", false));
        s.delete(&cm, "default", "owner", &DeleteOptions::default()).unwrap();
        assert_eq!(s.get(&sec, "default", "child").unwrap_err().code, 404);

        let owner = create(&s, "configmaps", "", json!({"metadata": {"name": "owner2"}}));
        create(&s, "secrets", "", owned_by(&owner, "kept", false));
        let opts = DeleteOptions { propagation: Propagation::Orphan, ..Default::default() };
        s.delete(&cm, "default", "owner2", &opts).unwrap();
        let kept = s.get(&sec, "default", "kept").unwrap();
        assert!(kept["metadata"]["ownerReferences"].is_null());
    }

    #[test]
    fn foreground_waits_for_blocking_dependents_with_finalizers() {
        let s = store();
        let cm = s.resource("", "v1", "configmaps").unwrap();
        let sec = s.resource("", "v1", "secrets").unwrap();
        let owner = create(&s, "configmaps", "", json!({"metadata": {"name": "owner"}}));
        let mut child = owned_by(&owner, "child", true);
        child["metadata"]["finalizers"] = json!(["test/hold"]);
        create(&s, "secrets", "", child);
        let opts = DeleteOptions { propagation: Propagation::Foreground, ..Default::default() };
        let d = s.delete(&cm, "default", "owner", &opts).unwrap();
        assert!(!d.removed);
        assert_eq!(d.object["metadata"]["finalizers"], json!(["foregroundDeletion"]));
        let child = s.get(&sec, "default", "child").unwrap();
        assert!(!str_at(&child, "/metadata/deletionTimestamp").is_empty());
        let mut released = child.clone();
        released["metadata"]["finalizers"] = json!([]);
        s.update(&sec, "default", "child", released, Subresource::Main, &WriteOptions::default()).unwrap();
        assert_eq!(s.get(&sec, "default", "child").unwrap_err().code, 404);
        assert_eq!(s.get(&cm, "default", "owner").unwrap_err().code, 404);
    }

    #[test]
    fn objects_created_for_a_vanished_owner_are_collected() {
        let s = store();
        let sec = s.resource("", "v1", "secrets").unwrap();
        let ghost = json!({"metadata": {"name": "ghost", "uid": "no-such-uid"}});
        let created = create(&s, "secrets", "", owned_by(&ghost, "stray", false));
        assert_eq!(created["metadata"]["name"], "stray");
        assert_eq!(s.get(&sec, "default", "stray").unwrap_err().code, 404);
    }

    #[test]
    fn objects_applied_or_repointed_to_a_vanished_owner_are_collected() {
        use crate::sandbox::store::PatchKind;
        let s = store();
        let sec = s.resource("", "v1", "secrets").unwrap();
        let ghost = json!({"metadata": {"name": "ghost", "uid": "no-such-uid"}});
        // Server-side apply that creates the object takes the same path as a POST.
        let mut body = owned_by(&ghost, "applied", false);
        body["apiVersion"] = json!("v1");
        body["kind"] = json!("Secret");
        let opts = WriteOptions { field_manager: Some("test".into()), ..Default::default() };
        let (created, was_created) =
            s.patch(&sec, "default", "applied", PatchKind::Apply, &body, Subresource::Main, &opts).unwrap();
        assert!(was_created);
        assert_eq!(created["metadata"]["name"], "applied");
        assert_eq!(s.get(&sec, "default", "applied").unwrap_err().code, 404);

        // An update that points a live object's only owner reference at a vanished owner.
        let owner = create(&s, "configmaps", "", json!({"metadata": {"name": "alive"}}));
        create(&s, "secrets", "", owned_by(&owner, "moved", false));
        let repoint =
            json!({"metadata": {"ownerReferences": owned_by(&ghost, "moved", false)["metadata"]["ownerReferences"]}});
        s.patch(&sec, "default", "moved", PatchKind::Merge, &repoint, Subresource::Main, &opts).unwrap();
        assert_eq!(s.get(&sec, "default", "moved").unwrap_err().code, 404);

        // A live owner keeps its dependent, applied or not.
        let mut kept = owned_by(&owner, "kept", false);
        kept["apiVersion"] = json!("v1");
        kept["kind"] = json!("Secret");
        s.patch(&sec, "default", "kept", PatchKind::Apply, &kept, Subresource::Main, &opts).unwrap();
        assert!(s.get(&sec, "default", "kept").is_ok());
    }

    #[test]
    fn namespace_deletion_takes_contents() {
        let s = store();
        let ns = s.resource("", "v1", "namespaces").unwrap();
        let cm = s.resource("", "v1", "configmaps").unwrap();
        s.create(&ns, "", json!({"metadata": {"name": "team"}}), &WriteOptions::default()).unwrap();
        s.create(&cm, "team", json!({"metadata": {"name": "a", "finalizers": ["x/y"]}}), &WriteOptions::default())
            .unwrap();
        let d = s.delete(&ns, "", "team", &DeleteOptions::default()).unwrap();
        assert!(!d.removed);
        assert_eq!(d.object["status"]["phase"], "Terminating");
        let err = s.create(&cm, "team", json!({"metadata": {"name": "b"}}), &WriteOptions::default()).unwrap_err();
        assert_eq!(err.code, 403);
        let mut a = s.get(&cm, "team", "a").unwrap();
        a["metadata"]["finalizers"] = json!(null);
        s.update(&cm, "team", "a", a, Subresource::Main, &WriteOptions::default()).unwrap();
        assert_eq!(s.get(&ns, "", "team").unwrap_err().code, 404);
        assert_eq!(s.delete(&ns, "", "default", &DeleteOptions::default()).unwrap_err().code, 403);
    }
}
