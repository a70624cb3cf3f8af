//! serde helpers for the typed views of hwcal's additions to a profile ([`super::extras`],
//! [`super::run_info`]).
//!
//! Those additions live in free-form JSON (a fusion profile's `extra_params`, the top-level
//! `hwcal` key) that a user may edit, and hwcal has always ignored a value of the wrong type
//! there rather than refuse the profile: with these helpers such a value reads as absent
//! (`None`). Numbers follow the profile's convention: `null` reads as NaN ("not measured"),
//! and NaN is written back as `null` (serde_json's writers do that).
//!
//! Every view is `#[serde(default)]` and `#[serde_with::skip_serializing_none]`, and its fields
//! carry `#[serde(deserialize_with = ...)]` with one of these helpers, so an absent key reads as
//! `None` and is not written.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A `T`, or `None` when the value is not one (a string where a count belongs, an array where
/// an object belongs). Every struct read through it has a catch-all `#[serde(flatten)]` map, so
/// serde reads it from an object only, never positionally from an array.
pub(super) fn value<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let v = Value::deserialize(d)?;
    Ok(T::deserialize(v).ok())
}

/// A JSON number as `f64`, `null` as NaN, anything else as not a number.
fn number_of(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::Null => Some(f64::NAN),
        _ => None,
    }
}

/// A number (`null` is NaN), or `None` when the value is something else.
pub(super) fn number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(number_of(&Value::deserialize(d)?))
}

/// An array of exactly two numbers (`null` is NaN), or `None`.
pub(super) fn number_pair<'de, D: Deserializer<'de>>(d: D) -> Result<Option<[f64; 2]>, D::Error> {
    let pair = |v: &Value| match v {
        Value::Array(items) if items.len() == 2 => {
            Some([number_of(&items[0])?, number_of(&items[1])?])
        }
        _ => None,
    };
    Ok(pair(&Value::deserialize(d)?))
}

/// The values in `raw` of the keys that `typed` (a view read from `raw`) does not write back:
/// the keys whose value the view could not read. For a view with a catch-all map these are the
/// known keys holding a value of the wrong type.
pub(super) fn unread_keys<T: serde::Serialize>(raw: &super::JsonMap, typed: &T) -> Vec<String> {
    let written = serde_json::to_value(typed).unwrap_or_default();
    raw.keys()
        .filter(|k| written.get(k.as_str()).is_none())
        .cloned()
        .collect()
}

/// A `T`, `Some(None)` for `null`, or `None` (absent) when the value is something else: for a
/// key hwcal writes as `null` when it has nothing (`device.peak_gflops`).
pub(super) fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    Ok(match Value::deserialize(d)? {
        Value::Null => Some(None),
        v => T::deserialize(v).ok().map(Some),
    })
}
