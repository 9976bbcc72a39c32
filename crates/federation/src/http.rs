//! The one way out to a provider. Every request, ours and those `openidconnect` and `oauth2` make
//! through [`Outbound`], goes to a host the connection allows, over `https` (plain `http` only to
//! loopback, when allowed), without following redirects, within a time limit, and reads at most
//! so many bytes.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use openidconnect::http::{self, HeaderValue, Method, header};
use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse};
use url::{Origin, Url};

use crate::error::UpstreamError;
use crate::hosts::{host_label, is_loopback_host};

/// What every request sends as `User-Agent` (GitHub's API refuses requests without one).
pub const USER_AGENT: &str = concat!("Accrete/", env!("CARGO_PKG_VERSION"));

/// How requests to providers are made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpOptions {
    /// The longest a request may take, connection and answer included (default 10 s).
    pub timeout: Duration,
    /// The largest answer read, in bytes (default 1 MiB).
    pub max_body: usize,
    /// Whether plain `http` to loopback hosts is allowed (tests and development).
    pub allow_loopback_http: bool,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            timeout: Duration::from_secs(10),
            max_body: 1024 * 1024,
            allow_loopback_http: false,
        }
    }
}

/// The origins (scheme, host, port) a provider's requests may go to.
#[derive(Debug, Clone, Default)]
pub(crate) struct Allowed {
    origins: Vec<Origin>,
}

impl Allowed {
    /// Allows the origin of `url`.
    pub(crate) fn allow(&mut self, url: &Url) {
        let origin = url.origin();
        if !self.origins.contains(&origin) {
            self.origins.push(origin);
        }
    }

    /// Allows `https://{host}`.
    pub(crate) fn allow_host(&mut self, host: &str) {
        if let Ok(url) = Url::parse(&format!("https://{host}/")) {
            self.allow(&url);
        }
    }

    /// Whether `url` is on an allowed origin.
    pub(crate) fn permits(&self, url: &Url) -> bool {
        self.origins.contains(&url.origin())
    }
}

/// The HTTP client shared by every connection (one connection pool).
#[derive(Debug, Clone)]
pub(crate) struct Http {
    client: reqwest::Client,
    options: HttpOptions,
}

impl Http {
    pub(crate) fn new(options: HttpOptions) -> Result<Http, UpstreamError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(options.timeout)
            .timeout(options.timeout)
            .user_agent(USER_AGENT)
            .build()
            .map_err(|_| UpstreamError::Config("the HTTP client cannot be built".to_owned()))?;
        Ok(Http { client, options })
    }

    pub(crate) fn options(&self) -> &HttpOptions {
        &self.options
    }

    /// Whether a request may go to `url`: an allowed origin, over `https` (or `http` to loopback
    /// when the options allow it).
    pub(crate) fn check_target(&self, allowed: &Allowed, url: &Url) -> Result<(), UpstreamError> {
        self.check_transport(url)?;
        if allowed.permits(url) {
            Ok(())
        } else {
            Err(UpstreamError::HostNotAllowed {
                host: host_label(url),
            })
        }
    }

    /// Whether `url` is reached over `https` (or `http` to loopback when the options allow it),
    /// whatever its host: the browser's way to the authorization endpoint.
    pub(crate) fn check_transport(&self, url: &Url) -> Result<(), UpstreamError> {
        let secure = match url.scheme() {
            "https" => true,
            "http" => {
                self.options.allow_loopback_http
                    && url.host().is_some_and(|host| is_loopback_host(&host))
            }
            _ => false,
        };
        if secure {
            Ok(())
        } else {
            Err(UpstreamError::HostNotAllowed {
                host: host_label(url),
            })
        }
    }

    /// `GET url` accepting JSON, with a bearer token when given: the body of a `2xx` answer.
    pub(crate) async fn get(
        &self,
        allowed: &Allowed,
        url: &Url,
        bearer: Option<&str>,
    ) -> Result<Vec<u8>, UpstreamError> {
        let mut request = http::Request::new(Vec::new());
        *request.method_mut() = Method::GET;
        *request.uri_mut() = url
            .as_str()
            .parse()
            .map_err(|_| UpstreamError::Config(format!("{} is not a URL", host_label(url))))?;
        request
            .headers_mut()
            .insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        if let Some(token) = bearer {
            let value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                UpstreamError::Config("the access token cannot be sent in a header".to_owned())
            })?;
            request.headers_mut().insert(header::AUTHORIZATION, value);
        }
        let response = self.send(allowed, request).await?;
        if response.status().is_success() {
            Ok(response.into_body())
        } else {
            Err(UpstreamError::BadStatus {
                host: host_label(url),
                status: response.status().as_u16(),
            })
        }
    }

    /// Sends a request to an allowed target. A redirect, an informational or a server-error
    /// status is [`UpstreamError::BadStatus`]; a client error is returned (an OAuth 2 error
    /// answer is a `400` with a JSON body).
    pub(crate) async fn send(
        &self,
        allowed: &Allowed,
        request: HttpRequest,
    ) -> Result<HttpResponse, UpstreamError> {
        let url = Url::parse(&request.uri().to_string())
            .map_err(|_| UpstreamError::Config("a provider URL cannot be read".to_owned()))?;
        self.check_target(allowed, &url)?;
        let host = host_label(&url);
        let request = reqwest::Request::try_from(request)
            .map_err(|_| UpstreamError::Config(format!("a request to {host} cannot be made")))?;
        let after = self.options.timeout;
        // reqwest's own timeouts bound connecting and the answer too; this bounds it all at once.
        match tokio::time::timeout(after, self.execute(request, &host)).await {
            Ok(result) => result,
            Err(_) => Err(UpstreamError::Timeout { host, after }),
        }
    }

    async fn execute(
        &self,
        request: reqwest::Request,
        host: &str,
    ) -> Result<HttpResponse, UpstreamError> {
        let mut response = self
            .client
            .execute(request)
            .await
            .map_err(|error| self.transport_error(&error, host))?;
        let status = response.status();
        if status.is_redirection() || status.is_informational() || status.is_server_error() {
            return Err(UpstreamError::BadStatus {
                host: host.to_owned(),
                status: status.as_u16(),
            });
        }
        let limit = self.options.max_body;
        let too_large = || UpstreamError::TooLarge {
            host: host.to_owned(),
            limit,
        };
        if response
            .content_length()
            .is_some_and(|length| length > limit as u64)
        {
            return Err(too_large());
        }
        let headers = std::mem::take(response.headers_mut());
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| self.transport_error(&error, host))?
        {
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        let mut answer = http::Response::new(body);
        *answer.status_mut() = status;
        *answer.headers_mut() = headers;
        Ok(answer)
    }

    fn transport_error(&self, error: &reqwest::Error, host: &str) -> UpstreamError {
        if error.is_timeout() {
            return UpstreamError::Timeout {
                host: host.to_owned(),
                after: self.options.timeout,
            };
        }
        // The innermost cause ("Connection refused", "invalid peer certificate: ..."): reqwest's
        // own message names the URL, which is not for logs.
        let mut cause: &dyn std::error::Error = error;
        while let Some(source) = cause.source() {
            cause = source;
        }
        UpstreamError::Unreachable {
            host: host.to_owned(),
            reason: cause.to_string(),
        }
    }
}

/// [`Http`] for `openidconnect` and `oauth2`, limited to one provider's allowed origins.
pub(crate) struct Outbound<'a> {
    pub(crate) http: &'a Http,
    pub(crate) allowed: &'a Allowed,
}

impl<'c> AsyncHttpClient<'c> for Outbound<'_> {
    type Error = UpstreamError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, UpstreamError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.http.send(self.allowed, request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn allowed_origins_are_scheme_host_and_port() {
        let mut allowed = Allowed::default();
        allowed.allow(&url("https://accounts.google.com"));
        allowed.allow_host("oauth2.googleapis.com");
        assert!(allowed.permits(&url("https://accounts.google.com/o/oauth2/v2/auth")));
        assert!(allowed.permits(&url("https://oauth2.googleapis.com:443/token")));
        assert!(!allowed.permits(&url("http://oauth2.googleapis.com/token")));
        assert!(!allowed.permits(&url("https://oauth2.googleapis.com:8443/token")));
        assert!(!allowed.permits(&url("https://www.googleapis.com/oauth2/v3/certs")));
    }

    #[test]
    fn plain_http_only_reaches_loopback_when_allowed() {
        let strict = Http::new(HttpOptions::default()).unwrap();
        let loose = Http::new(HttpOptions {
            allow_loopback_http: true,
            ..HttpOptions::default()
        })
        .unwrap();
        for target in [
            "http://127.0.0.1:8080/",
            "http://localhost/",
            "http://[::1]/",
        ] {
            assert!(strict.check_transport(&url(target)).is_err(), "{target}");
            assert!(loose.check_transport(&url(target)).is_ok(), "{target}");
        }
        assert_eq!(
            loose.check_transport(&url("http://id.example/")),
            Err(UpstreamError::HostNotAllowed {
                host: "id.example".to_owned()
            })
        );
        assert!(strict.check_transport(&url("https://id.example/")).is_ok());
        assert!(strict.check_transport(&url("ftp://id.example/")).is_err());
    }
}
