//! Just enough of a SPIR-V reader to refuse malformed modules before a driver sees them
//! (some drivers abort on bad input), and to derive what the pipeline needs: how many
//! storage-buffer bindings set 0 has, which specialisation constant each define names,
//! and which capabilities the device must have.

use std::collections::HashMap;

const MAGIC: u32 = 0x0723_0203;
const OP_NAME: u32 = 5;
const OP_ENTRY_POINT: u32 = 15;
const OP_CAPABILITY: u32 = 17;
const OP_DECORATE: u32 = 71;
const DECORATION_SPEC_ID: u32 = 1;
const DECORATION_BINDING: u32 = 33;
const EXECUTION_MODEL_GL_COMPUTE: u32 = 5;
/// The highest binding a module may use: far above any device's storage-buffer limit, and
/// low enough that a hostile binding number cannot size a descriptor layout of billions.
pub(crate) const MAX_BINDINGS: u32 = 1024;

pub(crate) const CAPABILITY_FLOAT16: u32 = 9;
pub(crate) const CAPABILITY_INT16: u32 = 22;
pub(crate) const CAPABILITY_STORAGE_16BIT: u32 = 4433;
pub(crate) const CAPABILITY_STORAGE_8BIT: u32 = 4448;

#[derive(Debug)]
pub(crate) struct Module {
    pub words: Vec<u32>,
    /// Highest binding number used, plus one.
    pub bindings: u32,
    /// Specialisation constant ids by the name the source gave them.
    pub spec_ids: HashMap<String, u32>,
    pub capabilities: Vec<u32>,
}

fn string(words: &[u32]) -> String {
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// Parses and checks a module; the error is a one-paragraph log for `Error::Compile`.
pub(crate) fn parse(bytes: &[u8], entry: &str) -> Result<Module, String> {
    if !bytes.len().is_multiple_of(4) || bytes.len() < 20 {
        return Err(format!(
            "not SPIR-V: {} bytes is not a whole module",
            bytes.len()
        ));
    }
    let words: Vec<u32> = bytes
        .chunks_exact(4)
        .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
        .collect();
    if words[0] != MAGIC {
        return Err(format!(
            "not SPIR-V: magic number {:#010x}, expected {MAGIC:#010x}",
            words[0]
        ));
    }
    let mut names: HashMap<u32, String> = HashMap::new();
    let mut spec: HashMap<u32, u32> = HashMap::new();
    let mut bindings = 0;
    let mut capabilities = Vec::new();
    let mut entry_found = false;
    let mut at = 5;
    while at < words.len() {
        let (count, op) = ((words[at] >> 16) as usize, words[at] & 0xffff);
        if count == 0 || at + count > words.len() {
            return Err(format!(
                "malformed SPIR-V: instruction at word {at} runs past the end"
            ));
        }
        let operands = &words[at + 1..at + count];
        match (op, operands) {
            (OP_CAPABILITY, [cap, ..]) => capabilities.push(*cap),
            (OP_NAME, [target, rest @ ..]) => {
                names.insert(*target, string(rest));
            }
            (OP_ENTRY_POINT, [model, _, rest @ ..]) => {
                entry_found |= *model == EXECUTION_MODEL_GL_COMPUTE && string(rest) == entry;
            }
            (OP_DECORATE, [target, DECORATION_SPEC_ID, id, ..]) => {
                spec.insert(*target, *id);
            }
            (OP_DECORATE, [_, DECORATION_BINDING, binding, ..]) => {
                if *binding >= MAX_BINDINGS {
                    return Err(format!(
                        "the module uses binding {binding}; at most {MAX_BINDINGS} are set up"
                    ));
                }
                bindings = bindings.max(binding + 1);
            }
            _ => {}
        }
        at += count;
    }
    if !entry_found {
        return Err(format!("the module has no compute entry point `{entry}`"));
    }
    let spec_ids = spec
        .into_iter()
        .filter_map(|(target, id)| names.get(&target).map(|n| (n.clone(), id)))
        .collect();
    Ok(Module {
        words,
        bindings,
        spec_ids,
        capabilities,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRIAD: &[u8] = include_bytes!("../../../kernels/spv/stream_triad.f32.spv");
    const FUSED_F16: &[u8] = include_bytes!("../../../kernels/spv/attn_prefill_fused.f16.spv");

    #[test]
    fn reads_bindings_spec_constants_and_capabilities() {
        let m = parse(TRIAD, "main").unwrap();
        assert_eq!(m.bindings, 3);
        let f = parse(FUSED_F16, "main").unwrap();
        assert_eq!(f.bindings, 4);
        assert_eq!(f.spec_ids.get("D_MAX"), Some(&3));
        assert!(f.capabilities.contains(&CAPABILITY_STORAGE_16BIT));
    }

    #[test]
    fn refuses_malformed_modules() {
        assert!(parse(b"not spir-v at all!!!", "main")
            .unwrap_err()
            .contains("magic"));
        // Cut inside the first long instruction after the header (OpExtInstImport and its
        // string), so its word count runs past the end.
        let long = (5..TRIAD.len() / 4)
            .map(|w| w * 4)
            .find(|&at| (u32::from_le_bytes(TRIAD[at..at + 4].try_into().unwrap()) >> 16) >= 3)
            .unwrap();
        assert!(parse(&TRIAD[..long + 8], "main")
            .unwrap_err()
            .contains("past the end"));
        assert!(parse(TRIAD, "other").unwrap_err().contains("entry point"));
        assert!(parse(&TRIAD[..7], "main")
            .unwrap_err()
            .contains("whole module"));
    }

    /// Bad bytes never panic: generated bytes, a valid header over generated words, and
    /// real modules with words replaced or cut short. Each is a module (with a sane
    /// binding count) or a one-line reason.
    mod props {
        use super::*;
        use proptest::prelude::*;

        fn check(bytes: &[u8]) {
            match parse(bytes, "main") {
                Ok(m) => assert!(m.bindings <= MAX_BINDINGS),
                Err(e) => assert!(!e.is_empty() && !e.contains('\n'), "{e}"),
            }
        }

        fn words(w: &[u32]) -> Vec<u8> {
            w.iter().flat_map(|w| w.to_le_bytes()).collect()
        }

        proptest! {
            #![proptest_config(ProptestConfig {
                cases: 3000,
                failure_persistence: None,
                ..ProptestConfig::default()
            })]

            #[test]
            fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
                check(&bytes);
            }

            #[test]
            fn a_header_over_generated_instructions(
                body in proptest::collection::vec(
                    prop_oneof![
                        any::<u32>(),
                        // Plausible instruction heads: a small count over a known opcode.
                        (1u32..6, proptest::sample::select(&[OP_NAME, OP_ENTRY_POINT, OP_CAPABILITY, OP_DECORATE][..]))
                            .prop_map(|(n, op)| (n << 16) | op),
                        proptest::sample::select(&[DECORATION_SPEC_ID, DECORATION_BINDING, EXECUTION_MODEL_GL_COMPUTE, u32::MAX][..]),
                    ],
                    0..64,
                )
            ) {
                let mut w = vec![MAGIC, 0x0001_0000, 0, 64, 0];
                w.extend(body);
                check(&words(&w));
            }

            #[test]
            fn a_real_module_with_words_replaced_or_cut(
                edits in proptest::collection::vec((0.0f64..1.0, any::<u32>()), 1..4),
                cut in 0.0f64..1.0,
                f16 in any::<bool>(),
            ) {
                let bytes = if f16 { FUSED_F16 } else { TRIAD };
                let mut w: Vec<u32> = bytes
                    .chunks_exact(4)
                    .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                for (at, value) in edits {
                    let i = ((w.len() - 1) as f64 * at) as usize;
                    w[i] = value;
                }
                w.truncate(((w.len() as f64) * cut) as usize + 1);
                check(&words(&w));
            }
        }
    }
}
