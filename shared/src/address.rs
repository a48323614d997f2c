//! `host:port`, the one way every process names a node: on the command
//! line, in `/nodes/register`, in `/nodes/attach` and in peer tables.
//!
//! A host is a name or an IPv4 address without a scheme, path or user
//! part; a port is 1–65535. IPv6 literals are not taken, since a colon in
//! the host would make `host:port` ambiguous without brackets.

/// The OpenAPI `pattern` of a `host:port` string. It is looser than
/// [`parse_host_port`] only in the port's range.
pub const HOST_PORT_PATTERN: &str = r"^[^:/?#@\s]+:[0-9]{1,5}$";

/// Why a string is not `host:port`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("no `:port` at the end")]
    MissingPort,
    #[error("the host is empty")]
    EmptyHost,
    #[error("the host holds a character a host name cannot have")]
    BadHost,
    #[error("the port is not a number from 1 to 65535")]
    BadPort,
}

/// Splits `host:port`, checking both halves.
pub fn parse_host_port(text: &str) -> Result<(&str, u16), AddressError> {
    let (host, port) = text.rsplit_once(':').ok_or(AddressError::MissingPort)?;
    if host.is_empty() {
        return Err(AddressError::EmptyHost);
    }
    if host.contains(|c: char| c.is_whitespace() || matches!(c, ':' | '/' | '?' | '#' | '@')) {
        return Err(AddressError::BadHost);
    }
    match port.parse::<u16>() {
        Ok(port) if port != 0 && port_digits_only(text) => Ok((host, port)),
        _ => Err(AddressError::BadPort),
    }
}

// `u16::from_str` takes a leading `+`, which no one means in an address.
fn port_digits_only(text: &str) -> bool {
    text.rsplit(':')
        .next()
        .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether `text` is `host:port`.
pub fn is_host_port(text: &str) -> bool {
    parse_host_port(text).is_ok()
}

/// What a person may type for an address (`" http://127.0.0.1:5000/ "`),
/// reduced to `host:port`.
pub fn normalize_address(text: &str) -> Result<String, AddressError> {
    let text = text.trim();
    let text = text.strip_prefix("http://").unwrap_or(text);
    let text = text.strip_suffix('/').unwrap_or(text);
    parse_host_port(text)?;
    Ok(text.to_owned())
}

/// The port of an address known to be `host:port`; 0 otherwise.
pub fn port_of(address: &str) -> u16 {
    parse_host_port(address).map_or(0, |(_, port)| port)
}

/// Schema-only marker for a `host:port` string in the OpenAPI documents
/// (`schema(value_type = HostPortText)`), built from [`HOST_PORT_PATTERN`].
#[cfg(feature = "openapi")]
pub struct HostPortText;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_names_and_ipv4_with_a_real_port() {
        assert_eq!(parse_host_port("127.0.0.1:5000"), Ok(("127.0.0.1", 5000)));
        assert_eq!(
            parse_host_port("node-3.lab:65535"),
            Ok(("node-3.lab", 65535))
        );
        assert_eq!(
            normalize_address(" http://127.0.0.1:5000/ ").as_deref(),
            Ok("127.0.0.1:5000")
        );
        assert_eq!(port_of("localhost:4999"), 4999);
        assert_eq!(port_of("localhost"), 0);
    }

    #[test]
    fn each_rejection_reason() {
        for (bad, reason) in [
            ("", AddressError::MissingPort),
            ("127.0.0.1", AddressError::MissingPort),
            (":5000", AddressError::EmptyHost),
            ("a b:1", AddressError::BadHost),
            ("x/y:1", AddressError::BadHost),
            ("user@host:1", AddressError::BadHost),
            ("::1:5000", AddressError::BadHost),
            ("127.0.0.1:0", AddressError::BadPort),
            ("host:99999", AddressError::BadPort),
            ("host:+80", AddressError::BadPort),
            ("host:", AddressError::BadPort),
        ] {
            assert_eq!(parse_host_port(bad), Err(reason), "{bad:?}");
            assert!(normalize_address(bad).is_err(), "{bad:?}");
        }
    }
}
