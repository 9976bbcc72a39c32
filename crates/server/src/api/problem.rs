//! The one mapping from API errors to HTTP: RFC 9457 `application/problem+json`, with a
//! `fields` member for per-field validation errors and `WWW-Authenticate` (RFC 6750) on
//! authentication failures. axum's own rejections (bad JSON, wrong content type, bad path or
//! query) are converted here too, so that no input reaches a 500.

use std::collections::BTreeMap;

use axum::extract::FromRequestParts;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

use accrete_app::client_admin::ClientError;
use accrete_app::connection_admin::ConnectionAdminError;
use accrete_app::import_jobs::JobError;
use accrete_app::policy_admin::PolicyError;
use accrete_app::problems::Problem as ValueProblem;
use accrete_app::stats::StatsError;
use accrete_app::users::UserError;
use accrete_app::webhooks::WebhookError;
use accrete_store::StoreError;

/// The realm named in `WWW-Authenticate` challenges.
const REALM: &str = "accrete";

/// One refused value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldProblem {
    /// Stable code (`required`, `invalid_key`, `too_large`, `pattern`, ...).
    pub code: String,
    /// What is wrong, for people.
    pub message: String,
}

/// Per-field problems, keyed by field key, JSON path or policy location.
pub type FieldProblems = BTreeMap<String, Vec<FieldProblem>>;

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong in this occurrence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Per-field validation errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<FieldProblems>,
}

/// Everything an API handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No bearer token, or one that is invalid, expired or revoked (401).
    #[error("invalid token: {0}")]
    Unauthenticated(String),
    /// No token at all (401 with a bare challenge).
    #[error("a bearer token is required")]
    MissingToken,
    /// The token lacks a scope (403).
    #[error("the token lacks the scope {0}")]
    InsufficientScope(&'static str),
    /// The token is of the wrong kind for this route (403).
    #[error("{0}")]
    Forbidden(String),
    /// The resource does not exist (404).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Malformed input (400).
    #[error("{0}")]
    BadRequest(String),
    /// Values refused by validation, with a message per field (400).
    #[error("{detail}")]
    Invalid {
        /// Summary.
        detail: String,
        /// Problems by field.
        fields: FieldProblems,
    },
    /// The change conflicts with existing data (409).
    #[error("{0}")]
    Conflict(String),
    /// `If-Match` does not match the current version (412).
    #[error("the resource changed since it was read (current ETag {0})")]
    PreconditionFailed(String),
    /// The request body is not JSON (415).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The request body is too large (413).
    #[error("{0}")]
    TooLarge(String),
    /// Asked again too soon (429), with the seconds to wait.
    #[error("{0}")]
    TooManyRequests(String, u64),
    /// The database is briefly unavailable, or the hashing pool is full (503).
    #[error("{0}")]
    Unavailable(String),
    /// Anything else (500); the detail is logged, not shown.
    #[error("unexpected: {0}")]
    Internal(String),
}

impl ApiError {
    /// A validation error on one field.
    pub fn field(key: &str, code: &str, message: impl Into<String>) -> ApiError {
        let message = message.into();
        let mut fields = FieldProblems::new();
        fields.insert(
            key.to_owned(),
            vec![FieldProblem {
                code: code.to_owned(),
                message: message.clone(),
            }],
        );
        ApiError::Invalid {
            detail: format!("{key}: {message}"),
            fields,
        }
    }

    /// A validation error from a collection of per-field problems (an error only if non-empty).
    pub fn check(fields: FieldProblems) -> Result<(), ApiError> {
        if fields.is_empty() {
            return Ok(());
        }
        let count = fields.values().map(Vec::len).sum::<usize>();
        Err(ApiError::Invalid {
            detail: format!(
                "{count} value{} refused; see `fields`",
                if count == 1 { " was" } else { "s were" }
            ),
            fields,
        })
    }

    /// The problems of a use-case as per-field problems (the one translation, keyed by path).
    pub fn fields_of(problems: Vec<ValueProblem>) -> FieldProblems {
        let mut fields = FieldProblems::new();
        for problem in problems {
            fields.entry(problem.path).or_default().push(FieldProblem {
                code: problem.code,
                message: problem.message,
            });
        }
        fields
    }

    /// Values refused by a use-case, every one of them (400).
    pub fn invalid(problems: Vec<ValueProblem>) -> ApiError {
        match ApiError::check(ApiError::fields_of(problems)) {
            Err(error) => error,
            Ok(()) => ApiError::BadRequest("the values were refused".into()),
        }
    }

    /// One input refused by a use-case (400).
    pub fn refused(problem: ValueProblem) -> ApiError {
        ApiError::field(&problem.path, &problem.code, problem.message)
    }

    fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthenticated(_) | ApiError::MissingToken => StatusCode::UNAUTHORIZED,
            ApiError::InsufficientScope(_) | ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) | ApiError::Invalid { .. } => StatusCode::BAD_REQUEST,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::TooManyRequests(..) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn slug(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated(_) | ApiError::MissingToken => "unauthenticated",
            ApiError::InsufficientScope(_) => "insufficient-scope",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not-found",
            ApiError::BadRequest(_) => "bad-request",
            ApiError::Invalid { .. } => "validation",
            ApiError::Conflict(_) => "conflict",
            ApiError::PreconditionFailed(_) => "precondition-failed",
            ApiError::UnsupportedMediaType(_) => "unsupported-media-type",
            ApiError::TooLarge(_) => "too-large",
            ApiError::TooManyRequests(..) => "too-many-requests",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    fn challenge(&self) -> Option<String> {
        match self {
            ApiError::MissingToken => Some(format!("Bearer realm=\"{REALM}\"")),
            ApiError::Unauthenticated(why) => Some(format!(
                "Bearer realm=\"{REALM}\", error=\"invalid_token\", error_description=\"{}\"",
                quoted(why)
            )),
            ApiError::InsufficientScope(scope) => Some(format!(
                "Bearer realm=\"{REALM}\", error=\"insufficient_scope\", scope=\"{scope}\""
            )),
            _ => None,
        }
    }

    /// The problem document of this error.
    pub fn problem(&self) -> Problem {
        let status = self.status();
        let detail = match self {
            ApiError::Internal(_) => Some("an unexpected error occurred; it was logged".to_owned()),
            other => Some(other.to_string()),
        };
        Problem {
            kind: format!("urn:accrete:problem:{}", self.slug()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
            fields: match self {
                ApiError::Invalid { fields, .. } => Some(fields.clone()),
                _ => None,
            },
        }
    }
}

/// `error_description` must not break out of its quoted string.
fn quoted(text: &str) -> String {
    text.chars()
        .filter(|c| *c != '"' && *c != '\\' && (' '..='~').contains(c))
        .collect()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Internal(detail) => tracing::error!(%detail, "API request failed"),
            ApiError::Unavailable(detail) => tracing::warn!(%detail, "API request refused"),
            _ => {}
        }
        let problem = self.problem();
        let status = self.status();
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(challenge) = self
            .challenge()
            .and_then(|c| HeaderValue::from_str(&c).ok())
        {
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        if let ApiError::TooManyRequests(_, seconds) = self {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => ApiError::NotFound("resource"),
            StoreError::Conflict { what } => ApiError::Conflict(format!("already exists: {what}")),
            StoreError::VersionMismatch { found, .. } => {
                ApiError::PreconditionFailed(etag_of(found))
            }
            StoreError::Invalid { message } => ApiError::BadRequest(message),
            StoreError::Unavailable { .. } => ApiError::Unavailable(error.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<UserError> for ApiError {
    fn from(error: UserError) -> Self {
        match error {
            UserError::NotFound => ApiError::NotFound("user"),
            UserError::VersionMismatch { current } => {
                ApiError::PreconditionFailed(etag_of(current))
            }
            UserError::EmailTaken | UserError::LastOwner => ApiError::Conflict(error.to_string()),
            UserError::Invalid(problems) => ApiError::invalid(problems),
            UserError::Refused(problem) => ApiError::refused(problem),
            UserError::Busy(busy) => ApiError::Unavailable(busy.to_string()),
            UserError::Store(error) => error.into(),
        }
    }
}

impl From<ClientError> for ApiError {
    fn from(error: ClientError) -> Self {
        match error {
            ClientError::NotFound => ApiError::NotFound("client"),
            ClientError::Invalid(problems) => ApiError::invalid(problems),
            ClientError::Refused(problem) => ApiError::refused(problem),
            ClientError::Store(error) => error.into(),
        }
    }
}

impl From<ConnectionAdminError> for ApiError {
    fn from(error: ConnectionAdminError) -> Self {
        match error {
            ConnectionAdminError::NotFound => ApiError::NotFound("connection"),
            ConnectionAdminError::Exists => ApiError::Conflict(error.to_string()),
            ConnectionAdminError::Invalid(problems) => ApiError::invalid(problems),
            ConnectionAdminError::Stale { current } => {
                ApiError::PreconditionFailed(etag_of(current))
            }
            ConnectionAdminError::Seal => ApiError::Internal(error.to_string()),
            ConnectionAdminError::Store(error) => error.into(),
        }
    }
}

impl From<WebhookError> for ApiError {
    fn from(error: WebhookError) -> Self {
        match error {
            WebhookError::NotFound => ApiError::NotFound("webhook"),
            WebhookError::Invalid(problems) => ApiError::invalid(problems),
            WebhookError::Seal => ApiError::Internal(error.to_string()),
            WebhookError::Store(error) => error.into(),
        }
    }
}

impl From<JobError> for ApiError {
    fn from(error: JobError) -> Self {
        match error {
            JobError::Format(message) => ApiError::field("format", "unsupported_format", message),
            JobError::TooLarge { .. } => ApiError::TooLarge(error.to_string()),
            JobError::NotFound => ApiError::NotFound("import job"),
            JobError::Limit => ApiError::field("limit", "out_of_range", error.to_string()),
            JobError::Io(_) => ApiError::Internal(error.to_string()),
            JobError::Store(error) => error.into(),
        }
    }
}

impl From<PolicyError> for ApiError {
    fn from(error: PolicyError) -> Self {
        match error {
            PolicyError::Invalid(problems) => ApiError::invalid(problems),
            PolicyError::Unreadable(problem) | PolicyError::Refused(problem) => {
                ApiError::refused(problem)
            }
            PolicyError::Unexplained => ApiError::BadRequest(error.to_string()),
            PolicyError::NoPublished => ApiError::NotFound("published policy"),
            PolicyError::NoDraft => ApiError::NotFound("draft"),
            PolicyError::NoVersion => ApiError::NotFound("policy version"),
            PolicyError::NoUser => ApiError::NotFound("user"),
            PolicyError::NothingToPublish => ApiError::Conflict(error.to_string()),
            PolicyError::Store(error) => error.into(),
        }
    }
}

impl From<StatsError> for ApiError {
    fn from(error: StatsError) -> Self {
        match error {
            StatsError::Refused(problem) => ApiError::refused(problem),
            StatsError::Store(error) => error.into(),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType(
                "the body must be JSON (Content-Type: application/json)".to_owned(),
            ),
            JsonRejection::JsonDataError(error) => ApiError::BadRequest(format!(
                "the JSON body does not have the expected shape: {}",
                error.body_text()
            )),
            JsonRejection::JsonSyntaxError(error) => {
                ApiError::BadRequest(format!("the body is not valid JSON: {}", error.body_text()))
            }
            JsonRejection::BytesRejection(error)
                if error.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                ApiError::TooLarge("the request body is too large".to_owned())
            }
            other => ApiError::BadRequest(other.body_text()),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        use axum::extract::path::ErrorKind;
        // A segment that is not what the route takes (an id that is no UUID) is a field of
        // the request, named like the route's parameter, without the framework's wording.
        if let PathRejection::FailedToDeserializePathParams(error) = &rejection {
            let (key, expected) = match error.kind() {
                ErrorKind::ParseErrorAtKey {
                    key, expected_type, ..
                } => (key.as_str(), *expected_type),
                ErrorKind::ParseError { expected_type, .. } => ("path", *expected_type),
                ErrorKind::InvalidUtf8InPathParam { key } => (key.as_str(), "UTF-8 text"),
                // A type's own parser refused it (a UUID's: "UUID parsing failed...").
                ErrorKind::DeserializeError { key, message, .. } => (
                    key.as_str(),
                    if message.contains("UUID") { "Uuid" } else { "" },
                ),
                _ => ("path", ""),
            };
            let what = match expected.rsplit("::").next().unwrap_or(expected) {
                "Uuid" => "an id (a UUID)".to_owned(),
                "" => "what this route takes".to_owned(),
                other => format!("a `{other}`"),
            };
            return ApiError::field(
                key,
                "invalid_value",
                format!("this part of the path is not {what}"),
            );
        }
        ApiError::BadRequest(format!("invalid path: {}", rejection.body_text()))
    }
}

/// `Json` whose rejections are problem documents.
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `Path` whose rejections are problem documents.
#[derive(Debug, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// The query string read as `T`; what cannot be read is a problem document that names the
/// parameter in `fields` (`required` when it is missing, `invalid_value` with the reason).
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        query_of(parts.uri.query().unwrap_or_default()).map(ApiQuery)
    }
}

fn query_of<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let parameters = form_urlencoded::parse(query.as_bytes());
    serde_path_to_error::deserialize(serde_urlencoded::Deserializer::new(parameters)).map_err(
        |error| {
            let reason = error.inner().to_string();
            // serde names a missing member in its message, at the level of the whole query.
            if let Some(name) = reason
                .strip_prefix("missing field `")
                .and_then(|rest| rest.strip_suffix('`'))
            {
                return ApiError::field(name, "required", "this query parameter is required");
            }
            if let Some(name) = reason
                .strip_prefix("duplicate field `")
                .and_then(|rest| rest.strip_suffix('`'))
            {
                return ApiError::field(
                    name,
                    "invalid_value",
                    "this query parameter is given twice",
                );
            }
            let name = error.path().to_string();
            let name = if name == "." { "query" } else { name.as_str() };
            ApiError::field(
                name,
                "invalid_value",
                format!("this query parameter cannot be read: {reason}"),
            )
        },
    )
}

/// The answer to any path under `/api/v1` that no route serves.
pub async fn no_route() -> ApiError {
    ApiError::NotFound("route")
}

/// The answer to a known path with a method it does not serve.
pub async fn wrong_method() -> Response {
    let problem = Problem {
        kind: "urn:accrete:problem:method-not-allowed".to_owned(),
        title: "Method Not Allowed".to_owned(),
        status: 405,
        detail: Some("this route does not accept that method".to_owned()),
        fields: None,
    };
    let mut response = (
        StatusCode::METHOD_NOT_ALLOWED,
        serde_json::to_vec(&problem).unwrap_or_default(),
    )
        .into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

/// The `ETag` of a version (of a user, a connection).
pub fn etag_of(version: i64) -> String {
    format!("\"{version}\"")
}

/// The version named by `If-Match` (`None` when absent or `*`): exactly what the header's
/// pattern in the OpenAPI document describes, `*`, `"<version>"` or `W/"<version>"`.
pub fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let refused = || ApiError::BadRequest("If-Match must be an ETag returned by this API".into());
    let text = value.to_str().map_err(|_| refused())?.trim();
    if text == "*" {
        return Ok(None);
    }
    let digits = text
        .strip_prefix("W/")
        .unwrap_or(text)
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .filter(|d| (1..=18).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(refused)?;
    digits.parse::<i64>().map(Some).map_err(|_| refused())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quote_in_a_description_cannot_break_the_challenge() {
        let error = ApiError::Unauthenticated("bad \"token\"\n".to_owned());
        assert_eq!(
            error.challenge().unwrap_or_default(),
            "Bearer realm=\"accrete\", error=\"invalid_token\", error_description=\"bad token\""
        );
    }

    #[test]
    fn if_match_accepts_strong_weak_and_star() {
        let mut headers = HeaderMap::new();
        assert_eq!(if_match(&headers).unwrap(), None);
        headers.insert(header::IF_MATCH, HeaderValue::from_static("\"7\""));
        assert_eq!(if_match(&headers).unwrap(), Some(7));
        headers.insert(header::IF_MATCH, HeaderValue::from_static("W/\"8\""));
        assert_eq!(if_match(&headers).unwrap(), Some(8));
        headers.insert(header::IF_MATCH, HeaderValue::from_static("*"));
        assert_eq!(if_match(&headers).unwrap(), None);
        headers.insert(header::IF_MATCH, HeaderValue::from_static("\"abc\""));
        assert!(if_match(&headers).is_err());
        for refused in [
            "null",
            "7",
            "\"7",
            "W/7",
            "\"\"",
            "\"-1\"",
            "\"1234567890123456789\"",
        ] {
            headers.insert(header::IF_MATCH, HeaderValue::from_static(refused));
            assert!(if_match(&headers).is_err(), "{refused}");
        }
    }

    #[test]
    fn a_query_parameter_that_cannot_be_read_is_named_in_fields() {
        #[derive(Debug, serde::Deserialize)]
        struct Query {
            format: String,
            limit: Option<u32>,
        }
        let codes = |query: &str| match query_of::<Query>(query).unwrap_err() {
            ApiError::Invalid { fields, detail } => {
                assert!(!detail.contains("deserialize"), "{detail}");
                fields
                    .into_iter()
                    .map(|(name, problems)| (name, problems[0].code.clone()))
                    .collect::<Vec<_>>()
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(
            codes("limit=3"),
            [("format".to_owned(), "required".to_owned())]
        );
        assert_eq!(
            codes("format=csv&limit=ten"),
            [("limit".to_owned(), "invalid_value".to_owned())]
        );
        assert_eq!(
            codes("format=csv&limit=1&limit=2"),
            [("limit".to_owned(), "invalid_value".to_owned())]
        );
        assert_eq!(
            codes("format=csv&limit=-1"),
            [("limit".to_owned(), "invalid_value".to_owned())]
        );
        let read = query_of::<Query>("format=csv&limit=3").unwrap();
        assert_eq!((read.format.as_str(), read.limit), ("csv", Some(3)));
    }

    #[test]
    fn internal_errors_do_not_leak_their_detail() {
        let problem = ApiError::Internal("secret sql".to_owned()).problem();
        assert_eq!(problem.status, 500);
        assert!(!problem.detail.unwrap_or_default().contains("secret"));
    }
}
