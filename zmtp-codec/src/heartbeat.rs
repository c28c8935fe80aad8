//! ZMTP 3.1 heartbeats (37/ZMTP "Connection Heartbeat") as a sans-IO machine: PING every
//! interval, close when nothing arrives within the timeout after a PING, honour the peer's
//! TTL, answer PINGs with PONGs.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use thiserror::Error;

use crate::command::{Command, Ping};

/// Heartbeat settings with libzmq's meanings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeartbeatConfig {
    /// HEARTBEAT_IVL: send a PING this often (`None`: never).
    pub interval: Option<Duration>,
    /// HEARTBEAT_TIMEOUT: close when nothing arrives this long after a PING
    /// (`None`: the interval).
    pub timeout: Option<Duration>,
    /// HEARTBEAT_TTL: asks the peer to close if it hears nothing from us this long.
    pub ttl: Option<Duration>,
}

/// Why the heartbeat machine gave up on the peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum HeartbeatError {
    /// Nothing arrived within HEARTBEAT_TIMEOUT of a PING.
    #[error("peer did not answer a heartbeat within {0:?}")]
    Timeout(Duration),
    /// Nothing arrived within the TTL the peer announced.
    #[error("peer fell silent past the time-to-live it announced ({0:?})")]
    TtlExpired(Duration),
}

/// A TTL as sent on the wire: deciseconds, saturating at 0xFFFF (6553.5 s).
pub fn ttl_to_deciseconds(ttl: Duration) -> u16 {
    u16::try_from(ttl.as_millis() / 100).unwrap_or(u16::MAX)
}

/// A TTL received from the wire; 0xFFFF becomes 6553.5 s, without overflow.
pub fn deciseconds_to_ttl(ds: u16) -> Duration {
    Duration::from_millis(u64::from(ds) * 100)
}

/// The heartbeat state of one connection.
#[derive(Debug, Clone)]
pub struct Heartbeat {
    config: HeartbeatConfig,
    next_ping: Option<Instant>,
    answer_deadline: Option<Instant>,
    ttl_deadline: Option<(Instant, Duration)>,
    ping_due: bool,
    pong: Option<Bytes>,
}

impl Heartbeat {
    /// Starts the machine at `now` (when the handshake completed).
    pub fn new(config: HeartbeatConfig, now: Instant) -> Heartbeat {
        Heartbeat {
            next_ping: config.interval.and_then(|i| now.checked_add(i)),
            config,
            answer_deadline: None,
            ttl_deadline: None,
            ping_due: false,
            pong: None,
        }
    }

    /// Anything arrived from the peer: it is alive. Call once per read that brought bytes.
    #[inline]
    pub fn on_traffic(&mut self) {
        self.answer_deadline = None;
        self.ttl_deadline = None;
    }

    /// A PING arrived (after [`Heartbeat::on_traffic`] for the same read): queue the PONG and
    /// arm the peer's TTL.
    /// At most one PONG is ever pending: a PING that comes before the last one's PONG was
    /// taken by [`Heartbeat::poll_transmit`] replaces its context. The context is copied
    /// (at most 16 bytes), so a pending PONG holds no part of the buffer the PING came in.
    pub fn on_ping(&mut self, ping: &Ping, now: Instant) {
        let context = &ping.context[..ping.context.len().min(crate::wire::MAX_PING_CONTEXT)];
        self.pong = Some(Bytes::copy_from_slice(context));
        if ping.ttl_deciseconds > 0 && self.ttl_deadline.is_none() {
            let ttl = deciseconds_to_ttl(ping.ttl_deciseconds);
            self.ttl_deadline = now.checked_add(ttl).map(|d| (d, ttl));
        }
    }

    /// Fires due timers.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), HeartbeatError> {
        if let Some(d) = self.answer_deadline {
            if now >= d {
                let t = self
                    .config
                    .timeout
                    .or(self.config.interval)
                    .unwrap_or_default();
                return Err(HeartbeatError::Timeout(t));
            }
        }
        if let Some((d, ttl)) = self.ttl_deadline {
            if now >= d {
                return Err(HeartbeatError::TtlExpired(ttl));
            }
        }
        if let (Some(p), Some(ivl)) = (self.next_ping, self.config.interval) {
            if now >= p {
                self.ping_due = true;
                self.next_ping = now.checked_add(ivl);
                if self.answer_deadline.is_none() {
                    let t = self.config.timeout.unwrap_or(ivl);
                    self.answer_deadline = now.checked_add(t);
                }
            }
        }
        Ok(())
    }

    /// The earliest instant at which [`Heartbeat::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.next_ping,
            self.answer_deadline,
            self.ttl_deadline.map(|(d, _)| d),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Whether [`Heartbeat::poll_transmit`] has something to send.
    pub fn wants_transmit(&self) -> bool {
        self.ping_due || self.pong.is_some()
    }

    /// Appends a pending PONG and PING, if any.
    pub fn poll_transmit(&mut self, buf: &mut BytesMut) {
        if let Some(context) = self.pong.take() {
            Command::Pong { context }.encode(buf);
        }
        if std::mem::take(&mut self.ping_due) {
            Command::Ping(Ping {
                ttl_deciseconds: self.config.ttl.map_or(0, ttl_to_deciseconds),
                context: Bytes::new(),
            })
            .encode(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn pings_every_interval_and_times_out_without_traffic() {
        let t0 = Instant::now();
        let mut hb = Heartbeat::new(
            HeartbeatConfig {
                interval: Some(ms(100)),
                timeout: Some(ms(250)),
                ttl: Some(ms(1000)),
            },
            t0,
        );
        assert_eq!(hb.poll_timeout(), Some(t0 + ms(100)));
        hb.handle_timeout(t0 + ms(50)).unwrap();
        assert!(!hb.wants_transmit());
        hb.handle_timeout(t0 + ms(100)).unwrap();
        let mut out = BytesMut::new();
        hb.poll_transmit(&mut out);
        assert_eq!(&out[..], b"\x04\x07\x04PING\x00\x0a");
        assert_eq!(hb.poll_timeout(), Some(t0 + ms(200)));
        hb.handle_timeout(t0 + ms(200)).unwrap(); // second ping; deadline stays t0+350
        assert_eq!(
            hb.handle_timeout(t0 + ms(350)),
            Err(HeartbeatError::Timeout(ms(250)))
        );
    }

    #[test]
    fn traffic_cancels_the_answer_deadline() {
        let t0 = Instant::now();
        let cfg = HeartbeatConfig {
            interval: Some(ms(100)),
            ..Default::default()
        };
        let mut hb = Heartbeat::new(cfg, t0);
        hb.handle_timeout(t0 + ms(100)).unwrap();
        hb.on_traffic();
        hb.handle_timeout(t0 + ms(199)).unwrap();
        hb.handle_timeout(t0 + ms(200)).unwrap(); // new ping, deadline t0+300
        hb.on_traffic();
        hb.handle_timeout(t0 + ms(299)).unwrap();
    }

    #[test]
    fn peer_ttl_of_6553_5_seconds_does_not_overflow() {
        let t0 = Instant::now();
        let mut hb = Heartbeat::new(HeartbeatConfig::default(), t0);
        let ping = Ping {
            ttl_deciseconds: 0xFFFF,
            context: Bytes::from_static(b"ctx"),
        };
        hb.on_traffic();
        hb.on_ping(&ping, t0);
        assert_eq!(hb.poll_timeout(), Some(t0 + ms(6_553_500)));
        hb.handle_timeout(t0 + ms(6_553_499)).unwrap();
        assert_eq!(
            hb.handle_timeout(t0 + ms(6_553_500)),
            Err(HeartbeatError::TtlExpired(ms(6_553_500)))
        );
        let mut out = BytesMut::new();
        hb.poll_transmit(&mut out);
        assert_eq!(&out[..], b"\x04\x08\x04PONGctx");
    }

    #[test]
    fn ttl_conversion_saturates() {
        assert_eq!(ttl_to_deciseconds(ms(1000)), 10);
        assert_eq!(ttl_to_deciseconds(ms(99)), 0);
        assert_eq!(ttl_to_deciseconds(Duration::from_secs(1_000_000)), u16::MAX);
    }
}
