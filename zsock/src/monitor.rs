//! Socket monitor: what happened to endpoints and connections.

use std::time::{Duration, Instant};

use ipc_transport::TransportEvent;

use crate::routing::Routing;

/// A monitor event. Connection events carry the peer's credentials (uid, gid, pid) when
/// the kernel gave them.
pub type Event = TransportEvent;

/// Reads a socket's events from any thread (`Send + Sync`), in order. Events are kept from
/// the moment the first monitor is made (at most 10 000 unread; older ones are dropped).
pub struct Monitor {
    inner: ipc_transport::Monitor<Routing>,
}

impl Monitor {
    pub(crate) fn new(inner: ipc_transport::Monitor<Routing>) -> Monitor {
        Monitor { inner }
    }

    /// The next event, waiting up to `timeout` (`None`: until one comes or the socket
    /// closes).
    pub fn next(&self, timeout: Option<Duration>) -> Option<Event> {
        let deadline = timeout.map(|t| Instant::now() + t);
        self.inner.next_event(deadline)
    }

    /// The next event if one is waiting.
    pub fn try_next(&self) -> Option<Event> {
        self.inner.next_event(Some(Instant::now()))
    }
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Monitor")
    }
}
