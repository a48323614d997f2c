//! The browser's clocks, in one place: wall time (for the drift rule and
//! for showing when something happened) from `js_sys::Date`, and a
//! monotonic one for measuring how long something took. Everything else
//! takes time as an argument, as `shared` does.

use wasm_bindgen::JsValue;

/// Milliseconds since the Unix epoch, by the reader's clock.
pub fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

/// Milliseconds since the page opened; never goes back, unlike [`now_ms`]
/// when the system clock is set.
pub fn monotonic_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or_else(js_sys::Date::now, |p| p.now())
}

fn date(ms: u64) -> js_sys::Date {
    js_sys::Date::new(&JsValue::from_f64(ms as f64))
}

/// A millisecond timestamp as an ISO date and time (UTC).
pub fn iso_time(ms: u64) -> String {
    date(ms)
        .to_iso_string()
        .as_string()
        .unwrap_or_else(|| ms.to_string())
}

/// "14:03:07" in the reader's time zone.
pub fn time_of_day(ms: u64) -> String {
    let date = date(ms);
    format!(
        "{:02}:{:02}:{:02}",
        date.get_hours(),
        date.get_minutes(),
        date.get_seconds()
    )
}
