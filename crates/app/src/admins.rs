//! Administrators of the console (docs/console.md): their roles and what each may do, granting
//! and revoking them (never the last owner), the first owner through the setup link, the audit
//! log of changes, and console sessions.

use accrete_oidc::secrets::random_opaque;
use accrete_store::{AdminGrant, AuditEntry, ConsoleSession, NewAuditEntry, StoreError, User};
use serde_json::Value;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::app::App;

/// What an administrator may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including administrators and keys.
    Owner,
    /// The policy, clients and theme.
    Editor,
    /// Users (their values, sessions, factors, resets).
    Support,
    /// Reads everything, changes nothing.
    Viewer,
}

/// A kind of change (reading is every role's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Draft, publish and roll back the policy.
    EditPolicy,
    /// Create, change and delete clients.
    EditClients,
    /// The server's and clients' themes.
    EditTheme,
    /// Change, reset, disable and delete users.
    ManageUsers,
    /// Grant and revoke administrator roles.
    ManageAdmins,
    /// Rotate the server's signing keys.
    RotateKeys,
    /// Register, change, delete webhook endpoints, rotate their secrets, replay deliveries.
    ManageWebhooks,
}

impl Role {
    /// Every role, from the most to the least powerful.
    pub const ALL: [Role; 4] = [Role::Owner, Role::Editor, Role::Support, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Editor => "editor",
            Role::Support => "support",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(value: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == value)
    }

    /// Whether this role may make this kind of change.
    pub fn permits(self, permission: Permission) -> bool {
        match self {
            Role::Owner => true,
            Role::Editor => matches!(
                permission,
                Permission::EditPolicy
                    | Permission::EditClients
                    | Permission::EditTheme
                    | Permission::ManageWebhooks
            ),
            Role::Support => permission == Permission::ManageUsers,
            Role::Viewer => false,
        }
    }
}

/// Who makes a change, and from where: recorded in the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// `user:<id>` (an administrator), `client:<id>` (an API back end), `cli`, `setup`.
    pub name: String,
    /// The peer address, when the change came over the network.
    pub ip: Option<String>,
}

impl Actor {
    /// An administrator in the console.
    pub fn user(id: Uuid, ip: Option<String>) -> Actor {
        Actor {
            name: format!("user:{id}"),
            ip,
        }
    }

    /// An API back end (client credentials).
    pub fn client(id: &str, ip: Option<String>) -> Actor {
        Actor {
            name: format!("client:{id}"),
            ip,
        }
    }

    /// The command line on the server.
    pub fn cli() -> Actor {
        Actor {
            name: "cli".into(),
            ip: None,
        }
    }

    /// An audit entry of this actor.
    pub fn entry(
        &self,
        action: &str,
        target: Option<String>,
        now: OffsetDateTime,
    ) -> NewAuditEntry {
        NewAuditEntry {
            at: now,
            actor: self.name.clone(),
            action: action.to_owned(),
            target,
            before: None,
            after: None,
            ip: self.ip.clone(),
        }
    }
}

/// Why a role was not granted or revoked.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// No account has this email address (an administrator signs up first).
    #[error("no account has the email address {0}")]
    NoSuchUser(String),
    /// The change would leave no owner.
    #[error("the last owner keeps their role: make another owner first")]
    LastOwner,
    /// The setup link is wrong, or an administrator exists already.
    #[error("this setup link is not valid (or the first administrator exists already)")]
    SetupClosed,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The role of `user_id`, if they are an administrator (an unknown stored value counts as none).
pub async fn role_of(app: &App, user_id: Uuid) -> Result<Option<Role>, StoreError> {
    Ok(app
        .store()
        .admin_role(user_id)
        .await?
        .as_deref()
        .and_then(Role::parse))
}

/// Every administrator.
pub async fn list(app: &App) -> Result<Vec<AdminGrant>, StoreError> {
    app.store().list_admins().await
}

/// Whether the user is the console's only owner: that role cannot be taken away, nor the
/// account deleted, or nobody could administer the server any more.
pub async fn is_last_owner(app: &App, user_id: Uuid) -> Result<bool, StoreError> {
    Ok(role_of(app, user_id).await? == Some(Role::Owner)
        && app.store().count_admins(Some(Role::Owner.as_str())).await? <= 1)
}

/// Gives the account with `email` the `role` (`None`: takes theirs away), recorded with the
/// role before and after. The last owner cannot be demoted or removed.
pub async fn set_role(
    app: &App,
    actor: &Actor,
    email: &str,
    role: Option<Role>,
    now: OffsetDateTime,
) -> Result<User, AdminError> {
    let user = app
        .store()
        .find_user_by_email(email)
        .await?
        .ok_or_else(|| AdminError::NoSuchUser(email.to_owned()))?;
    let current = role_of(app, user.id).await?;
    if current == Some(Role::Owner)
        && role != Some(Role::Owner)
        && app.store().count_admins(Some(Role::Owner.as_str())).await? <= 1
    {
        return Err(AdminError::LastOwner);
    }
    let action = match role {
        Some(_) if current.is_some() => "admin.changed",
        Some(_) => "admin.granted",
        None => "admin.revoked",
    };
    let entry = actor.entry(action, Some(format!("user:{}", user.id)), now);
    app.store()
        .set_admin_role(user.id, role.map(Role::as_str), entry)
        .await?;
    tracing::info!(user_id = %user.id, role = ?role, actor = %actor.name, "administrator role changed");
    Ok(user)
}

/// The setup link's token: a keyed hash of a fixed text (the same on every node of one server,
/// never stored), good only while no administrator exists.
pub fn setup_token(app: &App) -> String {
    app.federation.hasher.hash("accrete:console-setup:v1")
}

/// Whether the setup link works now (no administrator yet).
pub async fn setup_open(app: &App) -> Result<bool, StoreError> {
    Ok(app.store().count_admins(None).await? == 0)
}

/// The first owner: the signed-in `user_id` presenting the setup link's `token`, while no
/// administrator exists.
pub async fn claim_setup(
    app: &App,
    user_id: Uuid,
    token: &str,
    ip: Option<String>,
    now: OffsetDateTime,
) -> Result<(), AdminError> {
    let expected = setup_token(app);
    if !accrete_oidc::secrets::constant_time_eq(token.as_bytes(), expected.as_bytes())
        || !setup_open(app).await?
    {
        return Err(AdminError::SetupClosed);
    }
    let actor = Actor {
        name: "setup".into(),
        ip,
    };
    let entry = actor.entry("admin.granted", Some(format!("user:{user_id}")), now);
    app.store()
        .set_admin_role(user_id, Some(Role::Owner.as_str()), entry)
        .await?;
    tracing::info!(%user_id, "first owner made through the setup link");
    Ok(())
}

/// Records a change made by `actor` on `target` (the values before and after, secrets left
/// out by the caller).
pub async fn audit(
    app: &App,
    actor: &Actor,
    action: &str,
    target: Option<String>,
    (before, after): (Option<Value>, Option<Value>),
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let mut entry = actor.entry(action, target, now);
    entry.before = before;
    entry.after = after;
    app.store().record_audit(entry).await
}

/// The audit log, newest first (`before`: the `seq` to page from).
pub async fn audit_log(
    app: &App,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<AuditEntry>, StoreError> {
    app.store().list_audit(before, limit).await
}

/// The console's client id: a public client of this server (code + PKCE) whose only redirect
/// URI is the console's callback.
pub const CONSOLE_CLIENT: &str = "accrete-console";

/// The console's client, registered on first use (and its redirect URI kept to the issuer's):
/// its id.
pub async fn console_client(
    app: &App,
    redirect_uri: &str,
    now: OffsetDateTime,
) -> Result<String, StoreError> {
    let existing = app.clients.get(app.store(), CONSOLE_CLIENT).await?;
    let wanted = vec![redirect_uri.to_owned()];
    match existing {
        Some(client) if client.redirect_uris == wanted => {}
        Some(mut client) => {
            client.redirect_uris = wanted;
            client.updated_at = now;
            app.store().update_client(client).await?;
            app.clients.forget(CONSOLE_CLIENT);
        }
        None => {
            let client = accrete_store::Client {
                id: CONSOLE_CLIENT.to_owned(),
                secret_hash: None,
                name: "Accrete console".to_owned(),
                redirect_uris: wanted,
                post_logout_redirect_uris: Vec::new(),
                grant_types: vec!["authorization_code".to_owned()],
                scopes: vec!["openid".to_owned()],
                audience: Vec::new(),
                public: true,
                id_token_alg: "ES256".to_owned(),
                allowed_origins: Vec::new(),
                theme: serde_json::json!({}),
                connections: None,
                password_signin: true,
                // The server's rule: the first owner may create their account on the way in
                // (roles come from an owner, the command line or the setup link, never from
                // signing up).
                self_signup: None,
                email_verification: None,
                mfa: None,
                created_at: now,
                updated_at: now,
            };
            match app.store().create_client(client).await {
                // Another node registered it meanwhile.
                Ok(_) | Err(StoreError::Conflict { .. }) => {}
                Err(error) => return Err(error),
            }
        }
    }
    Ok(CONSOLE_CLIENT.to_owned())
}

/// How long a console session lasts.
pub const CONSOLE_SESSION: Duration = Duration::hours(8);

/// How recent the sign-in must be for the most dangerous actions.
pub const RECENT_SIGN_IN: Duration = Duration::minutes(10);

/// Whether the administrator of `session` signed in recently enough, at `now`, for the most
/// dangerous actions (deleting a client, rotating its secret); otherwise they sign in again.
pub fn signed_in_recently(session: &ConsoleSession, now: OffsetDateTime) -> bool {
    now - session.auth_time <= RECENT_SIGN_IN
}

fn session_hash(app: &App, token: &str) -> String {
    app.federation.hasher.hash(&format!("console:{token}"))
}

/// A console session for `user_id`, who signed in at `auth_time`: the cookie's value.
pub async fn start_session(
    app: &App,
    user_id: Uuid,
    auth_time: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<String, StoreError> {
    let token = random_opaque();
    let session = ConsoleSession {
        hash: session_hash(app, &token),
        user_id,
        created_at: now,
        auth_time,
        expires_at: now + CONSOLE_SESSION,
    };
    app.store().create_console_session(session).await?;
    Ok(token)
}

/// The administrator of a console cookie: their session, account and role (`None`: no such
/// session, or the account is no administrator any more).
pub async fn session(
    app: &App,
    token: &str,
    now: OffsetDateTime,
) -> Result<Option<(ConsoleSession, User, Role)>, StoreError> {
    let Some(session) = app
        .store()
        .console_session(&session_hash(app, token), now)
        .await?
    else {
        return Ok(None);
    };
    let Some(role) = role_of(app, session.user_id).await? else {
        return Ok(None);
    };
    let user = match app.store().get_user(session.user_id).await {
        Ok(user) => user,
        Err(StoreError::NotFound) => return Ok(None),
        Err(error) => return Err(error),
    };
    Ok(Some((session, user, role)))
}

/// Ends a console session.
pub async fn end_session(app: &App, token: &str) -> Result<(), StoreError> {
    app.store()
        .delete_console_session(&session_hash(app, token))
        .await
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_each_role_may_change() {
        use Permission::*;
        let all = [
            EditPolicy,
            EditClients,
            EditTheme,
            ManageUsers,
            ManageAdmins,
            ManageWebhooks,
        ];
        let allowed = |role: Role| -> Vec<Permission> {
            all.into_iter().filter(|p| role.permits(*p)).collect()
        };
        assert_eq!(allowed(Role::Owner), all.to_vec());
        assert_eq!(
            allowed(Role::Editor),
            vec![EditPolicy, EditClients, EditTheme, ManageWebhooks]
        );
        assert_eq!(allowed(Role::Support), vec![ManageUsers]);
        assert_eq!(allowed(Role::Viewer), vec![]);
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn a_sign_in_older_than_ten_minutes_is_not_recent() {
        let now = OffsetDateTime::now_utc();
        let session = |ago: Duration| ConsoleSession {
            hash: String::new(),
            user_id: Uuid::nil(),
            created_at: now - ago,
            auth_time: now - ago,
            expires_at: now + CONSOLE_SESSION,
        };
        assert!(signed_in_recently(&session(Duration::minutes(10)), now));
        assert!(!signed_in_recently(
            &session(Duration::minutes(10) + Duration::seconds(1)),
            now
        ));
    }
}
