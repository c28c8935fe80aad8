//! The NULL-mechanism handshake as a sans-IO state machine: greeting exchange, READY
//! exchange, socket-type check, ERROR on a mismatch, and a deadline.
//!
//! The caller owns the socket and the clock: it feeds received bytes to
//! [`Handshake::handle_input`], the current time to [`Handshake::handle_timeout`], sends
//! what [`Handshake::poll_transmit`] appends, and sleeps until [`Handshake::poll_timeout`].

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use crate::command::{Command, Metadata};
use crate::decoder::{Decoder, Item, Limits};
use crate::error::HandshakeError;
use crate::greeting::{Greeting, Mechanism, Version};
use crate::socket_type::SocketType;
use crate::wire;

/// What this side announces and enforces during the handshake.
#[derive(Debug, Clone)]
pub struct HandshakeConfig {
    /// Our socket type, sent as `Socket-Type`.
    pub socket_type: SocketType,
    /// Our routing id, sent as `Identity` by REQ, DEALER and ROUTER (may be empty).
    pub identity: Bytes,
    /// Extra application properties appended to READY.
    pub metadata: Metadata,
    /// How long greeting plus READY may take (`None`: forever).
    pub timeout: Option<Duration>,
    /// Limits while the handshake runs; the command cap bounds READY.
    pub limits: Limits,
}

impl HandshakeConfig {
    /// Defaults for `socket_type`: empty identity, 30 s timeout (libzmq's HANDSHAKE_IVL).
    pub fn new(socket_type: SocketType) -> HandshakeConfig {
        HandshakeConfig {
            socket_type,
            identity: Bytes::new(),
            metadata: Metadata::new(),
            timeout: Some(Duration::from_secs(30)),
            limits: Limits::handshake_default(),
        }
    }
}

/// What we learned about the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// The peer's ZMTP version (at least 3.0).
    pub version: Version,
    /// The peer's socket type; `None` when it sent no `Socket-Type` (libzmq accepts that).
    pub socket_type: Option<SocketType>,
    /// The peer's `Identity` property, when sent.
    pub identity: Option<Bytes>,
    /// Every property of the peer's READY.
    pub metadata: Metadata,
}

/// Output of the handshake besides bytes to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Both READYs exchanged and accepted; traffic may flow.
    Completed(PeerInfo),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    AwaitGreeting,
    AwaitReady,
    Done,
    Failed,
}

/// The NULL handshake of one connection.
#[derive(Debug)]
pub struct Handshake {
    config: HandshakeConfig,
    decoder: Decoder,
    state: State,
    deadline: Option<Instant>,
    version: Option<Version>,
    send_greeting: bool,
    send_ready: bool,
    send_error: Option<Bytes>,
    event: Option<Event>,
}

impl Handshake {
    /// Starts a handshake at `now`; our greeting is ready to send at once.
    pub fn new(config: HandshakeConfig, now: Instant) -> Handshake {
        Handshake {
            deadline: config.timeout.and_then(|t| now.checked_add(t)),
            decoder: Decoder::new(config.limits),
            config,
            state: State::AwaitGreeting,
            version: None,
            send_greeting: true,
            send_ready: false,
            send_error: None,
            event: None,
        }
    }

    /// Starts the handshake's time limit again at `now`: for a transport whose stream was
    /// still being established when the handshake was made (a TCP connect in progress),
    /// the limit counts from the moment the stream is up, as libzmq's does.
    pub fn restart_clock(&mut self, now: Instant) {
        self.deadline = self.config.timeout.and_then(|t| now.checked_add(t));
    }

    /// Whether the handshake completed.
    pub fn is_complete(&self) -> bool {
        self.state == State::Done
    }

    /// Whether the handshake failed; the connection should close once
    /// [`Handshake::poll_transmit`] has nothing left.
    pub fn is_failed(&self) -> bool {
        self.state == State::Failed
    }

    /// The peer's version, once its greeting arrived.
    pub fn peer_version(&self) -> Option<Version> {
        self.version
    }

    /// Consumes bytes from the front of `src`. Stops right after the peer's READY: what
    /// follows it in `src` is traffic, left for the decoder from [`Handshake::into_decoder`].
    pub fn handle_input(&mut self, src: &mut BytesMut) -> Result<(), HandshakeError> {
        while matches!(self.state, State::AwaitGreeting | State::AwaitReady) {
            let item = match self.decoder.decode(src) {
                Ok(Some(item)) => item,
                Ok(None) => return Ok(()),
                Err(e) => return self.fail(e.into()),
            };
            match (self.state, item) {
                (State::AwaitGreeting, Item::Greeting(g)) => self.on_greeting(g)?,
                (_, Item::Command(Command::Ready(md))) => self.on_ready(md)?,
                (_, Item::Command(Command::Error { reason })) => {
                    let reason = String::from_utf8_lossy(&reason).into_owned();
                    return self.fail(HandshakeError::PeerError { reason });
                }
                (_, Item::Command(c)) => {
                    let name = String::from_utf8_lossy(c.name()).into_owned();
                    return self.fail(HandshakeError::UnexpectedCommand { name });
                }
                (_, Item::Frame(_)) => return self.fail(HandshakeError::DataBeforeReady),
                // The decoder yields a greeting only first, in AwaitGreeting.
                (_, Item::Greeting(_)) => return self.fail(HandshakeError::DataBeforeReady),
            }
        }
        Ok(())
    }

    fn on_greeting(&mut self, g: Greeting) -> Result<(), HandshakeError> {
        if g.mechanism != Mechanism::NULL {
            let theirs = g.mechanism.to_string_lossy();
            return self.fail(HandshakeError::MechanismMismatch { theirs });
        }
        // 23/ZMTP: with NULL, "the as-server field SHALL be zero".
        if g.as_server {
            return self.fail(HandshakeError::AsServerWithNull);
        }
        self.version = Some(g.version);
        self.send_ready = true;
        self.state = State::AwaitReady;
        Ok(())
    }

    fn on_ready(&mut self, md: Metadata) -> Result<(), HandshakeError> {
        let ours = self.config.socket_type;
        let socket_type = match md.get(wire::PROP_SOCKET_TYPE) {
            None => None,
            Some(v) => match SocketType::from_name(v) {
                None => {
                    let theirs = String::from_utf8_lossy(v).into_owned();
                    self.send_error =
                        Some(Bytes::from(format!("unknown socket type {theirs:.64}")));
                    return self.fail(HandshakeError::UnknownSocketType { theirs });
                }
                Some(theirs) if !ours.is_compatible(theirs) => {
                    // 37/ZMTP: a peer that sees an invalid socket type "SHOULD send an
                    // ERROR command and then disconnect". libzmq closes silently.
                    self.send_error = Some(Bytes::from(format!(
                        "socket type {theirs} cannot connect to {ours}"
                    )));
                    return self.fail(HandshakeError::IncompatibleSocketType { ours, theirs });
                }
                Some(t) => Some(t),
            },
        };
        let identity = md.get(wire::PROP_IDENTITY).cloned();
        if let Some(id) = &identity {
            if id.len() > 255 {
                return self.fail(HandshakeError::IdentityTooLong { len: id.len() });
            }
        }
        self.state = State::Done;
        self.event = Some(Event::Completed(PeerInfo {
            // Set in on_greeting, which always runs before READY can be decoded.
            version: self.version.unwrap_or(Version::V3_0),
            socket_type,
            identity,
            metadata: md,
        }));
        Ok(())
    }

    fn fail(&mut self, e: HandshakeError) -> Result<(), HandshakeError> {
        // A READY already queued still goes out (then ERROR, if any): the peer learns our
        // type either way, and nothing else is sent after a failure.
        self.state = State::Failed;
        Err(e)
    }

    /// Fails the handshake once `now` passes the deadline.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), HandshakeError> {
        match (self.state, self.deadline) {
            (State::AwaitGreeting | State::AwaitReady, Some(d)) if now >= d => {
                self.fail(HandshakeError::Timeout)
            }
            _ => Ok(()),
        }
    }

    /// When [`Handshake::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::AwaitGreeting | State::AwaitReady => self.deadline,
            State::Done | State::Failed => None,
        }
    }

    /// Appends the bytes to send now (greeting, READY, ERROR), if any.
    pub fn poll_transmit(&mut self, buf: &mut BytesMut) {
        if std::mem::take(&mut self.send_greeting) {
            Greeting::ours().encode(buf);
        }
        if std::mem::take(&mut self.send_ready) {
            let mut md = Metadata::new().with(
                Bytes::from_static(wire::PROP_SOCKET_TYPE.as_bytes()),
                Bytes::from_static(self.config.socket_type.name().as_bytes()),
            );
            if self.config.socket_type.sends_identity() {
                md.push(
                    Bytes::from_static(wire::PROP_IDENTITY.as_bytes()),
                    self.config.identity.clone(),
                );
            }
            for (n, v) in self.config.metadata.iter() {
                md.push(n.clone(), v.clone());
            }
            Command::Ready(md).encode(buf);
        }
        if let Some(reason) = self.send_error.take() {
            Command::Error { reason }.encode(buf);
        }
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.event.take()
    }

    /// The decoder, positioned after the peer's READY, to carry on with traffic.
    pub fn into_decoder(self) -> Decoder {
        self.decoder
    }
}
