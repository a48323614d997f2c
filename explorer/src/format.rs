//! How numbers, hashes and nodes are written on the page, in one place so
//! every panel says them the same way.

use shared::BlockHash;

/// The first eight hex digits and an ellipsis: enough to tell blocks apart
/// by eye, short enough for a table cell.
pub fn short_hash(hash: &BlockHash) -> String {
    format!("{}…", hash.short(8))
}

/// What people call a node: the port of its address ("5003"), which is
/// unique on one machine; the whole address when it has no port.
pub fn node_name(address: &str) -> String {
    match address.rsplit_once(':') {
        Some((_, port)) if !port.is_empty() => port.to_owned(),
        _ => address.to_owned(),
    }
}

/// The first eight characters of a node id, for the id column.
pub fn short_id(id: &str) -> String {
    if id.is_empty() {
        return "—".to_owned();
    }
    id.chars().take(8).collect()
}

/// Hashes per second with an SI prefix: "0 H/s", "812 H/s", "1.4 MH/s".
pub fn hash_rate(per_second: f64) -> String {
    if !per_second.is_finite() || per_second <= 0.0 {
        return "0 H/s".to_owned();
    }
    let prefixes = ["", "k", "M", "G", "T"];
    let mut value = per_second;
    let mut index = 0;
    while value >= 1000.0 && index + 1 < prefixes.len() {
        value /= 1000.0;
        index += 1;
    }
    if index == 0 {
        format!("{value:.0} H/s")
    } else {
        format!("{value:.1} {}H/s", prefixes[index])
    }
}

/// Milliseconds as seconds with one decimal: "1.8 s".
pub fn seconds(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

/// A count with thousands separators: "12,345".
/// A share in [0, 1] as "40.0 %", as the lab's panels and plots write it.
pub fn percent(share: f64) -> String {
    format!("{:.1} %", share * 100.0)
}

pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A large float in scientific form once it stops being readable in full.
pub fn big_number(value: f64) -> String {
    if value < 1e6 {
        format!("{value:.0}")
    } else {
        format!("{value:.3e}")
    }
}

/// "1 block" / "2 blocks".
pub fn blocks(n: u64) -> String {
    if n == 1 {
        "1 block".to_owned()
    } else {
        format!("{} blocks", count(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_numbers_for_people() {
        assert_eq!(node_name("127.0.0.1:5003"), "5003");
        assert_eq!(node_name("somewhere"), "somewhere");
        assert_eq!(hash_rate(0.0), "0 H/s");
        assert_eq!(hash_rate(812.4), "812 H/s");
        assert_eq!(hash_rate(1_400_000.0), "1.4 MH/s");
        assert_eq!(seconds(1_830), "1.8 s");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(count(999), "999");
        assert_eq!(blocks(1), "1 block");
        assert_eq!(blocks(2), "2 blocks");
        assert_eq!(short_id(""), "—");
        assert_eq!(short_id("0123456789abcdef"), "01234567");
    }
}
