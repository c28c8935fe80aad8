//! The Unix-domain transport (`ipc://`): what the engine's [`Listen`] and [`Dial`] mean
//! for Unix stream sockets. Binding (takeover, wildcards, file modes, cleanup) is
//! `bind.rs`; this adds accepting with peer credentials and the access filter, and
//! connecting.

use std::io;
use std::os::fd::OwnedFd;

use ipc_endpoint::Endpoint;
use mio::event::Source;
use mio::net::UnixListener;

use crate::transport::{Accepted, Dial, Link, Listen, Stream};
use crate::{sys, AccessFilter, BoundSocket, Config, PeerCred, TransportError};

/// A bound Unix socket and the rules for whom it lets in.
pub(crate) struct IpcListener {
    bound: BoundSocket,
    sock: UnixListener,
    /// The resolved endpoint (what LAST_ENDPOINT reports).
    endpoint: String,
}

impl IpcListener {
    pub(crate) fn bind(endpoint: &str, config: &Config) -> Result<IpcListener, TransportError> {
        let ep = Endpoint::parse_bind(endpoint)?;
        let mut bound = BoundSocket::bind(&ep, &config.bind)?;
        let resolved = bound.endpoint().to_string();
        let listener = bound.take_listener().ok_or_else(|| TransportError::Io {
            op: "listen",
            endpoint: endpoint.to_string(),
            source: io::Error::other("listener already taken"),
        })?;
        Ok(IpcListener {
            bound,
            sock: UnixListener::from_std(listener),
            endpoint: resolved,
        })
    }
}

impl Listen for IpcListener {
    fn accept(&mut self, config: &Config) -> io::Result<Accepted> {
        let (stream, _) = self.sock.accept()?;
        let peer = PeerCred::of(&stream).ok();
        let filter: &AccessFilter = &config.filter;
        if !filter.is_open() && !filter.allows(&stream).unwrap_or(false) {
            return Ok(Accepted::Refused(peer));
        }
        let fd = OwnedFd::from(std::os::unix::net::UnixStream::from(stream));
        Ok(Accepted::Link(Link {
            stream: Stream::new(fd),
            peer,
            addr: None,
            connecting: None,
        }))
    }

    fn source(&mut self) -> &mut dyn Source {
        &mut self.sock
    }

    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn close(&mut self) {
        self.bound.remove_files();
    }
}

/// Connects to one Unix socket endpoint.
pub(crate) struct IpcDialer {
    endpoint: Endpoint,
}

impl IpcDialer {
    pub(crate) fn new(endpoint: &str) -> Result<IpcDialer, TransportError> {
        Ok(IpcDialer {
            endpoint: Endpoint::parse_connect(endpoint)?,
        })
    }
}

impl Dial for IpcDialer {
    fn dial(&mut self) -> io::Result<Link> {
        // Connect endpoints are never wildcards or unnamed.
        let addr = self
            .endpoint
            .sock_addr()
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
        let fd = sys::connect(&addr)?;
        let peer = PeerCred::of(&fd).ok();
        // A Unix socket connects at once or fails.
        Ok(Link {
            stream: Stream::new(fd),
            peer,
            addr: None,
            connecting: None,
        })
    }
}
