//! `<c>-instance`: the ServiceAccount, Role and RoleBinding instance pods run with. Patroni keeps its leader
//! lock and member state in the API (Kubernetes DCS), so it needs these few verbs in the cluster's namespace.

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};

use super::meta::Context;

fn rule(resource: &str, verbs: &[&str]) -> PolicyRule {
    PolicyRule {
        api_groups: Some(vec![String::new()]),
        resources: Some(vec![resource.into()]),
        verbs: verbs.iter().map(|v| v.to_string()).collect(),
        ..Default::default()
    }
}

pub fn instance_rbac(ctx: &Context) -> (ServiceAccount, Role, RoleBinding) {
    let name = ctx.object_name("instance");
    let labels = ctx.cluster_label();
    let account = ServiceAccount {
        metadata: ctx.object_meta(name.clone(), labels.clone()),
        // Only Patroni talks to the API; other containers need no token, but they share the pod's.
        automount_service_account_token: Some(true),
        ..Default::default()
    };
    let role = Role {
        metadata: ctx.object_meta(name.clone(), labels.clone()),
        rules: Some(vec![
            // Leader lock and configuration records (`use_endpoints: true`).
            rule("endpoints", &["create", "deletecollection", "get", "list", "patch", "watch"]),
            // Patroni labels its own pod with its role and reads its peers.
            rule("pods", &["get", "list", "patch", "watch"]),
            // Patroni creates the `<scope>-config` Service if it is missing.
            rule("services", &["create"]),
        ]),
    };
    let binding = RoleBinding {
        metadata: ctx.object_meta(name.clone(), labels),
        role_ref: RoleRef { api_group: "rbac.authorization.k8s.io".into(), kind: "Role".into(), name: name.clone() },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name,
            namespace: Some(ctx.namespace.clone()),
            ..Default::default()
        }]),
    };
    (account, role, binding)
}
