//! OpenAPI schemas for the types that serialize as hex strings, so the
//! servers' `/openapi.json` describes exactly what goes over the wire.

use std::borrow::Cow;

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

use crate::hash::{BlockHash, EntryHash, MerkleRoot};
use crate::target::{CompactTarget, Target, Work};

fn hex_string(description: &str, digits: usize) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .pattern(Some(format!("^[0-9a-f]{{{digits}}}$")))
        .min_length(Some(digits))
        .max_length(Some(digits))
        .into()
}

macro_rules! hex_schema {
    ($ty:ty, $digits:expr, $description:expr) => {
        impl PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                hex_string($description, $digits)
            }
        }

        impl ToSchema for $ty {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($ty))
            }
        }
    };
}

hex_schema!(
    BlockHash,
    64,
    "SHA-256d of a 96-byte header, lower-case hex"
);
hex_schema!(
    MerkleRoot,
    64,
    "Merkle root over the entries' hashes, lower-case hex"
);
hex_schema!(
    EntryHash,
    64,
    "SHA-256d of an entry's encoding, lower-case hex"
);
hex_schema!(Target, 64, "A 256-bit target, big-endian hex");
hex_schema!(
    Work,
    64,
    "Cumulative chain work, a 256-bit big-endian hex number"
);
hex_schema!(
    CompactTarget,
    8,
    "Compact target (bits), 8 hex digits as Bitcoin shows them"
);

impl PartialSchema for crate::address::HostPortText {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("A node's address, host:port"))
            .pattern(Some(crate::address::HOST_PORT_PATTERN))
            .into()
    }
}

impl ToSchema for crate::address::HostPortText {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("HostPort")
    }
}
