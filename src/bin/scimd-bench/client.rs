//! The bench's HTTP/1.1 client: one keep-alive connection, one request at a time, bytes
//! written and read by hand. A general client (awc) spent about three times the CPU of a
//! cheap server request per request on the same two cores as the server it measured.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A response: status and body.
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// One keep-alive connection to the server.
pub struct Connection {
    addr: String,
    host: String,
    stream: Option<TcpStream>,
    out: Vec<u8>,
    buf: Vec<u8>,
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Status code and Content-Length of a response head (`None` length: no body is framed).
fn parse_head(head: &[u8]) -> io::Result<(u16, Option<usize>)> {
    let text = std::str::from_utf8(head).map_err(|_| bad("response head is not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| bad("no status line"))?;
    let mut length = None;
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(
                    value
                        .trim()
                        .parse::<usize>()
                        .map_err(|_| bad("bad Content-Length"))?,
                );
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                return Err(bad("chunked responses are not expected from scimd"));
            }
        }
    }
    Ok((status, length))
}

const SCIM_JSON: &str = "application/scim+json";
const FORM: &str = "application/x-www-form-urlencoded";

impl Connection {
    /// A connection to `addr` (`host:port`), opened on first use.
    pub fn new(addr: &str) -> Connection {
        Connection {
            addr: addr.to_string(),
            host: addr.to_string(),
            stream: None,
            out: Vec::with_capacity(1024),
            buf: Vec::with_capacity(8192),
        }
    }

    /// Send a request and read its response; a failed connection is dropped (the next
    /// request opens a new one).
    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        bearer: &str,
        body: Option<&[u8]>,
    ) -> io::Result<Response> {
        let result = self
            .exchange(method, path, ("Bearer", bearer), SCIM_JSON, body)
            .await;
        if result.is_err() {
            self.stream = None;
        }
        result
    }

    /// POST a form (`application/x-www-form-urlencoded`) with HTTP Basic credentials
    /// (`basic`: the base64 of `id:secret`), as an OAuth client calls a token endpoint.
    pub async fn post_form(
        &mut self,
        path: &str,
        basic: &str,
        form: &[u8],
    ) -> io::Result<Response> {
        let result = self
            .exchange("POST", path, ("Basic", basic), FORM, Some(form))
            .await;
        if result.is_err() {
            self.stream = None;
        }
        result
    }

    async fn exchange(
        &mut self,
        method: &str,
        path: &str,
        (scheme, credential): (&str, &str),
        content_type: &str,
        body: Option<&[u8]>,
    ) -> io::Result<Response> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(&self.addr).await?;
            stream.set_nodelay(true)?;
            self.stream = Some(stream);
        }
        let Some(stream) = self.stream.as_mut() else {
            return Err(bad("not connected"));
        };
        self.out.clear();
        for part in [
            method,
            " ",
            path,
            " HTTP/1.1\r\nHost: ",
            &self.host,
            "\r\nAuthorization: ",
            scheme,
            " ",
            credential,
            "\r\n",
        ] {
            self.out.extend_from_slice(part.as_bytes());
        }
        if let Some(body) = body {
            self.out.extend_from_slice(b"Content-Type: ");
            self.out.extend_from_slice(content_type.as_bytes());
            self.out.extend_from_slice(b"\r\nContent-Length: ");
            self.out
                .extend_from_slice(body.len().to_string().as_bytes());
            self.out.extend_from_slice(b"\r\n\r\n");
            self.out.extend_from_slice(body);
        } else {
            self.out.extend_from_slice(b"\r\n");
        }
        stream.write_all(&self.out).await?;

        self.buf.clear();
        let mut chunk = [0u8; 8192];
        let head_end = loop {
            if let Some(at) = find(&self.buf, b"\r\n\r\n") {
                break at + 4;
            }
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed",
                ));
            }
            self.buf
                .extend_from_slice(chunk.get(..n).unwrap_or_default());
        };
        let (status, length) = parse_head(self.buf.get(..head_end).unwrap_or_default())?;
        let length = match (status, length) {
            (204 | 304, _) => 0,
            (_, Some(n)) => n,
            (_, None) => return Err(bad("response without Content-Length")),
        };
        while self.buf.len() < head_end + length {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed mid-body",
                ));
            }
            self.buf
                .extend_from_slice(chunk.get(..n).unwrap_or_default());
        }
        Ok(Response {
            status,
            body: self
                .buf
                .get(head_end..head_end + length)
                .unwrap_or_default()
                .to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_are_parsed() {
        let (status, len) =
            parse_head(b"HTTP/1.1 201 Created\r\ncontent-length: 12\r\netag: W/\"1\"\r\n\r\n")
                .expect("head");
        assert_eq!((status, len), (201, Some(12)));
        let (status, len) = parse_head(b"HTTP/1.1 204 No Content\r\n\r\n").expect("head");
        assert_eq!((status, len), (204, None));
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").is_err());
        assert!(parse_head(b"garbage").is_err());
    }
}
