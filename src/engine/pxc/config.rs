//! ConfigMaps: the user's my.cnf (`<c>-pxc`), the memory autotune (`auto-<c>-pxc`) and the proxies'
//! custom configuration (`<c>-haproxy`, `<c>-proxysql`), with the hashes that roll the pods.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use k8s_openapi::api::core::v1::{ConfigMap, ResourceRequirements};
use regex::Regex;

use super::meta::hash_parts;
use super::{BuildError, Ctx};
use crate::api::common::parse_quantity;

/// Data keys the Percona images read.
pub const PXC_KEY: &str = "init.cnf";
pub const AUTO_KEY: &str = "auto-config.cnf";
pub const HAPROXY_KEY: &str = "haproxy-global.cfg";
pub const PROXYSQL_KEY: &str = "proxysql.cnf";
pub const LOGCOLLECTOR_KEY: &str = "fluentbit_custom.conf";
pub const HOOK_KEY: &str = "hook.sh";

/// MySQL's default buffer pool chunk (128 MiB) and the 1 MiB granularity of a custom chunk.
const CHUNK_DEFAULT: i64 = 134_217_728;
const CHUNK_MIN: i64 = 1_048_576;
/// Percona budgets about 12 MiB of memory per connection.
const BYTES_PER_CONNECTION: i64 = 12_582_880;

pub struct Configs {
    pub objects: Vec<ConfigMap>,
    pub pxc_hash: String,
    pub haproxy_hash: Option<String>,
    pub proxysql_hash: Option<String>,
}

/// What the autotune writes, each `None` when the user's configuration already sets it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AutoTune {
    pub buffer_pool_chunk_size: Option<i64>,
    pub buffer_pool_size: Option<i64>,
    pub max_connections: Option<i64>,
}

impl AutoTune {
    fn to_cnf(&self) -> String {
        let mut s = String::from("[mysqld]\n");
        for (k, v) in [
            ("innodb_buffer_pool_chunk_size", self.buffer_pool_chunk_size),
            ("innodb_buffer_pool_size", self.buffer_pool_size),
            ("max_connections", self.max_connections),
        ] {
            if let Some(v) = v {
                s.push_str(&format!("{k} = {v}\n"));
            }
        }
        s
    }
}

/// Percona's memory autotune for `memory` bytes: three quarters for the buffer pool (half when that
/// would leave less than 1 GB for the rest), rounded up to whole 128 MiB chunks, with eight 1 MiB-aligned
/// chunks above 1 GiB; one connection per ~12 MiB. `None` when less than one connection fits.
pub fn auto_tune(memory: i64, pool_configured: bool, connections_configured: bool) -> Option<AutoTune> {
    let mut t = AutoTune { buffer_pool_chunk_size: None, buffer_pool_size: None, max_connections: None };
    if !pool_configured {
        let mut pool = memory / 100 * 75;
        if memory - pool < 1_000_000_000 {
            pool = memory / 100 * 50;
        }
        if pool % CHUNK_DEFAULT != 0 {
            pool += CHUNK_DEFAULT - pool % CHUNK_DEFAULT;
        }
        // Above 1 GiB MySQL uses 8 pool instances; the pool must be a multiple of chunk × instances.
        if pool > 1_073_741_824 {
            let chunk = pool / 8;
            let chunk = chunk + CHUNK_MIN - chunk % CHUNK_MIN;
            pool = chunk * 8;
            t.buffer_pool_chunk_size = Some(chunk);
        }
        t.buffer_pool_size = Some(pool);
    }
    if !connections_configured {
        if memory < BYTES_PER_CONNECTION {
            return None;
        }
        t.max_connections = Some(memory / BYTES_PER_CONNECTION);
    }
    Some(t)
}

/// Whether the `[mysqld]` section of a my.cnf text sets `key` (dashes and underscores are the same to MySQL).
fn mysqld_sets(cnf: &str, key: &str) -> bool {
    let want = key.replace('-', "_");
    let mut in_mysqld = false;
    for line in cnf.lines().map(str::trim) {
        if line.starts_with('[') {
            in_mysqld = line.trim_matches(|c| c == '[' || c == ']').trim() == "mysqld";
        } else if in_mysqld && !line.starts_with(['#', ';']) {
            let name = line.split('=').next().unwrap_or("").trim().replace('-', "_");
            if name == want {
                return true;
            }
        }
    }
    false
}

/// The memory the autotune and `{{containerMemoryLimit}}` read: the limit, else the request (bytes).
fn container_memory(ctx: &Ctx, r: Option<&ResourceRequirements>) -> Result<Option<i64>, BuildError> {
    let Some(r) = r else { return Ok(None) };
    let pick = |m: &Option<BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>| {
        m.as_ref().and_then(|m| m.get("memory")).map(|q| q.0.clone())
    };
    let (field, q) = match (pick(&r.limits), pick(&r.requests)) {
        (Some(l), _) => ("spec.pxc.resources.limits.memory", l),
        (None, Some(q)) => ("spec.pxc.resources.requests.memory", q),
        (None, None) => return Ok(None),
    };
    let bytes = parse_quantity(&q).map_err(|m| ctx.err(field, m))?;
    Ok(Some(bytes.ceil() as i64))
}

static TEMPLATE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\{\{\s*containerMemoryLimit((?:\s*[*/]\s*[0-9]+)*)\s*\}\}").expect("constant regex"));
static TEMPLATE_OP: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"([*/])\s*([0-9]+)").expect("constant regex"));

/// Renders Percona's `{{containerMemoryLimit * 3 / 4}}` placeholders (integer arithmetic, left to right).
fn render(ctx: &Ctx, cnf: &str, memory: Option<i64>) -> Result<String, BuildError> {
    if !TEMPLATE.is_match(cnf) {
        return Ok(cnf.to_string());
    }
    let Some(memory) = memory else {
        return Err(ctx.err(
            "spec.pxc.configuration",
            "uses {{containerMemoryLimit}} but spec.pxc.resources sets no memory limit or request",
        ));
    };
    let mut failed = false;
    let out = TEMPLATE.replace_all(cnf, |c: &regex::Captures| {
        let mut v = memory;
        for op in TEMPLATE_OP.captures_iter(&c[1]) {
            match (&op[1], op[2].parse::<i64>()) {
                ("*", Ok(n)) => v = v.saturating_mul(n),
                (_, Ok(n)) if n != 0 => v /= n,
                _ => failed = true,
            }
        }
        v.to_string()
    });
    if failed {
        return Err(ctx.err(
            "spec.pxc.configuration",
            "has a {{containerMemoryLimit}} expression that divides by zero or uses a number too large",
        ));
    }
    Ok(out.into_owned())
}

fn config_map(ctx: &Ctx, name: String, component: &str, key: &str, value: String) -> ConfigMap {
    ConfigMap {
        metadata: ctx.owner.owned_meta(&name, ctx.owner.labels(component)),
        data: Some(BTreeMap::from([(key.to_string(), value)])),
        ..Default::default()
    }
}

/// `<c>-<component>-hookscript`, mounted at `/opt/percona/hookscript` where the entrypoints look.
pub fn hookscript_name(ctx: &Ctx, component: &str) -> String {
    ctx.owner.name(&format!("{component}-hookscript"))
}

pub fn build(ctx: &Ctx) -> Result<Configs, BuildError> {
    let c = ctx.owner;
    let mut objects = Vec::new();
    // Resources as written: Percona tunes nothing for a cluster without a memory setting.
    let resources = ctx.raw.pxc.as_ref().and_then(|p| p.resources.as_ref());
    let memory = container_memory(ctx, resources)?;
    let user = ctx.spec.pxc.as_ref().and_then(|p| p.configuration.clone()).filter(|s| !s.trim().is_empty());

    let mut pxc_parts: Vec<Vec<u8>> = Vec::new();
    if let Some(cnf) = &user {
        let rendered = render(ctx, cnf, memory)?;
        pxc_parts.push(rendered.clone().into_bytes());
        objects.push(config_map(ctx, c.name("pxc"), "pxc", PXC_KEY, rendered));
    }
    if let Some(memory) = memory {
        let cnf = user.as_deref().unwrap_or("");
        let tune = auto_tune(memory, mysqld_sets(cnf, "innodb_buffer_pool_size"), mysqld_sets(cnf, "max_connections"))
            .ok_or_else(|| {
                ctx.err("spec.pxc.resources", "sets less than 12Mi of memory; Percona needs at least that")
            })?;
        let text = tune.to_cnf();
        pxc_parts.push(text.clone().into_bytes());
        objects.push(config_map(ctx, format!("auto-{}", c.name("pxc")), "pxc", AUTO_KEY, text));
    }
    let pxc_hash = hash_parts(pxc_parts.iter().map(Vec::as_slice));

    let mut proxy = |on: bool, conf: Option<&String>, component: &str, key: &str| {
        let conf = conf.filter(|s| !s.trim().is_empty()).filter(|_| on)?;
        objects.push(config_map(ctx, c.name(component), component, key, conf.clone()));
        Some(hash_parts([conf.as_bytes()]))
    };
    let haproxy_hash = proxy(
        ctx.haproxy_on(),
        ctx.spec.haproxy.as_ref().and_then(|h| h.configuration.as_ref()),
        "haproxy",
        HAPROXY_KEY,
    );
    let proxysql_hash = proxy(
        ctx.proxysql_on(),
        ctx.spec.proxysql.as_ref().and_then(|p| p.configuration.as_ref()),
        "proxysql",
        PROXYSQL_KEY,
    );

    // The fluent-bit additions and the entrypoint hook scripts, each only when written.
    let lc = ctx.spec.logcollector.as_ref().filter(|_| ctx.logcollector_on());
    if let Some(conf) = lc.and_then(|l| l.configuration.clone()).filter(|s| !s.trim().is_empty()) {
        objects.push(config_map(ctx, c.name("logcollector"), "pxc", LOGCOLLECTOR_KEY, conf));
    }
    for (component, on, hook) in [
        ("pxc", true, ctx.spec.pxc.as_ref().and_then(|p| p.hook_script.clone())),
        ("haproxy", ctx.haproxy_on(), ctx.spec.haproxy.as_ref().and_then(|p| p.hook_script.clone())),
        ("proxysql", ctx.proxysql_on(), ctx.spec.proxysql.as_ref().and_then(|p| p.hook_script.clone())),
    ] {
        if let Some(hook) = hook.filter(|h| on && !h.trim().is_empty()) {
            objects.push(config_map(ctx, hookscript_name(ctx, component), component, HOOK_KEY, hook));
        }
    }
    Ok(Configs { objects, pxc_hash, haproxy_hash, proxysql_hash })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_gigabyte_gets_half_rounded_to_chunks() {
        // 1G leaves less than 1 GB beside 75 %, so the pool is half (5e8), rounded up to 4 × 128 MiB.
        let t = auto_tune(1_000_000_000, false, false).unwrap();
        assert_eq!(t.buffer_pool_size, Some(536_870_912));
        assert_eq!(t.buffer_pool_chunk_size, None);
        assert_eq!(t.max_connections, Some(79));
    }

    #[test]
    fn large_memory_gets_eight_aligned_chunks() {
        let mem = 8 * 1024 * 1024 * 1024_i64;
        let t = auto_tune(mem, false, false).unwrap();
        let (chunk, pool) = (t.buffer_pool_chunk_size.unwrap(), t.buffer_pool_size.unwrap());
        assert_eq!(pool, chunk * 8);
        assert_eq!(chunk % CHUNK_MIN, 0);
        assert!(pool >= mem / 100 * 75, "pool {pool} below three quarters");
        assert_eq!(t.max_connections, Some(mem / BYTES_PER_CONNECTION));
    }

    #[test]
    fn configured_keys_are_left_alone_and_tiny_memory_refused() {
        let t = auto_tune(4_000_000_000, true, false).unwrap();
        assert_eq!((t.buffer_pool_size, t.buffer_pool_chunk_size), (None, None));
        assert!(auto_tune(1_000_000, false, false).is_none());
        assert!(auto_tune(1_000_000, false, true).is_some());
    }

    #[test]
    fn mysqld_section_lookup() {
        let cnf = "[client]\nmax_connections=1\n[mysqld]\n# max_connections=2\ninnodb-buffer-pool-size = 1G\n";
        assert!(mysqld_sets(cnf, "innodb_buffer_pool_size"));
        assert!(!mysqld_sets(cnf, "max_connections"));
    }
}
