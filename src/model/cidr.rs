//! Network ranges as the platform stores them: CIDR blocks with the host
//! bits cleared, so `10.1.2.3/8` and `10.0.0.0/8` are one network.

/// Parses `addr/len` (IPv4 or IPv6), returning the canonical text with the
/// host bits cleared, as the platform stores it, or why it is not a CIDR.
pub fn normalize_cidr(s: &str) -> Result<String, String> {
    use std::net::IpAddr;
    let Some((addr, len)) = s.split_once('/') else {
        return Err("the /prefix-length is missing".to_owned());
    };
    let addr: IpAddr = addr
        .parse()
        .map_err(|_| format!("`{addr}` is not a complete IPv4 or IPv6 address"))?;
    let len: u8 = len
        .parse()
        .map_err(|_| format!("`{len}` is not a prefix length"))?;
    match addr {
        IpAddr::V4(a) if len <= 32 => {
            let mask = if len == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(len))
            };
            Ok(format!(
                "{}/{len}",
                std::net::Ipv4Addr::from(u32::from(a) & mask)
            ))
        }
        IpAddr::V6(a) if len <= 128 => {
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(len))
            };
            Ok(format!(
                "{}/{len}",
                std::net::Ipv6Addr::from(u128::from(a) & mask)
            ))
        }
        IpAddr::V4(_) => Err(format!("prefix {len} is over 32, the longest for IPv4")),
        IpAddr::V6(_) => Err(format!("prefix {len} is over 128, the longest for IPv6")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_normalize() {
        assert_eq!(normalize_cidr("10.1.2.3/8").as_deref(), Ok("10.0.0.0/8"));
        assert_eq!(
            normalize_cidr("2001:db8::1/32").as_deref(),
            Ok("2001:db8::/32")
        );
        assert!(normalize_cidr("10.0.0.0/33").is_err_and(|e| e.contains("over 32")));
        assert!(normalize_cidr("10.0.0.0").is_err_and(|e| e.contains("missing")));
        assert!(normalize_cidr("nope/8").is_err());
    }
}
