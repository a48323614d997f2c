//! What a scenario run measured: the [`Report`], one [`Measurement`] per
//! `measure` step with its [`Check`]s, and the short table printed under
//! the JSON. The types live in [`shared::scenario`], since the explorer
//! reads the same report from `GET /scenarios/status`.

pub use shared::scenario::{Check, Measurement, MinerFigures, Report};
