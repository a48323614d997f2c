//! The wall clock, read in one place. `shared` takes time as an argument;
//! this is where the node and the manager get it from.

/// Milliseconds since the Unix epoch, the unit of every timestamp here.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
