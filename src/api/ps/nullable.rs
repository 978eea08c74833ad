//! Serde helper for fields where `null` and "absent" must stay distinct across a round trip.

use serde::{Deserialize, Deserializer};

/// Used with `#[serde(default, deserialize_with = "nullable::deserialize")]` on an `Option<Option<T>>`:
/// absent → `None`, `null` → `Some(None)`, a value → `Some(Some(v))`.
pub fn deserialize<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}
