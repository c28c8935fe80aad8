//! The TCP transport (`tcp://`) behind the engine's [`Listen`] and [`Dial`]: IPv4 and IPv6
//! addresses, `*`, on a bind an interface's name (its first IPv4 address, as libzmq takes
//! it without the IPV6 option), on a connect a host name (looked up when the socket
//! connects and again at each reconnect, see [`TcpDial`]). Every connection gets TCP_NODELAY; listeners get SO_REUSEADDR, so a
//! restarted binder gets its port back at once. A connect returns while TCP is still
//! connecting: the handshake's first write waits for the connection like any write that
//! finds no room, and a refused connection ends as a lost one (the connector tries again).

use std::io;
use std::net::ToSocketAddrs;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV6};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use mio::event::Source;
use mio::net::{TcpListener, TcpStream};
use tcp_endpoint::{BindEndpoint, ConnectEndpoint, Host, Port, Scope};

use crate::transport::{Accepted, Dial, Link, Listen, Stream};
use crate::{Config, TransportError};

/// The socket address `host` and `port` name (a name as an interface on a bind), or the
/// error for what cannot be used.
fn socket_addr(
    endpoint: &str,
    host: &Host,
    port: u16,
    bind: bool,
) -> Result<SocketAddr, TransportError> {
    let not_yet = |name: &str| TransportError::TcpNameNotResolved {
        endpoint: endpoint.to_string(),
        host: name.to_string(),
    };
    Ok(match host {
        Host::Any => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port),
        Host::V4(a) => SocketAddr::new(IpAddr::V4(*a), port),
        Host::V6 { addr, scope } => {
            let scope_id = match scope {
                None => 0,
                Some(Scope::Index(i)) => i.get(),
                Some(Scope::Interface(name)) => {
                    crate::sys::interface_index(name).ok_or_else(|| not_yet(name))?
                }
            };
            SocketAddr::V6(SocketAddrV6::new(*addr, port, 0, scope_id))
        }
        Host::Name(name) if bind => {
            let ip = crate::sys::interface_address(name, false)
                .ok()
                .flatten()
                .ok_or_else(|| not_yet(name))?;
            SocketAddr::new(ip, port)
        }
        Host::Name(name) => return Err(not_yet(name)),
    })
}

/// LAST_ENDPOINT for a bound address (`tcp://A.B.C.D:P`, `tcp://[v6]:P`): the
/// endpoint's canonical form.
fn endpoint_of(addr: SocketAddr) -> String {
    let host = match addr {
        SocketAddr::V4(a) => Host::V4(*a.ip()),
        SocketAddr::V6(a) => Host::V6 {
            addr: *a.ip(),
            scope: std::num::NonZeroU32::new(a.scope_id()).map(Scope::Index),
        },
    };
    let port = std::num::NonZeroU16::new(addr.port()).map_or(Port::Ephemeral, Port::Number);
    BindEndpoint { host, port }.to_string()
}

/// A bound TCP listener.
pub(crate) struct TcpListen {
    sock: TcpListener,
    /// The bound address as LAST_ENDPOINT reports it, the real port in place of `*`.
    endpoint: String,
}

impl TcpListen {
    pub(crate) fn bind(endpoint: &str) -> Result<TcpListen, TransportError> {
        let ep = BindEndpoint::parse(endpoint)?;
        let port = match ep.port {
            Port::Ephemeral => 0,
            Port::Number(n) => n.get(),
        };
        let addr = socket_addr(endpoint, &ep.host, port, true)?;
        let sock = TcpListener::bind(addr).map_err(|source| match source.kind() {
            io::ErrorKind::AddrInUse => TransportError::AddrInUse {
                endpoint: endpoint.to_string(),
                reason: "another socket is bound to that address and port".into(),
            },
            io::ErrorKind::PermissionDenied => TransportError::PermissionDenied {
                endpoint: endpoint.to_string(),
            },
            _ => TransportError::Io {
                op: "bind",
                endpoint: endpoint.to_string(),
                source,
            },
        })?;
        let bound = sock.local_addr().map_err(|source| TransportError::Io {
            op: "getsockname",
            endpoint: endpoint.to_string(),
            source,
        })?;
        Ok(TcpListen {
            sock,
            endpoint: endpoint_of(bound),
        })
    }
}

impl Listen for TcpListen {
    fn accept(&mut self, _config: &Config) -> io::Result<Accepted> {
        let (stream, _) = self.sock.accept()?;
        // (A peer that already reset its connection makes this fail: its first read says
        // so, and the listener goes on accepting.)
        let _ = stream.set_nodelay(true);
        Ok(Accepted::Link(Link {
            stream: Stream::new(OwnedFd::from(stream)),
            peer: None,
        }))
    }

    fn source(&mut self) -> &mut dyn Source {
        &mut self.sock
    }

    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn close(&mut self) {
        // Nothing outlives a TCP listener but its descriptor.
    }
}

/// Connects to one TCP endpoint: an address, or a host name resolved when the socket
/// connects (on the caller's thread, before it takes the socket's lock) and again, in the
/// background, at each reconnect (the attempt uses what the last lookup found, so the I/O
/// thread never waits for a lookup).
pub(crate) struct TcpDial {
    /// The addresses to connect to (the first), shared with a lookup in the background.
    addrs: Arc<Mutex<Vec<SocketAddr>>>,
    /// The name and port to look up again at each reconnect, if the host is a name.
    name: Option<(String, u16)>,
    /// A lookup is running.
    looking_up: Arc<AtomicBool>,
    /// No attempt was made yet (the lookup at connect is fresh).
    first: bool,
}

/// The IPv4 addresses `name` resolves to (IPv4 only, as libzmq resolves without its IPV6
/// option).
fn look_up(name: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    let found: Vec<SocketAddr> = (name, port)
        .to_socket_addrs()?
        .filter(SocketAddr::is_ipv4)
        .collect();
    if found.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "the name has no IPv4 address",
        ));
    }
    Ok(found)
}

impl TcpDial {
    pub(crate) fn new(endpoint: &str) -> Result<TcpDial, TransportError> {
        let ep = ConnectEndpoint::parse(endpoint)?;
        if ep.source.is_some() {
            return Err(TransportError::TcpSourceAddress {
                endpoint: endpoint.to_string(),
            });
        }
        let port = ep.port.get();
        let (addrs, name) = match &ep.host {
            Host::Name(name) => {
                let addrs = look_up(name, port).map_err(|e| TransportError::TcpHostNotFound {
                    endpoint: endpoint.to_string(),
                    host: name.clone(),
                    reason: e.to_string(),
                })?;
                (addrs, Some((name.clone(), port)))
            }
            host => (vec![socket_addr(endpoint, host, port, false)?], None),
        };
        Ok(TcpDial {
            addrs: Arc::new(Mutex::new(addrs)),
            name,
            looking_up: Arc::new(AtomicBool::new(false)),
            first: true,
        })
    }

    /// Starts a lookup of the name in the background, unless one runs; a lookup that
    /// fails leaves the addresses as they were.
    fn refresh(&self) {
        let Some((name, port)) = self.name.clone() else {
            return;
        };
        if self.looking_up.swap(true, Ordering::AcqRel) {
            return;
        }
        let (addrs, busy) = (self.addrs.clone(), self.looking_up.clone());
        let spawned = std::thread::Builder::new()
            .name("zsock-lookup".into())
            .spawn(move || {
                if let Ok(found) = look_up(&name, port) {
                    *addrs.lock().unwrap_or_else(|p| p.into_inner()) = found;
                }
                busy.store(false, Ordering::Release);
            });
        if spawned.is_err() {
            self.looking_up.store(false, Ordering::Release);
        }
    }
}

impl Dial for TcpDial {
    fn dial(&mut self) -> io::Result<Link> {
        if !std::mem::take(&mut self.first) {
            self.refresh();
        }
        let addr = self
            .addrs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .first()
            .copied()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        let stream = TcpStream::connect(addr)?;
        let _ = stream.set_nodelay(true); // as for an accepted stream
        Ok(Link {
            stream: Stream::new(OwnedFd::from(stream)),
            peer: None,
        })
    }
}
