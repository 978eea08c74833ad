//! GTID sets of both MySQL (`uuid[:tag]:1-5:7`) and MariaDB (`domain-server-seq`) and counting the transactions
//! one set has that another lacks, which is replication lag measured in transactions.

use std::collections::BTreeMap;

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum GtidError {
    #[error("GTID set element `{0}` has no `:` between source id and intervals")]
    MissingInterval(String),
    #[error("GTID interval `{0}` is not `N` or `N-M` with 1 <= N <= M")]
    BadInterval(String),
    #[error("MariaDB GTID `{0}` is not `domain-server-sequence`")]
    BadMariadbGtid(String),
}

/// A MySQL GTID set: per source (server uuid, plus the optional tag of MySQL 8.3+), sorted disjoint intervals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MysqlGtidSet {
    sources: BTreeMap<String, Vec<(u64, u64)>>,
}

impl MysqlGtidSet {
    /// Parses `3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5:7,\n uuid2:tag:1-3`. Empty text is the empty set.
    pub fn parse(text: &str) -> Result<Self, GtidError> {
        let mut set = MysqlGtidSet::default();
        for element in text.split(',') {
            let element = element.trim();
            if element.is_empty() {
                continue;
            }
            let mut parts = element.split(':');
            let uuid = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            let mut key = uuid;
            let mut saw_interval = false;
            for part in parts {
                let part = part.trim();
                // A tag (MySQL 8.3+) starts with a letter or underscore; intervals start with a digit.
                if part.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
                    key = format!("{}:{}", key.split(':').next().unwrap_or_default(), part.to_ascii_lowercase());
                    continue;
                }
                let (start, end) = parse_interval(part)?;
                set.insert(&key, start, end);
                saw_interval = true;
            }
            if !saw_interval {
                return Err(GtidError::MissingInterval(element.to_string()));
            }
        }
        Ok(set)
    }

    fn insert(&mut self, key: &str, start: u64, end: u64) {
        let intervals = self.sources.entry(key.to_string()).or_default();
        intervals.push((start, end));
        intervals.sort_unstable();
        // Merge overlapping or adjacent intervals so counting never counts twice.
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(intervals.len());
        for &(s, e) in intervals.iter() {
            match merged.last_mut() {
                Some(last) if s <= last.1.saturating_add(1) => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        *intervals = merged;
    }

    /// Number of transactions in the set.
    pub fn count(&self) -> u64 {
        self.sources.values().flatten().map(|(s, e)| e - s + 1).sum()
    }

    /// Number of transactions in `self` that are not in `other`.
    pub fn count_missing_from(&self, other: &MysqlGtidSet) -> u64 {
        let mut total = 0;
        for (key, intervals) in &self.sources {
            let theirs = other.sources.get(key).map(Vec::as_slice).unwrap_or(&[]);
            for &(s, e) in intervals {
                let overlap: u64 = theirs
                    .iter()
                    .filter_map(|&(ts, te)| {
                        let lo = s.max(ts);
                        let hi = e.min(te);
                        (lo <= hi).then(|| hi - lo + 1)
                    })
                    .sum();
                total += (e - s + 1) - overlap;
            }
        }
        total
    }
}

fn parse_interval(text: &str) -> Result<(u64, u64), GtidError> {
    let bad = || GtidError::BadInterval(text.to_string());
    let (start, end) = match text.split_once('-') {
        Some((a, b)) => (a.trim().parse::<u64>().map_err(|_| bad())?, b.trim().parse::<u64>().map_err(|_| bad())?),
        None => {
            let n = text.parse::<u64>().map_err(|_| bad())?;
            (n, n)
        }
    };
    if start == 0 || end < start {
        return Err(bad());
    }
    Ok((start, end))
}

/// A MariaDB GTID position: the last sequence number per replication domain (`0-1-42,1-2-7`).
///
/// Sequence numbers grow monotonically within a domain whatever server wrote them, so the distance between two
/// positions is the sum over domains of the difference of sequence numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MariadbGtidPos {
    domains: BTreeMap<u32, MariadbGtid>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MariadbGtid {
    pub domain: u32,
    pub server_id: u32,
    pub seq: u64,
}

impl MariadbGtidPos {
    pub fn parse(text: &str) -> Result<Self, GtidError> {
        let mut pos = MariadbGtidPos::default();
        for element in text.split(',') {
            let element = element.trim();
            if element.is_empty() {
                continue;
            }
            let bad = || GtidError::BadMariadbGtid(element.to_string());
            let mut parts = element.splitn(3, '-');
            let domain = parts.next().and_then(|p| p.parse::<u32>().ok()).ok_or_else(bad)?;
            let server_id = parts.next().and_then(|p| p.parse::<u32>().ok()).ok_or_else(bad)?;
            let seq = parts.next().and_then(|p| p.parse::<u64>().ok()).ok_or_else(bad)?;
            let gtid = MariadbGtid { domain, server_id, seq };
            // A position has one GTID per domain; if a list repeats a domain the highest sequence wins.
            let entry = pos.domains.entry(domain).or_insert(gtid);
            if gtid.seq > entry.seq {
                *entry = gtid;
            }
        }
        Ok(pos)
    }

    pub fn get(&self, domain: u32) -> Option<MariadbGtid> {
        self.domains.get(&domain).copied()
    }

    /// Transactions `self` is ahead of `other` (0 per domain where `other` is at or past `self`).
    pub fn count_ahead_of(&self, other: &MariadbGtidPos) -> u64 {
        self.domains
            .iter()
            .map(|(domain, gtid)| gtid.seq.saturating_sub(other.domains.get(domain).map_or(0, |g| g.seq)))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
    const B: &str = "e6c4f7c8-12ab-11ee-8f00-0242ac120002";

    #[test]
    fn parses_mysql_sets_with_several_sources_and_line_breaks() {
        let set = MysqlGtidSet::parse(&format!("{A}:1-5:7:9-10,\n{}:1-3", B.to_uppercase())).unwrap();
        assert_eq!(set.count(), 5 + 1 + 2 + 3);
        assert_eq!(MysqlGtidSet::parse("").unwrap().count(), 0);
        assert_eq!(MysqlGtidSet::parse(&format!("{A}:1-3:2-6:7")).unwrap().count(), 7);
    }

    #[test]
    fn subtraction_counts_missing_transactions() {
        let retrieved = MysqlGtidSet::parse(&format!("{A}:1-100,{B}:1-10")).unwrap();
        let executed = MysqlGtidSet::parse(&format!("{A}:1-90:95,{B}:1-10")).unwrap();
        assert_eq!(retrieved.count_missing_from(&executed), 9);
        assert_eq!(executed.count_missing_from(&retrieved), 0);
        assert_eq!(retrieved.count_missing_from(&MysqlGtidSet::default()), 110);
    }

    #[test]
    fn tagged_gtids_are_separate_sources() {
        let a = MysqlGtidSet::parse(&format!("{A}:1-5:domain_1:1-3")).unwrap();
        let b = MysqlGtidSet::parse(&format!("{A}:1-5")).unwrap();
        assert_eq!(a.count(), 8);
        assert_eq!(a.count_missing_from(&b), 3);
    }

    #[test]
    fn rejects_malformed_mysql_sets() {
        assert_eq!(MysqlGtidSet::parse(A), Err(GtidError::MissingInterval(A.to_string())));
        assert!(matches!(MysqlGtidSet::parse(&format!("{A}:5-3")), Err(GtidError::BadInterval(_))));
        assert!(matches!(MysqlGtidSet::parse(&format!("{A}:0")), Err(GtidError::BadInterval(_))));
        assert!(matches!(MysqlGtidSet::parse(&format!("{A}:1-y")), Err(GtidError::BadInterval(_))));
    }

    #[test]
    fn mariadb_positions_subtract_per_domain() {
        let io = MariadbGtidPos::parse("0-1-42,1-2-7").unwrap();
        let applied = MariadbGtidPos::parse("0-1-40").unwrap();
        assert_eq!(io.count_ahead_of(&applied), 2 + 7);
        assert_eq!(applied.count_ahead_of(&io), 0);
        assert_eq!(io.get(1), Some(MariadbGtid { domain: 1, server_id: 2, seq: 7 }));
        // A different server in the same domain still continues the same sequence.
        let after_failover = MariadbGtidPos::parse("0-3-50").unwrap();
        assert_eq!(after_failover.count_ahead_of(&io), 8);
        assert_eq!(MariadbGtidPos::parse("").unwrap(), MariadbGtidPos::default());
    }

    #[test]
    fn rejects_malformed_mariadb_positions() {
        assert!(matches!(MariadbGtidPos::parse("0-1"), Err(GtidError::BadMariadbGtid(_))));
        assert!(matches!(MariadbGtidPos::parse("a-1-2"), Err(GtidError::BadMariadbGtid(_))));
        assert!(matches!(MariadbGtidPos::parse(&format!("{A}:1-5")), Err(GtidError::BadMariadbGtid(_))));
    }
}
