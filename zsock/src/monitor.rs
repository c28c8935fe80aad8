//! Socket monitor: what happened to endpoints and connections.

use std::time::{Duration, Instant};

use std::os::fd::BorrowedFd;

use ipc_transport::TransportEvent;

use crate::error::Result;

/// A monitor event. Connection events carry the peer's credentials (uid, gid, pid) for
/// ipc or its address and port for tcp; errors are [`Errno`](crate::Errno)s, shown by
/// name. `Display` writes one line in words.
pub type Event = TransportEvent;

/// Reads a socket's events from any thread (`Send + Sync`), in order. Each handle from
/// [`Socket::monitor`](crate::Socket::monitor) receives every event from its creation on
/// (at most 10 000 unread; older ones are dropped), whatever the other handles read.
pub struct Monitor {
    inner: ipc_transport::Monitor,
}

impl Monitor {
    pub(crate) fn new(inner: ipc_transport::Monitor) -> Monitor {
        Monitor { inner }
    }

    /// A descriptor that is readable while events wait, and once the socket has closed:
    /// the monitor can sit in poll(2), mio or tokio beside other descriptors. After it
    /// fires, take events with [`Monitor::try_next`] until there is none. The descriptor
    /// is made on the first call.
    pub fn fd(&self) -> Result<BorrowedFd<'_>> {
        Ok(self.inner.fd()?)
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

    /// Whether the socket has closed and every event was taken: [`Monitor::try_next`]'s
    /// `None` is then final (it otherwise means "none yet").
    pub fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Monitor")
    }
}
