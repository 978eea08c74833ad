//! The operator's own metrics (leadership, lease rounds, build) next to the engine's, in one registry.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use super::lease::Round;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RoundLabels {
    pub outcome: &'static str,
}

/// Handles to the headless metrics; registering them puts them in the registry `/metrics` encodes.
#[derive(Clone, Debug, Default)]
pub struct HeadlessMetrics {
    /// 1 while this replica holds the lease.
    pub leader: Gauge,
    /// Lease rounds by outcome (acquired, renewed, follower, failed).
    pub lease_rounds: Family<RoundLabels, Counter>,
    /// Terms of leadership this replica started.
    pub leader_terms: Counter,
}

impl HeadlessMetrics {
    /// Registers under the `dbdeck_` prefix: `dbdeck_leader`, `dbdeck_lease_rounds_total{outcome}`,
    /// `dbdeck_leader_terms_total` and `dbdeck_build_info{version}`.
    pub fn register(&self, registry: &mut Registry) {
        let dbdeck = registry.sub_registry_with_prefix("dbdeck");
        dbdeck.register(
            "leader",
            "1 while this replica holds the leader lease and runs the engine",
            self.leader.clone(),
        );
        dbdeck.register("lease_rounds", "Leader-election rounds by outcome", self.lease_rounds.clone());
        dbdeck.register("leader_terms", "Times this replica became the leader", self.leader_terms.clone());
        dbdeck.register(
            "build",
            "The running dbdeck version",
            Info::new(vec![("version".to_string(), env!("CARGO_PKG_VERSION").to_string())]),
        );
    }

    pub fn record(&self, round: Round) {
        let outcome = match round {
            Round::Acquired => "acquired",
            Round::Renewed => "renewed",
            Round::Follower => "follower",
            Round::Failed => "failed",
        };
        self.lease_rounds.get_or_create(&RoundLabels { outcome }).inc();
        if round == Round::Acquired {
            self.leader_terms.inc();
        }
    }

    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }
}

/// The registry in OpenMetrics text, as Prometheus scrapes it.
pub fn encode(registry: &Registry) -> Result<String, std::fmt::Error> {
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, registry)?;
    Ok(out)
}

/// OpenMetrics text rewritten as the classic Prometheus text format (0.0.4) for scrapers that do not ask for
/// OpenMetrics: counter families are named with their `_total` samples, info families become `_info` gauges, and
/// there is no `# EOF`.
pub fn to_prometheus_text(openmetrics: &str) -> String {
    let mut renamed: std::collections::HashMap<&str, (String, &str)> = std::collections::HashMap::new();
    for line in openmetrics.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ")
            && let Some((name, kind)) = rest.split_once(' ')
        {
            match kind {
                "counter" => renamed.insert(name, (format!("{name}_total"), "counter")),
                "info" => renamed.insert(name, (format!("{name}_info"), "gauge")),
                _ => None,
            };
        }
    }
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" {
            continue;
        }
        let meta = ["# HELP ", "# TYPE "].into_iter().find_map(|p| line.strip_prefix(p).map(|rest| (p, rest)));
        match meta.and_then(|(p, rest)| {
            let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            renamed.get(name).map(|(new, kind)| (p, new, if p == "# TYPE " { *kind } else { tail }))
        }) {
            Some((p, new, tail)) => out.push_str(&format!("{p}{new} {tail}")),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leader_gauge_build_info_and_rounds_are_exported() {
        let m = HeadlessMetrics::default();
        let mut registry = Registry::default();
        m.register(&mut registry);
        m.record(Round::Follower);
        m.record(Round::Acquired);
        m.record(Round::Renewed);
        m.set_leader(true);
        let text = encode(&registry).unwrap();
        assert!(text.contains("dbdeck_leader 1\n"), "{text}");
        assert!(text.contains(&format!("dbdeck_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"))), "{text}");
        assert!(text.contains("dbdeck_lease_rounds_total{outcome=\"renewed\"} 1"), "{text}");
        assert!(text.contains("dbdeck_leader_terms_total 1"), "{text}");
        let classic = to_prometheus_text(&text);
        assert!(classic.contains("# HELP dbdeck_lease_rounds_total Leader-election rounds by outcome"), "{classic}");
        assert!(classic.contains("# TYPE dbdeck_lease_rounds_total counter\n"), "{classic}");
        assert!(classic.contains("# TYPE dbdeck_leader gauge\n"), "{classic}");
        assert!(classic.contains("# TYPE dbdeck_build_info gauge\n"), "{classic}");
        assert!(classic.contains("dbdeck_leader_terms_total 1\n") && !classic.contains("# EOF"), "{classic}");
    }
}
