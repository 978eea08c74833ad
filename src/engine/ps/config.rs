//! ConfigMaps: the user's my.cnf, the memory auto-tuning my.cnf, Orchestrator's JSON config and the
//! custom HAProxy / Router configs. Each builder also returns the hash that goes on its pod template.

use k8s_openapi::api::core::v1::ConfigMap;

use super::meta::{Component, hash};
use super::{BuildError, Ctx};

/// Key of the my.cnf in both mysql ConfigMaps (Percona `CustomConfigKey`).
pub(super) const MY_CNF: &str = "my.cnf";
/// Key of Orchestrator's config (Percona `orchestrator.ConfigFileName`).
pub(super) const ORC_CONFIG: &str = "orchestrator.conf.json";
pub(super) const ORC_RAFT_PORT: i32 = 10008;

/// Percona gives each connection this much memory when it derives `max_connections` (12Mi, minus a bit).
const BYTES_PER_CONNECTION: i64 = 12_582_880;
const GIB: i64 = 1 << 30;
const MIB: i64 = 1 << 20;

fn config_map(ctx: &Ctx, c: Component, name: String, key: &str, value: String) -> ConfigMap {
    let labels = ctx.owner.labels(c, None);
    ConfigMap {
        metadata: ctx.owner.meta(name, labels, ctx.owner.annotations(None)),
        data: Some([(key.to_string(), value)].into_iter().collect()),
        ..Default::default()
    }
}

pub(super) struct MysqlConfig {
    pub objects: Vec<ConfigMap>,
    pub hash: String,
}

/// `<c>-mysql` (the user's `spec.mysql.configuration`, when given) and `auto-<c>-mysql` (buffer pool
/// and connection limits derived from the container memory, when resources name any memory).
pub(super) fn mysql(ctx: &Ctx) -> Result<MysqlConfig, BuildError> {
    let base = ctx.owner.workload_name(Component::Mysql);
    let custom = ctx.mysql.configuration.clone().filter(|c| !c.trim().is_empty());
    let auto = autotune(ctx, custom.as_deref().unwrap_or(""))?;
    let hash = hash([custom.as_deref().unwrap_or("").as_bytes(), auto.as_deref().unwrap_or("").as_bytes()]);
    let mut objects = Vec::new();
    if let Some(cnf) = custom {
        objects.push(config_map(ctx, Component::Mysql, base.clone(), MY_CNF, cnf));
    }
    if let Some(cnf) = auto {
        objects.push(config_map(ctx, Component::Mysql, format!("auto-{base}"), MY_CNF, cnf));
    }
    Ok(MysqlConfig { objects, hash })
}

/// The body of `auto-<c>-mysql`, as Percona's `reconcileMySQLAutoConfig` writes it: a single MySQL
/// without Orchestrator must be writable (`read_only=0`), and when resources name any memory (the
/// limit wins over the request) the buffer pool and connection limits follow it. Lines start with a
/// newline and carry no section header; the entrypoint appends them under `[mysqld]`.
fn autotune(ctx: &Ctx, custom: &str) -> Result<Option<String>, BuildError> {
    let write_mode = ctx.mysql.size == Some(1) && !ctx.spec.orchestrator_enabled();
    let resources = ctx.mysql.resources.as_ref();
    let pick = |which: &'static str| {
        let map = if which == "limits" {
            resources.and_then(|r| r.limits.as_ref())
        } else {
            resources.and_then(|r| r.requests.as_ref())
        };
        map.and_then(|m| m.get("memory")).map(|q| (which, q.0.clone()))
    };
    let memory = pick("limits").or_else(|| pick("requests"));
    if memory.is_none() && !write_mode {
        return Ok(None);
    }
    let mut params = String::new();
    if write_mode {
        params.push_str("\nsuper_read_only=0\nread_only=0");
    }
    if let Some((which, raw)) = memory {
        memory_params(ctx, custom, which, &raw, &mut params)?;
    }
    Ok(Some(params))
}

/// Percona's memory auto-tuning (`pkg/mysql/autotune.go`): the buffer pool gets 75% of memory (50%
/// when that would leave under 1GB), rounded up to whole chunks; connections get 12Mi each. A setting
/// the user wrote in `configuration` is left to the user.
fn memory_params(ctx: &Ctx, custom: &str, which: &str, raw: &str, params: &mut String) -> Result<(), BuildError> {
    let field = format!("spec.mysql.resources.{which}.memory");
    let memory = parse_memory(raw).ok_or_else(|| BuildError::InvalidQuantity {
        cluster: ctx.owner.name.clone(),
        field: field.clone(),
        value: raw.to_string(),
    })?;
    if !custom.contains("innodb_buffer_pool_size") {
        let mut pool = memory * 75 / 100;
        if memory - pool < 1_000_000_000 {
            pool = memory * 50 / 100;
        }
        let (mut instances, mut chunk) = (1, 128 * MIB);
        if pool > GIB {
            instances = 8;
            chunk = pool / instances;
            chunk -= chunk % MIB;
        }
        let unit = instances * chunk;
        if unit > 0 && pool % unit != 0 {
            pool += unit - pool % unit;
        }
        params.push_str(&format!("\ninnodb_buffer_pool_size={pool}"));
        if !custom.contains("innodb_buffer_pool_chunk_size") {
            params.push_str(&format!("\ninnodb_buffer_pool_chunk_size={chunk}"));
        }
    }
    if !custom.contains("max_connections") {
        if memory < BYTES_PER_CONNECTION {
            return Err(BuildError::NotEnoughMemory { cluster: ctx.owner.name.clone(), field, value: memory });
        }
        params.push_str(&format!("\nmax_connections={}", memory / BYTES_PER_CONNECTION));
    }
    Ok(())
}

/// Bytes in a Kubernetes quantity such as `4Gi`, `2G`, `256M`, `1.5Gi` or `1073741824`, rounded up
/// like `resource.Quantity.Value()`. `None` for anything else.
pub(super) fn parse_memory(s: &str) -> Option<i64> {
    let v = crate::api::common::parse_quantity(s).ok()?.ceil();
    (v.is_finite() && v >= 0.0 && v < i64::MAX as f64).then_some(v as i64)
}

pub(super) struct OrcConfig {
    pub object: ConfigMap,
    pub hash: String,
}

/// `<c>-orc`: the user's `spec.orchestrator.configuration` (a JSON object) with `RaftNodes` set to
/// every orchestrator pod. Raft nodes follow the spec size, not the paused size, so pausing does
/// not rewrite the config.
pub(super) fn orchestrator(ctx: &Ctx) -> Result<OrcConfig, BuildError> {
    let bad = |message: String| BuildError::InvalidOrchestratorConfig { cluster: ctx.owner.name.clone(), message };
    let mut config = match ctx.orc.configuration.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        None => serde_json::Map::new(),
        Some(text) => match serde_json::from_str::<serde_json::Value>(text).map_err(|e| bad(e.to_string()))? {
            serde_json::Value::Object(map) => map,
            other => return Err(bad(format!("found {}", json_kind(&other)))),
        },
    };
    let base = ctx.owner.workload_name(Component::Orchestrator);
    let size = ctx.orc.size.unwrap_or(crate::api::ps::DEFAULT_SIZE).max(0);
    let nodes: Vec<serde_json::Value> =
        (0..size).map(|i| format!("{base}-{i}.{}.svc:{ORC_RAFT_PORT}", ctx.owner.namespace).into()).collect();
    config.insert("RaftNodes".to_string(), nodes.into());
    let text = serde_json::to_string(&serde_json::Value::Object(config)).map_err(|e| bad(e.to_string()))?;
    let hash = hash([text.as_bytes()]);
    Ok(OrcConfig { object: config_map(ctx, Component::Orchestrator, base, ORC_CONFIG, text), hash })
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

pub(super) struct CustomConfig {
    pub object: Option<ConfigMap>,
    pub hash: String,
}

/// `<c>-haproxy` / `<c>-router`: the user's configuration file, when given, under `key`.
pub(super) fn custom(ctx: &Ctx, c: Component, configuration: Option<&str>, key: &str) -> CustomConfig {
    let text = configuration.filter(|t| !t.trim().is_empty());
    let hash = hash([text.unwrap_or("").as_bytes()]);
    let object = text.map(|t| config_map(ctx, c, ctx.owner.workload_name(c), key, t.to_string()));
    CustomConfig { object, hash }
}

#[cfg(test)]
mod tests {
    use super::parse_memory;

    #[test]
    fn memory_quantities() {
        assert_eq!(parse_memory("4Gi"), Some(4 * 1024 * 1024 * 1024));
        assert_eq!(parse_memory("2G"), Some(2_000_000_000));
        assert_eq!(parse_memory("256M"), Some(256_000_000));
        assert_eq!(parse_memory("1.5Gi"), Some(1_610_612_736));
        assert_eq!(parse_memory("1073741824"), Some(1_073_741_824));
        assert_eq!(parse_memory("lots"), None);
        assert_eq!(parse_memory("4GB"), None);
    }
}
