//! Services (`<c>-pxc`, `<c>-pxc-unready`, the proxies', per-pod ones) and PodDisruptionBudgets.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use serde_json::{Value, json};

use super::meta::{json, prune_nulls, typed};
use super::{BuildError, Ctx};
use crate::api::pxc::{PodDisruptionBudgetSpec, ServiceExpose};

fn port(name: &str, port: i32, target: i32) -> Value {
    json!({ "name": name, "port": port, "protocol": "TCP", "targetPort": target })
}

/// How a proxy or per-pod Service is exposed: the `expose` section wins over the older flat fields.
struct Exposure {
    type_: String,
    annotations: Option<BTreeMap<String, String>>,
    labels: Option<BTreeMap<String, String>>,
    external_traffic_policy: Option<String>,
    internal_traffic_policy: Option<String>,
    load_balancer_source_ranges: Option<Vec<String>>,
    load_balancer_ip: Option<String>,
    load_balancer_class: Option<String>,
}

impl Exposure {
    fn from(e: Option<&ServiceExpose>, flat_type: Option<&String>, flat: FlatFields) -> Self {
        let e = e.cloned().unwrap_or_default();
        Exposure {
            type_: e.type_.or(flat_type.cloned()).unwrap_or_else(|| "ClusterIP".into()),
            annotations: e.annotations.or(flat.annotations),
            labels: e.labels.or(flat.labels),
            external_traffic_policy: e.external_traffic_policy.or(e.traffic_policy).or(flat.external_traffic_policy),
            internal_traffic_policy: e.internal_traffic_policy,
            load_balancer_source_ranges: e.load_balancer_source_ranges.or(flat.load_balancer_source_ranges),
            load_balancer_ip: e.load_balancer_ip,
            load_balancer_class: e.load_balancer_class,
        }
    }

    /// Fields only meaningful for externally reachable types are left out of ClusterIP Services,
    /// which the API server would refuse.
    fn apply(&self, spec: &mut Value) {
        let external = matches!(self.type_.as_str(), "LoadBalancer" | "NodePort");
        let lb = self.type_ == "LoadBalancer";
        if let Value::Object(m) = spec {
            m.insert("type".into(), json!(self.type_));
            if external {
                // Percona's default for externally reachable Services.
                let policy = self.external_traffic_policy.clone().unwrap_or_else(|| "Cluster".into());
                m.insert("externalTrafficPolicy".into(), json!(policy));
            }
            if lb {
                m.insert("loadBalancerSourceRanges".into(), json!(self.load_balancer_source_ranges));
                m.insert("loadBalancerIP".into(), json!(self.load_balancer_ip));
                m.insert("loadBalancerClass".into(), json!(self.load_balancer_class));
            }
            m.insert("internalTrafficPolicy".into(), json!(self.internal_traffic_policy));
        }
    }
}

#[derive(Default)]
struct FlatFields {
    annotations: Option<BTreeMap<String, String>>,
    labels: Option<BTreeMap<String, String>>,
    external_traffic_policy: Option<String>,
    load_balancer_source_ranges: Option<Vec<String>>,
}

fn service(
    ctx: &Ctx,
    name: &str,
    component: &str,
    user_labels: Option<&BTreeMap<String, String>>,
    annotations: Option<&BTreeMap<String, String>>,
    mut spec: Value,
) -> Result<Service, BuildError> {
    let mut labels = user_labels.cloned().unwrap_or_default();
    labels.extend(ctx.owner.labels(component));
    let mut meta = ctx.owner.owned_meta(name, labels);
    meta.annotations = annotations.cloned();
    if let Value::Object(m) = &mut spec {
        // Percona's newest compare files select pxc pods with three labels and proxy pods with all five.
        let selector =
            if component == "pxc" { ctx.owner.service_selector(component) } else { ctx.owner.labels(component) };
        m.entry("selector").or_insert_with(|| json!(selector));
    }
    let mut v = json!({ "apiVersion": "v1", "kind": "Service", "metadata": json(name, &meta)?, "spec": spec });
    prune_nulls(&mut v);
    typed(&format!("Service {name}"), v)
}

pub fn services(ctx: &Ctx) -> Result<Vec<Service>, BuildError> {
    let o = ctx.owner;
    let mut out = Vec::new();
    let pxc_ports = json!([port("mysql", 3306, 3306), port("mysql-admin", 33062, 33062), port("mysqlx", 33060, 33060)]);
    // Both pxc Services are headless: peers and proxies address pods by their DNS names.
    out.push(service(
        ctx,
        &o.name("pxc"),
        "pxc",
        None,
        None,
        json!({ "clusterIP": "None", "ports": pxc_ports, "type": "ClusterIP" }),
    )?);
    out.push(service(
        ctx,
        &o.name("pxc-unready"),
        "pxc",
        None,
        None,
        json!({ "clusterIP": "None", "ports": pxc_ports, "publishNotReadyAddresses": true, "type": "ClusterIP" }),
    )?);

    let p = ctx.spec.pxc.clone().unwrap_or_default();
    if let Some(e) = p.expose.as_ref().filter(|e| e.enabled == Some(true)) {
        let ex = Exposure::from(Some(e), None, FlatFields::default());
        for i in 0..p.size.unwrap_or(0).max(0) {
            let pod = format!("{}-{i}", o.name("pxc"));
            let mut selector = o.service_selector("pxc");
            selector.insert("statefulset.kubernetes.io/pod-name".into(), pod.clone());
            let mut spec = json!({ "ports": [port("mysql", 3306, 3306)], "selector": selector });
            ex.apply(&mut spec);
            out.push(service(ctx, &pod, "pxc", ex.labels.as_ref(), ex.annotations.as_ref(), spec)?);
        }
    }

    if ctx.haproxy_on() {
        let h = ctx.spec.haproxy.clone().unwrap_or_default();
        let flat = FlatFields {
            annotations: h.service_annotations.clone(),
            labels: h.service_labels.clone(),
            external_traffic_policy: h.external_traffic_policy.clone(),
            load_balancer_source_ranges: h.load_balancer_source_ranges.clone(),
        };
        let ex = Exposure::from(h.expose_primary.as_ref(), h.service_type.as_ref(), flat);
        let mut spec = json!({ "ports": [
            port("mysql", 3306, 3306), port("proxy-protocol", 3309, 3309),
            port("mysql-admin", 33062, 33062), port("mysqlx", 33060, 33060),
        ] });
        ex.apply(&mut spec);
        out.push(service(ctx, &o.name("haproxy"), "haproxy", ex.labels.as_ref(), ex.annotations.as_ref(), spec)?);

        let replicas_on = h.expose_replicas.as_ref().and_then(|e| e.enabled).unwrap_or(true)
            && h.replicas_service_enabled != Some(false);
        if replicas_on {
            let flat = FlatFields {
                annotations: h.replicas_service_annotations.clone(),
                labels: h.replicas_service_labels.clone(),
                external_traffic_policy: h.replicas_external_traffic_policy.clone(),
                load_balancer_source_ranges: h.replicas_load_balancer_source_ranges.clone(),
            };
            let ex = Exposure::from(h.expose_replicas.as_ref(), h.replicas_service_type.as_ref(), flat);
            // `onlyReaders` is handled inside HAProxy (REPLICAS_SVC_ONLY_READERS on its sidecar); the
            // Service always targets the replicas port.
            let mut spec = json!({ "ports": [port("mysql-replicas", 3306, 3307)] });
            ex.apply(&mut spec);
            let name = o.name("haproxy-replicas");
            out.push(service(ctx, &name, "haproxy", ex.labels.as_ref(), ex.annotations.as_ref(), spec)?);
        }
    }

    if ctx.proxysql_on() {
        let x = ctx.spec.proxysql.clone().unwrap_or_default();
        let flat = FlatFields {
            annotations: x.service_annotations.clone(),
            labels: x.service_labels.clone(),
            external_traffic_policy: x.external_traffic_policy.clone(),
            load_balancer_source_ranges: x.load_balancer_source_ranges.clone(),
        };
        let ex = Exposure::from(x.expose.as_ref(), x.service_type.as_ref(), flat);
        let mut spec = json!({ "ports": [port("mysql", 3306, 3306), port("mysql-admin", 33062, 33062)] });
        ex.apply(&mut spec);
        out.push(service(ctx, &o.name("proxysql"), "proxysql", ex.labels.as_ref(), ex.annotations.as_ref(), spec)?);
        out.push(service(
            ctx,
            &o.name("proxysql-unready"),
            "proxysql",
            None,
            None,
            json!({
                "clusterIP": "None",
                "ports": [port("mysql", 3306, 3306), port("proxyadm", 6032, 6032), port("mysql-admin", 33062, 33062)],
                "publishNotReadyAddresses": true,
                "type": "ClusterIP",
            }),
        )?);
    }
    Ok(out)
}

fn pdb(ctx: &Ctx, component: &str, spec: Option<&PodDisruptionBudgetSpec>) -> Result<PodDisruptionBudget, BuildError> {
    let name = ctx.owner.name(component);
    let spec = spec.cloned().unwrap_or_default();
    let mut v = json!({
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": json(&name, &ctx.owner.owned_meta(&name, ctx.owner.labels(component)))?,
        "spec": {
            "minAvailable": json(&name, &spec.min_available)?,
            "maxUnavailable": json(&name, &spec.max_unavailable)?,
            "selector": { "matchLabels": ctx.owner.labels(component) },
        },
    });
    prune_nulls(&mut v);
    typed(&format!("PodDisruptionBudget {name}"), v)
}

pub fn pdbs(ctx: &Ctx) -> Result<Vec<PodDisruptionBudget>, BuildError> {
    let mut out = vec![pdb(ctx, "pxc", ctx.spec.pxc.as_ref().and_then(|p| p.pod_disruption_budget.as_ref()))?];
    if ctx.haproxy_on() {
        out.push(pdb(ctx, "haproxy", ctx.spec.haproxy.as_ref().and_then(|h| h.pod_disruption_budget.as_ref()))?);
    }
    if ctx.proxysql_on() {
        out.push(pdb(ctx, "proxysql", ctx.spec.proxysql.as_ref().and_then(|p| p.pod_disruption_budget.as_ref()))?);
    }
    Ok(out)
}
