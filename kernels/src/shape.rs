//! Problem shapes: typed, printed and parsed as `key=value` pairs
//! (`m=1024,n=1024,k=1024`, `b=1,h=16,hkv=4,s=1000,d=96,causal=1`).

use std::collections::BTreeMap;
use std::fmt;

/// Most keys a [`Shape::Keyed`] shape holds.
pub const MAX_KEYS: usize = 8;

/// Keyed sizes that are switches or parameters rather than sizes: they may be 0 (off), are
/// 0 when a spec leaves them out, and are not printed when 0 (gemm.grouped's routing).
pub const OPTIONAL_KEYS: &[&str] = &["zipf", "hot", "seed"];

/// The shape of one case. Grows by new variants; a workload defined outside this crate
/// uses [`Shape::Keyed`] with its own keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Shape {
    /// Stream and transfer: `n` f32 elements per array.
    Elements {
        n: u64,
    },
    Gemm {
        m: u64,
        n: u64,
        k: u64,
    },
    Prefill {
        b: u64,
        h: u64,
        hkv: u64,
        s: u64,
        d: u64,
        causal: bool,
    },
    Decode {
        b: u64,
        h: u64,
        hkv: u64,
        l: u64,
        d: u64,
    },
    /// Any workload's own sizes: `values[i]` is the size named `keys[i]` (every key
    /// required, each at least 1), printed and parsed as `key=value` pairs.
    Keyed {
        keys: &'static [&'static str],
        values: [u64; MAX_KEYS],
    },
}

/// Which family of shapes a workload takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShapeKind {
    Elements,
    Gemm,
    Prefill,
    Decode,
    /// [`Shape::Keyed`] with these keys (at most [`MAX_KEYS`]); a spec is this family's
    /// when it names the first key.
    Keyed(&'static [&'static str]),
}

impl ShapeKind {
    fn keys(self) -> &'static [&'static str] {
        match self {
            ShapeKind::Elements => &["n"],
            ShapeKind::Gemm => &["m", "n", "k"],
            ShapeKind::Prefill => &["b", "h", "hkv", "s", "d", "causal"],
            ShapeKind::Decode => &["b", "h", "hkv", "l", "d"],
            ShapeKind::Keyed(keys) => keys,
        }
    }

    /// The key that tells this family apart when a user writes a shape.
    fn claims(self, pairs: &BTreeMap<String, u64>) -> bool {
        let has = |k: &str| pairs.contains_key(k);
        match self {
            ShapeKind::Elements => pairs.len() == 1 && has("n"),
            // A weight width makes it gemm.wq's.
            ShapeKind::Gemm => (has("m") || has("k")) && !has("bits"),
            ShapeKind::Prefill => has("s"),
            // A page size makes it attention.paged's.
            ShapeKind::Decode => has("l") && !has("page"),
            // A cache width makes it attention.kv8's, not attention.paged's.
            ShapeKind::Keyed(keys) => {
                keys.first().is_some_and(|k| has(k)) && (keys.contains(&"kv") || !has("kv"))
            }
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Shape::Elements { n } => write!(f, "n={n}"),
            Shape::Gemm { m, n, k } => write!(f, "m={m},n={n},k={k}"),
            Shape::Prefill {
                b,
                h,
                hkv,
                s,
                d,
                causal,
            } => write!(
                f,
                "b={b},h={h},hkv={hkv},s={s},d={d},causal={}",
                u8::from(causal)
            ),
            Shape::Decode { b, h, hkv, l, d } => write!(f, "b={b},h={h},hkv={hkv},l={l},d={d}"),
            Shape::Keyed { keys, values } => {
                let pairs: Vec<String> = keys
                    .iter()
                    .zip(values)
                    .filter(|(k, v)| *v != 0 || !OPTIONAL_KEYS.contains(k))
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                f.write_str(&pairs.join(","))
            }
        }
    }
}

fn pairs(spec: &str) -> Result<BTreeMap<String, u64>, String> {
    let mut out = BTreeMap::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = part
            .split_once('=')
            .ok_or_else(|| format!("shape `{spec}`: `{part}` is not key=value"))?;
        let value: u64 = value.trim().parse().map_err(|_| {
            format!("shape `{spec}`: `{key}` must be a non-negative integer, got `{value}`")
        })?;
        if out.insert(key.trim().to_ascii_lowercase(), value).is_some() {
            return Err(format!("shape `{spec}`: `{key}` given twice"));
        }
    }
    if out.is_empty() {
        return Err("empty shape".into());
    }
    Ok(out)
}

impl Shape {
    /// `n` of an `Elements` shape (stream, transfer, peak.fma, latency.launch); 0 for the
    /// other families, which those workloads are never given.
    pub fn elements(&self) -> u64 {
        match *self {
            Shape::Elements { n } => n,
            _ => 0,
        }
    }

    /// A keyed shape from `(key, value)` pairs, in the order given. Errors: more than
    /// [`MAX_KEYS`] keys, or a size that [`validate`](Self::validate) refuses.
    pub fn keyed(keys: &'static [&'static str], values: &[u64]) -> Result<Shape, String> {
        if keys.len() > MAX_KEYS || values.len() != keys.len() {
            return Err(format!(
                "a keyed shape takes one value per key and at most {MAX_KEYS} keys"
            ));
        }
        let mut v = [0u64; MAX_KEYS];
        v[..values.len()].copy_from_slice(values);
        let shape = Shape::Keyed { keys, values: v };
        shape.validate()?;
        Ok(shape)
    }

    /// The size named `key` of a keyed shape (0 when absent).
    pub fn get(&self, key: &str) -> u64 {
        match self {
            Shape::Keyed { keys, values } => {
                keys.iter().position(|k| *k == key).map_or(0, |i| values[i])
            }
            _ => 0,
        }
    }

    /// Parses a user's shape for a family. `None` when the spec belongs to another family;
    /// `Some(Err)` when it is this family's but wrong (unknown key, zero, impossible).
    pub fn parse(kind: ShapeKind, spec: &str) -> Option<Result<Shape, String>> {
        let pairs = match pairs(spec) {
            Ok(p) => p,
            Err(e) => return Some(Err(e)),
        };
        if !kind.claims(&pairs) {
            return None;
        }
        Some(Self::from_pairs(kind, spec, &pairs))
    }

    fn from_pairs(kind: ShapeKind, spec: &str, p: &BTreeMap<String, u64>) -> Result<Shape, String> {
        if let Some(bad) = p.keys().find(|k| !kind.keys().contains(&k.as_str())) {
            return Err(format!(
                "shape `{spec}`: unknown key `{bad}` (keys: {})",
                kind.keys().join(", ")
            ));
        }
        let need = |k: &str| {
            p.get(k)
                .copied()
                .ok_or_else(|| format!("shape `{spec}`: missing `{k}`"))
        };
        let or = |k: &str, default: u64| p.get(k).copied().unwrap_or(default);
        let shape = match kind {
            ShapeKind::Elements => Shape::Elements { n: need("n")? },
            ShapeKind::Gemm => Shape::Gemm {
                m: need("m")?,
                n: need("n")?,
                k: need("k")?,
            },
            ShapeKind::Prefill => {
                let h = need("h")?;
                Shape::Prefill {
                    b: or("b", 1),
                    h,
                    hkv: or("hkv", h),
                    s: need("s")?,
                    d: need("d")?,
                    causal: match or("causal", 0) {
                        0 => false,
                        1 => true,
                        v => return Err(format!("shape `{spec}`: causal must be 0 or 1, got {v}")),
                    },
                }
            }
            ShapeKind::Decode => {
                let h = need("h")?;
                Shape::Decode {
                    b: or("b", 1),
                    h,
                    hkv: or("hkv", h),
                    l: need("l")?,
                    d: need("d")?,
                }
            }
            ShapeKind::Keyed(keys) => {
                let values = keys
                    .iter()
                    .map(|k| match OPTIONAL_KEYS.contains(k) {
                        true => Ok(or(k, 0)),
                        false => need(k),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Shape::keyed(keys, &values).map_err(|e| format!("shape `{spec}`: {e}"))?
            }
        };
        shape
            .validate()
            .map_err(|e| format!("shape `{spec}`: {e}"))?;
        Ok(shape)
    }

    /// Refuses shapes no kernel can run: zero sizes, sizes past the kernel ABI's u32
    /// scalars, query heads that are not a multiple of KV heads.
    pub fn validate(&self) -> Result<(), String> {
        let dims: Vec<(&str, u64)> = match *self {
            Shape::Elements { n } => vec![("n", n)],
            Shape::Gemm { m, n, k } => vec![("m", m), ("n", n), ("k", k)],
            Shape::Prefill {
                b, h, hkv, s, d, ..
            } => {
                vec![("b", b), ("h", h), ("hkv", hkv), ("s", s), ("d", d)]
            }
            Shape::Decode { b, h, hkv, l, d } => {
                vec![("b", b), ("h", h), ("hkv", hkv), ("l", l), ("d", d)]
            }
            Shape::Keyed { keys, values } => keys.iter().copied().zip(values).collect(),
        };
        for (key, v) in dims {
            if v == 0 && !OPTIONAL_KEYS.contains(&key) {
                return Err(format!("`{key}` must be at least 1"));
            }
            if v > u64::from(u32::MAX) {
                return Err(format!(
                    "`{key}` = {v} exceeds {} (kernel sizes are u32)",
                    u32::MAX
                ));
            }
        }
        let heads = match *self {
            Shape::Prefill { h, hkv, .. } | Shape::Decode { h, hkv, .. } => Some((h, hkv)),
            // A keyed shape with heads (attention.paged) keeps the same rule.
            Shape::Keyed { keys, .. } if keys.contains(&"h") && keys.contains(&"hkv") => {
                Some((self.get("h"), self.get("hkv")))
            }
            _ => None,
        };
        if let Some((h, hkv)) = heads {
            if !h.is_multiple_of(hkv) {
                return Err(format!(
                    "query heads h={h} must be a multiple of KV heads hkv={hkv}"
                ));
            }
        }
        if let Shape::Keyed { keys, .. } = *self {
            if keys.contains(&"bits") && !matches!(self.get("bits"), 4 | 8) {
                return Err(format!(
                    "bits={} is not a weight width halbench has (4 or 8)",
                    self.get("bits")
                ));
            }
            if keys.contains(&"experts") {
                let (e, top) = (self.get("experts"), self.get("top"));
                if top > e {
                    return Err(format!("top={top} exceeds experts={e}"));
                }
                if self.get("zipf") > 0 && self.get("hot") > 0 {
                    return Err("zipf and hot are two routings: give one".into());
                }
                if self.get("hot") > 100 {
                    return Err(format!(
                        "hot={} is a percentage of tokens (at most 100)",
                        self.get("hot")
                    ));
                }
                if self.get("hot") > 0 && top >= e {
                    return Err(format!(
                        "hot routing needs experts beyond the hot one: top={top} of experts={e}"
                    ));
                }
            }
            if keys.contains(&"kv") && self.get("kv") != 8 {
                return Err(format!(
                    "kv={} is not a cache width halbench has (8: int8 or fp8 by variant)",
                    self.get("kv")
                ));
            }
            if keys.contains(&"lmin") && self.get("lmin") > self.get("l") {
                return Err(format!(
                    "the shortest length lmin={} exceeds the longest l={}",
                    self.get("lmin"),
                    self.get("l")
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_text() {
        for (kind, spec) in [
            (ShapeKind::Gemm, "m=1000,n=1000,k=1000"),
            (ShapeKind::Prefill, "b=1,h=16,hkv=4,s=1000,d=96,causal=1"),
            (ShapeKind::Decode, "b=8,h=32,hkv=8,l=4000,d=128"),
            (ShapeKind::Elements, "n=12345"),
        ] {
            let shape = Shape::parse(kind, spec).unwrap().unwrap();
            assert_eq!(shape.to_string(), spec);
        }
    }

    #[test]
    fn keyed_shapes_round_trip_and_refuse_zeros() {
        const KEYS: &[&str] = &["rows", "cols"];
        let shape = Shape::parse(ShapeKind::Keyed(KEYS), "rows=4,cols=4096")
            .unwrap()
            .unwrap();
        assert_eq!(shape.to_string(), "rows=4,cols=4096");
        assert_eq!(shape.get("cols"), 4096);
        assert!(Shape::parse(ShapeKind::Keyed(KEYS), "m=1,n=2,k=3").is_none());
        assert!(Shape::keyed(KEYS, &[0, 3]).is_err());
    }

    #[test]
    fn families_claim_their_own_specs_only() {
        assert!(Shape::parse(ShapeKind::Gemm, "n=5").is_none());
        assert!(Shape::parse(ShapeKind::Elements, "m=1,n=2,k=3").is_none());
        assert!(Shape::parse(ShapeKind::Decode, "b=1,h=2,s=3,d=4").is_none());
        // A cache width takes a paged spec from attention.paged to attention.kv8.
        const PAGED: &[&str] = &["page", "b", "h", "hkv", "l", "lmin", "d"];
        const KV8: &[&str] = &["kv", "page", "b", "h", "hkv", "l", "lmin", "d"];
        let spec = "kv=8,page=16,b=2,h=4,hkv=2,l=50,lmin=1,d=16";
        assert!(Shape::parse(ShapeKind::Keyed(PAGED), spec).is_none());
        assert!(Shape::parse(ShapeKind::Keyed(KV8), spec).unwrap().is_ok());
        let spec = "kv=4,page=16,b=2,h=4,hkv=2,l=50,lmin=1,d=16";
        let err = Shape::parse(ShapeKind::Keyed(KV8), spec)
            .unwrap()
            .unwrap_err();
        assert!(err.contains("kv=4 is not a cache width"), "{err}");
    }

    #[test]
    fn bad_shapes_are_explained() {
        let err = |kind, spec| Shape::parse(kind, spec).unwrap().unwrap_err();
        assert!(err(ShapeKind::Gemm, "m=0,n=1,k=1").contains("`m` must be at least 1"));
        assert!(err(ShapeKind::Gemm, "m=1,k=1").contains("missing `n`"));
        assert!(err(ShapeKind::Gemm, "m=1,n=1,k=1,q=2").contains("unknown key `q`"));
        assert!(err(ShapeKind::Prefill, "h=6,hkv=4,s=8,d=8").contains("multiple"));
        assert!(err(ShapeKind::Elements, "n=99999999999").contains("exceeds"));
        assert!(err(ShapeKind::Gemm, "m=x,n=1,k=1").contains("non-negative integer"));
    }
}
