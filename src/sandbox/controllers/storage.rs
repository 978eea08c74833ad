//! Volumes: the default StorageClass, binding claims to generated PersistentVolumes, expansion in
//! steps, and releasing the volume of a deleted claim.

use serde_json::{Value, json};

use super::{Key, Sim, Wake, key, name, now, str_at};
use crate::sandbox::ApiError;
use crate::sandbox::sim::pvc;
use crate::sandbox::store::Subresource;

impl Sim {
    pub(super) fn ensure_default_class(&self) -> Result<(), ApiError> {
        let class = pvc::standard_storage_class();
        match self.store.create(&self.kinds.classes, "", class, &super::opts()) {
            Ok(_) => Ok(()),
            Err(e) if e.code == 409 => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub(super) fn sync_pvc(&mut self, ck: &Key) {
        let k = self.kinds.clone();
        let Some(claim) = self.get(&k.pvcs, ck) else { return };
        if crate::sandbox::sim::is_terminating(&claim) {
            return;
        }
        match str_at(&claim, "/status/phase") {
            "Bound" => {
                let grows = pvc::resize_step(&claim, now()).ok().flatten().is_some();
                if grows && self.resizing.insert(ck.clone()) {
                    self.after(self.cfg.resize_delay, Wake::Resize(ck.clone()));
                }
            }
            _ if self.faults.is_pvc_held(ck) => {
                if str_at(&claim, "/status/phase").is_empty() {
                    self.patch(&k.pvcs, ck, json!({"status": {"phase": "Pending"}}), Subresource::Status);
                }
            }
            _ => self.bind(&claim),
        }
    }

    fn bind(&mut self, claim: &Value) {
        let k = self.kinds.clone();
        let ck = key(claim);
        let classes = self.list(&k.classes, None, None);
        let plan = match pvc::bind_plan(claim, &classes) {
            Ok(Some(plan)) => plan,
            Ok(None) => return,
            Err(e) => {
                tracing::info!(namespace = %ck.0, claim = %ck.1, error = %e, "sandbox: claim stays Pending");
                if str_at(claim, "/status/phase").is_empty() {
                    self.patch(&k.pvcs, &ck, json!({"status": {"phase": "Pending"}}), Subresource::Status);
                    // As the persistent volume controller does, so `kubectl describe pvc` says why.
                    if let pvc::PvcError::ClassNotFound(_) = e {
                        self.event(claim, true, "ProvisioningFailed", &e.to_string(), "persistentvolume-controller");
                    }
                }
                return;
            }
        };
        let pv_name = name(&plan.pv);
        if self.get(&k.pvs, &(String::new(), pv_name.clone())).is_none() {
            let status = plan.pv["status"].clone();
            if self.create(&k.pvs, "", plan.pv).is_none() {
                return;
            }
            self.patch(&k.pvs, &(String::new(), pv_name), json!({"status": status}), Subresource::Status);
        }
        let main = json!({
            "metadata": {"annotations": plan.pvc["metadata"]["annotations"]},
            "spec": {
                "volumeName": plan.pvc["spec"]["volumeName"],
                "storageClassName": plan.pvc["spec"]["storageClassName"],
                "volumeMode": plan.pvc["spec"]["volumeMode"],
            },
        });
        if self.patch(&k.pvcs, &ck, main, Subresource::Main).is_some() {
            self.patch(&k.pvcs, &ck, json!({"status": plan.pvc["status"]}), Subresource::Status);
        }
    }

    /// One step of an expansion; the resulting change schedules the next one.
    pub(super) fn resize_pvc(&mut self, ck: &Key) {
        let k = self.kinds.clone();
        let Some(claim) = self.get(&k.pvcs, ck) else { return };
        let step = match pvc::resize_step(&claim, now()) {
            Ok(Some(step)) => step,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(namespace = %ck.0, claim = %ck.1, error = %e, "sandbox: cannot resize claim");
                return;
            }
        };
        if let Some(cap) = &step.pv_capacity {
            let pv = str_at(&claim, "/spec/volumeName").to_string();
            self.patch(
                &k.pvs,
                &(String::new(), pv),
                json!({"spec": {"capacity": {"storage": cap}}}),
                Subresource::Main,
            );
        }
        self.set_status(&k.pvcs, &claim, step.pvc_status);
    }

    /// A claim is gone: its volume is deleted when the reclaim policy says so, else marked Released.
    pub(super) fn release_volume(&mut self, claim: &Value) {
        let k = self.kinds.clone();
        let pv_name = str_at(claim, "/spec/volumeName");
        if pv_name.is_empty() {
            return;
        }
        let pk = (String::new(), pv_name.to_string());
        let Some(pv) = self.get(&k.pvs, &pk) else { return };
        if str_at(&pv, "/spec/persistentVolumeReclaimPolicy") == "Delete" {
            // The protection finalizer only guards a volume in use; the claim is gone.
            self.patch(&k.pvs, &pk, json!({"metadata": {"finalizers": null}}), Subresource::Main);
            self.delete(&k.pvs, &pk);
        } else {
            self.patch(&k.pvs, &pk, json!({"status": {"phase": "Released"}}), Subresource::Status);
        }
    }
}
