//! Stands in for a cluster's user: creates each Secret a pod of the client's default namespace names that does not
//! exist yet. The sandbox's kubelet, like a real one, keeps pods whose Secrets are missing from starting.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{Api, ListParams, PostParams};
use serde_json::{Value, json};

/// Creates, as the cluster's user would, each Secret a pod of the namespace names that does not exist yet, with
/// the keys the pods ask for (Secrets the engine creates are left alone).
pub async fn provide_user_secrets(client: kube::Client) {
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let secrets: Api<Secret> = Api::default_namespaced(client);
    loop {
        let mut wanted: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for pod in pods.list(&ListParams::default()).await.map(|l| l.items).unwrap_or_default() {
            let spec = serde_json::to_value(pod.spec).unwrap_or_default();
            let mut note = |name: &Value, keys: Vec<String>| {
                if let Some(n) = name.as_str() {
                    wanted.entry(n.to_string()).or_default().extend(keys);
                }
            };
            let keys_of = |src: &Value| -> Vec<String> {
                src["items"]
                    .as_array()
                    .map(|i| i.iter().filter_map(|i| i["key"].as_str().map(str::to_string)).collect())
                    .unwrap_or_default()
            };
            for vol in spec["volumes"].as_array().cloned().unwrap_or_default() {
                note(&vol["secret"]["secretName"], keys_of(&vol["secret"]));
                for src in vol["projected"]["sources"].as_array().cloned().unwrap_or_default() {
                    note(&src["secret"]["name"], keys_of(&src["secret"]));
                }
            }
            for kind in ["containers", "initContainers"] {
                for c in spec[kind].as_array().cloned().unwrap_or_default() {
                    for e in c["env"].as_array().cloned().unwrap_or_default() {
                        let r = &e["valueFrom"]["secretKeyRef"];
                        note(&r["name"], r["key"].as_str().map(str::to_string).into_iter().collect());
                    }
                    for e in c["envFrom"].as_array().cloned().unwrap_or_default() {
                        note(&e["secretRef"]["name"], Vec::new());
                    }
                }
            }
        }
        for (name, keys) in wanted {
            if secrets.get_opt(&name).await.ok().flatten().is_some() {
                continue;
            }
            let data: serde_json::Map<String, Value> =
                keys.into_iter().chain(["value".to_string()]).map(|k| (k, json!("c2FuZGJveA=="))).collect();
            let secret = json!({"metadata": {"name": name, "labels": {"provided-by": "test-user"}}, "data": data});
            let _ = secrets.create(&PostParams::default(), &serde_json::from_value(secret).unwrap()).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
