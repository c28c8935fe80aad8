//! What every role shares: the checked message format, raw ZMTP bytes, measurements, the
//! panic counter and the stop signal (stdin closing).

use std::io::{self, Read};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use zsock::{Bytes, Message};

// ---------------------------------------------------------------------------------------------
// Randomness and checksums

/// xorshift64*: plenty for kill schedules, payloads and attacks.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n` > 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// A duration in `[lo, hi)` milliseconds.
    pub(crate) fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.below(hi - lo))
    }
}

/// 64-bit FNV-1a over several slices.
pub(crate) fn fnv64(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in *p {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

// ---------------------------------------------------------------------------------------------
// The checked message: [header][payload][checksum]

/// Header: connector id u32, epoch u32 (one per connector process), sequence number u64,
/// payload length u32, 4 zero bytes. All big-endian.
const HEADER: usize = 24;
/// The largest payload a connector sends.
pub(crate) const MAX_PAYLOAD: u64 = 8192;

/// Message `seq` of connector `conn`'s process number `epoch`, with a random payload.
pub(crate) fn checked_message(conn: u32, epoch: u32, seq: u64, rng: &mut Rng) -> Message {
    let len = rng.below(MAX_PAYLOAD + 1) as usize;
    let mut header = Vec::with_capacity(HEADER);
    header.extend_from_slice(&conn.to_be_bytes());
    header.extend_from_slice(&epoch.to_be_bytes());
    header.extend_from_slice(&seq.to_be_bytes());
    header.extend_from_slice(&(len as u32).to_be_bytes());
    header.extend_from_slice(&[0; 4]);
    let mut payload = Vec::with_capacity(len + 8);
    while payload.len() < len {
        payload.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    payload.truncate(len);
    let sum = fnv64(&[&header, &payload]).to_be_bytes().to_vec();
    [header, payload, sum].into_iter().collect()
}

/// `(conn, epoch, seq)` of a whole message with a valid checksum; why not, otherwise.
pub(crate) fn verify(m: &Message) -> Result<(u32, u32, u64), String> {
    let f = m.frames();
    if f.len() != 3 || f[0].len() != HEADER || f[2].len() != 8 {
        return Err(format!(
            "shape {:?}",
            f.iter().map(Bytes::len).collect::<Vec<_>>()
        ));
    }
    let h = &f[0];
    let conn = u32::from_be_bytes(h[0..4].try_into().expect("4 bytes"));
    let epoch = u32::from_be_bytes(h[4..8].try_into().expect("4 bytes"));
    let seq = u64::from_be_bytes(h[8..16].try_into().expect("8 bytes"));
    let len = u32::from_be_bytes(h[16..20].try_into().expect("4 bytes")) as usize;
    if f[1].len() != len {
        return Err(format!(
            "{conn}/{epoch}/{seq}: payload {} bytes, header says {len}",
            f[1].len()
        ));
    }
    if fnv64(&[h, &f[1]]).to_be_bytes() != f[2][..] {
        return Err(format!("{conn}/{epoch}/{seq}: bad checksum"));
    }
    Ok((conn, epoch, seq))
}

// ---------------------------------------------------------------------------------------------
// Raw ZMTP 3.1 (NULL)

/// Our greeting: signature, version 3.1, NULL, as-server 0, filler.
pub(crate) fn greeting() -> Vec<u8> {
    let mut g = vec![0u8; 64];
    g[0] = 0xFF;
    g[9] = 0x7F;
    g[10] = 3;
    g[11] = 1;
    g[12..16].copy_from_slice(b"NULL");
    g
}

/// A command frame (short or long form).
pub(crate) fn command(name: &[u8], data: &[u8]) -> Vec<u8> {
    let mut body = vec![name.len() as u8];
    body.extend_from_slice(name);
    body.extend_from_slice(data);
    let mut f = match u8::try_from(body.len()) {
        Ok(n) => vec![0x04, n],
        Err(_) => {
            let mut f = vec![0x06];
            f.extend_from_slice(&(body.len() as u64).to_be_bytes());
            f
        }
    };
    f.extend_from_slice(&body);
    f
}

/// READY with a Socket-Type property.
pub(crate) fn ready(socket_type: &str) -> Vec<u8> {
    let mut data = vec![11u8];
    data.extend_from_slice(b"Socket-Type");
    data.extend_from_slice(&(socket_type.len() as u32).to_be_bytes());
    data.extend_from_slice(socket_type.as_bytes());
    command(b"READY", &data)
}

/// Greeting and READY as one write.
pub(crate) fn hello(socket_type: &str) -> Vec<u8> {
    let mut v = greeting();
    v.extend(ready(socket_type));
    v
}

/// A data frame (long form past 255 bytes).
pub(crate) fn frame(body: &[u8], more: bool) -> Vec<u8> {
    let more = u8::from(more);
    let mut f = match u8::try_from(body.len()) {
        Ok(n) => vec![more, n],
        Err(_) => {
            let mut f = vec![more | 0x02];
            f.extend_from_slice(&(body.len() as u64).to_be_bytes());
            f
        }
    };
    f.extend_from_slice(body);
    f
}

/// Reads one frame: `(flags, body)`. Bodies above 16 MiB are refused (we only read our
/// own peers' frames).
pub(crate) fn read_frame(s: &mut UnixStream) -> io::Result<(u8, Vec<u8>)> {
    let mut flags = [0u8; 1];
    s.read_exact(&mut flags)?;
    let size = if flags[0] & 0x02 != 0 {
        let mut n = [0u8; 8];
        s.read_exact(&mut n)?;
        u64::from_be_bytes(n)
    } else {
        let mut n = [0u8; 1];
        s.read_exact(&mut n)?;
        u64::from(n[0])
    };
    if size > 16 << 20 {
        return Err(io::Error::other(format!("frame of {size} bytes")));
    }
    let mut body = vec![0u8; size as usize];
    s.read_exact(&mut body)?;
    Ok((flags[0], body))
}

/// Reads the peer's greeting and its READY command.
pub(crate) fn read_greeting_and_ready(s: &mut UnixStream) -> io::Result<()> {
    let mut g = [0u8; 64];
    s.read_exact(&mut g)?;
    if g[0] != 0xFF || g[9] != 0x7F {
        return Err(io::Error::other("not a ZMTP greeting"));
    }
    let (flags, body) = read_frame(s)?;
    if flags & 0x04 == 0 || !body.starts_with(b"\x05READY") {
        return Err(io::Error::other("no READY"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Measurements

/// CLOCK_MONOTONIC in nanoseconds: the same clock in every process of the machine.
pub(crate) fn mono_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write to; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Resident set size in KiB of `pid` (`None`: this process); `None` once it is gone.
pub(crate) fn rss_kib(pid: Option<u32>) -> Option<u64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/status"),
        None => "/proc/self/status".to_string(),
    };
    let status = std::fs::read_to_string(path).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Descriptors this process holds.
pub(crate) fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// Raises RLIMIT_NOFILE's soft limit to the hard limit; returns the new soft limit.
pub(crate) fn raise_nofile() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit to a valid pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 0;
    }
    lim.rlim_cur = lim.rlim_max;
    // SAFETY: setrlimit reads one rlimit from a valid pointer.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
    lim.rlim_cur
}

// ---------------------------------------------------------------------------------------------
// Panics and stopping

static PANICS: AtomicUsize = AtomicUsize::new(0);

/// Counts panics of every thread and reports each on stdout (`panic ...`), where the
/// orchestrator counts them; the previous hook still prints the usual message to stderr.
pub(crate) fn count_panics() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        println!("panic {}", info.to_string().replace('\n', " "));
        previous(info);
    }));
}

pub(crate) fn panics() -> usize {
    PANICS.load(Ordering::SeqCst)
}

/// Set when stdin reaches end of file: the orchestrator closed it (time to finish) or is
/// gone (no role outlives it).
#[derive(Clone)]
pub(crate) struct Stop {
    flag: Arc<AtomicBool>,
    rx: Arc<Mutex<mpsc::Receiver<()>>>,
}

impl Stop {
    pub(crate) fn on_stdin_eof() -> Stop {
        let flag = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let f = flag.clone();
        std::thread::spawn(move || {
            let _ = io::stdin().read_to_end(&mut Vec::new());
            f.store(true, Ordering::SeqCst);
            let _ = tx.send(());
        });
        Stop {
            flag,
            rx: Arc::new(Mutex::new(rx)),
        }
    }

    pub(crate) fn is_set(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Waits up to `timeout` for the stop; true if it came.
    pub(crate) fn wait(&self, timeout: Duration) -> bool {
        if self.is_set() {
            return true;
        }
        let rx = self.rx.lock().unwrap_or_else(|e| e.into_inner());
        let _ = rx.recv_timeout(timeout);
        self.is_set()
    }
}
