//! Platform-wide settings: a singleton replaced whole. Network ranges are
//! stored normalized (host bits cleared), the branding colour lower-case and
//! its support email case-folded. Branding images are uploaded on their
//! own, kept by the digest of their bytes (format told by content: PNG or
//! JPEG, ICO for the favicon too; at most 2 MiB), and named by digest in
//! the settings, which refuse a digest the platform does not hold.

use rusqlite::{Connection, OptionalExtension, params};

use super::keys::is_email;
use super::{Actor, Cached, Engine, check_labels, check_text, check_version, json, parse, to_u64};
use crate::platform::ApiError;
use crate::wire::{Branding, Image, MAX_IMAGE_BYTES, Settings, SettingsSpec};

/// The media type of `bytes` by their content, if it is an image format
/// the platform takes (PNG, JPEG, ICO).
fn media_type(bytes: &[u8]) -> Option<&'static str> {
    match infer::get(bytes)?.mime_type() {
        "image/png" => Some("image/png"),
        "image/jpeg" => Some("image/jpeg"),
        "image/vnd.microsoft.icon" | "image/x-icon" => Some("image/vnd.microsoft.icon"),
        _ => None,
    }
}

fn image_digest(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let hex: String = Sha256::digest(bytes)[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

fn image(conn: &Connection, digest: &str) -> Result<Option<(Image, Vec<u8>)>, ApiError> {
    Ok(conn
        .one(
            "SELECT media_type, size, bytes FROM images WHERE digest = ?1",
            params![digest],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                ))
            },
        )
        .optional()?
        .map(|(media_type, size, bytes)| {
            (
                Image {
                    digest: digest.to_owned(),
                    media_type,
                    size: to_u64(size),
                },
                bytes,
            )
        }))
}

/// Each image the branding names is one the platform holds, of a format
/// its slot takes.
fn check_images(conn: &Connection, b: &Branding) -> Result<(), ApiError> {
    for (field, digest, ico) in [
        ("logo_light", &b.logo_light, false),
        ("logo_inverse", &b.logo_inverse, false),
        ("favicon", &b.favicon, true),
    ] {
        let Some(digest) = digest else { continue };
        let Some((img, _)) = image(conn, digest)? else {
            return Err(ApiError::new(
                422,
                "invalid-reference",
                format!(
                    "`branding.{field}` names image `{digest}`, which was never uploaded (POST /v1/settings/images)"
                ),
            ));
        };
        if img.media_type == "image/vnd.microsoft.icon" && !ico {
            return Err(ApiError::invalid_value(format!(
                "`branding.{field}` must be a PNG or JPEG image; `{digest}` is an ICO file (only the favicon may be one)"
            )));
        }
    }
    Ok(())
}

fn get(conn: &Connection) -> Result<Settings, ApiError> {
    let (spec, version, updated_at): (String, i64, String) = conn.one(
        "SELECT spec, version, updated_at FROM settings WHERE id = 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    Ok(Settings {
        spec: parse(&spec)?,
        version: to_u64(version),
        updated_at,
    })
}

/// An `ip_allowlist` entry in canonical form (§7.10): `addr/len`, IPv4 with
/// `len` at most 32 or IPv6 with `len` at most 128, host bits cleared
/// (`10.1.2.3/8` is `10.0.0.0/8`). The address is read by the standard
/// library (no leading zeros in IPv4 octets, no zone), the length is decimal
/// digits only; `ipnet` does the network arithmetic and the text.
fn canonical_cidr(s: &str) -> Result<String, String> {
    let Some((addr, len)) = s.split_once('/') else {
        return Err("a bare address: the /prefix-length is missing".to_owned());
    };
    let addr: std::net::IpAddr = addr
        .parse()
        .map_err(|_| format!("`{addr}` is not an IPv4 or IPv6 address"))?;
    let bits = if addr.is_ipv4() { 32 } else { 128 };
    let len = Some(len)
        .filter(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|l| l.parse::<u8>().ok())
        .filter(|l| *l <= bits)
        .ok_or_else(|| format!("`{len}` is not a prefix length from 0 to {bits}"))?;
    let net = ipnet::IpNet::new(addr, len).map_err(|e| e.to_string())?;
    Ok(net.trunc().to_string())
}

/// Branding as stored: the colour lower-case, the email folded; `422` for
/// a colour that is not `#rrggbb`, an address that is not one, or text
/// over its length.
fn branding(b: &mut Branding) -> Result<(), ApiError> {
    check_text("branding.display_name", &b.display_name, 100)?;
    check_text("branding.login_headline", &b.login_headline, 200)?;
    check_text("branding.login_tagline", &b.login_tagline, 300)?;
    if let Some(c) = &mut b.accent_color {
        let hex = c.strip_prefix('#').unwrap_or_default();
        if c.len() != 7 || !hex.bytes().all(|x| x.is_ascii_hexdigit()) {
            return Err(ApiError::invalid_value(format!(
                "`branding.accent_color` `{c}` is not a colour written #rrggbb"
            )));
        }
        c.make_ascii_lowercase();
    }
    if let Some(e) = &mut b.support_email {
        if !is_email(e) {
            return Err(ApiError::invalid_value(format!(
                "`branding.support_email` `{e}` is not an email address"
            )));
        }
        *e = e.to_lowercase();
    }
    Ok(())
}

fn normalize(mut spec: SettingsSpec) -> Result<SettingsSpec, ApiError> {
    check_labels(&spec.labels)?;
    branding(&mut spec.branding)?;
    let s = &spec.security;
    if s.session_timeout_minutes
        .is_some_and(|m| !(1..=525_600).contains(&m))
    {
        return Err(ApiError::invalid_value(
            "`session_timeout_minutes` must be between 1 and 525600",
        ));
    }
    if s.password_policy
        .min_length
        .is_some_and(|m| !(6..=128).contains(&m))
    {
        return Err(ApiError::invalid_value(
            "`password_policy.min_length` must be between 6 and 128",
        ));
    }
    if let Some(list) = &spec.security.ip_allowlist {
        let mut out: Vec<String> = Vec::new();
        for c in list {
            let n = canonical_cidr(c).map_err(|why| {
                ApiError::invalid_value(format!("`{c}` is not a CIDR block: {why}"))
            })?;
            if !out.contains(&n) {
                out.push(n);
            }
        }
        out.sort();
        spec.security.ip_allowlist = Some(out);
    }
    Ok(spec)
}

impl Engine {
    pub fn get_settings(&self) -> Result<Settings, ApiError> {
        self.read(get)
    }

    pub fn put_settings(
        &self,
        actor: &Actor,
        if_match: Option<u64>,
        spec: SettingsSpec,
    ) -> Result<Settings, ApiError> {
        let spec = normalize(spec)?;
        self.write(actor, |t| {
            check_images(t.tx, &spec.branding)?;
            let current = get(t.tx)?;
            check_version("the settings", if_match, current.version)?;
            let version = current.version + 1;
            t.tx.run(
                "UPDATE settings SET spec = ?1, version = ?2, updated_at = ?3 WHERE id = 1",
                params![json(&spec)?, version as i64, t.now.text],
            )?;
            t.audit(
                "update",
                "settings",
                version,
                &serde_json::to_value(&current.spec)?,
                &serde_json::to_value(&spec)?,
            )?;
            get(t.tx)
        })
    }
}

impl Engine {
    /// Keeps an uploaded image (idempotent: the same bytes are the same
    /// image); `true` when it is new. Refused: over 2 MiB (413), or not a
    /// PNG, JPEG or ICO image by its content (422).
    pub fn put_image(&self, actor: &Actor, bytes: &[u8]) -> Result<(Image, bool), ApiError> {
        if bytes.len() > MAX_IMAGE_BYTES {
            return Err(ApiError::new(
                413,
                "payload-too-large",
                format!(
                    "the image is {} bytes, over the limit of 2 MiB",
                    bytes.len()
                ),
            ));
        }
        let Some(media_type) = media_type(bytes) else {
            return Err(ApiError::invalid_value(
                "the body is not a PNG, JPEG or ICO image (the format is told by the content)",
            ));
        };
        let digest = image_digest(bytes);
        self.write(actor, |t| {
            if let Some((img, _)) = image(t.tx, &digest)? {
                return Ok((img, false));
            }
            t.tx.run(
                "INSERT INTO images (digest, media_type, size, bytes, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![digest, media_type, bytes.len() as i64, bytes, t.now.text],
            )?;
            let img = Image {
                digest: digest.clone(),
                media_type: media_type.to_owned(),
                size: bytes.len() as u64,
            };
            t.audit(
                "create",
                &format!("settings/images/{digest}"),
                1,
                &serde_json::Value::Null,
                &serde_json::to_value(&img)?,
            )?;
            Ok((img, true))
        })
    }

    /// An uploaded image and its bytes.
    pub fn get_image(&self, digest: &str) -> Result<(Image, Vec<u8>), ApiError> {
        self.read(|c| image(c, digest))?
            .ok_or_else(|| ApiError::not_found(format!("image `{digest}`")))
    }
}

#[cfg(test)]
mod tests {
    use super::canonical_cidr;

    #[test]
    fn cidrs_are_canonical() {
        for (given, stored) in [
            ("10.1.2.3/8", "10.0.0.0/8"),
            ("192.168.1.0/24", "192.168.1.0/24"),
            ("10.0.0.1/32", "10.0.0.1/32"),
            ("1.2.3.4/0", "0.0.0.0/0"),
            ("2001:DB8::1/32", "2001:db8::/32"),
            ("::1/128", "::1/128"),
            ("fe80::1/0", "::/0"),
            ("10.0.0.0/08", "10.0.0.0/8"),
        ] {
            assert_eq!(canonical_cidr(given).as_deref(), Ok(stored), "{given}");
        }
        for bad in [
            "10.0.0.1",
            "10.0.0.0/33",
            "2001:db8::/129",
            "10.0.0.300/8",
            "010.0.0.0/8",
            "10.0.0/8",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "10.0.0.0/8/8",
            "10.0.0.0/256",
            "fe80::1%eth0/64",
            " 10.0.0.0/8",
            "nope/8",
        ] {
            assert!(canonical_cidr(bad).is_err(), "{bad}");
        }
    }
}
