//! The server's theme of the hosted pages (docs/theming.md). The configuration's `[theme]` is
//! the base; what the console or the management API saves overrides it key by key, and a reset
//! goes back to the configuration. Each save is audited (`theme.updated`, `theme.reset`) with
//! the saved theme before and after.
//!
//! Like the published policy, the effective theme is cached on each node and re-read at most
//! every [`RECHECK`]: a node compares one version number, so every node shows a change within a
//! few seconds, and the node that saved it at once.

pub mod cache;
pub mod rules;

use accrete_store::StoreError;
use serde_json::Value;
use time::OffsetDateTime;

use crate::admins::Actor;
use crate::app::App;
use crate::problems::Problem;

use cache::layers;
pub use cache::{RECHECK, ServerTheme, ThemeCache};
pub use rules::{
    LOGO_URL_PATTERN, MAX_BRAND_CHARS, MAX_CSS_BYTES, MAX_URL_CHARS, THEME_KEYS, Theme,
    ThemeProblem, css_problems,
};

/// The audit log's target of a change of the server's theme.
pub const AUDIT_TARGET: &str = "theme";

/// Why a theme was not saved.
#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    /// Refused values, every one (paths: the theme's keys, `$` for the theme itself).
    #[error("theme refused")]
    Invalid(Vec<Problem>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The problems of a theme object as the use-cases report them (path: the key, `$` for the
/// object itself), or the theme.
pub fn read(value: &Value) -> Result<Theme, Vec<Problem>> {
    Theme::from_json(value).map_err(|problems| {
        problems
            .into_iter()
            .map(|p| {
                let path = if p.key.is_empty() {
                    "$".to_owned()
                } else {
                    p.key
                };
                Problem::new(path, p.code, p.message)
            })
            .collect()
    })
}

/// The server's theme as it stands (read from the store, not from this node's cache).
pub async fn get(app: &App) -> Result<ServerTheme, StoreError> {
    let stored = app.store().server_theme().await?;
    Ok(layers(app.theme_cache().base(), stored.as_ref()))
}

/// Saves `theme` (a theme object: every key optional; `null` or absent keys fall back to the
/// configuration) as the server's theme, checked like a client's theme. Saving what is already
/// saved changes and records nothing.
pub async fn replace(
    app: &App,
    actor: &Actor,
    theme: &Value,
    now: OffsetDateTime,
) -> Result<ServerTheme, ThemeError> {
    let theme = read(theme).map_err(ThemeError::Invalid)?;
    save(app, actor, &theme, "theme.updated", now).await
}

/// Forgets what was saved: the configuration's theme again.
pub async fn reset(
    app: &App,
    actor: &Actor,
    now: OffsetDateTime,
) -> Result<ServerTheme, StoreError> {
    match save(app, actor, &Theme::default(), "theme.reset", now).await {
        Ok(theme) => Ok(theme),
        Err(ThemeError::Store(error)) => Err(error),
        Err(ThemeError::Invalid(problems)) => Err(StoreError::unexpected(format!(
            "the empty theme was refused: {problems:?}"
        ))),
    }
}

async fn save(
    app: &App,
    actor: &Actor,
    theme: &Theme,
    action: &str,
    now: OffsetDateTime,
) -> Result<ServerTheme, ThemeError> {
    let current = get(app).await?;
    if current.version.is_some() && current.saved == *theme {
        return Ok(current);
    }
    let value = serde_json::to_value(theme).map_err(|e| StoreError::unexpected(e.to_string()))?;
    let entry = actor.entry(action, Some(AUDIT_TARGET.to_owned()), now);
    let stored = app.store().replace_server_theme(&value, entry).await?;
    app.theme_changed();
    Ok(layers(app.theme_cache().base(), Some(&stored)))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use serde_json::json;

    use super::*;

    fn base() -> Theme {
        Theme {
            brand: Some("Acme".into()),
            primary: Some("#111111".into()),
            background: Some("#eeeeee".into()),
            ..Theme::default()
        }
    }

    async fn app() -> (App, tempfile::TempDir) {
        let (store, dir) = accrete_store::testing::sqlite_store().await;
        (
            App::for_tests(store, "http://issuer").with_base_theme(base()),
            dir,
        )
    }

    fn admin() -> Actor {
        Actor {
            name: "cli".into(),
            ip: None,
        }
    }

    #[tokio::test]
    async fn what_is_saved_overrides_the_configuration_key_by_key_until_a_reset() {
        let (app, _dir) = app().await;
        let now = OffsetDateTime::now_utc();
        let first = get(&app).await.unwrap();
        assert_eq!(first.effective, base());
        assert_eq!(first.version, None);
        let saved = replace(
            &app,
            &admin(),
            &json!({"primary": "#0a7d5a", "logo_url": "/logo.svg"}),
            now,
        )
        .await
        .unwrap();
        assert_eq!(saved.effective.primary.as_deref(), Some("#0a7d5a"));
        assert_eq!(saved.effective.brand.as_deref(), Some("Acme"));
        assert_eq!(saved.effective.logo_url.as_deref(), Some("/logo.svg"));
        assert_eq!(saved.version, Some(1));
        assert_eq!(
            app.theme().await.unwrap().primary.as_deref(),
            Some("#0a7d5a")
        );
        let reset = reset(&app, &admin(), now).await.unwrap();
        assert_eq!(reset.effective, base());
        assert_eq!(app.theme().await.unwrap().as_ref(), &base());
        let log = app.store().list_audit(None, 10).await.unwrap();
        let actions: Vec<&str> = log.iter().map(|e| e.entry.action.as_str()).collect();
        assert_eq!(actions, ["theme.reset", "theme.updated"]);
    }

    #[tokio::test]
    async fn a_refused_theme_is_not_saved_and_every_problem_is_named() {
        let (app, _dir) = app().await;
        let refused = replace(
            &app,
            &admin(),
            &json!({"primary": "teal", "font": "serif"}),
            OffsetDateTime::now_utc(),
        )
        .await
        .unwrap_err();
        let ThemeError::Invalid(problems) = refused else {
            panic!("{refused:?}")
        };
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["font"]);
        let refused = replace(
            &app,
            &admin(),
            &json!({"primary": "teal"}),
            OffsetDateTime::now_utc(),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(refused, ThemeError::Invalid(p) if p[0].path == "primary" && p[0].code == "invalid_colour")
        );
        let not_an_object = read(&json!("blue")).unwrap_err();
        assert_eq!(not_an_object[0].path, "$");
        assert_eq!(app.store().server_theme().await.unwrap(), None);
        assert!(app.store().list_audit(None, 10).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn saving_the_same_theme_again_records_nothing() {
        let (app, _dir) = app().await;
        let now = OffsetDateTime::now_utc();
        let theme = json!({"brand": "Shop"});
        replace(&app, &admin(), &theme, now).await.unwrap();
        let again = replace(&app, &admin(), &theme, now).await.unwrap();
        assert_eq!(again.version, Some(1));
        assert_eq!(app.store().list_audit(None, 10).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_save_by_another_node_is_seen_within_the_recheck_interval() {
        let (store, _dir) = accrete_store::testing::sqlite_store().await;
        let node = ThemeCache::new(base());
        let other = App::for_tests(store.clone(), "http://issuer").with_base_theme(base());
        let t0 = Instant::now();
        assert_eq!(
            node.current_at(store.as_ref(), t0).await.unwrap().as_ref(),
            &base()
        );
        replace(
            &other,
            &admin(),
            &json!({"primary": "#222222"}),
            OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
        let soon = t0 + RECHECK / 2;
        let cached = node.current_at(store.as_ref(), soon).await.unwrap();
        assert_eq!(cached.primary.as_deref(), Some("#111111"), "cached");
        let later = t0 + RECHECK;
        let seen = node.current_at(store.as_ref(), later).await.unwrap();
        assert_eq!(seen.primary.as_deref(), Some("#222222"));
        // Same version: the theme is shared, not rebuilt.
        let again = node
            .current_at(store.as_ref(), later + RECHECK)
            .await
            .unwrap();
        assert!(Arc::ptr_eq(&seen, &again));
        assert!(Arc::ptr_eq(&node.last(), &again));
    }
}
