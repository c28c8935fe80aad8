//! Bench peer for a plain AF_UNIX stream (std only): each message is a 4-byte
//! little-endian length and the body. The sender gathers messages into a 64 KiB batch and
//! writes a batch at a time (a body that does not fit goes out in one vectored write with
//! its header, straight from the user buffer); the receiver reads 256 KiB at a time and
//! walks the frames without copying them. The practical ceiling, not a target. See the
//! crate docs for the command line.

use std::io::{self, IoSlice, Read, Write};
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

fn bind_accept(path: &str) -> Result<UnixStream, String> {
    // A stale socket file from an earlier run would make bind fail.
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path).map_err(io("bind"))?;
    let (stream, _) = listener.accept().map_err(io("accept"))?;
    let _ = std::fs::remove_file(path);
    Ok(stream)
}

fn header(len: usize) -> Result<[u8; HEADER], String> {
    u32::try_from(len)
        .map(u32::to_le_bytes)
        .map_err(|_| format!("a {len}-byte message does not fit a 4-byte length"))
}

fn write_all_vectored(s: &mut UnixStream, mut bufs: &mut [IoSlice<'_>]) -> io::Result<()> {
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
    stream: UnixStream,
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
    stream: UnixStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Receiver {
    fn new(stream: UnixStream) -> Receiver {
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
fn send_one(stream: &mut UnixStream, body: &[u8]) -> Result<(), String> {
    let mut m = Vec::with_capacity(HEADER + body.len());
    m.extend_from_slice(&header(body.len())?);
    m.extend_from_slice(body);
    stream.write_all(&m).map_err(io("write"))
}

fn run(args: &Args) -> Result<Outcome, String> {
    let path = args.ipc_path()?;
    let buf = payload(args.size);
    match args.mode {
        Mode::ThrPush => {
            let mut tx = Sender {
                stream: bind_accept(path)?,
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
            let mut rx = Receiver::new(retry_connect(|| UnixStream::connect(path))?);
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
            let mut stream = bind_accept(path)?;
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
            let mut stream = retry_connect(|| UnixStream::connect(path))?;
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
