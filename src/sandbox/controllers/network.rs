//! Services (cluster IPs), their Endpoints and EndpointSlices, and PodDisruptionBudget status.

use std::collections::HashSet;

use serde_json::{Value, json};

use super::{Key, Sim, key, name, now, str_at};
use crate::sandbox::sim::{endpoints, pdb};
use crate::sandbox::store::Subresource;

use crate::sandbox::sim::endpoints::LABEL_SERVICE_NAME as SLICE_SERVICE_LABEL;

impl Sim {
    /// Gives a Service without one a cluster IP from 10.96.0.0/12 (headless and ExternalName ones keep none).
    pub(super) fn sync_service_ip(&mut self, sk: &Key) {
        let k = self.kinds.clone();
        let Some(svc) = self.get(&k.services, sk) else { return };
        if !str_at(&svc, "/spec/clusterIP").is_empty() || str_at(&svc, "/spec/type") == "ExternalName" {
            return;
        }
        if self.service_ips.is_none() {
            let used: HashSet<String> = self
                .list(&k.services, None, None)
                .iter()
                .map(|s| str_at(s, "/spec/clusterIP").to_string())
                .filter(|ip| !ip.is_empty())
                .collect();
            self.service_ips = Some(used);
        }
        let used = self.service_ips.get_or_insert_with(HashSet::new);
        // Index 0 (10.96.0.1) belongs to the `kubernetes` Service by convention.
        let mut index = 1;
        let ip = loop {
            match endpoints::cluster_ip(index) {
                Ok(ip) if used.contains(&ip.to_string()) => index += 1,
                Ok(ip) => break ip.to_string(),
                Err(e) => {
                    tracing::warn!(namespace = %sk.0, service = %sk.1, error = %e, "sandbox: no cluster IP left");
                    return;
                }
            }
        };
        used.insert(ip.clone());
        self.patch(&k.services, sk, json!({"spec": {"clusterIP": ip, "clusterIPs": [ip]}}), Subresource::Main);
    }

    pub(super) fn remove_endpoints(&mut self, sk: &Key) {
        let k = self.kinds.clone();
        self.delete(&k.endpoints, sk);
        let sel = crate::sandbox::selector::LabelSelector::parse(&format!("{SLICE_SERVICE_LABEL}={}", sk.1)).ok();
        for s in self.list(&k.slices, Some(&sk.0), sel.as_ref()) {
            self.delete(&k.slices, &key(&s));
        }
        // The IP is released with the Service: recount on the next allocation.
        self.service_ips = None;
    }

    /// Endpoints and EndpointSlices of every Service of a namespace, from its pods.
    pub(super) fn sync_endpoints(&mut self, ns: &str) {
        let k = self.kinds.clone();
        let services = self.list(&k.services, Some(ns), None);
        if services.is_empty() {
            return;
        }
        let pods = self.list(&k.pods, Some(ns), None);
        let nodes = self.list(&k.nodes, None, None);
        for svc in &services {
            if let Some(ep) = endpoints::endpoints_for(svc, &pods) {
                self.put(&k.endpoints, ns, ep);
            }
            if let Some(slices) = endpoints::endpoint_slices_for(svc, &pods, &nodes) {
                let keep: HashSet<String> = slices.iter().map(name).collect();
                for s in slices {
                    self.put(&k.slices, ns, s);
                }
                // Slices of port sets that no longer exist go.
                let sel =
                    crate::sandbox::selector::LabelSelector::parse(&format!("{SLICE_SERVICE_LABEL}={}", name(svc)))
                        .ok();
                for old in self.list(&k.slices, Some(ns), sel.as_ref()) {
                    if !keep.contains(&name(&old)) {
                        self.delete(&k.slices, &key(&old));
                    }
                }
            }
        }
    }

    /// Creates `obj`, or replaces the stored one when it differs (metadata aside).
    fn put(&self, rt: &crate::sandbox::resources::ResourceType, ns: &str, mut obj: Value) {
        let ok = (ns.to_string(), name(&obj));
        match self.get(rt, &ok) {
            None => {
                self.create(rt, ns, obj);
            }
            Some(cur) => {
                let body = |v: &Value| {
                    let mut v = v.clone();
                    if let Some(m) = v.as_object_mut() {
                        m.remove("metadata");
                        m.remove("apiVersion");
                        m.remove("kind");
                    }
                    v
                };
                let same_labels = cur.pointer("/metadata/labels") == obj.pointer("/metadata/labels")
                    || obj.pointer("/metadata/labels").is_none();
                if body(&cur) == body(&obj) && same_labels {
                    return;
                }
                obj["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"].clone();
                if let Err(e) = self.store.update(rt, ns, &ok.1, obj, Subresource::Main, &super::opts()) {
                    tracing::debug!(kind = %rt.kind, name = %ok.1, error = %e.message, "sandbox: endpoints update lost a race");
                }
            }
        }
    }

    pub(super) fn sync_pdbs(&mut self, ns: &str) {
        let k = self.kinds.clone();
        let pdbs = self.list(&k.pdbs, Some(ns), None);
        if pdbs.is_empty() {
            return;
        }
        let pods = self.list(&k.pods, Some(ns), None);
        let mut controllers = self.list(&k.sts, Some(ns), None);
        controllers.extend(self.list(&k.replicasets, Some(ns), None));
        controllers.extend(self.list(&k.deployments, Some(ns), None));
        for p in &pdbs {
            let status = pdb::pdb_status(p, &pods, &controllers, now());
            self.set_status(&k.pdbs, p, status);
        }
    }
}
