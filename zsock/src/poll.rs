//! Waiting on many sockets at once (`zmq_poll`).

use std::time::{Duration, Instant};

use crate::error::Result;
use crate::socket::{Events, Socket};

/// One socket to poll and what to wait for; `revents` holds what is ready afterwards.
#[derive(Debug)]
pub struct PollItem<'a> {
    /// The socket.
    pub socket: &'a Socket,
    /// What to wait for.
    pub events: Events,
    /// What is ready (set by [`poll`]).
    pub revents: Events,
}

impl<'a> PollItem<'a> {
    /// Waits for `events` on `socket`.
    pub fn new(socket: &'a Socket, events: Events) -> PollItem<'a> {
        PollItem {
            socket,
            events,
            revents: Events::NONE,
        }
    }
}

/// Waits until at least one item is ready or `timeout` passes (`None`: forever); returns
/// how many items are ready.
pub fn poll(items: &mut [PollItem<'_>], timeout: Option<Duration>) -> Result<usize> {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        // `events` clears each socket's descriptor before it checks, so a change after the
        // check makes the descriptor readable and the system poll below returns.
        let mut ready = 0;
        for it in items.iter_mut() {
            it.revents = it.socket.events() & it.events;
            ready += usize::from(!it.revents.is_empty());
        }
        if ready > 0 {
            return Ok(ready);
        }
        let wait = match deadline {
            None => None,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(0);
                }
                Some(left)
            }
        };
        ipc_transport::wait_readable(items.iter().map(|it| it.socket.fd()), wait)?;
    }
}
