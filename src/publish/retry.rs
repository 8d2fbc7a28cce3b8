//! Retrying registry requests that may pass on a second try (5xx, 429, 408,
//! timeouts, refused or dropped connections), with exponential backoff and
//! full jitter: attempt n waits a random time below min(cap, base · 2ⁿ⁻¹),
//! so many clients that failed together do not come back together.
//!
//! oci-client does not hand over a response's headers with its errors, so a
//! `Retry-After` is not seen; the backoff applies to a 429 as to a 503.

use std::future::Future;
use std::time::Duration;

use oci_client::errors::{OciDistributionError, OciErrorCode};

/// Attempts per request, and the backoff between them.
pub const ATTEMPTS: u32 = 5;
const BASE: Duration = Duration::from_millis(100);
const CAP: Duration = Duration::from_secs(5);

/// A request that failed for good, and after how many attempts.
pub struct GaveUp {
    pub error: OciDistributionError,
    pub attempts: u32,
}

/// Runs `request` until it succeeds, fails for a reason a retry cannot
/// change, or has been tried [`ATTEMPTS`] times.
pub async fn retry<T, F, Fut>(mut request: F) -> Result<T, GaveUp>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, OciDistributionError>>,
{
    let mut attempts = 0;
    loop {
        attempts += 1;
        match request().await {
            Ok(v) => return Ok(v),
            Err(error) if attempts < ATTEMPTS && transient(&error) => tokio::time::sleep(delay(attempts)).await,
            Err(error) => return Err(GaveUp { error, attempts }),
        }
    }
}

/// How long to wait after failed attempt `n` (from 1): full jitter below the exponential ceiling.
fn delay(n: u32) -> Duration {
    let ceiling = BASE.saturating_mul(1 << (n - 1).min(16)).min(CAP);
    Duration::from_nanos(fastrand::u64(0..=ceiling.as_nanos() as u64))
}

/// The HTTP status behind an error, where there is one.
pub fn status(e: &OciDistributionError) -> Option<u16> {
    match e {
        OciDistributionError::RequestError(r) => r.status().map(|s| s.as_u16()),
        OciDistributionError::ServerError { code, .. } => Some(*code),
        OciDistributionError::UnauthorizedError { .. } | OciDistributionError::AuthenticationFailure(_) => Some(401),
        OciDistributionError::RegistryError { envelope, .. } => envelope.errors.iter().find_map(|e| match e.code {
            OciErrorCode::Unauthorized => Some(401),
            OciErrorCode::Denied => Some(403),
            OciErrorCode::Toomanyrequests => Some(429),
            _ => None,
        }),
        _ => None,
    }
}

/// Whether trying again may succeed.
pub fn transient(e: &OciDistributionError) -> bool {
    if let Some(s) = status(e) {
        return matches!(s, 408 | 429 | 500..=599);
    }
    match e {
        // No status: the connection was refused, timed out or dropped, or the
        // body was cut off. A certificate that does not verify stays so.
        OciDistributionError::RequestError(r) => !r.is_builder() && !r.is_redirect() && certificate(r).is_none(),
        _ => false,
    }
}

/// The TLS error under a request error, if TLS failed (the certificate did not verify).
pub fn certificate(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut next = Some(e);
    while let Some(err) = next {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls.to_string());
        }
        // An io::Error's `source()` skips the error it wraps (and reqwest
        // wraps rustls's in two): step into it instead.
        next = match err.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    None
}

/// An error with its causes, each said once: reqwest's own message stops at
/// "error sending request", the reason (refused, timed out, a certificate)
/// is further down.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(err) = next {
        let said = err.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        next = err.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_with_full_jitter_below_the_cap() {
        for n in 1..=20 {
            let ceiling = BASE.saturating_mul(1 << (n - 1).min(16)).min(CAP);
            for _ in 0..50 {
                assert!(delay(n) <= ceiling);
            }
        }
        assert_eq!(BASE.saturating_mul(1 << 4).min(CAP), Duration::from_millis(1600));
        // Jittered: not every wait is the ceiling.
        assert!((0..50).any(|_| delay(5) < Duration::from_millis(1600)));
    }

    #[test]
    fn busy_and_failing_registries_are_retried_refusals_are_not() {
        let server = |code| OciDistributionError::ServerError { code, url: String::new(), message: String::new() };
        for code in [500, 502, 503, 504, 429, 408] {
            assert!(transient(&server(code)), "{code}");
        }
        for code in [400, 401, 403, 404] {
            assert!(!transient(&server(code)), "{code}");
        }
        assert!(!transient(&OciDistributionError::UnauthorizedError { url: String::new() }));
        assert!(!transient(&OciDistributionError::RegistryNoLocationError));
    }

    #[test]
    fn a_retry_stops_at_success_or_after_the_last_attempt() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let calls = std::cell::Cell::new(0);
        let busy = || OciDistributionError::ServerError { code: 503, url: String::new(), message: String::new() };
        let r = rt.block_on(retry(|| {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move { if n < 3 { Err(busy()) } else { Ok(n) } }
        }));
        assert_eq!(r.ok(), Some(3));
        calls.set(0);
        let r = rt.block_on(retry(|| {
            calls.set(calls.get() + 1);
            async { Err::<(), _>(busy()) }
        }));
        assert_eq!((r.err().map(|g| g.attempts), calls.get()), (Some(ATTEMPTS), ATTEMPTS));
    }
}
