//! Accepting connections with limits, so that no client can hold the
//! server's resources by being slow or idle.
//!
//! The review found idle and trickling connections kept open for at least
//! 120 s, 300 idle connections locking every client out once the process
//! ran out of file descriptors, and a request that declared a 100 MB body
//! and sent nothing never answered. Here:
//! - a connection must deliver a request's headers within
//!   [`Limits::header_read`] of being opened or of its previous response
//!   (hyper's header read timeout, which also bounds keep-alive idling);
//! - a body must arrive within [`Limits::body`] (a layer in `routes`), and
//!   one declared larger than the API accepts is refused before it is read;
//! - a response the client stops reading is abandoned after
//!   [`Limits::write_stall`] without progress ([`StallTimeout`]);
//! - at most [`Limits::max_connections`] are open at once, below the
//!   process's open-file limit; one more is answered 503 with
//!   Retry-After and closed at once, so a flood cannot take the
//!   descriptors the database needs.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::connect_info::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tower::ServiceExt;

use carrel_store::quiet_log::NowAndThen;

/// The time limits and the connection limit of the HTTP listener.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// From a connection's start, or the end of its previous response, to
    /// the end of the next request's headers: bounds idle keep-alive
    /// connections and slowly trickled headers alike.
    pub header_read: Duration,
    /// From the end of the headers to the end of the body.
    pub body: Duration,
    /// How long a response may wait for the client to read it.
    pub write_stall: Duration,
    /// Connections open at once, at most.
    pub max_connections: usize,
    /// Sign-ins hashing a password or PIN at once (see
    /// `api::PasswordChecks`).
    pub sign_in_turns: usize,
    /// Sign-ins waiting for a turn, at most; more are refused with 503.
    pub sign_in_queue: usize,
}

/// File descriptors kept back from connections: the database (SQLite's
/// three files, or the PostgreSQL pool), the log, the alert command's
/// pipes, and the 503 answer to one connection too many.
const DESCRIPTORS_KEPT: u64 = 64;

/// The most connections served at once when the open-file limit is high.
const MAX_CONNECTIONS: usize = 1024;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read: Duration::from_secs(10),
            body: Duration::from_secs(10),
            write_stall: Duration::from_secs(30),
            max_connections: connection_limit_below(open_file_limit()),
            sign_in_turns: sign_in_turns(),
            sign_in_queue: 8 * sign_in_turns(),
        }
    }
}

/// Half the cores (at least one) hash sign-ins at once, so the desk keeps
/// a core during a flood of them.
fn sign_in_turns() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.div_ceil(2).max(1)
}

/// The process's open-file limit (soft), if it can be read.
pub fn open_file_limit() -> Option<u64> {
    carrel_sys::open_file_limit()
}

/// How many connections to serve under an open-file limit: the limit less
/// what the rest of the server needs, at least 8, at most
/// [`MAX_CONNECTIONS`].
pub fn connection_limit_below(open_files: Option<u64>) -> usize {
    match open_files {
        None => MAX_CONNECTIONS,
        Some(n) => (n.saturating_sub(DESCRIPTORS_KEPT) as usize).clamp(8, MAX_CONNECTIONS),
    }
}

/// The most a connection buffers while reading a request (headers, and
/// the body as it streams).
const READ_BUFFER_BYTES: usize = 16 * 1024;

/// What a connection over the limit is told before it is closed, with the
/// security headers the router gives every answer (see `routes::router`).
const TOO_MANY_CONNECTIONS: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: application/json\r\nContent-Length: 97\r\nConnection: close\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\nContent-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'\r\n\r\n{\"error\":{\"code\":\"busy\",\"message\":\"the server has too many open connections; try again shortly\"}}";

/// Connections over the limit being told so at once, at most; beyond, one
/// is closed without a word.
const REFUSALS_AT_ONCE: usize = 32;

/// Tells a connection over the limit "503" and closes it. A client that
/// has already sent its request would see a reset, not the answer, if the
/// socket closed with its request unread: so the request is read and
/// dropped for up to a second first (a few refusals at once, bounded, so
/// they cannot hold many descriptors).
fn refuse(stream: tokio::net::TcpStream, refusals: &Arc<Semaphore>) {
    let Ok(turn) = refusals.clone().try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = stream;
        let _ = stream.write_all(TOO_MANY_CONNECTIONS).await;
        let _ = stream.shutdown().await;
        let mut sink = [0u8; 4096];
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            let mut total = 0;
            while let Ok(n) = stream.read(&mut sink).await {
                total += n;
                if n == 0 || total > 64 * 1024 {
                    break;
                }
            }
        })
        .await;
        drop(turn);
    });
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets open
/// requests finish (at most 30 s).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let refusals = Arc::new(Semaphore::new(REFUSALS_AT_ONCE));
    let (closing, closed) = watch::channel(false);
    tokio::pin!(shutdown);
    tracing::info!(
        max_connections = limits.max_connections,
        header_read_s = limits.header_read.as_secs(),
        body_s = limits.body.as_secs(),
        "accepting connections"
    );
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of descriptors or a connection reset before it
                    // was accepted: wait a moment rather than spin.
                    static FAILED: NowAndThen = NowAndThen::new();
                    if let Some(held_back) = FAILED.due() {
                        tracing::warn!(error = %e, held_back, "could not accept a connection");
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            static REFUSED: NowAndThen = NowAndThen::new();
            if let Some(held_back) = REFUSED.due() {
                tracing::warn!(held_back, "connections refused: too many open");
            }
            refuse(stream, &refusals);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let mut closed = closed.clone();
        tokio::spawn(async move {
            let service = TowerToHyperService::new(app.map_request(
                move |mut request: axum::http::Request<Incoming>| {
                    // What axum's `ConnectInfo<SocketAddr>` extractor reads.
                    request
                        .extensions_mut()
                        .insert(ConnectInfo::<SocketAddr>(remote));
                    request.map(axum::body::Body::new)
                },
            ));
            let io = TokioIo::new(StallTimeout::new(stream, limits.write_stall));
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read)
                // hyper's default (about 400 KiB a connection) let 900
                // connections of padded headers take 337 MB; Carrel's
                // requests have headers of a few KiB.
                .max_buf_size(READ_BUFFER_BYTES)
                .serve_connection(io, service);
            tokio::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                }
                _ = async { closed.wait_for(|closing| *closing).await.map(|_| ()) } => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
            drop(permit);
        });
    }
    let _ = closing.send(true);
    // Every permit back means every connection has ended.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(Duration::from_secs(30), permits.acquire_many(all)).await;
    Ok(())
}

/// A request body that must arrive whole within a time limit counted from
/// the end of the headers. (tower-http's body timeout restarts its clock
/// at every chunk, so a client sending a byte every few seconds held its
/// connection as long as it liked, and 200 such clients took every
/// connection slot.)
pub struct DeadlineBody {
    inner: axum::body::Body,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl DeadlineBody {
    pub fn new(inner: axum::body::Body, limit: Duration) -> DeadlineBody {
        DeadlineBody {
            inner,
            deadline: Box::pin(tokio::time::sleep(limit)),
        }
    }
}

impl axum::body::HttpBody for DeadlineBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        if self.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(axum::Error::new(io::Error::new(
                io::ErrorKind::TimedOut,
                "the request body did not arrive in time",
            )))));
        }
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The layer that gives every request body a [`DeadlineBody`].
pub async fn body_deadline(
    axum::extract::State(limit): axum::extract::State<Duration>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let request = request.map(|body| axum::body::Body::new(DeadlineBody::new(body, limit)));
    next.run(request).await
}

/// A stream whose writes fail once they have made no progress for a
/// while: a client that stops reading a response cannot hold the
/// connection (and its descriptor) forever. Reads are not timed here: the
/// header and body limits bound them where a read is expected.
pub struct StallTimeout<S> {
    inner: S,
    limit: Duration,
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<S> StallTimeout<S> {
    pub fn new(inner: S, limit: Duration) -> Self {
        StallTimeout {
            inner,
            limit,
            stalled: None,
        }
    }

    /// After a write came back `Pending`: fails once it has been pending
    /// for `limit` (the sleep registers the waker).
    fn check_stall(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let limit = self.limit;
        let sleep = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client stopped reading the response",
            )),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for StallTimeout<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S> StallTimeout<S> {
    /// What a write (or flush) of the inner stream came back with: progress
    /// resets the clock; no progress starts (or checks) it.
    fn timed<T>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        match poll {
            Poll::Pending => self.check_stall(cx).map(Err),
            ready => {
                self.stalled = None;
                ready
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for StallTimeout<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.timed(cx, poll)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        self.timed(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.timed(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;

    use super::*;

    /// A client that stops reading: the write fails after the stall limit
    /// instead of holding the connection forever.
    #[tokio::test]
    async fn a_write_nobody_reads_fails_after_the_stall_limit() {
        let (server_side, _client_keeps_it_open_but_never_reads) = tokio::io::duplex(64);
        let mut stream = StallTimeout::new(server_side, Duration::from_millis(200));
        let started = std::time::Instant::now();
        let written = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                stream.write_all(&[0u8; 1024]).await?;
            }
            #[allow(unreachable_code)]
            Ok::<(), io::Error>(())
        })
        .await
        .expect("the write gave up on its own");
        let err = written.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    /// Progress resets the clock: a slow reader that keeps reading is
    /// served to the end.
    #[tokio::test]
    async fn a_slow_reader_that_keeps_reading_is_served() {
        use tokio::io::AsyncReadExt;
        let (server_side, mut client) = tokio::io::duplex(64);
        let mut stream = StallTimeout::new(server_side, Duration::from_millis(300));
        let reader = tokio::spawn(async move {
            let mut total = 0;
            let mut buf = [0u8; 64];
            loop {
                tokio::time::sleep(Duration::from_millis(20)).await;
                match client.read(&mut buf).await {
                    Ok(0) | Err(_) => return total,
                    Ok(n) => total += n,
                }
            }
        });
        // 64 bytes every 20 ms: 4 KiB takes over a second, several stall
        // limits, with progress all along.
        stream.write_all(&[1u8; 4096]).await.unwrap();
        stream.shutdown().await.unwrap();
        drop(stream);
        assert_eq!(reader.await.unwrap(), 4096);
    }

    /// The canned answer is a well-formed response: its declared length
    /// is its body's (a wrong one made curl and Python report a broken
    /// answer instead of the 503).
    #[test]
    fn the_answer_to_one_connection_too_many_is_well_formed() {
        let text = std::str::from_utf8(TOO_MANY_CONNECTIONS).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let declared: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(declared, body.len());
        assert!(head.starts_with("HTTP/1.1 503 "));
        serde_json::from_str::<serde_json::Value>(body).unwrap();
        // The router's security headers, written out here by hand.
        assert!(head.contains(&format!(
            "Content-Security-Policy: {}",
            crate::routes::CONTENT_SECURITY_POLICY
        )));
    }

    #[test]
    fn the_connection_limit_stays_below_the_open_file_limit() {
        assert_eq!(connection_limit_below(Some(256)), 192);
        assert_eq!(connection_limit_below(Some(20)), 8);
        assert_eq!(connection_limit_below(Some(1_000_000)), MAX_CONNECTIONS);
        assert_eq!(connection_limit_below(None), MAX_CONNECTIONS);
    }
}
