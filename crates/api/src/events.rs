//! Fan-out of [`ApiEvent`]s to every subscriber (each SSE stream, the Tauri shell).

use crate::types::ApiEvent;
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Default)]
pub(crate) struct Hub {
    subscribers: Arc<Mutex<Vec<Sender<ApiEvent>>>>,
}

impl Hub {
    pub(crate) fn subscribe(&self) -> Subscription {
        let (tx, rx) = channel();
        crate::lock(&self.subscribers).push(tx);
        Subscription { rx }
    }

    /// Sends to every live subscriber; the ones that went away are dropped.
    pub(crate) fn send(&self, ev: ApiEvent) {
        crate::lock(&self.subscribers).retain(|tx| tx.send(ev.clone()).is_ok());
    }
}

/// A stream of events; dropping it unsubscribes.
pub struct Subscription {
    rx: Receiver<ApiEvent>,
}

impl Subscription {
    /// The next event, `Ok(None)` after `timeout` without one, `Err(())` when the API is gone.
    #[allow(clippy::result_unit_err)]
    pub fn next(&self, timeout: Duration) -> Result<Option<ApiEvent>, ()> {
        match self.rx.recv_timeout(timeout) {
            Ok(ev) => Ok(Some(ev)),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(()),
        }
    }
}
