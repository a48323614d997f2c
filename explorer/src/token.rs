//! The manager's token as the reader typed it, kept in the tab's
//! `sessionStorage`: a reload keeps it, closing the tab forgets it, and it
//! never goes into the page's URL, history or other tabs.

/// The `sessionStorage` key.
pub const STORAGE_KEY: &str = "powplay-explorer-token";

/// What counts as the token in what was typed: spaces around it (a pasted
/// line) are dropped, and a blank field means no token.
pub fn normalize(typed: &str) -> Option<String> {
    let token = typed.trim();
    (!token.is_empty()).then(|| token.to_owned())
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}

/// The token this tab kept, if any.
pub fn load() -> Option<String> {
    storage()?
        .get_item(STORAGE_KEY)
        .ok()
        .flatten()
        .and_then(|t| normalize(&t))
}

/// Keeps `token` for this tab, or forgets it. A browser that refuses
/// storage (private mode, quota) still uses the token until a reload.
pub fn save(token: Option<&str>) {
    let Some(storage) = storage() else {
        return;
    };
    let _ = match token {
        Some(token) => storage.set_item(STORAGE_KEY, token),
        None => storage.remove_item(STORAGE_KEY),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pasted_line_is_trimmed_and_a_blank_field_is_no_token() {
        assert_eq!(normalize(" 0123abcd\n").as_deref(), Some("0123abcd"));
        assert_eq!(normalize("a b").as_deref(), Some("a b"));
        assert_eq!(normalize(""), None);
        assert_eq!(normalize(" \t "), None);
    }
}
