//! Keeping OAuth2 tokens fresh: refreshing those about to expire, one refresh per
//! account at a time, periodically in the background.

use crate::{Result, Vault, oauth};
use std::sync::Arc;
use std::time::Duration;

impl Vault {
    /// Refreshes now every OAuth2 account whose token expires within the skew (what the
    /// background refresher does each period).
    pub async fn refresh_due(&self) -> Result<()> {
        oauth::refresh_due(self).await
    }

    pub(crate) fn refresh_lock(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.inner.refresh_locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.entry(id.to_string()).or_default().clone()
    }

    /// Refreshes OAuth2 tokens that expire within the skew, every `period` until the vault
    /// is dropped. Run it on the app's runtime.
    pub fn spawn_refresher(&self, period: Duration) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                let vault = Vault { inner };
                if vault.is_unlocked()
                    && let Err(e) = oauth::refresh_due(&vault).await
                {
                    tracing::warn!(error = %e, "background token refresh");
                }
            }
        })
    }
}
