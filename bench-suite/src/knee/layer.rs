//! What one decode step of a model layer runs: its weight GEMMs (some routed to experts)
//! and its decode attention. From a named preset or from `--layer`/`--attention` specs.

use std::fmt;

/// A GEMM of the layer: `batch × k` activations against a `k × n` weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerGemm {
    pub name: &'static str,
    pub n: u64,
    pub k: u64,
    /// A mixture-of-experts GEMM: one weight per expert, each token routed to `top_k`.
    pub routing: Option<Routing>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Routing {
    pub experts: u64,
    pub top_k: u64,
}

impl Routing {
    /// Experts a batch touches, expected under uniform routing:
    /// `E · (1 − (1 − top_k/E)^batch)`.
    pub fn touched(self, batch: u64) -> f64 {
        let e = self.experts as f64;
        e * (1.0 - (1.0 - self.top_k as f64 / e).powf(batch as f64))
    }

    /// Tokens each touched expert computes (rounded up: a GEMM has whole rows).
    pub fn rows(self, batch: u64) -> u64 {
        ((batch * self.top_k) as f64 / self.touched(batch))
            .ceil()
            .max(1.0) as u64
    }
}

/// Decode attention heads: `h` query heads over `hkv` KV heads of width `d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heads {
    pub h: u64,
    pub hkv: u64,
    pub d: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    pub name: String,
    pub gemms: Vec<LayerGemm>,
    pub attention: Option<Heads>,
    /// The whole model's parameters (total, active), for the formula's table; a layer
    /// given by hand has none.
    pub model: Option<(f64, f64)>,
}

/// The named layers `--preset` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Preset {
    /// A Llama-3-8B-shaped layer (hidden 4096, FFN 14336, 32 heads over 8 KV heads).
    #[value(name = "8b")]
    Dense8B,
    /// A Llama-3-70B-shaped layer (hidden 8192, FFN 28672, 64 heads over 8 KV heads).
    #[value(name = "70b")]
    Dense70B,
    /// A DeepSeek-V3-shaped MoE layer: hidden 7168, 256 routed experts (top 8) of FFN
    /// 2048 and one shared, MLA projections; its attention as one KV head of 576.
    #[value(name = "moe")]
    DeepSeekMoe,
}

const fn dense(name: &'static str, n: u64, k: u64) -> LayerGemm {
    LayerGemm {
        name,
        n,
        k,
        routing: None,
    }
}

/// One of 256 experts, each token routed to 8 (the MoE preset's).
const fn routed(name: &'static str, n: u64, k: u64) -> LayerGemm {
    LayerGemm {
        routing: Some(Routing {
            experts: 256,
            top_k: 8,
        }),
        ..dense(name, n, k)
    }
}

impl Preset {
    pub fn layer(self) -> Layer {
        let (name, gemms, attention, model) = match self {
            // Gate and up projections as one GEMM (n = 2 × FFN), as servers fuse them.
            Preset::Dense8B => (
                "8b",
                vec![
                    dense("qkv", 6144, 4096),
                    dense("o", 4096, 4096),
                    dense("gate_up", 28672, 4096),
                    dense("down", 4096, 14336),
                ],
                Heads {
                    h: 32,
                    hkv: 8,
                    d: 128,
                },
                (8.0e9, 8.0e9),
            ),
            Preset::Dense70B => (
                "70b",
                vec![
                    dense("qkv", 10240, 8192),
                    dense("o", 8192, 8192),
                    dense("gate_up", 57344, 8192),
                    dense("down", 8192, 28672),
                ],
                Heads {
                    h: 64,
                    hkv: 8,
                    d: 128,
                },
                (70.6e9, 70.6e9),
            ),
            // MLA decodes as multi-query attention over the cached 576-wide latent (the
            // up-projections absorbed into q and o).
            Preset::DeepSeekMoe => (
                "moe",
                vec![
                    dense("q_a", 1536, 7168),
                    dense("q_b", 24576, 1536),
                    dense("kv_a", 576, 7168),
                    dense("o", 7168, 16384),
                    dense("router", 256, 7168),
                    dense("shared_gate_up", 4096, 7168),
                    dense("shared_down", 7168, 2048),
                    routed("expert_gate_up", 4096, 7168),
                    routed("expert_down", 7168, 2048),
                ],
                Heads {
                    h: 128,
                    hkv: 1,
                    d: 576,
                },
                (671e9, 37e9),
            ),
        };
        Layer {
            name: name.into(),
            gemms,
            attention: Some(attention),
            model: Some(model),
        }
    }
}

/// `key=value,...` into the values of `keys` (all required unless in `optional`).
fn fields(spec: &str, keys: &[&str], optional: &[&str]) -> Result<Vec<Option<u64>>, String> {
    let mut values = vec![None; keys.len()];
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = part
            .split_once('=')
            .ok_or_else(|| format!("`{spec}`: `{part}` is not key=value"))?;
        let i = keys
            .iter()
            .position(|k| *k == key.trim())
            .ok_or_else(|| format!("`{spec}`: unknown key `{key}` (known: {})", keys.join(", ")))?;
        let v: u64 = value
            .trim()
            .parse()
            .ok()
            .filter(|v| *v > 0)
            .ok_or_else(|| format!("`{spec}`: {key} must be a positive integer"))?;
        values[i] = Some(v);
    }
    for (key, v) in keys.iter().zip(&values) {
        if v.is_none() && !optional.contains(key) {
            return Err(format!("`{spec}`: {key}= is missing"));
        }
    }
    Ok(values)
}

/// `n=4096,k=4096`, or a routed one: `n=4096,k=7168,experts=256,top=8`.
pub fn parse_gemm(spec: &str) -> Result<LayerGemm, String> {
    let v = fields(spec, &["n", "k", "experts", "top"], &["experts", "top"])?;
    let routing = match (v[2], v[3]) {
        (None, None) => None,
        (Some(experts), Some(top_k)) if top_k <= experts => Some(Routing { experts, top_k }),
        (Some(_), Some(_)) => return Err(format!("`{spec}`: top exceeds experts")),
        _ => return Err(format!("`{spec}`: experts= and top= go together")),
    };
    Ok(LayerGemm {
        name: "",
        n: v[0].unwrap_or(1),
        k: v[1].unwrap_or(1),
        routing,
    })
}

/// `h=64,hkv=8,d=128`, with `h` a multiple of `hkv` (grouped-query attention).
pub fn parse_heads(spec: &str) -> Result<Heads, String> {
    let v = fields(spec, &["h", "hkv", "d"], &[])?;
    let heads = Heads {
        h: v[0].unwrap_or(1),
        hkv: v[1].unwrap_or(1),
        d: v[2].unwrap_or(1),
    };
    if !heads.h.is_multiple_of(heads.hkv) {
        return Err(format!("`{spec}`: h must be a multiple of hkv"));
    }
    Ok(heads)
}

impl Layer {
    /// Weights per step: (all of them, what one token reads).
    pub fn params(&self) -> (f64, f64) {
        self.gemms.iter().fold((0.0, 0.0), |(total, active), g| {
            let w = (g.n * g.k) as f64;
            let (all, one) = g
                .routing
                .map_or((1.0, 1.0), |r| (r.experts as f64, r.top_k as f64));
            (total + w * all, active + w * one)
        })
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.name)?;
        for (i, g) in self.gemms.iter().enumerate() {
            let sep = if i == 0 { " " } else { " + " };
            let name = if g.name.is_empty() {
                String::new()
            } else {
                format!("{} ", g.name)
            };
            write!(f, "{sep}{name}n={},k={}", g.n, g.k)?;
            if let Some(r) = g.routing {
                write!(f, " ({} experts, top {})", r.experts, r.top_k)?;
            }
        }
        if let Some(a) = self.attention {
            write!(f, " + attention h={},hkv={},d={}", a.h, a.hkv, a.d)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_have_their_models_parameter_counts() {
        // 80 layers of the 70B layer and 32 of the 8B are the models less embeddings.
        let (t70, a70) = Preset::Dense70B.layer().params();
        assert_eq!(t70, a70);
        assert!((t70 * 80.0 / 1e9 - 68.4).abs() < 0.2, "{t70}");
        let (t8, _) = Preset::Dense8B.layer().params();
        assert!((t8 * 32.0 / 1e9 - 6.98).abs() < 0.05, "{t8}");
        // The MoE layer holds about 20 times what one token reads (the model: 671B
        // against 37B active, 18 times).
        let (total, active) = Preset::DeepSeekMoe.layer().params();
        assert!((total / active - 20.2).abs() < 0.5, "{total} / {active}");
    }

    #[test]
    fn routing_touches_fewer_experts_than_tokens_times_top_k() {
        let r = Routing {
            experts: 256,
            top_k: 8,
        };
        assert!((r.touched(1) - 8.0).abs() < 1e-9);
        assert_eq!(r.rows(1), 1);
        // At 64 tokens most experts are hit, each by about 2 tokens.
        assert!(r.touched(64) > 220.0 && r.touched(64) < 256.0);
        assert_eq!(r.rows(64), 3);
        assert!(r.touched(4096) > 255.9);
    }

    #[test]
    fn layer_specs_parse_or_say_what_is_wrong() {
        let g = parse_gemm("n=4096, k=7168,experts=256,top=8").unwrap();
        assert_eq!((g.n, g.k, g.routing.unwrap().top_k), (4096, 7168, 8));
        assert_eq!(parse_gemm("k=2,n=3").unwrap().routing, None);
        for (bad, says) in [
            ("n=4096", "k= is missing"),
            ("n=0,k=1", "positive integer"),
            ("n=1,k=1,m=3", "unknown key `m`"),
            ("n=1,k=1,experts=8", "go together"),
            ("n=1,k=1,experts=8,top=9", "top exceeds"),
            ("n:1", "not key=value"),
        ] {
            let e = parse_gemm(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
        assert_eq!(
            parse_heads("h=64,hkv=8,d=128").unwrap(),
            Heads {
                h: 64,
                hkv: 8,
                d: 128
            }
        );
        assert!(parse_heads("h=6,hkv=4,d=8")
            .unwrap_err()
            .contains("multiple of hkv"));
    }
}
