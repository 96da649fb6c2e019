//! The connection under the router: hyper with the limits the contract
//! states. The request head (request line and headers) must arrive within
//! [`HEADER_TIMEOUT`] and fit in [`MAX_HEAD_BYTES`]; the body has its own
//! timeout (`http::BODY_TIMEOUT`) and size limit. A slow client is dropped
//! instead of holding a connection forever.
//!
//! hyper answers a head it cannot parse or hold itself, with an empty body
//! (400, 414, 431). [`Guard`] rewrites exactly those answers, recognised by
//! their status line and `content-length: 0` (every answer of the router
//! has a body), into RFC 9457 problems like every other error of the API.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Longest a client may take to send a request head.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request head (request line and headers).
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Most headers in one request.
pub const MAX_HEADERS: usize = 100;
/// Longest request URI (path and query); longer is a 414 problem.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// A TCP stream whose bodiless automatic error answers become problems.
pub struct Guard {
    inner: TcpStream,
    /// A replacement being written: its bytes, how many are out, and the
    /// length of the answer it replaces (reported to hyper when done).
    pending: Option<(Vec<u8>, usize, usize)>,
}

impl Guard {
    pub fn new(inner: TcpStream) -> Guard {
        Guard {
            inner,
            pending: None,
        }
    }
}

/// The problem answer for one of hyper's automatic answers, if `buf` is one.
fn replacement(buf: &[u8]) -> Option<Vec<u8>> {
    let (status, reason, code, detail) = if buf.starts_with(b"HTTP/1.1 431 ") {
        (
            431,
            "Request Header Fields Too Large",
            "header-too-large",
            format!(
                "the request line and headers are over {} KiB, or over {MAX_HEADERS} headers",
                MAX_HEAD_BYTES / 1024
            ),
        )
    } else if buf.starts_with(b"HTTP/1.1 414 ") {
        (
            414,
            "URI Too Long",
            "uri-too-long",
            format!("the request URI is over {} KiB", MAX_URI_BYTES / 1024),
        )
    } else if buf.starts_with(b"HTTP/1.1 400 ") {
        (
            400,
            "Bad Request",
            "bad-request",
            "the request is not valid HTTP/1.1".to_owned(),
        )
    } else {
        return None;
    };
    // Only a head with nothing after it and an empty body.
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    if end != buf.len() || !head.contains("\r\ncontent-length: 0\r\n") {
        return None;
    }
    let problem = crate::platform::ApiError::new(status, code, detail).problem(None);
    let body = serde_json::to_string(&problem).ok()?;
    Some(
        format!(
            "HTTP/1.1 {status} {reason}\r\ncontent-type: application/problem+json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

impl AsyncRead for Guard {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Guard {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.pending.is_none()
            && let Some(r) = replacement(buf)
        {
            this.pending = Some((r, 0, buf.len()));
        }
        let Some((bytes, done, replaced)) = &mut this.pending else {
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        };
        while *done < bytes.len() {
            match Pin::new(&mut this.inner).poll_write(cx, &bytes[*done..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => *done += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        let n = *replaced;
        this.pending = None;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    /// One buffer per answer, so an automatic answer is seen whole.
    fn is_write_vectored(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bodiless_automatic_answers_are_replaced() {
        let auto =
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        let r = replacement(auto).map(|r| String::from_utf8_lossy(&r).into_owned());
        assert!(r.as_deref().is_some_and(
            |r| r.contains("application/problem+json") && r.contains("\"status\":431")
        ));
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\ncontent-length: 9\r\n\r\n{\"a\":1}\r\n";
        assert!(replacement(ours).is_none());
        assert!(replacement(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
    }
}
