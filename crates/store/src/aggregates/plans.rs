//! What PostgreSQL must plan as seeks by index whatever plan it keeps for a prepared statement
//! (a generic plan, made while a table was small), checked with the transaction's statistics.

use serde_json::json;
use sqlx::Connection as _;
use time::OffsetDateTime;

use crate::aggregates::users::Users as _;
use crate::aggregates::users::sql::list_users_by_value;
use crate::backend::query;
use crate::{FieldFilter, Location, NewUser, UserQuery};

/// A search by value on PostgreSQL seeks `user_values` and joins each user it finds by
/// `users`' primary key, whatever the plan: a join whose two sides compare in different
/// collations cannot use that key, and read every user for each search.
#[tokio::test]
async fn a_search_by_value_joins_the_users_by_their_key_on_postgres() {
    let Some((store, mut conn, _guard)) = crate::testing::postgres_store_and_connection().await
    else {
        return;
    };
    let now = OffsetDateTime::now_utc();
    for i in 0..3 {
        let mut user = NewUser::with_email(format!("user{i}@example.com"), now);
        user.profile = json!({ "company": "Acme" });
        store.create_user(user).await.expect("user");
    }
    let mut tx = conn.begin().await.expect("begin");
    for set in [
        "SET LOCAL plan_cache_mode = force_generic_plan",
        "SET LOCAL enable_seqscan = off",
    ] {
        query(set).execute(&mut *tx).await.expect("set");
    }
    let search = UserQuery {
        field: Some(FieldFilter {
            location: Location::Profile,
            key: "company".into(),
            equals: Some(json!("Acme")),
        }),
        ..UserQuery::default()
    };
    let page = list_users_by_value(&mut *tx, &search, 50)
        .await
        .expect("search")
        .expect("an indexed search");
    assert_eq!(page.items.len(), 3);
    assert_eq!(
        crate::testing::read_in_full(&mut tx, &["users", "user_values"]).await,
        Vec::new(),
        "tables read in full by a search by value"
    );
    // Ended here: a transaction left open holds up the schema's drop.
    tx.rollback().await.expect("rollback");
    conn.close().await.expect("close");
}
