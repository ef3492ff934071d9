//! Building blocks that several layers share and that need no server, storage or engine:
//! the injected [`clock`], the [`credentials`] a node asks for (implemented by the vault),
//! webhook [`signature`] presets (checked by the listener, made by Send Webhook), schedule
//! [`schedule`] rules (read by the schedule node, fired by the scheduler) and metric
//! [`rollup`] buckets (filled by the recorder, stored and aged by the store), and the
//! [`blobs`] store that holds the bytes of the files items carry.

pub mod blobs;
pub mod clock;
pub mod credentials;
pub mod drain;
pub mod folder;
pub mod memory;
pub mod rollup;
pub mod schedule;
pub mod signature;

pub use clock::{Clock, ManualClock, SharedClock, SystemClock, TokioClock};
pub use credentials::{Authorization, CredentialProvider, Fields, HostScope, Secret};
