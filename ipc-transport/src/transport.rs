//! The seam between the engine and the transports.
//!
//! The engine drives connections over any stream socket: it reads, writes and polls a
//! [`Stream`] through its descriptor and leaves the protocol to the connection's machine
//! (`connection.rs`). What differs between transports (how an endpoint string is parsed,
//! what binding means and leaves behind, who the peer is, which peers are let in) stays
//! behind two traits: a [`Listen`] accepts streams, a [`Dial`] opens one. A transport is a
//! pair of constructors, chosen by the endpoint's scheme in [`bind`] and [`dialer`]; the
//! Unix-domain one is in `ipc.rs`.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::Duration;

use mio::event::Source;
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

use crate::{Config, PeerCred, TcpOptions, TransportError};

/// A connected, non-blocking stream socket of any transport.
#[derive(Debug)]
pub(crate) struct Stream {
    fd: OwnedFd,
}

impl Stream {
    /// Takes a connected (or connecting) stream socket that is already non-blocking.
    pub(crate) fn new(fd: OwnedFd) -> Stream {
        Stream { fd }
    }

    /// The socket's pending error (SO_ERROR), which ends a connect that failed; `None`
    /// while it connects and once it is connected.
    pub(crate) fn take_error(&self) -> Option<i32> {
        match socket2::SockRef::from(&self.fd).take_error() {
            Ok(None) => None,
            Ok(Some(e)) | Err(e) => Some(crate::Errno::of(&e).0),
        }
    }
}

impl AsRawFd for Stream {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for Stream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Source for Stream {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        SourceFd(&self.fd.as_raw_fd()).register(registry, token, interest)
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        SourceFd(&self.fd.as_raw_fd()).reregister(registry, token, interest)
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        SourceFd(&self.fd.as_raw_fd()).deregister(registry)
    }
}

/// A stream a listener accepted or a dialer opened, and who is at the other end, when
/// the transport can tell (a Unix socket's peer credentials, a TCP peer's address).
#[derive(Debug)]
pub(crate) struct Link {
    pub(crate) stream: Stream,
    pub(crate) peer: Option<PeerCred>,
    pub(crate) addr: Option<SocketAddr>,
    /// The connect is still in progress (`Some`), to be given up after the duration in
    /// it (CONNECT_TIMEOUT), if any.
    pub(crate) connecting: Option<Option<Duration>>,
}

/// What one accept gave.
#[derive(Debug)]
pub(crate) enum Accepted {
    /// A peer to start a handshake with.
    Link(Link),
    /// A peer the transport's access rules turned away (closed before any byte of ours
    /// was written).
    Refused(Option<PeerCred>),
}

/// A bound listener of some transport, polled for readiness by the engine.
pub(crate) trait Listen: Send {
    /// Takes the next waiting connection, under the socket's current options (its access
    /// rules). `WouldBlock` when none waits; other errors as accept(2) gives them (the
    /// engine backs off on running out of descriptors).
    fn accept(&mut self, config: &Config) -> io::Result<Accepted>;
    /// What the engine registers for readiness.
    fn source(&mut self) -> &mut dyn Source;
    /// The endpoint as bound, with wildcards resolved (LAST_ENDPOINT).
    fn endpoint(&self) -> &str;
    /// Stops listening for good: whatever the bind left behind (a socket file) goes.
    fn close(&mut self);
}

/// Opens streams to one endpoint, once per attempt (the engine reconnects with it).
pub(crate) trait Dial: Send {
    /// Starts a connection. A stream is returned at once even while the transport is still
    /// connecting (the first write or read tells); an error means this attempt failed and
    /// the engine retries after the back-off, as libzmq does.
    fn dial(&mut self) -> io::Result<Link>;
}

/// Binds `endpoint` with the transport its scheme names (`tcp://`; anything else goes to
/// the ipc transport, whose parser names the mistake).
pub(crate) fn bind(endpoint: &str, config: &Config) -> Result<Box<dyn Listen>, TransportError> {
    if endpoint.starts_with("tcp://") {
        return Ok(Box::new(crate::tcp::TcpListen::bind(endpoint, config)?));
    }
    Ok(Box::new(crate::ipc::IpcListener::bind(endpoint, config)?))
}

/// A dialer for `endpoint`, with the transport its scheme names, under the socket's
/// TCP options as they are now. The endpoint is checked now; nothing is opened until the
/// first [`Dial::dial`].
pub(crate) fn dialer(endpoint: &str, tcp: &TcpOptions) -> Result<Box<dyn Dial>, TransportError> {
    if endpoint.starts_with("tcp://") {
        return Ok(Box::new(crate::tcp::TcpDial::new(endpoint, tcp)?));
    }
    Ok(Box::new(crate::ipc::IpcDialer::new(endpoint)?))
}
