//! The client's address: the TCP peer, unless the peer is a trusted reverse proxy, in which
//! case the right-most `X-Forwarded-For` entry that is not itself a trusted proxy. The
//! result goes to the services as a single-valued `x-forwarded-for` (login throttling per
//! IP needs it); whatever the client sent in that header is never passed on as is.

use std::net::{IpAddr, SocketAddr};

/// Header that carries the resolved client address to the services.
pub const FORWARDED_FOR: &str = "x-forwarded-for";

/// The resolved client address of a request (a request extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// A set of trusted proxy networks.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    nets: Vec<(IpAddr, u8)>,
}

impl TrustedProxies {
    /// Parses addresses (`10.0.0.7`) and networks (`10.0.0.0/8`).
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        let mut nets = Vec::with_capacity(entries.len());
        for e in entries {
            let (addr, len) = match e.split_once('/') {
                Some((a, l)) => (a, Some(l)),
                None => (e.as_str(), None),
            };
            let ip: IpAddr = addr
                .trim()
                .parse()
                .map_err(|_| format!("{e:?} is not an IP address or network"))?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let len = match len {
                Some(l) => l
                    .trim()
                    .parse::<u8>()
                    .ok()
                    .filter(|l| *l <= max)
                    .ok_or_else(|| format!("{e:?} has a bad prefix length"))?,
                None => max,
            };
            nets.push((ip, len));
        }
        Ok(Self { nets })
    }

    /// True when `ip` lies in one of the networks.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.nets.iter().any(|(net, len)| in_net(ip, *net, *len))
    }

    /// Resolves the client of a request from its peer and `X-Forwarded-For` headers.
    pub fn resolve(&self, peer: Option<SocketAddr>, headers: &http::HeaderMap) -> Option<IpAddr> {
        let peer = canonical(peer?.ip());
        if !self.contains(peer) {
            return Some(peer);
        }
        let mut hops: Vec<IpAddr> = Vec::new();
        for v in headers.get_all(FORWARDED_FOR) {
            let Ok(s) = v.to_str() else { return Some(peer) };
            for part in s.split(',') {
                match part.trim().parse::<IpAddr>() {
                    Ok(ip) => hops.push(canonical(ip)),
                    // A garbled chain cannot be trusted past this point.
                    Err(_) => return Some(peer),
                }
            }
        }
        let mut client = peer;
        for ip in hops.into_iter().rev() {
            client = ip;
            if !self.contains(ip) {
                break;
            }
        }
        Some(client)
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

fn in_net(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for v in xff {
            h.append(FORWARDED_FOR, http::HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn peer(s: &str) -> Option<SocketAddr> {
        Some(SocketAddr::new(s.parse().unwrap(), 4000))
    }

    #[test]
    fn untrusted_peer_is_the_client_whatever_it_claims() {
        let t = TrustedProxies::parse(&[]).unwrap();
        let got = t.resolve(peer("203.0.113.9"), &headers(&["1.2.3.4"]));
        assert_eq!(got, Some("203.0.113.9".parse().unwrap()));
    }

    #[test]
    fn trusted_proxies_are_skipped_from_the_right() {
        let t = TrustedProxies::parse(&["10.0.0.0/8".into(), "192.0.2.1".into()]).unwrap();
        let h = headers(&["6.6.6.6, 198.51.100.7", "10.1.2.3"]);
        assert_eq!(
            t.resolve(peer("192.0.2.1"), &h),
            Some("198.51.100.7".parse().unwrap())
        );
        // Garbage in the chain: fall back to the proxy itself.
        let h = headers(&["nonsense"]);
        assert_eq!(
            t.resolve(peer("10.9.9.9"), &h),
            Some("10.9.9.9".parse().unwrap())
        );
    }

    #[test]
    fn networks_match_by_prefix() {
        let t = TrustedProxies::parse(&["fd00::/8".into(), "0.0.0.0/0".into()]).unwrap();
        assert!(t.contains("fd12::1".parse().unwrap()));
        assert!(!t.contains("fe80::1".parse().unwrap()));
        assert!(t.contains("8.8.8.8".parse().unwrap()));
        assert!(TrustedProxies::parse(&["1.2.3.4/40".into()]).is_err());
    }
}
