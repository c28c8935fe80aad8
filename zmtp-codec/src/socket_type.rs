//! The eleven classic socket types and the RFC 37 compatibility matrix.

use core::fmt;

/// A ZeroMQ socket type, as named in the `Socket-Type` READY property.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SocketType {
    /// Exclusive pair (31/EXPAIR).
    Pair,
    /// Publisher (29/PUBSUB).
    Pub,
    /// Subscriber (29/PUBSUB).
    Sub,
    /// Requester (28/REQREP).
    Req,
    /// Replier (28/REQREP).
    Rep,
    /// Asynchronous requester/replier (28/REQREP).
    Dealer,
    /// Addressed routing (28/REQREP).
    Router,
    /// Pipeline sink (30/PIPELINE).
    Pull,
    /// Pipeline source (30/PIPELINE).
    Push,
    /// Publisher that sees subscriptions (29/PUBSUB).
    XPub,
    /// Subscriber that sends subscriptions as messages (29/PUBSUB).
    XSub,
}

impl SocketType {
    /// Every socket type, in libzmq's numbering order.
    pub const ALL: [SocketType; 11] = [
        SocketType::Pair,
        SocketType::Pub,
        SocketType::Sub,
        SocketType::Req,
        SocketType::Rep,
        SocketType::Dealer,
        SocketType::Router,
        SocketType::Pull,
        SocketType::Push,
        SocketType::XPub,
        SocketType::XSub,
    ];

    /// The name sent on the wire, e.g. `"DEALER"`.
    pub const fn name(self) -> &'static str {
        match self {
            SocketType::Pair => "PAIR",
            SocketType::Pub => "PUB",
            SocketType::Sub => "SUB",
            SocketType::Req => "REQ",
            SocketType::Rep => "REP",
            SocketType::Dealer => "DEALER",
            SocketType::Router => "ROUTER",
            SocketType::Pull => "PULL",
            SocketType::Push => "PUSH",
            SocketType::XPub => "XPUB",
            SocketType::XSub => "XSUB",
        }
    }

    /// Parses a wire name. Matching is exact (upper case), as libzmq compares it.
    pub fn from_name(name: &[u8]) -> Option<SocketType> {
        SocketType::ALL
            .into_iter()
            .find(|t| t.name().as_bytes() == name)
    }

    /// Whether a connection between `self` and a peer of type `peer` is legal
    /// (37/ZMTP, "Socket type compatibility").
    pub const fn is_compatible(self, peer: SocketType) -> bool {
        use SocketType::*;
        matches!(
            (self, peer),
            (Req, Rep | Router)
                | (Rep, Req | Dealer)
                | (Dealer, Rep | Dealer | Router)
                | (Router, Req | Dealer | Router)
                | (Pub | XPub, Sub | XSub)
                | (Sub | XSub, Pub | XPub)
                | (Push, Pull)
                | (Pull, Push)
                | (Pair, Pair)
        )
    }

    /// Whether this type sends its routing id in READY's `Identity` property.
    /// libzmq sends it for REQ, DEALER and ROUTER.
    pub const fn sends_identity(self) -> bool {
        matches!(
            self,
            SocketType::Req | SocketType::Dealer | SocketType::Router
        )
    }
}

impl fmt::Display for SocketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_case_sensitive() {
        for t in SocketType::ALL {
            assert_eq!(SocketType::from_name(t.name().as_bytes()), Some(t));
            assert_eq!(
                SocketType::from_name(t.name().to_lowercase().as_bytes()),
                None
            );
        }
        assert_eq!(SocketType::from_name(b"STREAM"), None);
    }

    #[test]
    fn compatibility_is_symmetric_and_has_the_rfc_pair_count() {
        let mut legal = 0;
        for a in SocketType::ALL {
            for b in SocketType::ALL {
                assert_eq!(a.is_compatible(b), b.is_compatible(a), "{a}-{b}");
                legal += usize::from(a.is_compatible(b));
            }
        }
        // Ordered pairs: REQ-REP, REQ-ROUTER, REP-DEALER, DEALER-DEALER, DEALER-ROUTER,
        // ROUTER-ROUTER, 4 pub/sub combinations, PUSH-PULL, PAIR-PAIR: 12 unordered,
        // of which DEALER-DEALER, ROUTER-ROUTER and PAIR-PAIR are their own mirror.
        assert_eq!(legal, 12 * 2 - 3);
    }
}
