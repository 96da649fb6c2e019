//! Branding images as tenet compares them: the format is told by the
//! content (the magic bytes, through `infer`), never by the file name, and
//! an image is identified by the digest of its bytes (`sha256:` and the
//! first 32 hex digits of their SHA-256), so a renamed or moved file is no
//! change and a re-exported one with other bytes is.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

/// The formats a branding image may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Png,
    Jpeg,
    Ico,
}

impl ImageFormat {
    /// The format of `bytes` by their content, if it is one of these.
    pub fn sniff(bytes: &[u8]) -> Option<ImageFormat> {
        match infer::get(bytes)?.mime_type() {
            "image/png" => Some(ImageFormat::Png),
            "image/jpeg" => Some(ImageFormat::Jpeg),
            "image/vnd.microsoft.icon" | "image/x-icon" => Some(ImageFormat::Ico),
            _ => None,
        }
    }

    /// What `bytes` look like, for a diagnostic: the detected type, or
    /// "unrecognised content".
    pub fn describe(bytes: &[u8]) -> String {
        match infer::get(bytes) {
            Some(t) => format!("its content is {}", t.mime_type()),
            None if std::str::from_utf8(bytes).is_ok() => "its content is text".to_owned(),
            None => "its content is no image format tenet knows".to_owned(),
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            ImageFormat::Png => "image/png",
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Ico => "image/vnd.microsoft.icon",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ImageFormat::Png => "PNG",
            ImageFormat::Jpeg => "JPEG",
            ImageFormat::Ico => "ICO",
        }
    }
}

/// A branding image slot: where an image shows and which formats it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageSlot {
    LogoLight,
    LogoInverse,
    Favicon,
}

impl ImageSlot {
    pub const ALL: [ImageSlot; 3] = [
        ImageSlot::LogoLight,
        ImageSlot::LogoInverse,
        ImageSlot::Favicon,
    ];

    /// The field name, in the files and the contract.
    pub fn field(self) -> &'static str {
        match self {
            ImageSlot::LogoLight => "logo_light",
            ImageSlot::LogoInverse => "logo_inverse",
            ImageSlot::Favicon => "favicon",
        }
    }

    /// Whether this slot takes `format`: PNG and JPEG everywhere, ICO for
    /// the favicon too.
    pub fn accepts(self, format: ImageFormat) -> bool {
        format != ImageFormat::Ico || self == ImageSlot::Favicon
    }

    /// "PNG or JPEG", "PNG, JPEG or ICO".
    pub fn formats(self) -> &'static str {
        match self {
            ImageSlot::Favicon => "PNG, JPEG or ICO",
            _ => "PNG or JPEG",
        }
    }
}

/// `sha256:<32 hex digits>`: the first 128 bits of the SHA-256 of
/// `bytes`, as tenet's other digests.
pub fn digest(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(39);
    out.push_str("sha256:");
    for b in &Sha256::digest(bytes)[..16] {
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] =
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
    const JPEG: &[u8] = b"\xff\xd8\xff\xe0\0\x10JFIF\0\x01\x01\0\0\x01\0\x01\0\0";
    const ICO: &[u8] = b"\0\0\x01\0\x01\0\x10\x10\0\0\x01\0\x20\0\x68\x04\0\0\x16\0\0\0";

    #[test]
    fn the_format_is_told_by_content_and_ico_is_only_a_favicon() {
        assert_eq!(ImageFormat::sniff(PNG), Some(ImageFormat::Png));
        assert_eq!(ImageFormat::sniff(JPEG), Some(ImageFormat::Jpeg));
        assert_eq!(ImageFormat::sniff(ICO), Some(ImageFormat::Ico));
        assert_eq!(
            ImageFormat::sniff(b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
            None
        );
        assert_eq!(ImageFormat::sniff(b"GIF89a\x01\0\x01\0"), None);
        assert!(!ImageSlot::LogoLight.accepts(ImageFormat::Ico));
        assert!(ImageSlot::Favicon.accepts(ImageFormat::Ico));
        assert_eq!(
            ImageFormat::describe(b"not an image"),
            "its content is text"
        );
        assert_eq!(
            ImageFormat::describe(b"GIF89a\x01\0\x01\0"),
            "its content is image/gif"
        );
    }

    #[test]
    fn the_digest_is_sha256_of_the_bytes() {
        assert_eq!(digest(b""), "sha256:e3b0c44298fc1c149afbf4c8996fb924");
    }
}
