//! A proof-of-work node. Its HTTP API, block tree, sync, events and store
//! are built on top of the `shared` consensus core; this crate is filled in
//! by the node issue.
