//! Legacy discovery documents: `/version`, `/api`, `/apis`, `/api/v1` and `/apis/{group}/{version}`.
//!
//! Served as plain `application/json`; kubectl and client-go take that as legacy (not aggregated) discovery.

use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::resources::ResourceType;

/// The Kubernetes version the sandbox claims to be.
pub const MAJOR: &str = "1";
pub const MINOR: &str = "33";
pub const GIT_VERSION: &str = "v1.33.0-dbdeck";

/// The `/version` body (`version.Info`).
pub fn version() -> Value {
    json!({
        "major": MAJOR,
        "minor": MINOR,
        "gitVersion": GIT_VERSION,
        // No upstream commit or build date to report; the fields stay present because clients (k8s-openapi's
        // `Info`) require them.
        "gitCommit": concat!("dbdeck-", env!("CARGO_PKG_VERSION")),
        "gitTreeState": "clean",
        "buildDate": "",
        "goVersion": "none (dbdeck sandbox, Rust)",
        "compiler": "rustc",
        "platform": format!("{}/{}", go_os(), go_arch()),
    })
}

/// `GOOS`-style name of the running OS, as `platform` carries it.
fn go_os() -> &'static str {
    match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    }
}

/// `GOARCH`-style name of the running architecture.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

/// The `APIVersions` body for `/api`.
pub fn core_versions() -> Value {
    json!({
        "kind": "APIVersions",
        "apiVersion": "v1",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [],
    })
}

/// The named groups of `types` (core excluded), each with its versions in preference order.
pub fn groups(types: &[ResourceType]) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for t in types.iter().filter(|t| !t.group.is_empty()) {
        match out.iter_mut().find(|(g, _)| *g == t.group) {
            Some((_, versions)) if !versions.contains(&t.version) => versions.push(t.version.clone()),
            Some(_) => {}
            None => out.push((t.group.clone(), vec![t.version.clone()])),
        }
    }
    for (_, versions) in &mut out {
        versions.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
    }
    out
}

/// Every group/version served (`v1` first, then `group/version`), e.g. for the OpenAPI root.
pub fn group_versions(types: &[ResourceType]) -> Vec<String> {
    let mut out = Vec::new();
    if types.iter().any(|t| t.group.is_empty()) {
        out.push("v1".to_string());
    }
    for (group, versions) in groups(types) {
        out.extend(versions.into_iter().map(|v| format!("{group}/{v}")));
    }
    out
}

/// Kubernetes' version ordering: GA above beta above alpha above anything else, higher numbers first
/// (`v2` > `v1` > `v1beta2` > `v1beta1` > `v1alpha1` > `foo`). Larger tuples sort as more preferred.
fn version_priority(v: &str) -> (u8, u64, u64, std::cmp::Reverse<String>) {
    let parsed = v.strip_prefix('v').and_then(|rest| {
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        let major: u64 = rest[..digits].parse().ok()?;
        let tail = &rest[digits..];
        if tail.is_empty() {
            return Some((3, major, 0));
        }
        for (label, rank) in [("beta", 2), ("alpha", 1)] {
            if let Some(n) = tail.strip_prefix(label)
                && let Ok(minor) = n.parse::<u64>()
            {
                return Some((rank, major, minor));
            }
        }
        None
    });
    match parsed {
        Some((rank, major, minor)) => (rank, major, minor, std::cmp::Reverse(String::new())),
        None => (0, 0, 0, std::cmp::Reverse(v.to_string())),
    }
}

/// The `APIGroupList` body for `/apis`.
pub fn group_list(types: &[ResourceType]) -> Value {
    let groups: Vec<Value> = groups(types)
        .into_iter()
        .map(|(name, versions)| {
            let entries: Vec<Value> =
                versions.iter().map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v})).collect();
            let preferred = entries[0].clone();
            json!({"name": name, "versions": entries, "preferredVersion": preferred})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// The `APIResourceList` body for `/api/v1` (`group_version` = `v1`) or `/apis/{group}/{version}`, with
/// `x/status` and `x/scale` entries for the subresources. Empty `resources` means the group/version is not
/// served; answer 404 then.
pub fn resource_list(group_version: &str, types: &[ResourceType]) -> Value {
    let mut resources = Vec::new();
    for t in types.iter().filter(|t| t.api_version() == group_version) {
        let mut entry = json!({
            "name": t.plural,
            "singularName": t.singular,
            "namespaced": t.namespaced,
            "kind": t.kind,
            "verbs": t.verbs,
        });
        if !t.short_names.is_empty() {
            entry["shortNames"] = json!(t.short_names);
        }
        if !t.categories.is_empty() {
            entry["categories"] = json!(t.categories);
        }
        entry["storageVersionHash"] = json!(storage_version_hash(t));
        resources.push(entry);
        if t.status_subresource {
            resources.push(json!({
                "name": format!("{}/status", t.plural),
                "singularName": "",
                "namespaced": t.namespaced,
                "kind": t.kind,
                "verbs": ["get", "patch", "update"],
            }));
        }
        if t.group.is_empty() && t.kind == "Pod" {
            // kubectl drain looks for this entry before it evicts rather than deletes.
            resources.push(json!({
                "name": "pods/eviction",
                "singularName": "",
                "namespaced": true,
                "group": "policy",
                "version": "v1",
                "kind": "Eviction",
                "verbs": ["create"],
            }));
        }
        if t.scale_subresource.is_some() {
            resources.push(json!({
                "name": format!("{}/scale", t.plural),
                "singularName": "",
                "namespaced": t.namespaced,
                "group": "autoscaling",
                "version": "v1",
                "kind": "Scale",
                "verbs": ["get", "patch", "update"],
            }));
        }
    }
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources})
}

/// Upstream's hash: base64 of the first 8 bytes of sha256("group/version/kind"). Clients only compare it for
/// equality (to notice storage migrations), so matching the recipe keeps it stable across restarts.
fn storage_version_hash(t: &ResourceType) -> String {
    let digest = Sha256::digest(format!("{}/{}/{}", t.group, t.version, t.kind).as_bytes());
    base64::engine::general_purpose::STANDARD.encode(&digest[..8])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::resources::builtin;

    #[test]
    fn versions_sort_like_kubernetes() {
        let mut v = vec!["v1alpha1", "foo", "v1", "v2beta1", "v1beta2", "v2", "v1beta1"];
        v.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
        assert_eq!(v, ["v2", "v1", "v2beta1", "v1beta2", "v1beta1", "v1alpha1", "foo"]);
    }

    #[test]
    fn group_list_prefers_the_ga_version() {
        let mut types = builtin();
        let mut beta = types.iter().find(|t| t.kind == "Deployment").unwrap().clone();
        beta.version = "v1beta1".into();
        types.insert(0, beta);
        let list = group_list(&types);
        let apps = list["groups"].as_array().unwrap().iter().find(|g| g["name"] == "apps").unwrap();
        assert_eq!(apps["preferredVersion"]["groupVersion"], "apps/v1");
        assert_eq!(apps["versions"][1]["version"], "v1beta1");
        assert!(list["groups"].as_array().unwrap().iter().all(|g| g["name"] != ""));
    }

    #[test]
    fn resource_list_has_subresources_and_hashes() {
        let list = resource_list("apps/v1", &builtin());
        let names: Vec<&str> =
            list["resources"].as_array().unwrap().iter().filter_map(|r| r["name"].as_str()).collect();
        assert!(names.contains(&"statefulsets/status"));
        assert!(names.contains(&"statefulsets/scale"));
        assert!(!names.contains(&"controllerrevisions/status"));
        let sts = &list["resources"].as_array().unwrap().iter().find(|r| r["name"] == "statefulsets").unwrap();
        assert_eq!(sts["shortNames"], json!(["sts"]));
        assert_eq!(sts["categories"], json!(["all"]));
        assert_eq!(sts["storageVersionHash"].as_str().unwrap().len(), 12);
        assert!(resource_list("nope/v1", &builtin())["resources"].as_array().unwrap().is_empty());
    }

    #[test]
    fn version_claims_1_33() {
        let v = version();
        assert_eq!(v["major"], "1");
        assert_eq!(v["minor"], "33");
        assert_eq!(v["gitVersion"], GIT_VERSION);
        assert!(v["platform"].as_str().unwrap().contains('/'));
    }
}
