//! The cluster's Services: `<c>-ha` (Patroni's leader, shaped by `expose`), `<c>-ha-config` (Patroni's DCS
//! configuration record), `<c>-primary` (headless mirror of the leader), `<c>-replicas` (shaped by
//! `exposeReplicas`) and `<c>-pods` (headless, names every pod).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::meta::{Context, L_PATRONI, L_ROLE};
use crate::api::pg::ServiceExpose;

pub fn port(name: &str, port: i32) -> ServicePort {
    ServicePort {
        name: Some(name.into()),
        port,
        protocol: Some("TCP".into()),
        target_port: Some(IntOrString::String(name.into())),
        ..Default::default()
    }
}

/// A Service with the user's `expose` settings applied (type, node port, load balancer, labels, annotations).
pub fn exposed(
    ctx: &Context,
    name: String,
    labels: BTreeMap<String, String>,
    expose: Option<&ServiceExpose>,
    mut ports: Vec<ServicePort>,
    selector: Option<BTreeMap<String, String>>,
) -> Service {
    let mut meta = ctx.object_meta(name, labels);
    let type_ = expose.and_then(|e| e.type_.clone()).unwrap_or_else(|| "ClusterIP".into());
    let mut spec = ServiceSpec { type_: Some(type_.clone()), selector, ..Default::default() };
    if let Some(e) = expose {
        if let Some(extra) = &e.labels {
            meta.labels.get_or_insert_with(Default::default).extend(extra.clone());
        }
        if let Some(extra) = &e.annotations {
            meta.annotations.get_or_insert_with(Default::default).extend(extra.clone());
        }
        if (type_ == "NodePort" || type_ == "LoadBalancer")
            && let (Some(node_port), Some(first)) = (e.node_port, ports.first_mut())
        {
            first.node_port = Some(node_port);
        }
        if type_ == "LoadBalancer" {
            spec.load_balancer_class = e.load_balancer_class.clone();
            spec.load_balancer_source_ranges = e.load_balancer_source_ranges.clone();
        }
    }
    spec.ports = Some(ports);
    Service { metadata: meta, spec: Some(spec), ..Default::default() }
}

fn headless(ctx: &Context, name: String, labels: BTreeMap<String, String>, spec: ServiceSpec) -> Service {
    Service {
        metadata: ctx.object_meta(name, labels),
        spec: Some(ServiceSpec { cluster_ip: Some("None".into()), type_: Some("ClusterIP".into()), ..spec }),
        ..Default::default()
    }
}

pub fn cluster_services(ctx: &Context) -> Vec<Service> {
    let scope = ctx.object_name("ha");
    let patroni_labels = ctx.crunchy_labels(&[(L_PATRONI, &scope)]);
    let postgres = || vec![port("postgres", ctx.port())];
    // `<c>-ha` and `<c>-ha-config` have no selector: Patroni writes their Endpoints (leader address and DCS).
    let ha = exposed(ctx, scope.clone(), patroni_labels.clone(), ctx.spec.expose.as_ref(), postgres(), None);
    let ha_config = headless(ctx, ctx.object_name("ha-config"), patroni_labels, ServiceSpec::default());
    let primary = headless(
        ctx,
        ctx.object_name("primary"),
        ctx.crunchy_labels(&[(L_ROLE, "primary")]),
        ServiceSpec { ports: Some(postgres()), ..Default::default() },
    );
    let replicas = exposed(
        ctx,
        ctx.object_name("replicas"),
        ctx.crunchy_labels(&[(L_ROLE, "replica")]),
        ctx.spec.expose_replicas.as_ref(),
        postgres(),
        Some(ctx.crunchy_labels(&[(L_ROLE, "replica")])),
    );
    // Pods must resolve before they are ready: Patroni and pgBackRest find each other through these names.
    let pods = headless(
        ctx,
        ctx.object_name("pods"),
        ctx.cluster_label(),
        ServiceSpec {
            selector: Some(ctx.cluster_label()),
            publish_not_ready_addresses: Some(true),
            ..Default::default()
        },
    );
    vec![primary, replicas, pods, ha, ha_config]
}
