//! Metrics: what runs and nodes did, counted in the time buckets of
//! [`switchyard_core::rollup`]. [`recorder`] folds samples from runs into them off the
//! runs' path, [`alerts`] evaluates alert rules over them, [`exposition`] writes the
//! Prometheus text and [`process`] samples the process's own memory and CPU.

pub mod alerts;
pub mod exposition;
pub mod process;
pub mod recorder;

pub use switchyard_core::rollup::{
    Bucket, BucketRecord, Counts, HOUR_MS, MINUTE_MS, MetricsError, Outcome, Series, Tokens, floor, model_key,
    split_model_key,
};
