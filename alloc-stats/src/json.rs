//! The JSON form of a [`Snapshot`] (feature `json`, off by default so that installing an
//! allocator adds no serde to a program): `to_json`, `from_json`, and the `classes` rows, of
//! which only the used ones are written, each with its index as `"class"`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::snapshot::{ClassStats, Snapshot};
use crate::{LARGE, MAX_CLASSES};

impl Snapshot {
    /// The snapshot as a JSON object (fields as named here; `classes` lists the used rows).
    /// Feature `json`.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a Snapshot always serializes")
    }

    /// Parses what [`Snapshot::to_json`] wrote. Feature `json`.
    pub fn from_json(s: &str) -> Result<Snapshot, serde_json::Error> {
        serde_json::from_str(s)
    }
}

/// One `classes` row in JSON.
#[derive(Serialize, Deserialize)]
struct Row {
    class: usize,
    #[serde(flatten)]
    stats: ClassStats,
}

/// Serializes rows with a size (the allocator's classes) or activity, and the `LARGE` row.
pub(crate) fn ser_rows<S: Serializer>(
    rows: &[ClassStats; MAX_CLASSES + 1],
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_seq(
        rows.iter()
            .enumerate()
            .filter(|&(i, c)| c.size != 0 || c.is_used() || i == LARGE)
            .map(|(class, c)| Row { class, stats: *c }),
    )
}

/// Reads the rows `ser_rows` wrote back into their places; a class index past `LARGE` is an
/// error.
pub(crate) fn de_rows<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<[ClassStats; MAX_CLASSES + 1], D::Error> {
    let rows = Vec::<Row>::deserialize(d)?;
    let mut out = [ClassStats::ZERO; MAX_CLASSES + 1];
    for r in rows {
        let slot = out
            .get_mut(r.class)
            .ok_or_else(|| serde::de::Error::custom(format_args!("class {} > {LARGE}", r.class)))?;
        *slot = r.stats;
    }
    Ok(out)
}
