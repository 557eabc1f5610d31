//! Reading answer bodies with a bound on memory.

/// Why a body was not read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The body (as announced by `Content-Length`, or as counted while it streamed in)
    /// is over the limit; reading stopped there and the connection is dropped.
    #[error("the answer is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// The connection failed (or timed out) while the body was read.
    #[error(transparent)]
    Read(#[from] reqwest::Error),
}

/// Reads `resp`'s whole body if it is at most `limit` bytes. A `Content-Length` over the
/// limit fails before anything is read; otherwise bytes are counted as they arrive and the
/// read stops at the first chunk that crosses the limit, so at most `limit` plus one chunk
/// is ever held.
pub async fn read_capped(mut resp: reqwest::Response, limit: u64) -> Result<Vec<u8>, BodyError> {
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(BodyError::TooLarge { limit });
    }
    let announced = resp.content_length().unwrap_or(0);
    // Preallocate what was announced (it is within the limit), not more.
    let mut body = Vec::with_capacity(usize::try_from(announced).unwrap_or(0));
    while let Some(chunk) = resp.chunk().await? {
        if body.len() as u64 + chunk.len() as u64 > limit {
            return Err(BodyError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The first `max` bytes of `resp`'s body (for an error message); the rest is never read.
/// A connection failure mid-body ends the prefix where it broke.
pub async fn read_prefix(mut resp: reqwest::Response, max: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < max {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                let room = max - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn client() -> reqwest::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::new()
    }

    /// Serves one request on a loopback port with `head` and then `chunk` repeated
    /// forever (or until the client hangs up).
    async fn endless(head: &'static str) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            if s.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let chunk = vec![b'x'; 64 << 10];
            while s.write_all(&chunk).await.is_ok() {}
        });
        format!("http://{addr}/")
    }

    #[tokio::test]
    async fn an_endless_body_stops_at_the_limit() {
        let url = endless("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n").await;
        let resp = client().get(url).send().await.unwrap();
        let err = read_capped(resp, 1 << 20).await.unwrap_err();
        assert!(matches!(err, BodyError::TooLarge { limit } if limit == 1 << 20));
        assert_eq!(
            err.to_string(),
            "the answer is larger than the limit of 1048576 bytes"
        );
    }

    #[tokio::test]
    async fn an_announced_length_over_the_limit_fails_before_reading() {
        let url = endless("HTTP/1.1 200 OK\r\nContent-Length: 999999999999\r\n\r\n").await;
        let resp = client().get(url).send().await.unwrap();
        let err = read_capped(resp, 1000).await.unwrap_err();
        assert!(matches!(err, BodyError::TooLarge { limit: 1000 }));
    }

    #[tokio::test]
    async fn a_prefix_of_an_endless_body_is_just_the_prefix() {
        let url = endless("HTTP/1.1 500 Oops\r\nConnection: close\r\n\r\n").await;
        let resp = client().get(url).send().await.unwrap();
        let prefix = read_prefix(resp, 300).await;
        assert_eq!(prefix, vec![b'x'; 300]);
    }
}
