//! What `dbdeck --sandbox` puts into a fresh sandbox: the nine CRDs and, unless `--empty`, the example clusters
//! from `deploy/examples/` (built into the binary, so it works from any directory).

use kube::api::{Api, ApiResource, DynamicObject, PostParams};

use crate::api::AnyResource;

/// The example clusters a newcomer sees first: one of each kind (PS in both replication flavours).
pub const EXAMPLES: [(&str, &str); 4] = [
    ("pxc-minimal.yaml", include_str!("../../deploy/examples/pxc-minimal.yaml")),
    ("ps-minimal.yaml", include_str!("../../deploy/examples/ps-minimal.yaml")),
    ("ps-async-minimal.yaml", include_str!("../../deploy/examples/ps-async-minimal.yaml")),
    ("pg-minimal.yaml", include_str!("../../deploy/examples/pg-minimal.yaml")),
];

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("installing the CRDs: {0}")]
    Crds(String),
    #[error("example {file} does not parse: {message}")]
    Parse { file: &'static str, message: String },
    #[error("creating {kind} {name} from example {file}: {source}")]
    Create { file: &'static str, kind: String, name: String, source: Box<kube::Error> },
}

/// The example documents as typed-checked JSON (each must be one of our kinds).
pub fn example_documents() -> Result<Vec<(&'static str, serde_json::Value)>, SeedError> {
    let mut out = Vec::new();
    for (file, text) in EXAMPLES {
        let value: serde_json::Value =
            serde_yaml::from_str(text).map_err(|e| SeedError::Parse { file, message: e.to_string() })?;
        AnyResource::from_value(value.clone()).map_err(|e| SeedError::Parse { file, message: e.to_string() })?;
        out.push((file, value));
    }
    Ok(out)
}

/// Installs the CRDs and, when `examples`, creates the example clusters in `namespace` (existing ones are kept).
/// Returns `kind/name` of each cluster created.
pub async fn seed(client: kube::Client, namespace: &str, examples: bool) -> Result<Vec<String>, SeedError> {
    crate::cmd::crd::apply_all(client.clone()).await.map_err(|e| SeedError::Crds(e.to_string()))?;
    let mut created = Vec::new();
    if !examples {
        return Ok(created);
    }
    for (file, value) in example_documents()? {
        let obj: DynamicObject =
            serde_json::from_value(value).map_err(|e| SeedError::Parse { file, message: e.to_string() })?;
        let types = obj.types.clone().unwrap_or_default();
        let (group, version) = types.api_version.split_once('/').unwrap_or(("", types.api_version.as_str()));
        let gvk = kube::api::GroupVersionKind::gvk(group, version, &types.kind);
        let ar = ApiResource::from_gvk(&gvk);
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &ar);
        let name = obj.metadata.name.clone().unwrap_or_default();
        match api.create(&PostParams::default(), &obj).await {
            Ok(_) => created.push(format!("{}/{name}", types.kind)),
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(source) => {
                return Err(SeedError::Create { file, kind: types.kind.clone(), name, source: Box::new(source) });
            }
        }
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    #[test]
    fn examples_are_valid_clusters() {
        let docs = super::example_documents().unwrap();
        assert_eq!(docs.len(), 4);
        for (file, v) in docs {
            let r = crate::api::AnyResource::from_value(v).unwrap();
            assert!(r.validate().is_empty(), "{file}: {:?}", r.validate());
        }
    }
}
