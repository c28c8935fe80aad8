//! The handshake as a sans-IO state machine: greeting exchange, the mechanism's commands
//! (NULL's READY; PLAIN's HELLO, WELCOME, INITIATE and READY), authentication through the
//! caller's authenticator, socket-type check, ERROR on a mismatch or a refusal, and a
//! deadline.
//!
//! The caller owns the socket and the clock: it feeds received bytes to
//! [`Handshake::handle_input`], the current time to [`Handshake::handle_timeout`], sends
//! what [`Handshake::poll_transmit`] appends, and sleeps until [`Handshake::poll_timeout`].

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use crate::command::{Command, Metadata};
use crate::curve::{self, ClientHandshake, CurveSession, ServerHandshake};
use crate::decoder::{Decoder, Item, Limits};
use crate::error::{CommandError, DecodeError, HandshakeError};
use crate::greeting::{Greeting, Version};
use crate::security::{self, Security, ZapError, ZapReply, ZapRequest, ZapStatus};
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
    /// Our mechanism and role.
    pub security: Security,
    /// ZAP_DOMAIN: sent in authentication requests; with NULL, a non-empty domain makes
    /// this side authenticate its peer (libzmq's rule).
    pub zap_domain: Bytes,
    /// ZAP_ENFORCE_DOMAIN: a NULL side with a domain, or a CURVE server, fails the
    /// handshake when no authenticator is available instead of admitting the peer.
    pub zap_enforce_domain: bool,
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
            security: Security::Null,
            zap_domain: Bytes::new(),
            zap_enforce_domain: false,
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
    /// Every property of the peer's READY (or, for a PLAIN client, its INITIATE).
    pub metadata: Metadata,
    /// The user id our authenticator gave the peer (libzmq's `User-Id` property); `None`
    /// when no authenticator was asked.
    pub user_id: Option<Bytes>,
    /// The properties our authenticator attached to the peer.
    pub zap_metadata: Metadata,
}

/// Output of the handshake besides bytes to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The peer must be authenticated: ask the authenticator (filling in
    /// [`ZapRequest::address`]) and pass its answer to [`Handshake::authenticated`], or
    /// call [`Handshake::no_authenticator`]. The handshake waits meanwhile.
    Authenticate(ZapRequest),
    /// Both sides' last handshake commands exchanged and accepted; traffic may flow.
    Completed(PeerInfo),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    AwaitGreeting,
    /// The peer's READY (NULL; a PLAIN client after its INITIATE).
    AwaitReady,
    /// A PLAIN client's HELLO went; the server's WELCOME.
    AwaitWelcome,
    /// A PLAIN server: the client's HELLO.
    AwaitHello,
    /// The authenticator's answer; input waits in the caller's buffer.
    AwaitZap,
    /// A PLAIN server admitted the client: its INITIATE.
    AwaitInitiate,
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
    /// Our last handshake command is due: READY (NULL, PLAIN server) or INITIATE (PLAIN
    /// client); both carry our metadata.
    send_ready: bool,
    /// A mechanism command is due, with its body: PLAIN's HELLO and WELCOME, CURVE's
    /// commands.
    send_cmd: Option<(&'static [u8], Bytes)>,
    send_error: Option<Bytes>,
    event: Option<Event>,
    /// What the authenticator said, kept for the peer's info.
    zap: Option<ZapReply>,
    /// The peer's checked metadata, until the handshake completes.
    peer_metadata: Option<Metadata>,
    /// CURVE's handshake state (boxed: NULL and PLAIN connections do not carry it).
    curve: Option<Box<CurveSide>>,
    /// CURVE's traffic keys, once the handshake completed.
    session: Option<CurveSession>,
}

/// One side of a CURVE handshake.
enum CurveSide {
    Client(ClientHandshake),
    Server(ServerHandshake),
}

impl std::fmt::Debug for CurveSide {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CurveSide::Client(_) => "CurveSide::Client",
            CurveSide::Server(_) => "CurveSide::Server",
        })
    }
}

impl Handshake {
    /// Starts a handshake at `now`; our greeting is ready to send at once.
    pub fn new(config: HandshakeConfig, now: Instant) -> Handshake {
        let curve = match &config.security {
            Security::CurveClient {
                server,
                public,
                secret,
            } => Some(Box::new(CurveSide::Client(ClientHandshake::new(
                *server,
                public.unwrap_or_else(|| secret.public_key()),
                secret.clone(),
            )))),
            Security::CurveServer { secret } => {
                Some(Box::new(CurveSide::Server(ServerHandshake::new(secret))))
            }
            _ => None,
        };
        // No data frame may come before the handshake completes: one is refused from its
        // header, not buffered whole first (traffic's limits replace these in
        // `into_decoder`'s caller).
        let mut limits = config.limits;
        limits.max_message_size = Some(0); // (data frames only: commands have their own cap)
        let mut decoder = Decoder::new(limits);
        // CURVE's READY holds a box, not properties.
        decoder.set_raw_commands(curve.is_some());
        Handshake {
            curve,
            session: None,
            deadline: config.timeout.and_then(|t| now.checked_add(t)),
            decoder,
            config,
            state: State::AwaitGreeting,
            version: None,
            send_greeting: true,
            send_ready: false,
            send_cmd: None,
            send_error: None,
            event: None,
            zap: None,
            peer_metadata: None,
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

    /// Whether this is a CURVE client whose HELLO has had no WELCOME yet: the point where
    /// a server that cannot open the HELLO (it was sealed for another server key) closes
    /// without a word, as 26/CurveZMQ has it.
    pub fn awaits_curve_welcome(&self) -> bool {
        self.state == State::AwaitWelcome
            && matches!(self.curve.as_deref(), Some(CurveSide::Client(_)))
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

    /// Consumes bytes from the front of `src`. Stops right after the peer's last
    /// handshake command (what follows it in `src` is traffic, left for the decoder from
    /// [`Handshake::into_decoder`]) and while an authentication is pending.
    pub fn handle_input(&mut self, src: &mut BytesMut) -> Result<(), HandshakeError> {
        while self.reads_input() {
            let item = match self.decoder.decode(src) {
                Ok(Some(item)) => item,
                Ok(None) => return Ok(()),
                // A data frame with a body (an empty one decodes, and is refused below).
                Err(DecodeError::MessageTooLarge { limit: 0, .. }) => {
                    return self.fail(HandshakeError::DataBeforeReady)
                }
                Err(e) => return self.fail(e.into()),
            };
            let command = match (self.state, item) {
                (State::AwaitGreeting, Item::Greeting(g)) => {
                    self.on_greeting(g)?;
                    continue;
                }
                (_, Item::Command(c)) => c,
                (_, Item::Frame(_)) => return self.fail(HandshakeError::DataBeforeReady),
                // The decoder yields a greeting only first, in AwaitGreeting.
                (_, Item::Greeting(_)) => return self.fail(HandshakeError::DataBeforeReady),
            };
            match (self.state, command) {
                (State::AwaitReady, Command::Ready(md)) => {
                    self.on_peer_metadata(md)?;
                    self.state = State::Done;
                    self.complete();
                }
                (_, Command::Error { reason }) => return self.on_error(reason),
                (State::AwaitWelcome, Command::Unknown { name, body })
                    if name == security::CMD_WELCOME && self.curve.is_some() =>
                {
                    self.curve_welcome(&body)?;
                }
                (State::AwaitHello, Command::Unknown { name, body })
                    if name == security::CMD_HELLO && self.curve.is_some() =>
                {
                    self.curve_hello(&body)?;
                }
                (State::AwaitInitiate, Command::Unknown { name, body })
                    if name == security::CMD_INITIATE && self.curve.is_some() =>
                {
                    self.curve_initiate(&body)?;
                }
                (State::AwaitReady, Command::Unknown { name, body })
                    if name == wire::CMD_READY && self.curve.is_some() =>
                {
                    self.curve_ready(&body)?;
                }
                (State::AwaitWelcome, Command::Unknown { name, body })
                    if name == security::CMD_WELCOME =>
                {
                    if !body.is_empty() {
                        return self.malformed("WELCOME");
                    }
                    self.send_ready = true; // INITIATE
                    self.state = State::AwaitReady;
                }
                (State::AwaitHello, Command::Unknown { name, body })
                    if name == security::CMD_HELLO =>
                {
                    let Some((username, password)) = security::parse_plain_hello(&body) else {
                        return self.malformed("HELLO");
                    };
                    self.ask(vec![username, password]);
                }
                (State::AwaitInitiate, Command::Unknown { name, body })
                    if name == security::CMD_INITIATE =>
                {
                    let md = match Metadata::parse(body) {
                        Ok(md) => md,
                        Err(e) => {
                            return self.fail(HandshakeError::Decode(DecodeError::BadCommand {
                                name: "INITIATE".into(),
                                error: CommandError::Metadata(e),
                            }))
                        }
                    };
                    self.on_peer_metadata(md)?;
                    self.send_ready = true;
                    self.state = State::Done;
                    self.complete();
                }
                // Only a client sends HELLO: a client that gets one talks to a client.
                (State::AwaitWelcome, c) if c.name() == security::CMD_HELLO => {
                    let mechanism = self.config.security.mechanism().to_string_lossy();
                    return self.fail(HandshakeError::BothClients { mechanism });
                }
                (_, c) => {
                    let name = String::from_utf8_lossy(c.name()).into_owned();
                    return self.fail(HandshakeError::UnexpectedCommand { name });
                }
            }
        }
        Ok(())
    }

    // ----- CURVE -----

    fn curve_failed(&mut self, e: curve::CurveError) -> Result<(), HandshakeError> {
        self.fail(HandshakeError::Curve(e))
    }

    fn curve_hello(&mut self, body: &[u8]) -> Result<(), HandshakeError> {
        let Some(CurveSide::Server(server)) = self.curve.as_deref_mut() else {
            return self.malformed("HELLO");
        };
        if let Err(e) = server.hello(body) {
            return self.curve_failed(e);
        }
        self.send_cmd = Some((security::CMD_WELCOME, server.welcome()));
        self.state = State::AwaitInitiate;
        Ok(())
    }

    fn curve_welcome(&mut self, body: &[u8]) -> Result<(), HandshakeError> {
        let md = curve::metadata_bytes(&self.our_metadata());
        let Some(CurveSide::Client(client)) = self.curve.as_deref_mut() else {
            return self.malformed("WELCOME");
        };
        if let Err(e) = client.welcome(body) {
            return self.curve_failed(e);
        }
        self.send_cmd = Some((security::CMD_INITIATE, client.initiate(&md)));
        self.state = State::AwaitReady;
        Ok(())
    }

    fn curve_initiate(&mut self, body: &[u8]) -> Result<(), HandshakeError> {
        let Some(CurveSide::Server(server)) = self.curve.as_deref_mut() else {
            return self.malformed("INITIATE");
        };
        let md = match server.initiate(body) {
            Ok(md) => md,
            Err(e) => return self.curve_failed(e),
        };
        let client = Bytes::copy_from_slice(&server.client);
        let md = self.peer_properties("INITIATE", md)?;
        self.on_peer_metadata(md)?;
        self.ask(vec![client]);
        Ok(())
    }

    fn curve_ready(&mut self, body: &[u8]) -> Result<(), HandshakeError> {
        let Some(CurveSide::Client(client)) = self.curve.as_deref_mut() else {
            return self.malformed("READY");
        };
        let (md, session) = match client.ready(body) {
            Ok(r) => r,
            Err(e) => return self.curve_failed(e),
        };
        let md = self.peer_properties("READY", md)?;
        self.on_peer_metadata(md)?;
        self.session = Some(session);
        self.state = State::Done;
        self.complete();
        Ok(())
    }

    /// Parses properties that came inside a command's box.
    fn peer_properties(&mut self, name: &str, bytes: Bytes) -> Result<Metadata, HandshakeError> {
        match Metadata::parse(bytes) {
            Ok(md) => Ok(md),
            Err(e) => {
                let e = HandshakeError::Decode(DecodeError::BadCommand {
                    name: name.into(),
                    error: CommandError::Metadata(e),
                });
                self.state = State::Failed;
                Err(e)
            }
        }
    }

    fn reads_input(&self) -> bool {
        matches!(
            self.state,
            State::AwaitGreeting
                | State::AwaitReady
                | State::AwaitWelcome
                | State::AwaitHello
                | State::AwaitInitiate
        )
    }

    fn on_greeting(&mut self, g: Greeting) -> Result<(), HandshakeError> {
        let ours = self.config.security.mechanism();
        if g.mechanism != ours {
            return self.fail(HandshakeError::MechanismMismatch {
                ours: ours.to_string_lossy(),
                theirs: g.mechanism.to_string_lossy(),
            });
        }
        self.version = Some(g.version);
        match self.config.security {
            Security::Null => {
                // 23/ZMTP: with NULL, "the as-server field SHALL be zero".
                if g.as_server {
                    return self.fail(HandshakeError::AsServerWithNull);
                }
                if self.config.zap_domain.is_empty() {
                    self.send_ready = true;
                    self.state = State::AwaitReady;
                } else {
                    // libzmq: a NULL side with a ZAP domain authenticates its peer before
                    // it sends READY.
                    self.ask(Vec::new());
                }
            }
            Security::PlainClient { .. } | Security::PlainServer => {
                // libzmq 4.3 leaves as-server zero in every greeting, so only a peer
                // that claims the server role too is caught here; two clients fail at the
                // first HELLO.
                let server = self.config.security.as_server();
                if g.as_server && server {
                    return self.fail(HandshakeError::RoleMismatch {
                        mechanism: ours.to_string_lossy(),
                    });
                }
                if server {
                    self.state = State::AwaitHello;
                } else {
                    let body = match &self.config.security {
                        Security::PlainClient { username, password } => {
                            security::plain_hello_body(username, password)
                        }
                        _ => Bytes::new(),
                    };
                    self.send_cmd = Some((security::CMD_HELLO, body));
                    self.state = State::AwaitWelcome;
                }
            }
            Security::CurveClient { .. } | Security::CurveServer { .. } => {
                if g.as_server && self.config.security.as_server() {
                    return self.fail(HandshakeError::RoleMismatch {
                        mechanism: ours.to_string_lossy(),
                    });
                }
                match self.curve.as_deref_mut() {
                    Some(CurveSide::Client(c)) => {
                        self.send_cmd = Some((security::CMD_HELLO, c.hello()));
                        self.state = State::AwaitWelcome;
                    }
                    _ => self.state = State::AwaitHello,
                }
            }
        }
        Ok(())
    }

    /// Asks the caller to authenticate the peer with these credentials.
    fn ask(&mut self, credentials: Vec<Bytes>) {
        self.event = Some(Event::Authenticate(ZapRequest {
            domain: self.config.zap_domain.clone(),
            address: Bytes::new(),
            identity: self.config.identity.clone(),
            mechanism: self.config.security.mechanism(),
            credentials,
        }));
        self.state = State::AwaitZap;
    }

    /// The authenticator's answer to [`Event::Authenticate`]. A refusal fails the
    /// handshake with [`HandshakeError::Refused`]: an ERROR carrying the status code is
    /// queued for the peer, except for a temporary failure (300), after which the
    /// connection just closes (27/ZAP, as libzmq does).
    pub fn authenticated(&mut self, reply: ZapReply) -> Result<(), HandshakeError> {
        if self.state != State::AwaitZap {
            return Ok(());
        }
        if reply.status != ZapStatus::Success {
            if reply.status != ZapStatus::TemporaryFailure {
                self.send_error = Some(Bytes::from_static(reply.status.as_bytes()));
            }
            let text = String::from_utf8_lossy(&reply.text).into_owned();
            return self.fail(HandshakeError::Refused {
                status: reply.status,
                text,
            });
        }
        self.zap = Some(reply);
        self.admitted()
    }

    /// No authenticator answers [`Event::Authenticate`]: PLAIN fails (it is pointless
    /// without one, as in libzmq), NULL admits the peer unless ZAP_ENFORCE_DOMAIN is set.
    pub fn no_authenticator(&mut self) -> Result<(), HandshakeError> {
        if self.state != State::AwaitZap {
            return Ok(());
        }
        let enforced = match self.config.security {
            // libzmq: CURVE without a handler admits every client that knows the server
            // key, unless the domain is enforced.
            Security::Null | Security::CurveClient { .. } | Security::CurveServer { .. } => {
                self.config.zap_enforce_domain
            }
            Security::PlainClient { .. } | Security::PlainServer => true,
        };
        if enforced {
            let mechanism = self.config.security.mechanism().to_string_lossy();
            return self.fail(HandshakeError::NoAuthenticator { mechanism });
        }
        self.admitted()
    }

    /// The authenticator's answer could not be used (a ZAP handler's malformed reply):
    /// the handshake fails and the connection closes.
    pub fn authentication_failed(&mut self, error: ZapError) -> Result<(), HandshakeError> {
        if self.state != State::AwaitZap {
            return Ok(());
        }
        self.fail(HandshakeError::Zap(error))
    }

    fn admitted(&mut self) -> Result<(), HandshakeError> {
        match self.config.security {
            Security::Null => {
                self.send_ready = true;
                self.state = State::AwaitReady;
            }
            Security::PlainServer => {
                self.send_cmd = Some((security::CMD_WELCOME, Bytes::new()));
                self.state = State::AwaitInitiate;
            }
            Security::CurveServer { .. } => {
                let md = self.our_metadata();
                if let Some(CurveSide::Server(server)) = self.curve.as_deref_mut() {
                    let (body, session) = server.ready(&curve::metadata_bytes(&md));
                    self.send_cmd = Some((wire::CMD_READY, body));
                    self.session = session;
                }
                if self.session.is_none() {
                    // (Unreachable: INITIATE made the keys.) Never traffic without them.
                    return self.malformed("INITIATE");
                }
                self.state = State::Done;
                self.complete();
            }
            // A client never asks.
            Security::PlainClient { .. } | Security::CurveClient { .. } => {}
        }
        Ok(())
    }

    fn on_error(&mut self, reason: Bytes) -> Result<(), HandshakeError> {
        // A side whose authenticator refused us puts the ZAP status code in its ERROR
        // (libzmq reads such a reason as an authentication failure with any mechanism).
        if let Some(status) = ZapStatus::from_bytes(&reason) {
            return self.fail(HandshakeError::AuthFailed { status });
        }
        let reason = String::from_utf8_lossy(&reason).into_owned();
        self.fail(HandshakeError::PeerError { reason })
    }

    fn malformed(&mut self, name: &str) -> Result<(), HandshakeError> {
        self.fail(HandshakeError::MalformedCommand { name: name.into() })
    }

    fn complete(&mut self) {
        let Some(md) = self.peer_metadata.take() else {
            return;
        };
        // What the connection keeps of the handshake, copied out of the buffer it was
        // read into (the identity on its own: a ROUTER hands it out with every message).
        let md = md.detached();
        let identity = md
            .get(wire::PROP_IDENTITY)
            .map(|id| Bytes::copy_from_slice(id));
        let socket_type = md
            .get(wire::PROP_SOCKET_TYPE)
            .and_then(|v| SocketType::from_name(v));
        let (user_id, zap_metadata) = match self.zap.take() {
            Some(z) => (Some(z.user_id), z.metadata),
            None => (None, Metadata::new()),
        };
        self.event = Some(Event::Completed(PeerInfo {
            // Set in on_greeting, which always runs before any command can be decoded.
            version: self.version.unwrap_or(Version::V3_0),
            socket_type,
            identity,
            metadata: md,
            user_id,
            zap_metadata,
        }));
    }

    /// Checks the peer's metadata (its READY or INITIATE): socket type and identity.
    fn on_peer_metadata(&mut self, md: Metadata) -> Result<(), HandshakeError> {
        let ours = self.config.socket_type;
        if let Some(v) = md.get(wire::PROP_SOCKET_TYPE) {
            match SocketType::from_name(v) {
                None => {
                    // (The value may be tens of KiB: the error, which monitors keep,
                    // carries its start only.)
                    let theirs = peer_text(v, PEER_TEXT_MAX);
                    self.send_error = Some(Bytes::from(format!("unknown socket type {theirs}")));
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
                Some(_) => {}
            }
        }
        if let Some(id) = md.get(wire::PROP_IDENTITY) {
            if id.len() > 255 {
                let len = id.len();
                return self.fail(HandshakeError::IdentityTooLong { len });
            }
        }
        self.peer_metadata = Some(md);
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
            (State::Done | State::Failed, _) | (_, None) => Ok(()),
            (_, Some(d)) if now >= d => self.fail(HandshakeError::Timeout),
            _ => Ok(()),
        }
    }

    /// When [`Handshake::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Done | State::Failed => None,
            _ => self.deadline,
        }
    }

    /// Appends the bytes to send now (greeting, the mechanism's commands, ERROR), if any.
    pub fn poll_transmit(&mut self, buf: &mut BytesMut) {
        if std::mem::take(&mut self.send_greeting) {
            Greeting {
                version: Version::V3_1,
                mechanism: self.config.security.mechanism(),
                as_server: self.config.security.as_server(),
            }
            .encode(buf);
        }
        if let Some((name, body)) = self.send_cmd.take() {
            Command::Unknown {
                name: Bytes::from_static(name),
                body,
            }
            .encode(buf);
        }
        if std::mem::take(&mut self.send_ready) {
            let md = self.our_metadata();
            match self.config.security {
                Security::PlainClient { .. } => {
                    let mut body = BytesMut::with_capacity(md.encoded_len());
                    md.encode(&mut body);
                    Command::Unknown {
                        name: Bytes::from_static(security::CMD_INITIATE),
                        body: body.freeze(),
                    }
                    .encode(buf);
                }
                Security::Null | Security::PlainServer => Command::Ready(md).encode(buf),
                // CURVE's commands go through `send_cmd`, boxed.
                Security::CurveClient { .. } | Security::CurveServer { .. } => {}
            }
        }
        if let Some(reason) = self.send_error.take() {
            if self.config.security == Security::PlainServer {
                // The form libzmq's PLAIN clients read (see `wire::LIBZMQ_PLAIN_ERROR`).
                Command::encode_libzmq_plain_error(&reason, buf);
            } else {
                Command::Error { reason }.encode(buf);
            }
        }
    }

    fn our_metadata(&self) -> Metadata {
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
        md
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.event.take()
    }

    /// CURVE's traffic keys, once the handshake completed: every frame after the
    /// handshake is sealed and opened with them. `None` for NULL and PLAIN.
    pub fn take_curve_session(&mut self) -> Option<CurveSession> {
        self.session.take()
    }

    /// The decoder, positioned after the peer's READY, to carry on with traffic.
    pub fn into_decoder(mut self) -> Decoder {
        self.decoder.set_raw_commands(false);
        self.decoder.set_limits(self.config.limits); // data frames are welcome now
        self.decoder
    }
}

/// The most characters of a peer's choosing an error carries: errors go to monitors, which
/// keep thousands of events, and a value in a READY may be tens of KiB.
const PEER_TEXT_MAX: usize = 64;

/// `bytes` from a peer as text for an error: lossily decoded, cut after `max` characters
/// (marked with `...`).
fn peer_text(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.into_owned(),
    }
}
