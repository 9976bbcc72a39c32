//! `/api/v1/connections`: connections to upstream identity providers (see docs/federation.md).
//! Bodies are `accrete_federation::spec::ConnectionSpec` as JSON, checked by the use-cases of
//! `accrete_app::connection_admin` (its `check` is the one rule); responses show the definition
//! with its secrets as `********`, with the redirect URI to register at the provider.
//!
//! The federation crate knows nothing of OpenAPI: the schemas of the definition are written here
//! (`schema`), one variant per preset, and tested against the spec's own checks.

use std::borrow::Cow;

use accrete_app::connection_admin::{self, ConnectionView};
use accrete_federation::spec::ConnectionSpec;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;
use utoipa::{PartialSchema, ToSchema};

use super::auth::{Caller, Scope};
use super::docs::ErrorResponses;
use super::problem::{ApiError, ApiJson, ApiPath, etag_of, if_match};
use crate::state::AppState;

/// A connection's name: `[a-z0-9][a-z0-9-]{0,39}` (the spec's rule).
pub(super) const NAME_PATTERN: &str = "^[a-z0-9][a-z0-9-]{0,39}$";

/// The body of `POST /connections`: a connection's definition with its secrets (read into
/// `ConnectionSpec`; this type only names its schema).
pub struct NewConnection;

impl PartialSchema for NewConnection {
    fn schema() -> RefOr<Schema> {
        RefOr::T(schema::definition(schema::Body::Create))
    }
}

impl ToSchema for NewConnection {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("NewConnection")
    }
}

/// The body of `PUT /connections/{name}`: the new definition; secrets left out (or written as
/// `********`) are kept, `name` may be left out.
pub struct ConnectionReplacement;

impl PartialSchema for ConnectionReplacement {
    fn schema() -> RefOr<Schema> {
        RefOr::T(schema::definition(schema::Body::Replace))
    }
}

impl ToSchema for ConnectionReplacement {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ConnectionReplacement")
    }
}

/// A connection as the API shows it: the definition (secrets as `********`), the redirect URI
/// to register at the provider, and when and how often it changed.
#[derive(Debug, Serialize)]
pub struct Connection {
    #[serde(flatten)]
    spec: ConnectionSpec,
    callback_url: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
    version: i64,
}

impl From<ConnectionView> for Connection {
    fn from(view: ConnectionView) -> Self {
        Connection {
            spec: view.spec,
            callback_url: view.callback_url,
            created_at: view.created_at,
            updated_at: view.updated_at,
            version: view.version,
        }
    }
}

impl PartialSchema for Connection {
    fn schema() -> RefOr<Schema> {
        RefOr::T(schema::shown())
    }
}

impl ToSchema for Connection {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Connection")
    }
}

/// Every connection.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionList {
    /// By name.
    pub items: Vec<Connection>,
}

/// What testing a connection found.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionTest {
    /// Whether the provider answered as expected (discovery and keys, or the endpoints' hosts).
    pub ok: bool,
    /// One line: what was found, or what is wrong.
    pub message: String,
}

/// The connection as JSON with its `ETag` (and `Location` when created).
fn shown(status: StatusCode, view: ConnectionView) -> Response {
    let etag = etag_of(view.version);
    let location = format!("/api/v1/connections/{}", view.spec.name);
    let mut response = (status, axum::Json(Connection::from(view))).into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    if status == StatusCode::CREATED
        && let Ok(value) = HeaderValue::from_str(&location)
    {
        headers.insert(header::LOCATION, value);
    }
    response
}

/// Creates a connection; its secrets are sealed with the master key and never shown again.
#[utoipa::path(post, path = "/connections", tag = "connections", operation_id = "create_connection", request_body = NewConnection,
    responses(
        (status = 201, body = Connection, description = "Created",
            headers(("Location" = String, description = "The connection's URL"),
                ("ETag" = String, description = "Its version, for If-Match"))),
        ErrorResponses),
    security(("bearer" = ["connections:write"])))]
pub async fn create(
    caller: Caller,
    State(state): State<AppState>,
    ApiJson(spec): ApiJson<ConnectionSpec>,
) -> Result<Response, ApiError> {
    caller.require(Scope::ConnectionsWrite)?;
    let view = connection_admin::create(&state.app, spec, OffsetDateTime::now_utc()).await?;
    // Recorded as reads show it: secrets as `********`.
    let after = super::audit::snapshot(&Connection::from(view.clone()));
    let target = format!("connection:{}", view.spec.name);
    super::audit::record(&state, &caller, "connection.created", target, (None, after)).await;
    Ok(shown(StatusCode::CREATED, view))
}

/// Every connection, by name.
#[utoipa::path(get, path = "/connections", tag = "connections", operation_id = "list_connections",
    responses((status = 200, body = ConnectionList), ErrorResponses),
    security(("bearer" = ["connections:read"])))]
pub async fn list(
    caller: Caller,
    State(state): State<AppState>,
) -> Result<axum::Json<ConnectionList>, ApiError> {
    caller.require(Scope::ConnectionsRead)?;
    let items = connection_admin::list(&state.app).await?;
    Ok(axum::Json(ConnectionList {
        items: items.into_iter().map(Connection::from).collect(),
    }))
}

/// One connection; the `ETag` names its version.
#[utoipa::path(get, path = "/connections/{name}", tag = "connections", operation_id = "get_connection",
    params(("name" = String, Path, pattern = "^[a-z0-9][a-z0-9-]{0,39}$",
        description = "The connection's name")),
    responses(
        (status = 200, body = Connection,
            headers(("ETag" = String, description = "Its version, for If-Match"))),
        ErrorResponses),
    security(("bearer" = ["connections:read"])))]
pub async fn get(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Response, ApiError> {
    caller.require(Scope::ConnectionsRead)?;
    let view = connection_admin::get(&state.app, &name).await?;
    Ok(shown(StatusCode::OK, view))
}

/// Replaces a connection's definition. Secrets left out (or written as `********`, as reads
/// show them) are kept; secrets given replace them. Send `If-Match` with the `ETag` to refuse
/// the change (412) if the connection changed since it was read.
#[utoipa::path(put, path = "/connections/{name}", tag = "connections", operation_id = "replace_connection",
    params(("name" = String, Path, pattern = "^[a-z0-9][a-z0-9-]{0,39}$",
            description = "The connection's name"),
        ("If-Match" = Option<String>, Header, nullable = false, pattern = r#"^(\*|(W/)?"[0-9]{1,18}")$"#,
            description = "ETag of the version the change is based on (`\"7\"`, `W/\"7\"`), or `*`")),
    request_body = ConnectionReplacement,
    responses(
        (status = 200, body = Connection,
            headers(("ETag" = String, description = "Its new version"))),
        ErrorResponses),
    security(("bearer" = ["connections:write"])))]
pub async fn replace(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, ApiError> {
    caller.require(Scope::ConnectionsWrite)?;
    let expected = if_match(&headers)?;
    let spec = replacement(&name, body)?;
    let before = connection_admin::get(&state.app, &name)
        .await
        .ok()
        .and_then(|view| super::audit::snapshot(&Connection::from(view)));
    let view =
        connection_admin::replace(&state.app, &name, spec, expected, OffsetDateTime::now_utc())
            .await?;
    let after = super::audit::snapshot(&Connection::from(view.clone()));
    let target = format!("connection:{name}");
    super::audit::record(
        &state,
        &caller,
        "connection.updated",
        target,
        (before, after),
    )
    .await;
    Ok(shown(StatusCode::OK, view))
}

/// The definition of a `PUT`: its `name` is the path's when left out.
fn replacement(name: &str, body: Value) -> Result<ConnectionSpec, ApiError> {
    let Value::Object(mut members) = body else {
        return Err(ApiError::BadRequest(
            "the JSON body does not have the expected shape: a connection is a JSON object"
                .to_owned(),
        ));
    };
    members
        .entry("name")
        .or_insert_with(|| Value::String(name.to_owned()));
    serde_json::from_value(Value::Object(members)).map_err(|error| {
        ApiError::BadRequest(format!(
            "the JSON body does not have the expected shape: {error}"
        ))
    })
}

/// Deletes a connection and every identity linked through it (their users stay).
#[utoipa::path(delete, path = "/connections/{name}", tag = "connections", operation_id = "delete_connection",
    params(("name" = String, Path, pattern = "^[a-z0-9][a-z0-9-]{0,39}$",
        description = "The connection's name")),
    responses((status = 204, description = "Deleted"), ErrorResponses),
    security(("bearer" = ["connections:write"])))]
pub async fn delete(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Scope::ConnectionsWrite)?;
    let before = connection_admin::get(&state.app, &name)
        .await
        .ok()
        .and_then(|view| super::audit::snapshot(&Connection::from(view)));
    connection_admin::delete(&state.app, &name).await?;
    let target = format!("connection:{name}");
    super::audit::record(
        &state,
        &caller,
        "connection.deleted",
        target,
        (before, None),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Reaches the provider as a sign-in would (OpenID Connect: discovery and keys; OAuth 2: its
/// endpoints' hosts) and says in one line what it found or what is wrong. Nothing is stored.
#[utoipa::path(post, path = "/connections/{name}/test", tag = "connections", operation_id = "test_connection",
    params(("name" = String, Path, pattern = "^[a-z0-9][a-z0-9-]{0,39}$",
        description = "The connection's name")),
    responses((status = 200, body = ConnectionTest), ErrorResponses),
    security(("bearer" = ["connections:write"])))]
pub async fn test(
    caller: Caller,
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<axum::Json<ConnectionTest>, ApiError> {
    caller.require(Scope::ConnectionsWrite)?;
    let outcome = connection_admin::test(&state.app, &name).await?;
    Ok(axum::Json(match outcome {
        Ok(message) => ConnectionTest { ok: true, message },
        Err(message) => ConnectionTest { ok: false, message },
    }))
}

/// The schemas of a connection's definition. What `ConnectionSpec::check` refuses is described
/// here: the name, lengths, the shapes of URLs (the check's own patterns), domains, tenants,
/// scopes, claims (JSON pointers) and field keys, and which members each preset requires, takes
/// or refuses. Accepted without being described, where a regular expression cannot follow URL
/// parsing: URLs whose host is an IPv6 literal or an `xn--` name. Not described at all: a
/// client id's limit is 255 bytes (described as 255 characters), an Apple key must be an EC
/// P-256 key, a domain may be bound to one connection only (run-time state).
mod schema {
    use accrete_federation::spec::{Preset, REDACTED, Sync};
    use serde_json::json;
    use utoipa::openapi::schema::{
        AdditionalProperties, ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
    };
    use utoipa::openapi::{KnownFormat, SchemaFormat};

    /// Control characters (Unicode category Cc), as a character-class range.
    macro_rules! control {
        () => {
            r"\x00-\x1f\x7f-\x9f"
        };
    }

    /// Control characters and white space (the Unicode `White_Space` property), as character
    /// class ranges: what Rust's `char::is_control` and `char::is_whitespace` say.
    macro_rules! control_or_space {
        () => {
            r"\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
        };
    }

    /// A lower-case DNS name of two labels or more, the last starting with a letter.
    macro_rules! domain {
        () => {
            r"([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?"
        };
    }

    /// An issuer: the rule's own pattern (`accrete_federation::spec::ISSUER_PATTERN`).
    pub(super) const ISSUER: &str = accrete_federation::spec::ISSUER_PATTERN;

    /// An endpoint: the rule's own pattern (`accrete_federation::spec::ENDPOINT_PATTERN`).
    pub(super) const ENDPOINT: &str = accrete_federation::spec::ENDPOINT_PATTERN;

    /// The text of the sign-in button: no control character, not only white space.
    pub(super) const DISPLAY_NAME: &str = concat!(
        "^[^",
        control!(),
        "]*[^",
        control_or_space!(),
        "][^",
        control!(),
        "]*$"
    );

    /// A client id: no control character, no white space around it.
    pub(super) const CLIENT_ID: &str = concat!(
        "^[^",
        control_or_space!(),
        "]([^",
        control!(),
        "]*[^",
        control_or_space!(),
        "])?$"
    );

    /// A client secret: no control character.
    pub(super) const CLIENT_SECRET: &str = concat!("^[^", control!(), "]+$");

    /// A field key: no white space or control character.
    pub(super) const FIELD: &str = concat!("^[^", control_or_space!(), "]+$");

    /// A JSON pointer (RFC 6901): `/`-prefixed tokens where `~` is followed by `0` or `1`.
    pub(super) const POINTER: &str = "^(/([^~/]|~[01])*)*$";

    /// A lower-case domain name.
    pub(super) const DOMAIN: &str = concat!("^", domain!(), "$");

    /// An Entra ID tenant: a word for several tenants, a tenant id, or a domain.
    pub(super) const TENANT: &str = concat!(
        "^(common|organizations|consumers|",
        "[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}|",
        domain!(),
        ")$"
    );

    /// Apple's team and key ids.
    pub(super) const APPLE_ID: &str = "^[A-Z0-9]{10}$";

    /// Which body a schema is of.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(super) enum Body {
        /// A new connection: its secrets are required.
        Create,
        /// A replacement: secrets and `name` may be left out.
        Replace,
    }

    /// Whether a preset requires a member, takes it, or refuses it (only `null` is taken).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(super) enum Use {
        Required,
        Optional,
        Refused,
    }

    /// What a preset does with the members that depend on it: `issuer`, `tenant`, the three
    /// OAuth 2 endpoints, `client_secret` and `apple` (as `ConnectionSpec::check` says).
    pub(super) fn uses(preset: Preset) -> [(&'static str, Use); 7] {
        use Use::{Optional, Refused, Required};
        let (issuer, tenant, endpoints, secret, apple) = match preset {
            Preset::Oidc => (Required, Refused, Refused, Required, Refused),
            Preset::OAuth2 => (Refused, Refused, Required, Required, Refused),
            Preset::Google | Preset::GitLab => (Optional, Refused, Refused, Required, Refused),
            Preset::Microsoft => (Optional, Optional, Refused, Required, Refused),
            Preset::GitHub => (Refused, Refused, Optional, Required, Refused),
            Preset::Apple => (Optional, Refused, Refused, Refused, Required),
        };
        [
            ("issuer", issuer),
            ("tenant", tenant),
            ("authorization_endpoint", endpoints),
            ("token_endpoint", endpoints),
            ("userinfo_endpoint", endpoints),
            ("client_secret", secret),
            ("apple", apple),
        ]
    }

    /// The values `sync` takes, as written.
    pub(super) fn sync_values() -> Vec<serde_json::Value> {
        [Sync::IfEmpty, Sync::Always]
            .into_iter()
            .map(|sync| {
                // A new variant must be listed above.
                match sync {
                    Sync::IfEmpty | Sync::Always => {}
                }
                serde_json::to_value(sync).unwrap_or_default()
            })
            .collect()
    }

    fn string(description: &str) -> ObjectBuilder {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(description))
    }

    fn nullable(builder: ObjectBuilder) -> ObjectBuilder {
        builder.schema_type(SchemaType::Array(vec![Type::String, Type::Null]))
    }

    fn name() -> ObjectBuilder {
        string("The connection's name: lower-case letters, digits and hyphens, used in URLs.")
            .pattern(Some(super::NAME_PATTERN))
            .examples(["acme"])
    }

    fn display_name() -> ObjectBuilder {
        nullable(string(
            "The text of the sign-in button (\"Continue with …\"): 1 to 100 characters, \
             without control characters, not only spaces. By default the preset's (Google, \
             Microsoft, GitHub, Apple, GitLab), else the connection's name.",
        ))
        .min_length(Some(1))
        .max_length(Some(100))
        .pattern(Some(DISPLAY_NAME))
    }

    fn url(description: &str, pattern: &str) -> ObjectBuilder {
        string(description)
            .pattern(Some(pattern))
            .examples(["https://login.acme.example"])
    }

    fn issuer() -> ObjectBuilder {
        url(
            "The OpenID Connect issuer (discovery at `{issuer}/.well-known/openid-configuration`): \
             an `https` URL (`http` only to localhost, 127.0.0.1 or [::1]) without credentials, \
             query or fragment. Required for `oidc`; overrides the preset's issuer of google, \
             microsoft, apple and gitlab.",
            ISSUER,
        )
    }

    fn tenant() -> ObjectBuilder {
        string(
            "Microsoft Entra ID's tenant: `common` (the default), `organizations`, \
             `consumers`, a tenant id or one of the tenant's domains.",
        )
        .pattern(Some(TENANT))
        .max_length(Some(253))
    }

    fn endpoint(which: &str) -> ObjectBuilder {
        url(
            &format!(
                "The OAuth 2 {which}: an `https` URL (`http` only to localhost, 127.0.0.1 or \
                 [::1]) without credentials or fragment. Required for `oauth2`; overrides \
                 GitHub's."
            ),
            ENDPOINT,
        )
    }

    fn client_id() -> ObjectBuilder {
        string(
            "The client id registered at the provider: at most 255 bytes (UTF-8), without \
             control characters or spaces around it.",
        )
        .min_length(Some(1))
        .max_length(Some(255))
        .pattern(Some(CLIENT_ID))
    }

    fn client_secret(body: Body) -> ObjectBuilder {
        let kept = match body {
            Body::Create => "",
            Body::Replace => " Left out, or written as `********`: the stored one is kept.",
        };
        string(&format!(
            "The client secret registered at the provider (write-only: sealed with the master \
             key, reads show `********`), without control characters.{kept}"
        ))
        .min_length(Some(1))
        .pattern(Some(CLIENT_SECRET))
        .write_only(true)
    }

    fn apple(body: Body) -> ObjectBuilder {
        let kept = match body {
            Body::Create => "",
            Body::Replace => " Left out, empty, or written as `********`: the stored one is kept.",
        };
        let mut private_key = string(&format!(
            "The key downloaded from Apple (`.p8`: an EC P-256 private key in PEM, PKCS#8); \
             write-only: sealed with the master key, reads show `********`.{kept}"
        ))
        .write_only(true);
        let mut object = ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "Sign in with Apple's key: Accrete signs the client secret (an ES256 JWT) with it.",
            ))
            .property(
                "team_id",
                string("The Apple Developer team id: 10 upper-case letters and digits.")
                    .pattern(Some(APPLE_ID)),
            )
            .property(
                "key_id",
                string("The key's id: 10 upper-case letters and digits.").pattern(Some(APPLE_ID)),
            )
            .required("team_id")
            .required("key_id")
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        if body == Body::Create {
            private_key = private_key.min_length(Some(1));
            object = object.required("private_key");
        }
        object.property("private_key", private_key)
    }

    fn scopes() -> ArrayBuilder {
        ArrayBuilder::new()
            .schema_type(SchemaType::Array(vec![Type::Array, Type::Null]))
            .description(Some(
                "The scopes asked for; `null` or absent: the preset's (`openid email profile` \
                 for OpenID Connect, `read:user user:email` for GitHub, `name email` for Apple).",
            ))
            .items(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .pattern(Some(accrete_oidc::client::SCOPE_TOKEN_PATTERN)),
            )
    }

    fn domains() -> ArrayBuilder {
        ArrayBuilder::new()
            .description(Some(
                "Email domains whose users this connection signs in (home-realm discovery): \
                 lower-case domain names, each bound to one connection only.",
            ))
            .items(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .max_length(Some(253))
                    .pattern(Some(DOMAIN))
                    .examples(["acme.example"]),
            )
            .unique_items(true)
            .default(Some(json!([])))
    }

    fn mapping() -> ArrayBuilder {
        let item = ObjectBuilder::new()
            .schema_type(Type::Object)
            .property(
                "claim",
                string(
                    "A JSON pointer (RFC 6901) into the ID token's claims merged with userinfo: \
                     `/given_name`, `/org/name`.",
                )
                .pattern(Some(POINTER)),
            )
            .required("claim")
            .property(
                "field",
                string("The key of a field of the policy: at most 100 characters, no spaces.")
                    .min_length(Some(1))
                    .max_length(Some(100))
                    .pattern(Some(FIELD)),
            )
            .required("field")
            .property(
                "sync",
                string(
                    "`if_empty`: written while the field has no value; `always`: at every \
                     sign-in (the provider is the source of truth).",
                )
                .enum_values(Some(sync_values()))
                .default(Some(json!("if_empty"))),
            )
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        ArrayBuilder::new()
            .schema_type(SchemaType::Array(vec![Type::Array, Type::Null]))
            .description(Some(
                "Which claims fill which fields; `null` or absent: the standard claims \
                 (`given_name`, `family_name`, `name`, `nickname`, `picture`, `locale`, \
                 `zoneinfo`, `phone_number`, `birthdate`, `website`) into the fields of the same \
                 key, `if_empty`.",
            ))
            .items(item)
    }

    fn enabled() -> ObjectBuilder {
        ObjectBuilder::new()
            .schema_type(Type::Boolean)
            .description(Some("Whether the connection is offered."))
            .default(Some(json!(true)))
    }

    fn refused(preset: Preset) -> ObjectBuilder {
        ObjectBuilder::new()
            .schema_type(Type::Null)
            .description(Some(format!("Not used by {preset}.")))
    }

    /// The definition for one preset.
    fn variant(preset: Preset, body: Body) -> ObjectBuilder {
        let mut object = ObjectBuilder::new()
            .schema_type(Type::Object)
            .title(Some(preset.as_str()))
            .property("name", name())
            .property("display_name", display_name())
            .property(
                "preset",
                string("Which kind of provider this is.").enum_values(Some([preset.as_str()])),
            )
            .required("preset");
        if body == Body::Create {
            object = object.required("name");
        }
        for (member, usage) in uses(preset) {
            let schema: Schema = match member {
                "issuer" => issuer().build().into(),
                "tenant" => tenant().build().into(),
                "authorization_endpoint" => endpoint("authorization endpoint").build().into(),
                "token_endpoint" => endpoint("token endpoint").build().into(),
                "userinfo_endpoint" => {
                    endpoint("endpoint answering with the user's profile (JSON)")
                        .build()
                        .into()
                }
                "client_secret" => client_secret(body).build().into(),
                _ => apple(body).build().into(),
            };
            object = match usage {
                Use::Refused => object.property(member, refused(preset)),
                Use::Optional => object.property(member, optional(schema)),
                Use::Required => {
                    // A replacement keeps the stored secret.
                    if member == "client_secret" && body == Body::Replace {
                        object.property(member, schema)
                    } else {
                        object.property(member, schema).required(member)
                    }
                }
            };
        }
        object
            .property("client_id", client_id())
            .required("client_id")
            .property("scopes", scopes())
            .property("domains", domains())
            .property("mapping", mapping())
            .property("enabled", enabled())
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
    }

    /// A member a preset takes but does not require: also `null`.
    fn optional(schema: Schema) -> Schema {
        match schema {
            Schema::Object(mut object) => {
                object.schema_type = match object.schema_type {
                    SchemaType::Type(kind) => SchemaType::Array(vec![kind, Type::Null]),
                    other => other,
                };
                Schema::Object(object)
            }
            other => other,
        }
    }

    /// A connection's definition as written: one variant per preset.
    pub(super) fn definition(body: Body) -> Schema {
        let description = match body {
            Body::Create => {
                "A connection to an upstream identity provider (see docs/federation.md): one \
                 shape per preset, which says which members it requires, takes or refuses."
            }
            Body::Replace => {
                "A connection's new definition: `name` may be left out (it cannot change); \
                 secrets left out, or written as `********`, are kept."
            }
        };
        let mut one_of = OneOfBuilder::new().description(Some(description));
        for preset in Preset::ALL {
            one_of = one_of.item(variant(preset, body));
        }
        Schema::OneOf(one_of.build())
    }

    /// A connection as shown: every member of every preset, secrets as `********`, with the
    /// redirect URI to register, its times and version.
    pub(super) fn shown() -> Schema {
        let redacted = |description: &str| string(description).enum_values(Some([REDACTED]));
        let apple = ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "Sign in with Apple's key (the key itself never shown).",
            ))
            .property("team_id", string("The team id.").pattern(Some(APPLE_ID)))
            .property("key_id", string("The key's id.").pattern(Some(APPLE_ID)))
            .property("private_key", redacted("Set (never shown)."))
            .required("team_id")
            .required("key_id");
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "A connection to an upstream identity provider, its secrets never shown.",
            ))
            .property("name", name())
            .required("name")
            .property(
                "display_name",
                string("The sign-in button's text, when set."),
            )
            .property(
                "preset",
                string("Which kind of provider this is.")
                    .enum_values(Some(Preset::ALL.map(Preset::as_str))),
            )
            .required("preset")
            .property("issuer", string("The issuer, when set."))
            .property("tenant", string("Microsoft Entra ID's tenant, when set."))
            .property(
                "authorization_endpoint",
                string("The authorization endpoint, when set."),
            )
            .property("token_endpoint", string("The token endpoint, when set."))
            .property(
                "userinfo_endpoint",
                string("The userinfo endpoint, when set."),
            )
            .property("client_id", string("The client id at the provider."))
            .required("client_id")
            .property("client_secret", redacted("Set (never shown)."))
            .property("apple", apple)
            .property(
                "scopes",
                ArrayBuilder::new()
                    .description(Some("The scopes asked for, when set (else the preset's)."))
                    .items(ObjectBuilder::new().schema_type(Type::String)),
            )
            .property(
                "domains",
                ArrayBuilder::new()
                    .description(Some("Email domains sent to this connection; absent: none."))
                    .items(ObjectBuilder::new().schema_type(Type::String)),
            )
            .property(
                "mapping",
                ArrayBuilder::new()
                    .description(Some(
                        "Which claims fill which fields, when set (else the standard claims).",
                    ))
                    .items(
                        ObjectBuilder::new()
                            .schema_type(Type::Object)
                            .property("claim", string("A JSON pointer."))
                            .required("claim")
                            .property("field", string("A field key."))
                            .required("field")
                            .property("sync", string("When.").enum_values(Some(sync_values())))
                            .required("sync"),
                    ),
            )
            .property("enabled", ObjectBuilder::new().schema_type(Type::Boolean))
            .required("enabled")
            .property(
                "callback_url",
                string("The redirect URI to register at the provider.")
                    .format(Some(SchemaFormat::Custom("uri".to_owned()))),
            )
            .required("callback_url")
            .property(
                "created_at",
                string("When created.")
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
            )
            .required("created_at")
            .property(
                "updated_at",
                string("Last change.")
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
            )
            .required("updated_at")
            .property(
                "version",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1))
                    .description(Some(
                        "Bumped on every change; the `ETag` is `\"<version>\"`.",
                    )),
            )
            .required("version")
            .build()
            .into()
    }
}

#[cfg(test)]
mod tests {
    use accrete_federation::spec::{Preset, SpecProblem};
    use proptest::prelude::*;
    use serde_json::json;

    use super::schema::{self, Body, Use};
    use super::*;
    use crate::schema_patterns::{changes, described_by, indescribable_host, matches};

    /// An Apple developer key, PKCS#8 PEM.
    fn apple_key() -> String {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
        use base64::Engine as _;
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let der = pair.to_pkcs8v1().unwrap();
        let body = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
        format!("-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n")
    }

    /// A value for each member that depends on the preset.
    fn sample(member: &str) -> Value {
        match member {
            "issuer" => json!("https://id.example"),
            "tenant" => json!("common"),
            "client_secret" => json!("secret"),
            "apple" => {
                json!({"team_id": "TEAM123456", "key_id": "KEY1234567", "private_key": apple_key()})
            }
            _ => json!("https://id.example/oauth"),
        }
    }

    /// The problems of a definition written as JSON.
    fn problems(body: &Value) -> Vec<SpecProblem> {
        let spec: ConnectionSpec = serde_json::from_value(body.clone()).unwrap();
        spec.check().err().unwrap_or_default()
    }

    /// The definition of `preset` with the members it requires.
    fn minimal(preset: Preset) -> Value {
        let mut body = json!({"name": "acme", "preset": preset.as_str(), "client_id": "c"});
        for (member, usage) in schema::uses(preset) {
            if usage == Use::Required {
                body[member] = sample(member);
            }
        }
        body
    }

    #[test]
    fn each_presets_shape_requires_takes_and_refuses_what_the_check_does() {
        for preset in Preset::ALL {
            let base = minimal(preset);
            assert_eq!(problems(&base), [], "{preset}");
            for (member, usage) in schema::uses(preset) {
                let mut with = base.clone();
                with[member] = sample(member);
                let found = problems(&with);
                match usage {
                    Use::Required | Use::Optional => assert_eq!(found, [], "{preset} {member}"),
                    Use::Refused => {
                        assert_eq!(found.len(), 1, "{preset} {member}: {found:?}");
                        assert_eq!(
                            (found[0].path.as_str(), found[0].code),
                            (member, "not_applicable")
                        );
                    }
                }
                let mut without = base.clone();
                without.as_object_mut().unwrap().remove(member);
                let found = problems(&without);
                match usage {
                    Use::Required => {
                        assert_eq!(found.len(), 1, "{preset} {member}: {found:?}");
                        assert_eq!(
                            (found[0].path.as_str(), found[0].code),
                            (member, "required")
                        );
                    }
                    Use::Optional | Use::Refused => assert_eq!(found, [], "{preset} {member}"),
                }
            }
        }
    }

    #[test]
    fn the_document_lists_exactly_the_presets_and_the_sync_values() {
        let shown = serde_json::to_value(schema::shown()).unwrap();
        let presets: Vec<&str> = Preset::ALL.iter().map(|p| p.as_str()).collect();
        assert_eq!(shown["properties"]["preset"]["enum"], json!(presets));
        assert_eq!(
            shown["properties"]["mapping"]["items"]["properties"]["sync"]["enum"],
            json!(["if_empty", "always"])
        );
        for body in [Body::Create, Body::Replace] {
            let definition = serde_json::to_value(schema::definition(body)).unwrap();
            let variants = definition["oneOf"].as_array().unwrap();
            let titles: Vec<&str> = variants
                .iter()
                .map(|v| v["title"].as_str().unwrap())
                .collect();
            assert_eq!(titles, presets);
            for variant in variants {
                assert_eq!(variant["additionalProperties"], false);
                let secret = &variant["properties"]["client_secret"];
                if secret["type"] == "string" || secret["type"] == json!(["string", "null"]) {
                    assert_eq!(secret["writeOnly"], true);
                }
            }
        }
    }

    #[test]
    fn the_shapes_list_every_member_of_a_definition() {
        let mut full = minimal(Preset::Microsoft);
        for (member, value) in [
            ("display_name", json!("Acme")),
            ("tenant", json!("common")),
            (
                "issuer",
                json!("https://login.microsoftonline.com/common/v2.0"),
            ),
            ("scopes", json!(["openid"])),
            ("domains", json!(["acme.example"])),
            (
                "mapping",
                json!([{"claim": "/a", "field": "a", "sync": "always"}]),
            ),
            ("enabled", json!(false)),
        ] {
            full[member] = value;
        }
        let spec: ConnectionSpec = serde_json::from_value(full).unwrap();
        let written = serde_json::to_value(&spec).unwrap();
        let mut members: Vec<String> = written.as_object().unwrap().keys().cloned().collect();
        members.extend(
            [
                "authorization_endpoint",
                "token_endpoint",
                "userinfo_endpoint",
                "apple",
            ]
            .map(String::from),
        );
        members.sort();
        for body in [Body::Create, Body::Replace] {
            let definition = serde_json::to_value(schema::definition(body)).unwrap();
            for variant in definition["oneOf"].as_array().unwrap() {
                let mut documented: Vec<String> = variant["properties"]
                    .as_object()
                    .unwrap()
                    .keys()
                    .cloned()
                    .collect();
                documented.sort();
                assert_eq!(documented, members);
            }
        }
        let shown = serde_json::to_value(schema::shown()).unwrap();
        for member in &members {
            assert!(shown["properties"][member].is_object(), "{member}");
        }
    }

    /// Whether the check accepts `value` at `member` of an `oidc` connection (`microsoft` for a
    /// tenant, `oauth2` for an endpoint).
    fn accepts(member: &str, value: Value) -> bool {
        let preset = match member {
            "tenant" => Preset::Microsoft,
            "token_endpoint" => Preset::OAuth2,
            _ => Preset::Oidc,
        };
        let mut body = minimal(preset);
        let path = match member {
            "mapping/claim" => {
                body["mapping"] = json!([{"claim": value, "field": "f"}]);
                "mapping/0/claim"
            }
            "mapping/field" => {
                body["mapping"] = json!([{"claim": "/c", "field": value}]);
                "mapping/0/field"
            }
            "domains" => {
                body["domains"] = json!([value]);
                "domains/0"
            }
            "scopes" => {
                body["scopes"] = json!([value]);
                "scopes/0"
            }
            other => {
                body[other] = value;
                other
            }
        };
        let found = problems(&body);
        assert!(found.iter().all(|p| p.path == path), "{found:?}");
        found.is_empty()
    }

    proptest! {
        #[test]
        fn every_described_name_is_accepted(name in described_by(NAME_PATTERN)) {
            prop_assert!(accepts("name", json!(name)));
        }

        #[test]
        fn every_described_issuer_is_accepted(url in described_by(schema::ISSUER)) {
            prop_assert!(accepts("issuer", json!(url)), "{url:?}");
        }

        #[test]
        fn every_described_endpoint_is_accepted(url in described_by(schema::ENDPOINT)) {
            prop_assert!(accepts("token_endpoint", json!(url)), "{url:?}");
        }

        /// Schemathesis's negative cases: a described issuer, endpoint or domain with one
        /// character changed is refused, unless its host is one no pattern can describe.
        #[test]
        fn a_changed_url_or_domain_the_schema_refuses_is_refused(
            issuer in described_by(schema::ISSUER),
            endpoint in described_by(schema::ENDPOINT),
            domain in described_by(schema::DOMAIN),
            change in changes(),
        ) {
            for (pattern, path, value) in [
                (schema::ISSUER, "issuer", issuer),
                (schema::ENDPOINT, "token_endpoint", endpoint),
                (schema::DOMAIN, "domains", domain),
            ] {
                let changed = change.apply(&value);
                if !matches(pattern, &changed) && changed.len() <= 253 {
                    prop_assert!(
                        indescribable_host(&changed) || !accepts(path, json!(changed)),
                        "{path}: {changed:?}"
                    );
                }
            }
        }

        #[test]
        fn every_described_domain_and_tenant_is_accepted(
            // Filtered one by one (each long value drawn again), not rejected as a pair: at
            // thousands of cases, rejecting a whole case when either was long went past
            // proptest's limit of rejected cases.
            domain in described_by(schema::DOMAIN).prop_filter("at most 253 bytes", |d| d.len() <= 253),
            tenant in described_by(schema::TENANT).prop_filter("at most 253 bytes", |t| t.len() <= 253),
        ) {
            prop_assert!(accepts("domains", json!(domain)), "{domain:?}");
            prop_assert!(accepts("tenant", json!(tenant)), "{tenant:?}");
        }

        #[test]
        fn every_described_client_id_is_accepted(
            id in described_by(schema::CLIENT_ID).prop_filter("at most 255 bytes", |id| id.len() <= 255),
        ) {
            prop_assert!(accepts("client_id", json!(id)), "{id:?}");
        }

        #[test]
        fn the_text_patterns_admit_exactly_what_the_check_admits(
            text in prop_oneof![
                any::<String>(),
                "[ -~]{0,6}",
                "[\\x00-\\x20\\u{7f}-\\u{a0}\\u{2000}-\\u{200b}a~/01]{0,5}",
            ],
        ) {
            let short = text.chars().count() <= 40;
            if short {
                prop_assert_eq!(matches(NAME_PATTERN, &text), accepts("name", json!(text)), "{:?}", text);
            }
            if text.chars().count() <= 100 {
                prop_assert_eq!(
                    matches(schema::DISPLAY_NAME, &text),
                    accepts("display_name", json!(text)),
                    "{:?}", text
                );
                prop_assert_eq!(
                    matches(schema::FIELD, &text),
                    accepts("mapping/field", json!(text)),
                    "{:?}", text
                );
            }
            if text.len() <= 255 {
                prop_assert_eq!(
                    matches(schema::CLIENT_ID, &text),
                    accepts("client_id", json!(text)),
                    "{:?}", text
                );
            }
            prop_assert_eq!(
                matches(schema::CLIENT_SECRET, &text),
                accepts("client_secret", json!(text)),
                "{:?}", text
            );
            prop_assert_eq!(
                matches(schema::POINTER, &text),
                accepts("mapping/claim", json!(text)),
                "{:?}", text
            );
            prop_assert_eq!(
                matches(accrete_oidc::client::SCOPE_TOKEN_PATTERN, &text),
                accepts("scopes", json!(text)),
                "{:?}", text
            );
        }
    }

    #[test]
    fn the_patterns_describe_the_usual_values() {
        for url in [
            "https://login.acme.example",
            "https://accounts.google.com",
            "https://login.microsoftonline.com/common/v2.0",
            "http://127.0.0.1:8080/realms/acme",
            "http://localhost:3000",
            "http://[::1]:4000/x",
        ] {
            assert!(matches(schema::ISSUER, url), "{url}");
            assert!(accepts("issuer", json!(url)), "{url}");
        }
        for url in [
            "http://id.example",
            "https://id.example/?a=b",
            "https://id.example/#x",
            "id.example",
        ] {
            assert!(!matches(schema::ISSUER, url), "{url}");
            assert!(!accepts("issuer", json!(url)), "{url}");
        }
        assert!(matches(schema::ENDPOINT, "https://api.github.com/user?x=1"));
        for tenant in [
            "common",
            "contoso.onmicrosoft.com",
            "9188040d-6c67-4c5b-b112-36a304b66dad",
        ] {
            assert!(matches(schema::TENANT, tenant), "{tenant}");
        }
        assert!(!matches(schema::TENANT, "everyone"));
        assert!(matches(schema::APPLE_ID, "TEAM123456"));
        assert!(!matches(schema::APPLE_ID, "team123456"));
        assert!(matches(schema::DOMAIN, "acme.example"));
        assert!(!matches(schema::DOMAIN, "Acme.example"));
    }

    #[test]
    fn a_replacement_takes_the_name_of_its_path() {
        let spec = replacement("acme", minimal(Preset::Google)).unwrap();
        assert_eq!(spec.name, "acme");
        let mut body = minimal(Preset::Google);
        body.as_object_mut().unwrap().remove("name");
        assert_eq!(replacement("other", body).unwrap().name, "other");
        assert!(replacement("acme", json!([1])).is_err());
    }
}
