//! Bench peer for a plain stream socket (std only): AF_UNIX for `ipc://PATH`, TCP with
//! TCP_NODELAY for `tcp://ADDR:PORT`. Each message is a 4-byte little-endian length and
//! the body. The sender gathers messages into a 64 KiB batch and
//! writes a batch at a time (a body that does not fit goes out in one vectored write with
//! its header, straight from the user buffer); the receiver reads 256 KiB at a time and
//! walks the frames without copying them. The practical ceiling, not a target. See the
//! crate docs for the command line.

use std::io::{self, IoSlice, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::ExitCode;
use std::time::Instant;

use zsock_benches::{
    check_size, main_with, payload, retry_connect, wait_for_release, Args, Mode, Outcome, ThrClock,
    WARMUP,
};

const BATCH: usize = 64 * 1024;
const READ: usize = 256 * 1024;
const HEADER: usize = 4;

fn main() -> ExitCode {
    main_with("raw", run)
}

fn io(what: &'static str) -> impl Fn(io::Error) -> String {
    move |e| format!("{what}: {e}")
}

/// A connected stream of either transport.
enum Conn {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Conn {
    fn try_clone(&self) -> io::Result<Conn> {
        Ok(match self {
            Conn::Unix(s) => Conn::Unix(s.try_clone()?),
            Conn::Tcp(s) => Conn::Tcp(s.try_clone()?),
        })
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Unix(s) => s.read(buf),
            Conn::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Unix(s) => s.write(buf),
            Conn::Tcp(s) => s.write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Conn::Unix(s) => s.write_vectored(bufs),
            Conn::Tcp(s) => s.write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Where the endpoint says to bind or connect.
enum Addr<'a> {
    Path(&'a str),
    Tcp(SocketAddr),
}

impl<'a> Addr<'a> {
    fn of(endpoint: &'a str) -> Result<Addr<'a>, String> {
        if let Some(path) = endpoint.strip_prefix("ipc://").filter(|p| !p.is_empty()) {
            return Ok(Addr::Path(path));
        }
        endpoint
            .strip_prefix("tcp://")
            .and_then(|a| a.parse().ok())
            .map(Addr::Tcp)
            .ok_or_else(|| {
                format!("endpoint `{endpoint}` is neither ipc://PATH nor tcp://ADDR:PORT")
            })
    }

    fn bind_accept(&self) -> Result<Conn, String> {
        match *self {
            Addr::Path(path) => {
                // A stale socket file from an earlier run would make bind fail.
                let _ = std::fs::remove_file(path);
                let listener = UnixListener::bind(path).map_err(io("bind"))?;
                let (stream, _) = listener.accept().map_err(io("accept"))?;
                let _ = std::fs::remove_file(path);
                Ok(Conn::Unix(stream))
            }
            Addr::Tcp(addr) => {
                let listener = TcpListener::bind(addr).map_err(io("bind"))?;
                let (stream, _) = listener.accept().map_err(io("accept"))?;
                stream.set_nodelay(true).map_err(io("TCP_NODELAY"))?;
                Ok(Conn::Tcp(stream))
            }
        }
    }

    fn connect(&self) -> Result<Conn, String> {
        match *self {
            Addr::Path(path) => retry_connect(|| UnixStream::connect(path)).map(Conn::Unix),
            Addr::Tcp(addr) => {
                let stream = retry_connect(|| TcpStream::connect(addr))?;
                stream.set_nodelay(true).map_err(io("TCP_NODELAY"))?;
                Ok(Conn::Tcp(stream))
            }
        }
    }
}

fn header(len: usize) -> Result<[u8; HEADER], String> {
    u32::try_from(len)
        .map(u32::to_le_bytes)
        .map_err(|_| format!("a {len}-byte message does not fit a 4-byte length"))
}

fn write_all_vectored(s: &mut Conn, mut bufs: &mut [IoSlice<'_>]) -> io::Result<()> {
    while !bufs.is_empty() {
        match s.write_vectored(bufs) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut bufs, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Batches messages into 64 KiB writes.
struct Sender {
    stream: Conn,
    batch: Vec<u8>,
}

impl Sender {
    fn send(&mut self, body: &[u8]) -> Result<(), String> {
        let h = header(body.len())?;
        if self.batch.len() + HEADER + body.len() <= BATCH {
            self.batch.extend_from_slice(&h);
            self.batch.extend_from_slice(body);
            return Ok(());
        }
        if HEADER + body.len() <= BATCH {
            self.flush()?;
            self.batch.extend_from_slice(&h);
            self.batch.extend_from_slice(body);
            return Ok(());
        }
        // Larger than a batch: pending batch, header and body in one vectored write.
        let pending = std::mem::take(&mut self.batch);
        let mut slices = [IoSlice::new(&pending), IoSlice::new(&h), IoSlice::new(body)];
        write_all_vectored(&mut self.stream, &mut slices).map_err(io("write"))?;
        self.batch = pending;
        self.batch.clear();
        Ok(())
    }

    fn flush(&mut self) -> Result<(), String> {
        self.stream.write_all(&self.batch).map_err(io("write"))?;
        self.batch.clear();
        Ok(())
    }
}

/// Reads 256 KiB at a time and hands out frames as slices of the read buffer.
struct Receiver {
    stream: Conn,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Receiver {
    fn new(stream: Conn) -> Receiver {
        Receiver {
            stream,
            buf: vec![0; READ],
            start: 0,
            end: 0,
        }
    }

    /// Reads more; moves the unparsed tail to the front first when the buffer is full.
    fn fill(&mut self) -> Result<(), String> {
        if self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        loop {
            match self.stream.read(&mut self.buf[self.end..]) {
                Ok(0) => return Err("the peer closed the stream".into()),
                Ok(n) => {
                    self.end += n;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("read: {e}")),
            }
        }
    }

    fn body_len(&mut self) -> Result<usize, String> {
        while self.end - self.start < HEADER {
            self.fill()?;
        }
        let mut h = [0u8; HEADER];
        h.copy_from_slice(&self.buf[self.start..self.start + HEADER]);
        self.start += HEADER;
        Ok(u32::from_le_bytes(h) as usize)
    }

    /// Skips the next message (a throughput receiver looks at its length only);
    /// returns its length.
    fn skip(&mut self) -> Result<usize, String> {
        let len = self.body_len()?;
        let mut left = len;
        loop {
            let have = (self.end - self.start).min(left);
            self.start += have;
            left -= have;
            if left == 0 {
                return Ok(len);
            }
            self.start = 0;
            self.end = 0;
            self.fill()?;
        }
    }

    /// The next message as a slice of the read buffer (messages up to 256 KiB - 4).
    fn next(&mut self) -> Result<&[u8], String> {
        let len = self.body_len()?;
        if len > READ - HEADER {
            return Err(format!(
                "a {len}-byte message is larger than the read buffer"
            ));
        }
        if self.start + len > self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        while self.end - self.start < len {
            self.fill()?;
        }
        let body = &self.buf[self.start..self.start + len];
        self.start += len;
        Ok(body)
    }
}

/// One message written on its own: header and a fresh copy of the body in one write.
fn send_one(stream: &mut Conn, body: &[u8]) -> Result<(), String> {
    let mut m = Vec::with_capacity(HEADER + body.len());
    m.extend_from_slice(&header(body.len())?);
    m.extend_from_slice(body);
    stream.write_all(&m).map_err(io("write"))
}

fn run(args: &Args) -> Result<Outcome, String> {
    let addr = Addr::of(&args.endpoint)?;
    let buf = payload(args.size);
    match args.mode {
        Mode::ThrPush => {
            let mut tx = Sender {
                stream: addr.bind_accept()?,
                batch: Vec::with_capacity(BATCH),
            };
            for _ in 0..args.count {
                tx.send(&buf)?;
            }
            tx.flush()?;
            wait_for_release();
            Ok(Outcome::Served)
        }
        Mode::ThrPull => {
            let mut rx = Receiver::new(addr.connect()?);
            let mut clock = ThrClock::new();
            check_size(rx.skip()?, args.size)?;
            clock.start();
            for _ in 1..args.count {
                check_size(rx.skip()?, args.size)?;
            }
            clock.stop();
            Ok(clock.outcome())
        }
        Mode::LatRep => {
            let mut stream = addr.bind_accept()?;
            let mut rx = Receiver::new(stream.try_clone().map_err(io("dup"))?);
            for _ in 0..args.messages() {
                let body = rx.next()?;
                check_size(body.len(), args.size)?;
                send_one(&mut stream, body)?;
            }
            wait_for_release();
            Ok(Outcome::Served)
        }
        Mode::LatReq => {
            let mut stream = addr.connect()?;
            let mut rx = Receiver::new(stream.try_clone().map_err(io("dup"))?);
            let mut trip = || -> Result<(), String> {
                send_one(&mut stream, &buf)?;
                check_size(rx.next()?.len(), args.size)
            };
            for _ in 0..WARMUP {
                trip()?;
            }
            let t = Instant::now();
            for _ in 0..args.count {
                trip()?;
            }
            Ok(Outcome::Lat {
                secs: t.elapsed().as_secs_f64(),
            })
        }
    }
}
