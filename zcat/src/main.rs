//! `zcat`: netcat for ZeroMQ sockets over `ipc://` and `tcp://`, and the built-in proxy.
//!
//! ```text
//! zcat TYPE [--bind EP]... [--connect EP]... [options]
//! zcat proxy FRONT_TYPE BACK_TYPE [--front-bind EP]... [--back-bind EP]... [--print]
//! ```
//! Messages are text lines; frames are separated by TAB; a frame that is not printable
//! UTF-8 is written as `0x` + hex, and an input frame `0x<hex>` is read as bytes.

use std::io::BufRead;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::ExitCode;
use std::sync::mpsc;

use zsock::{
    Context, Events, Flags, Message, Socket, SocketOption, SocketType, ZapReply, ZapRequest,
    ZapStatus,
};

mod printer;
mod proxy;
mod text;

use printer::Printer;

const USAGE: &str = "usage: zcat TYPE [--bind EP]... [--connect EP]... [options]
       zcat proxy FRONT_TYPE BACK_TYPE [--front-bind EP]... [--back-bind EP]... [--print]
                  (see zcat proxy --help)
       zcat keygen    print a fresh CURVE key pair: `PUBLIC SECRET` (Z85)
  TYPE                pair pub sub xpub xsub req rep dealer router push pull
  --bind EP           bind to an ipc:// or tcp:// endpoint (repeatable); prints `bound EP`
                      on stderr, with the real path or port for a wildcard
  --connect EP        connect to an ipc:// or tcp:// endpoint (repeatable)
  --subscribe TOPIC   sub/xsub: subscribe (repeatable; none given: everything)
  --count N           exit 0 after N messages sent (push, pub), replies sent (rep), or
                      messages received (every other type)
  --echo              rep/router/dealer/pair: send every received message back unchanged
  --wait-subscribers N
                      pub: hold stdin's lines until N subscriptions have arrived (two
                      subscribers to one topic count as two), then send them
  --plain USER:PASS   be a PLAIN client with these credentials
  --plain-server USER:PASS
                      be a PLAIN server admitting these credentials (repeatable; the
                      peer's user id is USER); other clients are refused
  --curve-server SECRET
                      be a CURVE server with this secret key (Z85)
  --curve-serverkey PUBLIC
                      be a CURVE client of the server with this public key (Z85), with
                      --curve-secret's key pair or a fresh one
  --curve-secret SECRET
                      a CURVE client's own secret key (Z85)
  --curve-allow PUBLIC
                      a CURVE server admits only clients with these public keys
                      (repeatable; none given: every client that knows the server key)
  --OPTION VALUE      any socket option by its libzmq name, e.g. --sndhwm 10, --linger 0,
                      --routing-id me, --reconnect-ivl 50, --heartbeat-ivl 1000,
                      --maxmsgsize 65536, --mode 600, --filter-uid 1000, --exclusive-bind
Messages: one per line, frames separated by TAB, `0x<hex>` for binary frames.
At the end of input zcat exits once what it queued is sent: --linger MS bounds that wait
(0: none), SIGINT or SIGTERM ends it at once. A failed handshake (refused credentials or
keys, a peer of the wrong type) is told on stderr, once per endpoint and reason; zcat
exits 1, without waiting for its queued lines, if a peer it connected to refused its
credentials or key.";

/// Boolean options that may be given without a value.
const FLAG_OPTIONS: &[&str] = &[
    "exclusive-bind",
    "router-mandatory",
    "router-handover",
    "req-relaxed",
    "req-correlate",
    "xpub-verbose",
    "xpub-nodrop",
    "conflate",
    "immediate",
];

struct Args {
    ty: SocketType,
    binds: Vec<String>,
    connects: Vec<String>,
    subscribe: Vec<String>,
    count: Option<u64>,
    echo: bool,
    /// pub: subscriptions to wait for before sending stdin's lines.
    wait_subscribers: Option<u64>,
    /// `--plain-server`: the credentials a PLAIN server admits.
    plain_users: Vec<(String, String)>,
    /// `--curve-allow`: the client keys a CURVE server admits (none: any).
    curve_allow: Vec<Vec<u8>>,
    /// `--curve-serverkey` without `--curve-secret`: the client makes its own key pair.
    curve_client_needs_secret: bool,
    curve_secret_given: bool,
    options: Vec<SocketOption>,
}

fn parse_type(s: &str) -> Option<SocketType> {
    SocketType::ALL
        .into_iter()
        .find(|t| t.name().eq_ignore_ascii_case(s))
}

fn parse_args(argv: &[String]) -> Result<Args, String> {
    let mut it = argv.iter().peekable();
    let ty = it.next().ok_or("missing socket TYPE")?;
    if ty == "--help" || ty == "-h" {
        return Err(String::new());
    }
    let ty = parse_type(ty).ok_or_else(|| format!("unknown socket type `{ty}`"))?;
    let mut a = Args {
        ty,
        binds: Vec::new(),
        connects: Vec::new(),
        subscribe: Vec::new(),
        count: None,
        echo: false,
        wait_subscribers: None,
        plain_users: Vec::new(),
        curve_allow: Vec::new(),
        curve_client_needs_secret: false,
        curve_secret_given: false,
        options: Vec::new(),
    };
    while let Some(arg) = it.next() {
        let Some(name) = arg.strip_prefix("--") else {
            return Err(format!("unexpected argument `{arg}`"));
        };
        let (name, inline) = match name.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (name, None),
        };
        let mut value = |what: &str| -> Result<String, String> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => it
                    .next()
                    .cloned()
                    .ok_or_else(|| format!("--{name} needs {what}")),
            }
        };
        match name {
            "bind" => a.binds.push(value("an endpoint")?),
            "connect" => a.connects.push(value("an endpoint")?),
            "subscribe" => a.subscribe.push(value("a topic")?),
            "count" => a.count = Some(number("count", &value("a number")?)?),
            "wait-subscribers" => {
                a.wait_subscribers = Some(number("wait-subscribers", &value("a number")?)?);
            }
            "echo" => a.echo = true,
            "plain" => {
                let (user, pass) = credentials("plain", &value("USER:PASS")?)?;
                a.options.push(SocketOption::PlainUsername(user.into()));
                a.options.push(SocketOption::PlainPassword(pass.into()));
            }
            "curve-server" => {
                let secret = curve_key("curve-server", &value("a secret key")?)?;
                a.options.push(SocketOption::CurveServer(true));
                a.options.push(SocketOption::CurveSecretKey(secret.into()));
            }
            "curve-serverkey" => {
                let public = curve_key("curve-serverkey", &value("a public key")?)?;
                a.options.push(SocketOption::CurveServerKey(public.into()));
                a.curve_client_needs_secret = true;
            }
            "curve-secret" => {
                let secret = curve_key("curve-secret", &value("a secret key")?)?;
                a.options.push(SocketOption::CurveSecretKey(secret.into()));
                a.curve_secret_given = true;
            }
            "curve-allow" => {
                let public = curve_key("curve-allow", &value("a public key")?)?;
                a.curve_allow
                    .push(zsock::z85_decode(&public).unwrap_or_default());
            }
            "plain-server" => {
                a.plain_users
                    .push(credentials("plain-server", &value("USER:PASS")?)?);
            }
            "help" => return Err(String::new()),
            opt => {
                let v = if FLAG_OPTIONS.contains(&opt) && inline.is_none() {
                    match it.peek() {
                        Some(next) if !next.starts_with("--") => {
                            it.next().cloned().unwrap_or_default()
                        }
                        _ => "1".to_string(),
                    }
                } else {
                    value("a value")?
                };
                a.options
                    .push(SocketOption::parse(opt, &v).map_err(|e| e.to_string())?);
            }
        }
    }
    if a.binds.is_empty() && a.connects.is_empty() {
        return Err("give at least one --bind or --connect".into());
    }
    if a.wait_subscribers.is_some() && a.ty != SocketType::Pub {
        return Err("--wait-subscribers is for pub only".into());
    }
    if a.curve_client_needs_secret && !a.curve_secret_given {
        // A client without --curve-secret uses a fresh key pair.
        let pair = zsock::curve_keypair();
        a.options.push(SocketOption::CurveSecretKey(
            pair.secret.as_bytes().to_vec().into(),
        ));
    }
    Ok(a)
}

/// A Z85 key given on the command line: 40 characters.
fn curve_key(name: &str, v: &str) -> Result<String, String> {
    match zsock::z85_decode(v) {
        Some(k) if k.len() == 32 => Ok(v.to_string()),
        _ => Err(format!(
            "--{name} takes a key of 40 Z85 characters (see `zcat keygen`), not `{v}`"
        )),
    }
}

/// `USER:PASS` (the password may hold colons; the user name may not).
fn credentials(name: &str, v: &str) -> Result<(String, String), String> {
    match v.split_once(':') {
        Some((user, pass)) if !user.is_empty() => Ok((user.to_string(), pass.to_string())),
        _ => Err(format!("--{name} takes USER:PASS, not `{v}`")),
    }
}

/// The value of `--NAME` as a count.
fn number(name: &str, v: &str) -> Result<u64, String> {
    v.parse()
        .map_err(|_| format!("--{name}: `{v}` is not a number"))
}

impl Args {
    /// The socket to create: an XPUB, which receives the subscriptions, for a pub that waits
    /// for subscribers (it sends as a PUB does); else the type asked for.
    fn socket_type(&self) -> SocketType {
        if self.wait_subscribers.is_some() {
            SocketType::XPub
        } else {
            self.ty
        }
    }
}

/// What the type does with stdin and with received messages.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// push, pub: stdin lines out.
    Sender,
    /// pull, sub, xsub: received messages printed.
    Receiver,
    /// req: each line is a request, then its reply is printed.
    Requester,
    /// rep: each request printed, answered by the next line (or echoed).
    Replier,
    /// pair, dealer, router, xpub: both directions.
    Both,
}

fn role(t: SocketType) -> Role {
    match t {
        SocketType::Push | SocketType::Pub => Role::Sender,
        SocketType::Pull | SocketType::Sub | SocketType::XSub => Role::Receiver,
        SocketType::Req => Role::Requester,
        SocketType::Rep => Role::Replier,
        SocketType::Pair | SocketType::Dealer | SocketType::Router | SocketType::XPub => Role::Both,
    }
}

/// SIGINT and SIGTERM as a readable descriptor (signalfd), blocked for normal delivery.
fn signal_fd() -> std::io::Result<OwnedFd> {
    // SAFETY: sigset manipulation on a local, zero-initialised set; pthread_sigmask and
    // signalfd with valid pointers. Done before any thread starts, so every thread
    // inherits the mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        let fd = libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

/// A pipe whose read end becomes readable when the stdin thread has a line (or EOF).
pub(crate) fn wake_pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fresh descriptors owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

pub(crate) fn drain(fd: &OwnedFd) {
    let mut buf = [0u8; 256];
    // SAFETY: reads into a live local buffer from a non-blocking descriptor we own.
    while unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
}

/// Whether an XPUB's message is a subscription (first byte 1; 0 is an unsubscription).
fn is_subscribe(m: &Message) -> bool {
    m.frames().first().is_some_and(|f| f.first() == Some(&1))
}

enum Input {
    Line(String),
    Eof,
}

struct Run {
    sock: Socket,
    args: Args,
    role: Role,
    sent: u64,
    received: u64,
    /// Subscriptions received, for `--wait-subscribers`.
    subscriptions: u64,
    /// A REP request (printed) waiting for its reply line.
    reply_due: bool,
    /// A REQ request out, waiting for its reply.
    awaiting_reply: bool,
    stdin_done: bool,
    lines: std::collections::VecDeque<String>,
    printer: Printer,
}

enum Step {
    Continue,
    Done,
}

impl Run {
    fn print(&mut self, m: &Message) -> std::io::Result<()> {
        self.printer.print(text::format_message(m))
    }

    fn count_reached(&self, n: u64) -> bool {
        self.args.count.is_some_and(|c| n >= c)
    }

    /// Whether stdin's lines wait for more subscriptions (`--wait-subscribers`).
    fn awaiting_subscribers(&self) -> bool {
        self.args
            .wait_subscribers
            .is_some_and(|n| self.subscriptions < n)
    }

    /// Whether a line waits that may go out once the socket takes it (a pub's socket always
    /// does: lines held for subscribers must not count, or the loop would spin).
    fn has_line_to_send(&self) -> bool {
        !self.lines.is_empty() && !self.awaiting_subscribers()
    }

    /// Counts the subscriptions the XPUB of a waiting pub has received; the rest of its
    /// messages (unsubscriptions) are dropped. Always drained, also once enough have
    /// arrived, so that the socket does not stay readable.
    fn take_subscriptions(&mut self) -> Result<(), String> {
        loop {
            match self.sock.recv_msg(Flags::DONTWAIT) {
                Ok(m) if is_subscribe(&m) => self.subscriptions += 1,
                Ok(_) => {}
                Err(e) if e.kind() == zsock::ErrorKind::Again => return Ok(()),
                Err(e) => return Err(format!("receive failed: {e}")),
            }
        }
    }

    fn send(&mut self, m: Message) -> zsock::Result<()> {
        self.sock.send_msg(m, Flags::NONE)?;
        self.sent += 1;
        Ok(())
    }

    /// Handles every message that can be received now.
    fn on_readable(&mut self) -> Result<Step, String> {
        if self.args.wait_subscribers.is_some() {
            self.take_subscriptions()?;
            return Ok(Step::Continue);
        }
        loop {
            if self.role == Role::Replier && self.reply_due {
                return Ok(Step::Continue); // REP must reply first
            }
            // While the printer's queue is full, messages wait in the socket.
            if !self
                .printer
                .has_room()
                .map_err(|e| format!("stdout: {e}"))?
            {
                return Ok(Step::Continue);
            }
            if !self.sock.events().contains(Events::POLLIN) {
                return Ok(Step::Continue);
            }
            let m = match self.sock.recv_msg(Flags::DONTWAIT) {
                Ok(m) => m,
                Err(e) if e.kind() == zsock::ErrorKind::Again => return Ok(Step::Continue),
                Err(e) => return Err(format!("receive failed: {e}")),
            };
            self.received += 1;
            self.print(&m).map_err(|e| format!("stdout: {e}"))?;
            match self.role {
                Role::Requester => self.awaiting_reply = false,
                Role::Replier => {
                    if self.args.echo {
                        self.send(m).map_err(|e| format!("reply failed: {e}"))?;
                    } else {
                        self.reply_due = true;
                    }
                }
                Role::Both if self.args.echo => {
                    self.send(m).map_err(|e| format!("echo failed: {e}"))?;
                }
                _ => {}
            }
            let counted = match self.role {
                Role::Replier => self.sent,
                _ => self.received,
            };
            if self.count_reached(counted) {
                return Ok(Step::Done);
            }
        }
    }

    /// Sends what stdin lines allow now.
    fn on_lines(&mut self) -> Result<Step, String> {
        loop {
            let ready = match self.role {
                // Types that never send stdin lines drop them.
                Role::Receiver => {
                    self.lines.clear();
                    false
                }
                Role::Both if self.args.echo => {
                    self.lines.clear();
                    false
                }
                Role::Requester => !self.awaiting_reply,
                Role::Replier => self.reply_due,
                Role::Sender => !self.awaiting_subscribers(),
                Role::Both => true,
            };
            if !ready {
                break;
            }
            let Some(line) = self.lines.pop_front() else {
                break;
            };
            match self.sock.send_msg(text::parse_line(&line), Flags::DONTWAIT) {
                Ok(()) => self.sent += 1,
                Err(e) if e.kind() == zsock::ErrorKind::Again => {
                    // No peer can take it yet: keep it and wait on the socket.
                    self.lines.push_front(line);
                    break;
                }
                Err(e) => return Err(format!("send failed: {e}")),
            }
            match self.role {
                Role::Requester => self.awaiting_reply = true,
                Role::Replier => {
                    self.reply_due = false;
                    if self.count_reached(self.sent) {
                        return Ok(Step::Done);
                    }
                }
                Role::Sender if self.count_reached(self.sent) => return Ok(Step::Done),
                _ => {}
            }
        }
        // End of input: senders are done once everything is handed over.
        if self.stdin_done && self.lines.is_empty() {
            let done = match self.role {
                Role::Sender => true,
                Role::Requester => !self.awaiting_reply,
                Role::Replier => !self.args.echo && !self.reply_due,
                Role::Both => !self.args.echo && self.args.count.is_none(),
                Role::Receiver => false,
            };
            if done {
                return Ok(Step::Done);
            }
        }
        Ok(Step::Continue)
    }
}

/// The message for a failed `verb` ("bind", "connect") of `ep`: the error's own words when
/// they name the endpoint already (most transport errors do), else with the verb and the
/// endpoint before them, so that the endpoint is named once.
fn endpoint_error(verb: &str, ep: &str, e: &zsock::Error) -> String {
    let words = e.to_string();
    // Every such error reads `cannot VERB EP: WHY`, naming the endpoint once, whether the
    // library's words begin `EP: WHY`, `VERB EP: WHY` or `EP is ...`.
    let done = format!("{verb} {ep}");
    let rest = words
        .strip_prefix(&done)
        .or_else(|| words.strip_prefix(ep))
        .filter(|r| r.starts_with(": ") || r.starts_with(' '));
    match rest {
        Some(r) => match r.strip_prefix(": ") {
            Some(why) => format!("cannot {done}: {why}"),
            None => format!("cannot {done}: it{r}"),
        },
        None if words.contains(ep) => words,
        None => format!("cannot {done}: {words}"),
    }
}

/// Binds `sock` to each of `binds` (printing `bound EP`, with the real path or port of a
/// wildcard) and connects it to each of `connects`.
pub(crate) fn attach(sock: &Socket, binds: &[String], connects: &[String]) -> Result<(), String> {
    // An inproc name joins sockets of one process: no other process could ever meet it,
    // and a connect would wait for ever.
    let verbs = binds.iter().map(|ep| ("bind", ep));
    let verbs = verbs.chain(connects.iter().map(|ep| ("connect", ep)));
    for (verb, ep) in verbs {
        if ep.starts_with("inproc://") {
            return Err(format!(
                "cannot {verb} {ep}: inproc:// joins sockets of one process, and zcat's \
                 peers are other processes; use ipc:// or tcp://"
            ));
        }
    }
    for ep in binds {
        let bound = sock.bind(ep).map_err(|e| endpoint_error("bind", ep, &e))?;
        eprintln!("bound {bound}");
    }
    for ep in connects {
        sock.connect(ep)
            .map_err(|e| endpoint_error("connect", ep, &e))?;
    }
    Ok(())
}

fn run(args: Args) -> Result<ExitCode, String> {
    let sig = signal_fd().map_err(|e| format!("signalfd: {e}"))?;
    let ctx = Context::new();
    let mut sock = ctx
        .socket(args.socket_type())
        .map_err(|e| format!("cannot create socket: {e}"))?;
    for o in &args.options {
        sock.set(o.clone()).map_err(|e| format!("option: {e}"))?;
    }
    if !args.curve_allow.is_empty() {
        let allowed = args.curve_allow.clone();
        ctx.set_authenticator(move |req: &ZapRequest| {
            let known =
                req.credentials.len() == 1 && allowed.iter().any(|k| req.credentials[0] == k[..]);
            if known {
                ZapReply::allow(zsock::z85_encode(&req.credentials[0]).unwrap_or_default())
            } else {
                ZapReply::refuse(ZapStatus::Denied, "client key not allowed")
            }
        });
    }
    if !args.plain_users.is_empty() {
        sock.set(SocketOption::PlainServer(true))
            .map_err(|e| format!("option: {e}"))?;
        let users = args.plain_users.clone();
        ctx.set_authenticator(move |req: &ZapRequest| {
            let admitted = users.iter().find(|(u, p)| {
                req.credentials.len() == 2
                    && req.credentials[0] == u.as_bytes()
                    && req.credentials[1] == p.as_bytes()
            });
            match admitted {
                Some((user, _)) => ZapReply::allow(user.clone()),
                None => ZapReply::refuse(ZapStatus::Denied, "unknown user or wrong password"),
            }
        });
    }
    if args.wait_subscribers.is_some() {
        // Every subscription counts, a second one to a topic too.
        sock.set(SocketOption::XpubVerbose(true))
            .map_err(|e| format!("option: {e}"))?;
    }
    // With no --subscribe, sub and xsub subscribe to everything.
    let topics = if args.subscribe.is_empty() {
        vec![String::new()]
    } else {
        args.subscribe.clone()
    };
    match args.ty {
        SocketType::Sub => {
            for t in topics {
                sock.set(SocketOption::Subscribe(t.into_bytes().into()))
                    .map_err(|e| format!("subscribe: {e}"))?;
            }
        }
        SocketType::XSub => {
            for t in topics {
                let mut m = vec![1u8];
                m.extend_from_slice(t.as_bytes());
                sock.send(m, Flags::NONE)
                    .map_err(|e| format!("subscribe: {e}"))?;
            }
        }
        _ => {}
    }
    let mut failures = Failures::watch(&sock, &args.connects)?;
    attach(&sock, &args.binds, &args.connects)?;

    let (wake_r, wake_w) = wake_pipe().map_err(|e| format!("pipe: {e}"))?;
    let (tx, rx) = mpsc::channel::<Input>();
    let uses_stdin = role(args.ty) != Role::Receiver;
    if uses_stdin {
        let wake_w = wake_w;
        std::thread::spawn(move || {
            let poke = || {
                // SAFETY: writes one byte from a live local to our own pipe.
                unsafe { libc::write(wake_w.as_raw_fd(), b"x".as_ptr().cast(), 1) };
            };
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if tx.send(Input::Line(line)).is_err() {
                    return;
                }
                poke();
            }
            let _ = tx.send(Input::Eof);
            poke();
        });
    }

    let mut st = Run {
        role: role(args.ty),
        sock,
        args,
        sent: 0,
        received: 0,
        subscriptions: 0,
        reply_due: false,
        awaiting_reply: false,
        stdin_done: !uses_stdin,
        lines: Default::default(),
        printer: Printer::start().map_err(|e| format!("stdout: {e}"))?,
    };
    let mut interrupted = false;
    let sock_fd = st
        .sock
        .fd()
        .map_err(|e| format!("socket descriptor: {e}"))?
        .as_raw_fd();
    loop {
        while let Ok(input) = rx.try_recv() {
            match input {
                Input::Line(l) => st.lines.push_back(l),
                Input::Eof => st.stdin_done = true,
            }
        }
        if let Step::Done = st.on_readable()? {
            break;
        }
        if let Step::Done = st.on_lines()? {
            break;
        }
        // Lines waiting for room at the end of input wait no longer once a peer refused us:
        // it will take none of them.
        if st.stdin_done && failures.refused {
            break;
        }
        // `events` clears the descriptor, so everything it reports must be acted on
        // before sleeping: a message to read, or room for a line that is waiting.
        let ev = st.sock.events();
        let room = st.printer.has_room().map_err(|e| format!("stdout: {e}"))?;
        if (ev.contains(Events::POLLIN) && room)
            || (ev.contains(Events::POLLOUT) && st.has_line_to_send())
        {
            continue;
        }
        let mut fds = [
            libc::pollfd {
                fd: sock_fd,
                events: libc::POLLIN,
                revents: 0,
            },
            // After end of input the pipe's writer is gone and the read end would stay
            // readable (end of file): stop watching it, or the loop would spin.
            libc::pollfd {
                fd: if st.stdin_done {
                    -1
                } else {
                    wake_r.as_raw_fd()
                },
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: sig.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            // Room in the printer's queue, while a line waits for it.
            libc::pollfd {
                fd: st.printer.written_fd().map_or(-1, |fd| fd.as_raw_fd()),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: failures.fd,
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        printer::poll_ready(&mut fds).map_err(|e| format!("poll: {e}"))?;
        if fds[2].revents != 0 {
            interrupted = true;
            break;
        }
        if fds[1].revents != 0 {
            drain(&wake_r);
        }
        if fds[3].revents != 0 {
            st.printer.drain();
        }
        if fds[4].revents != 0 {
            failures.report();
        }
    }
    // What was received is printed before a normal exit; a signal still ends it at once.
    if !interrupted {
        interrupted = !st
            .printer
            .finish(&sig)
            .map_err(|e| format!("stdout: {e}"))?;
    }
    failures.report();
    // Signals close at once: nothing lingers, socket files are removed. So does a refusal:
    // the peer that refused us takes none of the lines queued for it.
    let at_once = interrupted || failures.refused;
    if at_once {
        let _ = st.sock.set(SocketOption::Linger(0));
    }
    drop(st); // closed: its listeners and socket files are gone now
    if at_once {
        drop(ctx);
    } else {
        wait_lingering(ctx, &sig, &mut failures)?;
    }
    failures.report();
    Ok(if failures.refused {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Handshake failures from the socket's monitor, told on stderr: a peer that refuses us
/// (or that we refuse) is otherwise silent, a connecting client trying again and again
/// while its lines wait. Each endpoint's reason is told once, not at every attempt.
struct Failures {
    monitor: zsock::Monitor,
    /// The monitor's descriptor, readable while events wait.
    fd: libc::c_int,
    told: std::collections::HashSet<(String, String)>,
    /// The endpoints given to --connect: a refusal there is the peer refusing us.
    connects: Vec<String>,
    /// A peer we connected to refused our credentials or key (zcat then exits 1).
    refused: bool,
}

impl Failures {
    fn watch(sock: &Socket, connects: &[String]) -> Result<Failures, String> {
        let monitor = sock.monitor();
        let fd = monitor
            .fd()
            .map_err(|e| format!("monitor descriptor: {e}"))?
            .as_raw_fd();
        Ok(Failures {
            monitor,
            fd,
            told: Default::default(),
            connects: connects.to_vec(),
            refused: false,
        })
    }

    /// Takes every waiting event, telling the handshake failures not told yet.
    fn report(&mut self) {
        while let Some(ev) = self.monitor.try_next() {
            if let zsock::Event::HandshakeFailed {
                endpoint,
                reason,
                auth,
                ..
            } = &ev
            {
                if auth.is_some() && self.connects.contains(endpoint) {
                    self.refused = true;
                }
                if self.told.insert((endpoint.clone(), reason.clone())) {
                    eprintln!("zcat: {ev}");
                }
            }
        }
    }
}

/// Waits while the closed socket sends what it queued (within LINGER, forever by
/// default), telling handshake failures meanwhile. The context's wait runs in a thread
/// so that a signal, or a peer refusing us, still ends zcat at once: the socket and its
/// files are gone already, and what is unsent is dropped, as with LINGER 0.
fn wait_lingering(ctx: Context, sig: &OwnedFd, failures: &mut Failures) -> Result<(), String> {
    let (done_r, done_w) = wake_pipe().map_err(|e| format!("pipe: {e}"))?;
    std::thread::spawn(move || {
        ctx.term();
        drop(done_w); // end of file: `done_r` becomes readable
    });
    loop {
        // (Once the socket's last event is taken, its descriptor stays readable.)
        let monitor = if failures.monitor.is_finished() {
            -1
        } else {
            failures.fd
        };
        let mut fds = [done_r.as_raw_fd(), sig.as_raw_fd(), monitor].map(|fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        });
        printer::poll_ready(&mut fds).map_err(|e| format!("poll: {e}"))?;
        if fds[0].revents != 0 || fds[1].revents != 0 {
            return Ok(());
        }
        if fds[2].revents != 0 {
            failures.report();
            if failures.refused {
                return Ok(());
            }
        }
    }
}

/// A parsed command line, or how to exit: `--help` (an empty error) prints `usage` and
/// succeeds; a usage error prints the error and `usage` and exits 2.
pub(crate) fn usage_or<A>(parsed: Result<A, String>, usage: &str) -> Result<A, ExitCode> {
    match parsed {
        Ok(a) => Ok(a),
        Err(e) if e.is_empty() => {
            println!("{usage}");
            Err(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("zcat: {e}\n{usage}");
            Err(ExitCode::from(2))
        }
    }
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().is_some_and(|a| a == "proxy") {
        return proxy::main(&argv[1..]);
    }
    if argv.first().is_some_and(|a| a == "keygen") {
        let pair = zsock::curve_keypair();
        println!("{} {}", pair.public, pair.secret.as_str());
        return ExitCode::SUCCESS;
    }
    let args = match usage_or(parse_args(&argv), USAGE) {
        Ok(a) => a,
        Err(code) => return code,
    };
    match run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("zcat: {e}");
            ExitCode::from(2)
        }
    }
}
