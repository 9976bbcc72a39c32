//! The impact preview of a draft: how many existing users the draft, and the version in force,
//! would ask something at a moment, per step. Up to [`SAMPLE_SIZE`] users every user is
//! counted; above it the preview counts a uniform random sample of about that many and scales
//! it up, each figure with its 95 % margin of error (`Extent::Every` counts everyone whatever
//! their number, a minute or so per million users).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use accrete_core::{CompiledPolicy, Moment, decide};
use accrete_store::{Page, Store, StoreError, UserQuery, UserState};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::app::App;
use crate::policy_admin::{PolicyError, Source, facts_at, published_or_empty, select};

/// Users a preview counts one by one before it estimates from a sample of about as many.
pub const SAMPLE_SIZE: u64 = 50_000;

/// Which users a preview counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extent {
    /// Every user up to this many, a random sample of about this many above
    /// ([`SAMPLE_SIZE`] by default).
    Sample(u64),
    /// Every user, however many.
    Every,
}

impl Default for Extent {
    fn default() -> Self {
        Self::Sample(SAMPLE_SIZE)
    }
}

/// A number of users: counted, or estimated from a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Estimate {
    /// The count, or the sample's count scaled to every user (rounded).
    pub count: u64,
    /// Half the width of the 95 % confidence interval of `count`, in users (0 when counted).
    pub margin: u64,
}

/// Per step: how many users each policy would ask it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepImpact {
    pub step: String,
    /// Users the draft would ask this step.
    pub draft: Estimate,
    /// Users the published policy would ask this step.
    pub published: Estimate,
}

/// How many existing users a draft would prompt, compared with the published policy.
#[derive(Debug, Clone)]
pub struct Impact {
    /// Users there are.
    pub users: u64,
    /// Users examined: all of them when `exact`, else the sample's.
    pub examined: u64,
    /// Every user was counted (no margin of error).
    pub exact: bool,
    /// Users the draft would ask something.
    pub draft_prompted: Estimate,
    /// Users the published policy would ask something.
    pub published_prompted: Estimate,
    /// Per step (steps of either policy), by step id.
    pub steps: Vec<StepImpact>,
    /// Time the preview took.
    pub elapsed: Duration,
}

/// What one policy would ask a user at `moment` (a login counts as their next sign-in).
fn asked(
    policy: &CompiledPolicy,
    state: &UserState,
    moment: &Moment,
    now: OffsetDateTime,
) -> Option<String> {
    let facts = facts_at(policy, state, moment);
    decide(policy, &facts, moment, now)
        .ask()
        .map(|ask| ask.step.to_string())
}

/// The share of ids (out of 65,536, `Store::sample_user_states`) that makes a sample of about
/// the size `extent` asks of `users`; `None` to count them all.
fn sample_share(users: u64, extent: Extent) -> Option<u16> {
    let Extent::Sample(size) = extent else {
        return None;
    };
    if users <= size {
        return None;
    }
    let share = size.saturating_mul(65_536).div_ceil(users);
    Some(u16::try_from(share).unwrap_or(u16::MAX).max(1))
}

/// `count` of `examined` users scaled to `users`, with its 95 % margin (normal approximation
/// with the finite population correction: the sample is drawn without replacement).
fn estimate(count: u64, examined: u64, users: u64, exact: bool) -> Estimate {
    if exact || examined == 0 {
        return Estimate { count, margin: 0 };
    }
    let (n, total) = (examined as f64, users.max(examined) as f64);
    let share = count as f64 / n;
    let correction = if total > 1.0 {
        ((total - n) / (total - 1.0)).max(0.0)
    } else {
        0.0
    };
    let margin = 1.96 * (share * (1.0 - share) / n * correction).sqrt() * total;
    Estimate {
        count: (share * total).round() as u64,
        margin: margin.ceil() as u64,
    }
}

/// Counts, per step, whom the draft and the published policy would ask at `moment`: every
/// user, or a sample (`extent`). The next page is read while the current one is decided.
pub async fn impact(
    app: &App,
    moment: &Moment,
    now: OffsetDateTime,
    extent: Extent,
) -> Result<Impact, PolicyError> {
    let started = Instant::now();
    let draft = select(app, Source::Draft).await?;
    let published = published_or_empty(app).await?;
    let users = u64::try_from(app.store().count_users().await?).unwrap_or(0);
    let share = sample_share(users, extent);
    let mut counts: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for step in draft.steps().iter().chain(published.steps()) {
        counts.entry(step.id.to_string()).or_default();
    }
    let (mut examined, mut draft_prompted, mut published_prompted) = (0u64, 0u64, 0u64);
    let mut next = Some(tokio::spawn(page(app.store.clone(), share, None)));
    while let Some(reading) = next.take() {
        let page = reading
            .await
            .map_err(|e| StoreError::Unexpected(format!("a page of users: {e}").into()))??;
        if let Some(cursor) = page.next_cursor {
            next = Some(tokio::spawn(page_after(app.store.clone(), share, cursor)));
        }
        for user in &page.items {
            examined += 1;
            if let Some(step) = asked(&draft, user, moment, now) {
                draft_prompted += 1;
                counts.entry(step).or_default().0 += 1;
            }
            if let Some(step) = asked(&published, user, moment, now) {
                published_prompted += 1;
                counts.entry(step).or_default().1 += 1;
            }
        }
    }
    let exact = share.is_none();
    // Users created or deleted during the walk: the figures are of the users examined.
    let users = if exact { examined } else { users };
    let scaled = |count| estimate(count, examined, users, exact);
    Ok(Impact {
        users,
        examined,
        exact,
        draft_prompted: scaled(draft_prompted),
        published_prompted: scaled(published_prompted),
        steps: counts
            .into_iter()
            .map(|(step, (draft, published))| StepImpact {
                step,
                draft: scaled(draft),
                published: scaled(published),
            })
            .collect(),
        elapsed: started.elapsed(),
    })
}

async fn page_after(
    store: Arc<dyn Store>,
    share: Option<u16>,
    cursor: Uuid,
) -> Result<Page<UserState>, StoreError> {
    page(store, share, Some(cursor)).await
}

/// A page of the users a preview walks: all of them, or the sample.
async fn page(
    store: Arc<dyn Store>,
    share: Option<u16>,
    cursor: Option<Uuid>,
) -> Result<Page<UserState>, StoreError> {
    match share {
        None => {
            store
                .list_user_states(UserQuery {
                    limit: Some(UserQuery::MAX_LIMIT),
                    cursor,
                    ..UserQuery::default()
                })
                .await
        }
        Some(below) => {
            store
                .sample_user_states(below, cursor, UserQuery::MAX_LIMIT)
                .await
        }
    }
}

#[cfg(test)]
mod tests {
    use accrete_core::{MomentKind, Policy};
    use accrete_store::{ImportUser, Location, ProfileChange};
    use serde_json::json;

    use super::*;

    /// 2,000 users with known ids (their last 16 bits spread by a multiplicative hash); a
    /// quarter of them have a company. A draft asks the company at the next sign-in.
    async fn app_with_users() -> (App, tempfile::TempDir, Vec<(u16, bool)>) {
        let (store, dir) = accrete_store::testing::sqlite_store().await;
        let app = App::for_tests(store, "http://issuer");
        let draft = Policy::from_toml_str(
            r#"
            version = 1
            [[fields]]
            key = "company"
            kind = "text"
            labels = { en = "Company" }
            [[steps]]
            id = "work"
            title = { en = "Work" }
            fields = ["company"]
            mode = "required"
            trigger = { moments = ["login"] }
            "#,
        )
        .unwrap();
        let now = OffsetDateTime::now_utc();
        let document = serde_json::to_value(&draft).unwrap();
        crate::policy_admin::save_draft(&app, &document, now)
            .await
            .unwrap();
        let mut users = Vec::new();
        let mut batch = Vec::new();
        for i in 0..2_000u32 {
            let end = u16::try_from(i.wrapping_mul(40_503) % 65_536).unwrap();
            let known = i % 4 == 0;
            users.push((end, known));
            batch.push(ImportUser {
                id: Some(
                    format!("01900000-0000-7000-8000-{i:08x}{end:04x}")
                        .parse()
                        .unwrap(),
                ),
                email: format!("u{i}@example.com"),
                changes: known
                    .then(|| ProfileChange::set(Location::UserMetadata, "company", json!("Acme")))
                    .into_iter()
                    .collect(),
                ..ImportUser::default()
            });
        }
        app.store()
            .import_users("jsonl", batch, now, false)
            .await
            .unwrap();
        (app, dir, users)
    }

    #[tokio::test]
    async fn a_sample_estimates_what_counting_everyone_finds_within_its_margin() {
        let (app, _dir, users) = app_with_users().await;
        let login = Moment::new(MomentKind::Login);
        let now = OffsetDateTime::now_utc();
        let every = impact(&app, &login, now, Extent::Every).await.unwrap();
        assert!(every.exact);
        assert_eq!((every.users, every.examined), (2_000, 2_000));
        assert_eq!(
            every.draft_prompted,
            Estimate {
                count: 1_500,
                margin: 0
            }
        );
        assert_eq!(every.published_prompted.count, 0);
        // Up to the sample's size, everyone is counted.
        let small = impact(&app, &login, now, Extent::Sample(2_000))
            .await
            .unwrap();
        assert!(small.exact);
        assert_eq!(small.draft_prompted, every.draft_prompted);

        let sampled = impact(&app, &login, now, Extent::Sample(200))
            .await
            .unwrap();
        assert!(!sampled.exact);
        // The users whose id ends below the share: 200 / 2,000 of 65,536, rounded up.
        let share = 6_554;
        let examined = users.iter().filter(|(end, _)| *end < share).count() as u64;
        let asked = users
            .iter()
            .filter(|(end, known)| *end < share && !known)
            .count() as u64;
        assert_eq!((sampled.users, sampled.examined), (2_000, examined));
        assert!((150..=250).contains(&examined), "{examined}");
        let estimate = sampled.draft_prompted;
        assert_eq!(
            estimate.count,
            (asked as f64 / examined as f64 * 2_000.0).round() as u64
        );
        assert!(estimate.margin > 0);
        assert!(
            estimate.count.abs_diff(1_500) <= estimate.margin,
            "{estimate:?}"
        );
        let work = sampled.steps.iter().find(|s| s.step == "work").unwrap();
        assert_eq!(work.draft, estimate);
        assert_eq!(
            work.published,
            Estimate {
                count: 0,
                margin: 0
            }
        );
    }

    #[test]
    fn small_user_bases_are_counted_and_large_ones_sampled() {
        let sample = Extent::default();
        assert_eq!(sample_share(SAMPLE_SIZE, sample), None);
        assert_eq!(sample_share(10_000_000, Extent::Every), None);
        // A million users: 50,000 / 1,000,000 of 65,536, rounded up.
        assert_eq!(sample_share(1_000_000, sample), Some(3_277));
        assert_eq!(sample_share(SAMPLE_SIZE + 1, sample), Some(65_535));
        // However many users, a sample is never empty.
        assert_eq!(sample_share(u64::MAX / 65_536, sample), Some(1));
        assert_eq!(sample_share(655_360, Extent::Sample(10)), Some(1));
    }

    #[test]
    fn an_estimate_scales_the_sample_and_gives_its_margin() {
        assert_eq!(
            estimate(7, 10, 10, true),
            Estimate {
                count: 7,
                margin: 0
            }
        );
        // 10 % of a 50,000 sample of a million: 100,000 ± 1.96 √(0.09 / 50,000) × 0.975 ...
        let e = estimate(5_000, 50_000, 1_000_000, false);
        assert_eq!(e.count, 100_000);
        assert!((2_540..=2_580).contains(&e.margin), "{e:?}");
        // Nobody in the sample: estimated as nobody (the normal approximation says no more).
        assert_eq!(estimate(0, 50_000, 1_000_000, false).count, 0);
        // The whole population as the sample: no margin left.
        assert_eq!(estimate(3, 10, 10, false).margin, 0);
    }
}
