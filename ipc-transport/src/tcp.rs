//! The TCP transport (`tcp://`) behind the engine's [`Listen`] and [`Dial`]: IPv4 and IPv6
//! addresses, `*`, on a bind an interface's name, on a connect a host name (looked up when
//! the socket connects and again at each reconnect, see [`TcpDial`]) and an optional
//! source address (`tcp://SOURCE;HOST:PORT`).
//!
//! Sockets are opened with the socket's TCP options as they were at bind or connect (as
//! libzmq takes them): SNDBUF, RCVBUF, TOS and BINDTODEVICE before the bind or connect;
//! TCP_NODELAY, keepalive and TCP_MAXRT on every connection. Listeners get SO_REUSEADDR,
//! so a restarted binder gets its port back at once. With the IPV6 option an IPv6 socket
//! also takes IPv4 peers (IPV6_V6ONLY off). A connect returns while TCP is still
//! connecting: the engine learns the outcome from the socket's first readiness, and gives
//! up on it after CONNECT_TIMEOUT.

use std::io;
use std::net::ToSocketAddrs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use mio::event::Source;
use mio::net::TcpListener;
use socket2::{Domain, Protocol, SockRef, Socket, TcpKeepalive, Type};
use tcp_endpoint::{BindEndpoint, ConnectEndpoint, Host, Port, Scope};

use crate::config::TcpOptions;
use crate::transport::{Accepted, Dial, Link, Listen, Stream};
use crate::{Config, TransportError};

/// The socket address `host` and `port` name on this host: `*` and interface names as
/// a bind takes them (IPv6 ones with the IPV6 option). Host names are not looked up here.
fn local_addr(
    endpoint: &str,
    host: &Host,
    port: u16,
    ipv6: bool,
) -> Result<SocketAddr, TransportError> {
    let not_found = |name: &str| TransportError::TcpNameNotResolved {
        endpoint: endpoint.to_string(),
        host: name.to_string(),
    };
    Ok(match host {
        Host::Any if ipv6 => SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port),
        Host::Any => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port),
        Host::V4(a) => SocketAddr::new(IpAddr::V4(*a), port),
        Host::V6 { addr, scope } => {
            let scope_id = match scope {
                None => 0,
                Some(Scope::Index(i)) => i.get(),
                Some(Scope::Interface(name)) => {
                    crate::sys::interface_index(name).ok_or_else(|| not_found(name))?
                }
            };
            SocketAddr::V6(SocketAddrV6::new(*addr, port, 0, scope_id))
        }
        Host::Name(name) => {
            let ip = crate::sys::interface_address(name, ipv6)
                .ok()
                .flatten()
                .ok_or_else(|| not_found(name))?;
            SocketAddr::new(ip, port)
        }
    })
}

fn port_number(port: Port) -> u16 {
    match port {
        Port::Ephemeral => 0,
        Port::Number(n) => n.get(),
    }
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

/// A new non-blocking TCP socket for `addr`'s family, with what must be set before a
/// bind or connect: the kernel's buffer sizes, TOS, the device, dual stack for IPv6. An
/// error comes with the step that failed (`socket`, `IP_TOS`, `BINDTODEVICE`).
fn open(addr: &SocketAddr, opts: &TcpOptions) -> Result<Socket, (&'static str, io::Error)> {
    let step = |op: &'static str| move |e: io::Error| (op, e);
    let sock = Socket::new(
        Domain::for_address(*addr),
        Type::STREAM,
        Some(Protocol::TCP),
    )
    .map_err(step("socket"))?;
    sock.set_nonblocking(true).map_err(step("socket"))?;
    if addr.is_ipv6() {
        // IPv4 peers reach an IPv6 socket too, as in libzmq (a failure leaves IPv6 only).
        let _ = sock.set_only_v6(false);
    }
    // Buffer sizes are a hint the kernel may clamp; libzmq ignores a refusal too.
    if let Some(n) = opts.sndbuf {
        let _ = sock.set_send_buffer_size(n);
    }
    if let Some(n) = opts.rcvbuf {
        let _ = sock.set_recv_buffer_size(n);
    }
    set_tos(&SockRef::from(&sock), addr.is_ipv6(), opts.tos).map_err(step("IP_TOS"))?;
    if let Some(dev) = &opts.bind_to_device {
        sock.bind_device(Some(dev.as_bytes()))
            .map_err(step("BINDTODEVICE"))?;
    }
    Ok(sock)
}

/// IP_TOS (and IPV6_TCLASS on an IPv6 socket, whose IPv4 peers take IP_TOS); 0 leaves
/// the system's value.
fn set_tos(sock: &SockRef<'_>, v6: bool, tos: u8) -> io::Result<()> {
    if tos == 0 {
        return Ok(());
    }
    if v6 {
        sock.set_tclass_v6(u32::from(tos))?;
        // For IPv4 peers of a dual-stack socket; an IPv6-only kernel may refuse it.
        let _ = sock.set_tos_v4(u32::from(tos));
        Ok(())
    } else {
        sock.set_tos_v4(u32::from(tos))
    }
}

/// What every connection gets, accepted or connected: TCP_NODELAY, keepalive, TCP_MAXRT.
/// Failures are ignored (a peer that already reset its connection makes them fail; its
/// first read says so), and the values were checked when they were set.
fn tune(sock: &SockRef<'_>, opts: &TcpOptions) {
    let _ = sock.set_tcp_nodelay(true);
    if let Some(on) = opts.keepalive {
        let _ = sock.set_keepalive(on);
        if on {
            let mut ka = TcpKeepalive::new();
            if let Some(t) = opts.keepalive_idle {
                ka = ka.with_time(t);
            }
            if let Some(t) = opts.keepalive_intvl {
                ka = ka.with_interval(t);
            }
            if let Some(n) = opts.keepalive_cnt {
                ka = ka.with_retries(n);
            }
            let _ = sock.set_tcp_keepalive(&ka);
        }
    }
    if let Some(t) = opts.maxrt {
        let _ = sock.set_tcp_user_timeout(Some(t));
    }
}

/// A bound TCP listener.
pub(crate) struct TcpListen {
    sock: TcpListener,
    /// The bound address as LAST_ENDPOINT reports it, the real port in place of `*`.
    endpoint: String,
    /// The TCP options as they were at the bind.
    opts: TcpOptions,
}

impl TcpListen {
    pub(crate) fn bind(endpoint: &str, config: &Config) -> Result<TcpListen, TransportError> {
        let ep = BindEndpoint::parse(endpoint)?;
        let opts = config.tcp.clone();
        let addr = local_addr(endpoint, &ep.host, port_number(ep.port), opts.ipv6)?;
        let io_err = |op: &'static str| {
            move |source: io::Error| TransportError::Io {
                op,
                endpoint: endpoint.to_string(),
                source,
            }
        };
        let sock = open(&addr, &opts).map_err(|(op, e)| io_err(op)(e))?;
        sock.set_reuse_address(true)
            .map_err(io_err("SO_REUSEADDR"))?;
        sock.bind(&addr.into())
            .map_err(|source| match source.raw_os_error() {
                Some(libc::EADDRINUSE) => TransportError::AddrInUse {
                    endpoint: endpoint.to_string(),
                    reason: "another socket is bound to that address and port".into(),
                },
                Some(libc::EACCES) => TransportError::PermissionDenied {
                    endpoint: endpoint.to_string(),
                },
                Some(libc::EADDRNOTAVAIL) => TransportError::TcpAddrNotLocal {
                    endpoint: endpoint.to_string(),
                },
                _ => io_err("bind")(source),
            })?;
        sock.listen(config.bind.backlog).map_err(io_err("listen"))?;
        let bound = sock
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .ok_or_else(|| io_err("getsockname")(io::ErrorKind::InvalidData.into()))?;
        Ok(TcpListen {
            sock: TcpListener::from_std(std::net::TcpListener::from(sock)),
            endpoint: endpoint_of(bound),
            opts,
        })
    }
}

impl Listen for TcpListen {
    fn accept(&mut self, _config: &Config) -> io::Result<Accepted> {
        let (stream, addr) = self.sock.accept()?;
        let fd = OwnedFd::from(stream);
        let sock = SockRef::from(&fd);
        tune(&sock, &self.opts);
        // (Accepted sockets inherit the listener's buffer sizes and device.)
        let _ = set_tos(&sock, addr.is_ipv6(), self.opts.tos);
        Ok(Accepted::Link(Link {
            stream: Stream::new(fd),
            peer: None,
            addr: Some(addr),
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
        // Nothing outlives a TCP listener but its descriptor.
    }
}

/// Connects to one TCP endpoint: an address, or a host name resolved when the socket
/// connects (on the caller's thread, before it takes the socket's lock) and again, in the
/// background, at each reconnect (the attempt uses what the last lookup found, so the I/O
/// thread never waits for a lookup).
pub(crate) struct TcpDial {
    /// The address to connect to, shared with a lookup in the background.
    addr: Arc<Mutex<SocketAddr>>,
    /// The name and port to look up again at each reconnect, if the host is a name.
    name: Option<(String, u16)>,
    /// The address to bind before connecting (`SOURCE;`).
    source: Option<SocketAddr>,
    /// The TCP options as they were at the connect.
    opts: TcpOptions,
    /// A lookup is running.
    looking_up: Arc<AtomicBool>,
    /// No attempt was made yet (the lookup at connect is fresh).
    first: bool,
}

/// The address `name` resolves to first: IPv4 only, or with `ipv6` an IPv6 one first (as
/// libzmq resolves with and without its IPV6 option).
fn look_up(name: &str, port: u16, ipv6: bool) -> io::Result<SocketAddr> {
    (name, port)
        .to_socket_addrs()?
        .filter(|a| ipv6 || a.is_ipv4())
        .min_by_key(SocketAddr::is_ipv4)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "the name has no IPv4 address (set the IPV6 option to take IPv6 ones)",
            )
        })
}

impl TcpDial {
    pub(crate) fn new(endpoint: &str, opts: &TcpOptions) -> Result<TcpDial, TransportError> {
        let ep = ConnectEndpoint::parse(endpoint)?;
        let opts = opts.clone();
        let source = match &ep.source {
            Some(src) => Some(local_addr(
                endpoint,
                &src.host,
                port_number(src.port),
                opts.ipv6,
            )?),
            None => None,
        };
        let port = ep.port.get();
        let (addr, name) = match &ep.host {
            Host::Name(name) => {
                let addr = look_up(name, port, opts.ipv6).map_err(|e| {
                    TransportError::TcpHostNotFound {
                        endpoint: endpoint.to_string(),
                        host: name.clone(),
                        reason: e.to_string(),
                    }
                })?;
                (addr, Some((name.clone(), port)))
            }
            // (Never `*`: the parser refuses it on a connect.)
            host => (local_addr(endpoint, host, port, true)?, None),
        };
        Ok(TcpDial {
            addr: Arc::new(Mutex::new(addr)),
            name,
            source,
            opts,
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
        let (addr, busy, ipv6) = (self.addr.clone(), self.looking_up.clone(), self.opts.ipv6);
        let spawned = std::thread::Builder::new()
            .name("zsock-lookup".into())
            .spawn(move || {
                if let Ok(found) = look_up(&name, port, ipv6) {
                    *addr.lock().unwrap_or_else(|p| p.into_inner()) = found;
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
        let addr = *self.addr.lock().unwrap_or_else(|p| p.into_inner());
        // The socket takes the peer's family: with an IPv6 source, an IPv4 peer is reached
        // at its mapped address. (An IPv4 source for an IPv6 peer fails each attempt.)
        let (addr, source) = match (addr, self.source) {
            (SocketAddr::V4(a), Some(SocketAddr::V6(s))) => (
                SocketAddr::new(IpAddr::V6(a.ip().to_ipv6_mapped()), a.port()),
                Some(SocketAddr::V6(s)),
            ),
            (a, s) => (a, s),
        };
        let sock = open(&addr, &self.opts).map_err(|(_, e)| e)?;
        if let Some(src) = source {
            sock.set_reuse_address(true)?;
            sock.bind(&src.into())?;
        }
        tune(&SockRef::from(&sock), &self.opts);
        let connecting = match sock.connect(&addr.into()) {
            Ok(()) => None,
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {
                Some(self.opts.connect_timeout)
            }
            Err(e) => return Err(e),
        };
        Ok(Link {
            stream: Stream::new(OwnedFd::from(sock)),
            peer: None,
            addr: Some(addr),
            connecting,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::transport::Dial;

    fn all_options() -> TcpOptions {
        TcpOptions {
            keepalive: Some(true),
            keepalive_idle: Some(Duration::from_secs(61)),
            keepalive_cnt: Some(7),
            keepalive_intvl: Some(Duration::from_secs(9)),
            maxrt: Some(Duration::from_millis(4321)),
            sndbuf: Some(100_000),
            rcvbuf: Some(120_000),
            tos: 0x28,
            bind_to_device: None,
            ipv6: false,
            connect_timeout: Some(Duration::from_secs(1)),
        }
    }

    fn config(opts: TcpOptions) -> Config {
        let mut c = Config::new(zmtp_codec::SocketType::Pull);
        c.tcp = opts;
        c
    }

    /// Asserts what [`tune`] and [`open`] set, read back from the kernel.
    #[track_caller]
    fn assert_tuned(sock: &SockRef<'_>, o: &TcpOptions, buffers: bool) {
        assert!(sock.tcp_nodelay().unwrap());
        assert!(sock.keepalive().unwrap());
        assert_eq!(
            sock.tcp_keepalive_time().unwrap(),
            o.keepalive_idle.unwrap()
        );
        assert_eq!(
            sock.tcp_keepalive_interval().unwrap(),
            o.keepalive_intvl.unwrap()
        );
        assert_eq!(
            sock.tcp_keepalive_retries().unwrap(),
            o.keepalive_cnt.unwrap()
        );
        assert_eq!(sock.tcp_user_timeout().unwrap(), o.maxrt);
        assert_eq!(sock.tos_v4().unwrap(), u32::from(o.tos));
        if buffers {
            // The kernel doubles what it is given (for its own bookkeeping).
            assert_eq!(sock.send_buffer_size().unwrap(), 2 * o.sndbuf.unwrap());
            assert_eq!(sock.recv_buffer_size().unwrap(), 2 * o.rcvbuf.unwrap());
        }
    }

    /// The options reach the listener, every accepted connection and every connecting
    /// one; defaults leave the system's values alone.
    #[test]
    fn options_reach_the_kernel_on_both_sides() {
        let o = all_options();
        let mut l = TcpListen::bind("tcp://127.0.0.1:*", &config(o.clone())).unwrap();
        let addr: SocketAddr = l.endpoint()["tcp://".len()..].parse().unwrap();
        let lsock = SockRef::from(&l.sock);
        assert!(lsock.reuse_address().unwrap());
        assert_eq!(lsock.send_buffer_size().unwrap(), 2 * o.sndbuf.unwrap());
        let mut d = TcpDial::new(&format!("tcp://{addr}"), &o).unwrap();
        let link = d.dial().unwrap();
        assert_eq!(link.addr, Some(addr));
        if let Some(timeout) = link.connecting {
            assert_eq!(
                timeout, o.connect_timeout,
                "CONNECT_TIMEOUT goes with the attempt"
            );
        }
        assert_tuned(&SockRef::from(&link.stream), &o, true);
        let accepted = loop {
            match l.accept(&config(TcpOptions::default())) {
                Ok(Accepted::Link(link)) => break link,
                Ok(Accepted::Refused(_)) => panic!("refused"),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(1))
                }
                Err(e) => panic!("{e}"),
            }
        };
        // The options as they were at the bind, not the config passed to accept.
        assert_tuned(&SockRef::from(&accepted.stream), &o, false);
        assert!(accepted.addr.is_some_and(|a| a.ip().is_loopback()));
        // Defaults: keepalive as the system has it (off for a new socket), no user timeout.
        let mut d = TcpDial::new(&format!("tcp://{addr}"), &TcpOptions::default()).unwrap();
        let plain = d.dial().unwrap();
        let s = SockRef::from(&plain.stream);
        assert!(s.tcp_nodelay().unwrap());
        assert!(!s.keepalive().unwrap());
        assert_eq!(s.tcp_user_timeout().unwrap(), None);
        assert_eq!(s.tos_v4().unwrap(), 0);
    }

    /// TOS on an IPv6 socket is its traffic class.
    #[test]
    fn tos_on_ipv6_sets_the_traffic_class() {
        let o = TcpOptions {
            tos: 0x48,
            ..TcpOptions::default()
        };
        let l = TcpListen::bind("tcp://[::1]:*", &config(o)).unwrap();
        assert_eq!(SockRef::from(&l.sock).tclass_v6().unwrap(), 0x48);
    }

    /// A lookup that fails at a reconnect leaves the address of the last one.
    #[test]
    fn a_name_that_stops_resolving_keeps_the_last_addresses() {
        let mut d = TcpDial::new("tcp://localhost:5555", &TcpOptions::default()).unwrap();
        let first = *d.addr.lock().unwrap();
        assert!(first.ip().is_loopback(), "{first:?}");
        // The name now fails to resolve: the attempt still uses what was found.
        d.name = Some(("no-such-host.invalid".into(), 5555));
        d.first = false;
        let link = d.dial().unwrap();
        assert_eq!(link.addr, Some(first));
        while d.looking_up.load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(*d.addr.lock().unwrap(), first);
        assert!(d.dial().is_ok());
    }
}
