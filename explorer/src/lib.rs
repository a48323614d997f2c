//! The browser explorer (Leptos, CSR); filled in by the explorer issue.
