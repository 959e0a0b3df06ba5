//! Workload 1, json-api: an HTTP handler's body work — decode a JSON request, build the answer, encode
//! a JSON response into a buffer (serde_json), once per request.
//!
//! No pool: `serde_json::from_slice` builds a fresh [`Request`] (its strings and vectors) and
//! `serde_json::to_vec` a fresh output buffer. Pool: a pooled [`Request`] is decoded *in place*
//! (serde's `deserialize_in_place`, which reuses the capacity of every `String` and of every
//! slot of a [`Slots`]), and the response goes into a pooled `Vec<u8>`.
//! [`handle`] and [`handle_into`] are also the api-server's handler.

use std::sync::Arc;

use std::fmt;
use std::marker::PhantomData;

use serde::de::{DeserializeSeed, SeqAccess, Visitor};
use serde::ser::{Serialize, Serializer};
use serde::{Deserialize, Deserializer};

use super::{digest, Variant, Workload};
use crate::pool::Pool;

/// The request body of the `POST /order` endpoint.
#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// Who orders.
    pub user_id: u64,
    /// Their display name.
    pub name: String,
    /// Free-form tags.
    pub tags: Slots<String>,
    /// The order lines.
    pub items: Slots<Item>,
}

/// One order line.
#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    /// Stock-keeping unit.
    pub sku: String,
    /// How many.
    pub qty: u32,
    /// Unit price.
    pub price_cents: u64,
}

impl Request {
    /// Forgets the content but keeps every allocation (strings and slots) for the next decode.
    pub fn reset(&mut self) {
        self.user_id = 0;
        self.name.clear();
        self.tags.clear();
        self.items.clear();
    }
}

/// A `Vec<T>` whose elements outlive a decode: a JSON array of n elements decoded in place
/// overwrites the first n slots (reusing their allocations) and keeps the rest as spares.
/// `len` elements are live; slots `len..` are spares and never visible.
#[derive(Debug, Default)]
pub struct Slots<T> {
    slots: Vec<T>,
    len: usize,
}

impl<T> Slots<T> {
    /// The live elements.
    pub fn as_slice(&self) -> &[T] {
        &self.slots[..self.len]
    }
    /// Makes every element a spare.
    pub fn clear(&mut self) {
        self.len = 0;
    }
}

impl<T: PartialEq> PartialEq for Slots<T> {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

/// Decodes into an existing value (serde's in-place protocol).
struct InPlace<'a, T>(&'a mut T);

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for InPlace<'_, T> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        T::deserialize_in_place(d, self.0)
    }
}

impl<'de, T: Deserialize<'de> + Default> Deserialize<'de> for Slots<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let slots = Vec::<T>::deserialize(d)?;
        let len = slots.len();
        Ok(Slots { slots, len })
    }

    fn deserialize_in_place<D: Deserializer<'de>>(d: D, place: &mut Self) -> Result<(), D::Error> {
        struct V<'a, T>(&'a mut Slots<T>, PhantomData<T>);
        impl<'de, T: Deserialize<'de> + Default> Visitor<'de> for V<'_, T> {
            type Value = ();
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
                let s = self.0;
                s.len = 0;
                loop {
                    if s.len == s.slots.len() {
                        s.slots.push(T::default());
                    }
                    match seq.next_element_seed(InPlace(&mut s.slots[s.len]))? {
                        Some(()) => s.len += 1,
                        None => return Ok(()),
                    }
                }
            }
        }
        d.deserialize_seq(V(place, PhantomData))
    }
}

/// The response body, borrowed from the request (no allocation of its own).
#[derive(serde::Serialize)]
struct Response<'a> {
    user_id: u64,
    greeting_name: &'a str,
    item_count: usize,
    units: u64,
    total_cents: u64,
    skus: Skus<'a>,
    tags: &'a [String],
}

struct Skus<'a>(&'a [Item]);

impl Serialize for Skus<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|i| i.sku.as_str()))
    }
}

impl<'a> Response<'a> {
    fn of(req: &'a Request) -> Self {
        let items = req.items.as_slice();
        Response {
            user_id: req.user_id,
            greeting_name: &req.name,
            item_count: items.len(),
            units: items.iter().map(|i| u64::from(i.qty)).sum(),
            total_cents: items.iter().map(|i| u64::from(i.qty) * i.price_cents).sum(),
            skus: Skus(items),
            tags: req.tags.as_slice(),
        }
    }
}

/// The handler, naive: fresh request struct, fresh output buffer.
pub fn handle(body: &[u8]) -> Result<Vec<u8>, serde_json::Error> {
    let req: Request = serde_json::from_slice(body)?;
    serde_json::to_vec(&Response::of(&req))
}

/// The handler, reusing: decodes into `req` in place and writes the response into `out`
/// (cleared first). Output bytes are identical to [`handle`]'s.
pub fn handle_into(body: &[u8], req: &mut Request, out: &mut Vec<u8>) -> serde_json::Result<()> {
    let mut de = serde_json::Deserializer::from_slice(body);
    Request::deserialize_in_place(&mut de, req)?;
    de.end()?;
    out.clear();
    serde_json::to_writer(&mut *out, &Response::of(req))
}

const NAMES: [&str; 8] = [
    "ada", "grace", "linus", "barbara", "ken", "margaret", "dennis", "frances",
];
const TAGS: [&str; 6] = ["prime", "gift", "express", "b2b", "eu", "returning"];

/// `n` distinct request bodies, 1..=6 order lines and 0..=3 tags each (seeded, reproducible).
pub fn request_bodies(n: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..n)
        .map(|_| {
            let items: Vec<serde_json::Value> = (0..rng.usize(1..=6))
                .map(|_| {
                    serde_json::json!({
                        "sku": format!("SKU-{:05}-{}", rng.u32(0..100_000), rng.alphanumeric()),
                        "qty": rng.u32(1..20),
                        "price_cents": rng.u64(99..250_000),
                    })
                })
                .collect();
            let tags: Vec<&str> = (0..rng.usize(0..=3))
                .map(|_| TAGS[rng.usize(..TAGS.len())])
                .collect();
            let v = serde_json::json!({
                "user_id": rng.u64(1..10_000_000),
                "name": format!("{} {}", NAMES[rng.usize(..NAMES.len())], rng.u16(..)),
                "tags": tags,
                "items": items,
            });
            serde_json::to_vec(&v).expect("json")
        })
        .collect()
}

/// The json-api workload.
pub struct JsonApi {
    bodies: Vec<Vec<u8>>,
    requests: Arc<Pool<Request>>,
    buffers: Arc<Pool<Vec<u8>>>,
}

impl JsonApi {
    /// 64 distinct bodies; empty pools.
    pub fn new() -> Self {
        JsonApi {
            bodies: request_bodies(64, 7),
            requests: Arc::new(Pool::with_reset(Request::default, Request::reset)),
            buffers: Arc::new(Pool::new(|| Vec::with_capacity(512))),
        }
    }
}

impl Default for JsonApi {
    fn default() -> Self {
        Self::new()
    }
}

impl Workload for JsonApi {
    fn share(&self) -> Box<dyn Workload + Send> {
        Box::new(JsonApi {
            requests: Arc::clone(&self.requests),
            buffers: Arc::clone(&self.buffers),
            ..JsonApi::new()
        })
    }

    fn op(&mut self, variant: Variant, i: u64) -> u64 {
        let body = &self.bodies[i as usize % self.bodies.len()];
        match variant {
            Variant::NoPool => digest(&handle(body).expect("valid request")),
            Variant::Pool => {
                let mut req = self.requests.get();
                let mut out = self.buffers.get();
                handle_into(body, &mut req, &mut out).expect("valid request");
                digest(&out)
            }
        }
    }
}
