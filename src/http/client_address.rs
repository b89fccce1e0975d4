//! The client's address behind trusted reverse proxies (`PERMIT_LEDGER_TRUSTED_PROXIES`).
//!
//! Only a trusted peer's `X-Forwarded-For` is read. Each proxy appends the address it got the
//! request from, so the list is read from the right: the first address not itself a trusted
//! proxy is the client. Anything to its left was written by the client and is not believed.

use axum::http::HeaderMap;
use ipnet::IpNet;
use std::net::IpAddr;

/// The address the per-address limit counts: the TCP peer, or, when the peer is a trusted
/// proxy, the right-most `X-Forwarded-For` entry not in `trusted`. An entry that is not an
/// address stops the walk at the nearest trusted hop (which is then counted).
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut nearest = peer;
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    for entry in entries.iter().rev() {
        let Ok(ip) = entry.trim().parse::<IpAddr>() else {
            return nearest;
        };
        if !is_trusted(&ip) {
            return ip;
        }
        nearest = ip;
    }
    nearest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peers_header_is_ignored() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        assert_eq!(
            client_address(ip("203.0.113.9"), &headers(&["1.2.3.4"]), &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_address(ip("10.0.0.5"), &headers(&["1.2.3.4"]), &[]),
            ip("10.0.0.5"),
            "no trusted proxies: the peer counts"
        );
    }

    #[test]
    fn the_right_most_untrusted_entry_is_the_client() {
        let trusted: Vec<IpNet> = vec![
            "10.0.0.0/8".parse().unwrap(),
            "192.168.1.1/32".parse().unwrap(),
        ];
        // The client forged "6.6.6.6"; the edge proxy appended the real peer 198.51.100.7.
        let h = headers(&["6.6.6.6, 198.51.100.7", "192.168.1.1"]);
        assert_eq!(
            client_address(ip("10.0.0.5"), &h, &trusted),
            ip("198.51.100.7")
        );
        // Nothing but proxies: the farthest proxy counts.
        let h = headers(&["192.168.1.1"]);
        assert_eq!(
            client_address(ip("10.0.0.5"), &h, &trusted),
            ip("192.168.1.1")
        );
        // Junk stops the walk.
        let h = headers(&["1.2.3.4, junk"]);
        assert_eq!(client_address(ip("10.0.0.5"), &h, &trusted), ip("10.0.0.5"));
        let h = headers(&["2001:db8::1"]);
        assert_eq!(
            client_address(ip("10.0.0.5"), &h, &trusted),
            ip("2001:db8::1")
        );
    }
}
