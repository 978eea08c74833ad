//! `dbdeck crd`: print the nine CRDs, or server-side apply them to the current context.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::wait::{await_condition, conditions};

use crate::api::crds;
use crate::cli::{CrdArgs, GlobalArgs, Output};
use crate::cmd::kubeclient;

/// The field manager dbdeck uses for everything it applies.
pub const FIELD_MANAGER: &str = "dbdeck";

/// All CRDs as one multi-document YAML stream.
pub fn crds_yaml() -> Result<String, serde_yaml::Error> {
    let mut out = String::new();
    for crd in crds() {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(&crd)?);
    }
    Ok(out)
}

/// Server-side applies every CRD and waits until each is Established.
pub async fn apply_all(client: kube::Client) -> color_eyre::Result<Vec<String>> {
    let api: Api<CustomResourceDefinition> = Api::all(client);
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let mut names = Vec::new();
    for crd in crds() {
        let name = crd.metadata.name.clone().unwrap_or_default();
        api.patch(&name, &params, &Patch::Apply(&crd))
            .await
            .map_err(|e| color_eyre::eyre::eyre!("applying CustomResourceDefinition {name}: {e}"))?;
        names.push(name);
    }
    for name in &names {
        let established = await_condition(api.clone(), name, conditions::is_crd_established());
        tokio::time::timeout(std::time::Duration::from_secs(30), established)
            .await
            .map_err(|_| color_eyre::eyre::eyre!("CustomResourceDefinition {name} was not Established within 30s"))??;
    }
    Ok(names)
}

pub async fn run(global: &GlobalArgs, args: &CrdArgs) -> color_eyre::Result<i32> {
    if args.apply {
        let conn = kubeclient::connect(global).await?;
        for name in apply_all(conn.client.clone()).await? {
            crate::cmd::out::println(&format!(
                "customresourcedefinition.apiextensions.k8s.io/{name} serverside-applied"
            ));
        }
        if let Some(sandbox) = conn.sandbox {
            eprintln!("(applied to the embedded sandbox at https://{}; it stops when dbdeck exits)", sandbox.addr);
            sandbox.shutdown().await;
        }
        return Ok(0);
    }
    match args.output {
        Output::Yaml => crate::cmd::out::print(&crds_yaml()?),
        Output::Json => {
            let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": crds()});
            crate::cmd::out::println(&serde_json::to_string_pretty(&list)?);
        }
    }
    Ok(0)
}
