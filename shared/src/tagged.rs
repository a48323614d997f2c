//! Decoding internally tagged JSON enums (`{"<tag>": "variant", ...fields}`)
//! field by field, instead of through serde's derive.
//!
//! For an internally tagged enum the derive buffers the whole object in
//! serde's private `Content` tree, then decodes the variant from that
//! buffer, and instantiates all of it per enum and per input format. In the
//! explorer's wasm that came to 50 KB for [`Rejection`](crate::Rejection)
//! alone, after wasm-opt. Here the object is read once into a JSON map and
//! each variant takes its fields from it by name; the enums that use this
//! still derive `Serialize`, and their tests hold both directions to the
//! same shape. Fields a variant does not name are ignored, as the derive
//! ignores them without `deny_unknown_fields`, so an older reader still
//! follows a newer writer.

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::{Error, Map, Value};

/// An object's fields not taken yet.
pub(crate) struct Fields(Map<String, Value>);

/// The whole of a hand-written `Deserialize`: the object `deserializer`
/// holds, read once, then decoded by `from_fields`.
pub(crate) fn decode<'de, D: Deserializer<'de>, T>(
    deserializer: D,
    from_fields: fn(&mut Fields) -> Result<T, Error>,
) -> Result<T, D::Error> {
    let mut fields = Fields(Map::<String, Value>::deserialize(deserializer)?);
    from_fields(&mut fields).map_err(D::Error::custom)
}

impl Fields {
    /// The field `name`, which must be there.
    pub(crate) fn take<T: DeserializeOwned>(&mut self, name: &'static str) -> Result<T, Error> {
        let value = self
            .0
            .remove(name)
            .ok_or_else(|| Error::missing_field(name))?;
        T::deserialize(value).map_err(|err| Error::custom(format_args!("field `{name}`: {err}")))
    }

    /// The field `name`, absent or `null` for `None` (the derive's
    /// `#[serde(default)]` on an `Option`).
    pub(crate) fn optional<T: DeserializeOwned>(
        &mut self,
        name: &'static str,
    ) -> Result<Option<T>, Error> {
        match self.0.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => T::deserialize(value)
                .map(Some)
                .map_err(|err| Error::custom(format_args!("field `{name}`: {err}"))),
        }
    }

    /// The tag `name`: which variant the object is.
    pub(crate) fn tag(&mut self, name: &'static str) -> Result<String, Error> {
        self.take(name)
    }
}

/// The error for a tag that names no variant of `variants`.
pub(crate) fn unknown(tag: &str, variants: &'static [&'static str]) -> Error {
    Error::unknown_variant(tag, variants)
}
