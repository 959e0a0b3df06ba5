//! Workload 7, csv: parse a CSV document record by record (the csv crate), e.g. an import job. No pool:
//! `reader.records()`, a fresh `StringRecord` per row. Pool: one pooled `StringRecord` per
//! document, filled by `read_record`. (The reader itself, with its buffer, is built per
//! document in both variants: csv has no way to point a reader at new input.)

use std::sync::Arc;

use super::{digest, mix, Variant, Workload};
use crate::pool::Pool;

/// Rows per document.
pub const ROWS: usize = 64;

/// The csv workload.
pub struct CsvParse {
    docs: Vec<String>,
    pool: Arc<Pool<csv::StringRecord>>,
}

/// `n` seeded documents of [`ROWS`] rows: `id,name,city,amount,flag` with a header line.
pub fn documents(n: usize, seed: u64) -> Vec<String> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let cities = [
        "Lisbon",
        "Oslo",
        "Quito",
        "Hanoi",
        "Accra",
        "Perth",
        "\"San Jose, CA\"",
    ];
    (0..n)
        .map(|_| {
            let mut d = String::from("id,name,city,amount,flag\n");
            for _ in 0..ROWS {
                let len = rng.usize(3..12);
                let name: String = std::iter::repeat_with(|| rng.alphabetic())
                    .take(len)
                    .collect();
                d.push_str(&format!(
                    "{},{},{},{},{}\n",
                    rng.u32(..1_000_000),
                    name,
                    cities[rng.usize(..cities.len())],
                    rng.u32(..100_000),
                    rng.bool()
                ));
            }
            d
        })
        .collect()
}

impl CsvParse {
    /// 8 documents; an empty pool.
    pub fn new() -> Self {
        CsvParse {
            docs: documents(8, 8),
            pool: Arc::new(Pool::with_reset(
                csv::StringRecord::new,
                csv::StringRecord::clear,
            )),
        }
    }
}

impl Default for CsvParse {
    fn default() -> Self {
        Self::new()
    }
}

/// What the import does with one record: sums the amounts, checksums names and cities.
fn fold(acc: (u64, u64), rec: &csv::StringRecord) -> (u64, u64) {
    let amount: u64 = rec[3].parse().expect("amount");
    (
        acc.0 + amount,
        mix(
            mix(acc.1, digest(rec[1].as_bytes())),
            digest(rec[2].as_bytes()),
        ),
    )
}

impl Workload for CsvParse {
    fn share(&self) -> Box<dyn Workload + Send> {
        Box::new(CsvParse {
            pool: Arc::clone(&self.pool),
            ..CsvParse::new()
        })
    }

    fn op(&mut self, variant: Variant, i: u64) -> u64 {
        let doc = &self.docs[i as usize % self.docs.len()];
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(doc.as_bytes());
        let mut acc = (0, 0);
        match variant {
            Variant::NoPool => {
                for rec in rdr.records() {
                    acc = fold(acc, &rec.expect("record"));
                }
            }
            Variant::Pool => {
                let mut rec = self.pool.get();
                while rdr.read_record(&mut rec).expect("record") {
                    acc = fold(acc, &rec);
                }
            }
        }
        mix(acc.0, acc.1)
    }
}
