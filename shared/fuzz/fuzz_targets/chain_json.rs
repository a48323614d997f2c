//! A chain sent to `POST /chain/replace` (or read from a peer's `/chain`):
//! decoding it and validating it under regtest's rules must never panic,
//! whatever the blocks say. Regtest's target lets about every other
//! random header pass its proof of work, so validation goes past the
//! first block.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::Preset;
use shared::api::ChainBody;
use shared::validation::validate_chain;

fuzz_target!(|text: &[u8]| {
    if let Ok(body) = serde_json::from_slice::<ChainBody>(text) {
        let params = Preset::Regtest.params();
        let now_ms = u64::MAX / 2;
        if let Ok(summary) = validate_chain(&params, &body.chain, now_ms) {
            assert_eq!(summary.height + 1, body.chain.len() as u64);
        }
    }
});
