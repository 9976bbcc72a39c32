//! Policy versions, the draft, prompt state and events, shared by both backends.

/// Expands to the profiling functions for the backend in scope.
macro_rules! profiling_sql {
    () => {
        pub(crate) async fn publish_policy(
            c: &mut Conn,
            document: &serde_json::Value,
            note: Option<&str>,
            now: time::OffsetDateTime,
        ) -> Result<$crate::PolicyVersion, $crate::StoreError> {
            let mut tx = begin_write(c).await?;
            // Numbers are handed out under a lock so concurrent publishers never collide.
            lock_named(&mut tx, "accrete_policy").await?;
            let version = insert_policy_version(&mut tx, document, note, now).await?;
            tx.commit().await.map_err(err)?;
            Ok(version)
        }

        pub(crate) async fn publish_policy_if_changed(
            c: &mut Conn,
            document: &serde_json::Value,
            note: Option<&str>,
            now: time::OffsetDateTime,
        ) -> Result<$crate::PolicyPublication, $crate::StoreError> {
            let mut tx = begin_write(c).await?;
            // The comparison with the version in force happens under the publishers' lock, so
            // of several nodes importing one file at once only the first publishes it.
            lock_named(&mut tx, "accrete_policy").await?;
            if let Some(current) = published_policy(&mut tx).await?
                && current.document == *document
            {
                return Ok($crate::PolicyPublication::Unchanged(current));
            }
            let version = insert_policy_version(&mut tx, document, note, now).await?;
            tx.commit().await.map_err(err)?;
            Ok($crate::PolicyPublication::New(version))
        }

        /// Inserts the next version; the caller holds the `accrete_policy` lock.
        async fn insert_policy_version(
            c: &mut Conn,
            document: &serde_json::Value,
            note: Option<&str>,
            now: time::OffsetDateTime,
        ) -> Result<$crate::PolicyVersion, $crate::StoreError> {
            let now = $crate::model::to_millis(now);
            let row = sqlx::query_as::<_, $crate::sql::profiling_rows::PolicyRow>(
                "INSERT INTO policy_versions (version, document, created_at, published_at, note)
                 SELECT COALESCE(MAX(version), 0) + 1, $1, $2, $2, $3 FROM policy_versions
                 RETURNING *",
            )
            .bind(sqlx::types::Json(document))
            .bind(now)
            .bind(note.map(str::to_owned))
            .fetch_one(&mut *c)
            .await
            .map_err(err)?;
            row.try_into()
        }

        pub(crate) async fn published_policy(
            c: &mut Conn,
        ) -> Result<Option<$crate::PolicyVersion>, $crate::StoreError> {
            sqlx::query_as::<_, $crate::sql::profiling_rows::PolicyRow>(
                "SELECT * FROM policy_versions ORDER BY version DESC LIMIT 1",
            )
            .fetch_optional(&mut *c)
            .await
            .map_err(err)?
            .map($crate::PolicyVersion::try_from)
            .transpose()
        }

        pub(crate) async fn policy_version(
            c: &mut Conn,
            version: i64,
        ) -> Result<Option<$crate::PolicyVersion>, $crate::StoreError> {
            sqlx::query_as::<_, $crate::sql::profiling_rows::PolicyRow>(
                "SELECT * FROM policy_versions WHERE version = $1",
            )
            .bind(version)
            .fetch_optional(&mut *c)
            .await
            .map_err(err)?
            .map($crate::PolicyVersion::try_from)
            .transpose()
        }

        pub(crate) async fn list_policy_versions(
            c: &mut Conn,
        ) -> Result<Vec<$crate::PolicyVersionSummary>, $crate::StoreError> {
            sqlx::query_as::<_, $crate::sql::profiling_rows::PolicySummaryRow>(
                "SELECT version, published_at, note FROM policy_versions ORDER BY version DESC",
            )
            .fetch_all(&mut *c)
            .await
            .map_err(err)?
            .into_iter()
            .map($crate::PolicyVersionSummary::try_from)
            .collect()
        }

        pub(crate) async fn save_draft(
            c: &mut Conn,
            document: &serde_json::Value,
            now: time::OffsetDateTime,
        ) -> Result<$crate::PolicyDraft, $crate::StoreError> {
            sqlx::query_as::<_, $crate::sql::profiling_rows::DraftRow>(
                "INSERT INTO policy_draft (id, document, updated_at) VALUES (1, $1, $2)
                 ON CONFLICT (id) DO UPDATE
                 SET document = excluded.document, updated_at = excluded.updated_at
                 RETURNING document, updated_at",
            )
            .bind(sqlx::types::Json(document))
            .bind($crate::model::to_millis(now))
            .fetch_one(&mut *c)
            .await
            .map_err(err)?
            .try_into()
        }

        pub(crate) async fn get_draft(
            c: &mut Conn,
        ) -> Result<Option<$crate::PolicyDraft>, $crate::StoreError> {
            sqlx::query_as::<_, $crate::sql::profiling_rows::DraftRow>(
                "SELECT document, updated_at FROM policy_draft WHERE id = 1",
            )
            .fetch_optional(&mut *c)
            .await
            .map_err(err)?
            .map($crate::PolicyDraft::try_from)
            .transpose()
        }

        pub(crate) async fn discard_draft(c: &mut Conn) -> Result<(), $crate::StoreError> {
            sqlx::query("DELETE FROM policy_draft").execute(&mut *c).await.map_err(err)?;
            Ok(())
        }

        pub(crate) async fn record_prompt_event(
            c: &mut Conn,
            event: $crate::NewEvent,
        ) -> Result<Option<$crate::PromptState>, $crate::StoreError> {
            let mut tx = begin_write(c).await?;
            let state = record_prompt_event_in(&mut tx, event).await?;
            tx.commit().await.map_err(err)?;
            Ok(state)
        }

        /// One step of profiling in one transaction: the transaction update, the value changes
        /// and the event, each written by the function its own store method uses.
        pub(crate) async fn write_profiling(
            c: &mut Conn,
            write: $crate::ProfilingWrite,
        ) -> Result<$crate::ProfilingWritten, $crate::StoreError> {
            if let Some(event) = &write.event
                && event.user_id != write.user_id
            {
                return Err($crate::StoreError::Invalid {
                    message: "the event is about another user than the changes".into(),
                });
            }
            let mut tx = begin_write(c).await?;
            let transaction = match write.transaction {
                Some(transaction) => Some(update_transaction(&mut tx, transaction).await?),
                None => None,
            };
            let user = if write.changes.is_empty() {
                None
            } else {
                let update = $crate::UserUpdate { changes: write.changes, ..Default::default() };
                Some(update_user_in(&mut tx, write.user_id, None, &update, &write.source, write.now).await?)
            };
            let prompt = match write.event {
                Some(event) => record_prompt_event_in(&mut tx, event).await?,
                None => None,
            };
            tx.commit().await.map_err(err)?;
            Ok($crate::ProfilingWritten { transaction, user, prompt })
        }

        /// [`record_prompt_event`] inside the caller's write transaction.
        pub(crate) async fn record_prompt_event_in(
            tx: &mut Conn,
            event: $crate::NewEvent,
        ) -> Result<Option<$crate::PromptState>, $crate::StoreError> {
            use $crate::EventKind;
            let data = $crate::model::json_object(event.data, "event data")?;
            // Fields left blank by an answer join those left blank before (`data.declined`).
            let declined: Vec<String> = data
                .get("declined")
                .and_then(|v| v.as_array())
                .map(|keys| keys.iter().filter_map(|k| k.as_str().map(str::to_owned)).collect())
                .unwrap_or_default();
            // Which counter the event moves; abandonment and profile updates move none.
            let upsert = match event.kind {
                EventKind::PromptShown => Some(
                    "INSERT INTO prompt_state (user_id, step, shown, last_shown_at)
                     VALUES ($1, $2, 1, $3)
                     ON CONFLICT (user_id, step) DO UPDATE
                     SET shown = prompt_state.shown + 1, last_shown_at = excluded.last_shown_at
                     RETURNING *",
                ),
                EventKind::PromptAnswered => Some(
                    "INSERT INTO prompt_state (user_id, step, answered, last_answered_at, declined)
                     VALUES ($1, $2, 1, $3, $4)
                     ON CONFLICT (user_id, step) DO UPDATE
                     SET answered = prompt_state.answered + 1,
                         last_answered_at = excluded.last_answered_at,
                         declined = excluded.declined
                     RETURNING *",
                ),
                EventKind::PromptSkipped => Some(
                    "INSERT INTO prompt_state
                         (user_id, step, skipped, last_skipped_at, logins_at_last_skip)
                     VALUES ($1, $2, 1, $3, $4)
                     ON CONFLICT (user_id, step) DO UPDATE
                     SET skipped = prompt_state.skipped + 1,
                         last_skipped_at = excluded.last_skipped_at,
                         logins_at_last_skip = excluded.logins_at_last_skip
                     RETURNING *",
                ),
                EventKind::PromptAbandoned | EventKind::ProfileUpdated => None,
            };
            if upsert.is_some() && event.step.is_none() {
                return Err($crate::StoreError::Invalid {
                    message: format!("a {} event needs a step", event.kind.as_str()),
                });
            }
            let at = $crate::model::to_millis(event.at);
            sqlx::query(
                "INSERT INTO prompt_events (kind, user_id, step, client_id, at, data)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(event.kind.as_str())
            .bind(event.user_id.to_string())
            .bind(event.step.clone())
            .bind(event.client_id)
            .bind(at)
            .bind(sqlx::types::Json(data))
            .execute(&mut *tx)
            .await
            .map_err(|e| match err(e) {
                $crate::StoreError::Invalid { .. } => $crate::StoreError::NotFound,
                other => other,
            })?;
            let state = match (upsert, event.step) {
                (Some(sql), Some(step)) => {
                    let declined = if event.kind == EventKind::PromptAnswered {
                        // Read inside the write transaction: the union is not lost to a
                        // concurrent answer.
                        let before: Option<String> = sqlx::query_scalar(
                            "SELECT declined FROM prompt_state WHERE user_id = $1 AND step = $2",
                        )
                        .bind(event.user_id.to_string())
                        .bind(step.clone())
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(err)?;
                        let mut all = $crate::sql::profiling_rows::parse_declined(
                            before.as_deref().unwrap_or("[]"),
                        )?;
                        for key in declined {
                            if !all.contains(&key) {
                                all.push(key);
                            }
                        }
                        Some(serde_json::to_string(&all).map_err($crate::StoreError::unexpected)?)
                    } else {
                        None
                    };
                    let query = sqlx::query_as::<_, $crate::sql::profiling_rows::PromptStateRow>(sql)
                        .bind(event.user_id.to_string())
                        .bind(step)
                        .bind(at);
                    let query = match event.kind {
                        EventKind::PromptSkipped => query.bind(event.logins),
                        EventKind::PromptAnswered => query.bind(declined),
                        _ => query,
                    };
                    Some(query.fetch_one(&mut *tx).await.map_err(err)?.try_into()?)
                }
                _ => None,
            };
            Ok(state)
        }

        pub(crate) async fn prompt_states(
            c: &mut Conn,
            user_id: uuid::Uuid,
        ) -> Result<Vec<$crate::PromptState>, $crate::StoreError> {
            sqlx::query_as::<_, $crate::sql::profiling_rows::PromptStateRow>(
                "SELECT * FROM prompt_state WHERE user_id = $1 ORDER BY step",
            )
            .bind(user_id.to_string())
            .fetch_all(&mut *c)
            .await
            .map_err(err)?
            .into_iter()
            .map($crate::PromptState::try_from)
            .collect()
        }

        pub(crate) async fn list_events(
            c: &mut Conn,
            after_seq: i64,
            limit: u32,
        ) -> Result<Vec<$crate::Event>, $crate::StoreError> {
            sqlx::query_as::<_, $crate::sql::profiling_rows::EventRow>(
                "SELECT * FROM prompt_events WHERE seq > $1 ORDER BY seq LIMIT $2",
            )
            .bind(after_seq)
            .bind(i64::from(limit.clamp(1, 10_000)))
            .fetch_all(&mut *c)
            .await
            .map_err(err)?
            .into_iter()
            .map($crate::Event::try_from)
            .collect()
        }

        pub(crate) async fn prompt_stats(
            c: &mut Conn,
            from: time::OffsetDateTime,
            to: time::OffsetDateTime,
        ) -> Result<Vec<$crate::StepStats>, $crate::StoreError> {
            Ok(sqlx::query_as::<_, $crate::sql::profiling_rows::StatsRow>(
                "SELECT step,
                        COUNT(*) FILTER (WHERE kind = 'prompt.shown') AS shown,
                        COUNT(*) FILTER (WHERE kind = 'prompt.answered') AS answered,
                        COUNT(*) FILTER (WHERE kind = 'prompt.skipped') AS skipped,
                        COUNT(*) FILTER (WHERE kind = 'prompt.abandoned') AS abandoned
                 FROM prompt_events
                 WHERE step IS NOT NULL AND at >= $1 AND at < $2
                 GROUP BY step ORDER BY step",
            )
            .bind($crate::model::to_millis(from))
            .bind($crate::model::to_millis(to))
            .fetch_all(&mut *c)
            .await
            .map_err(err)?
            .into_iter()
            .map($crate::StepStats::from)
            .collect())
        }

        pub(crate) async fn list_user_states(
            c: &mut Conn,
            query: $crate::UserQuery,
        ) -> Result<$crate::Page<$crate::UserState>, $crate::StoreError> {
            use std::collections::HashMap;
            let page = list_users(&mut *c, query).await?;
            let (Some(first), Some(last)) = (page.items.first(), page.items.last()) else {
                return Ok($crate::Page { items: Vec::new(), next_cursor: page.next_cursor });
            };
            // Ids are ordered, so one range query per table covers the page (rows of users the
            // filters left out are dropped below).
            let (first, last) = (first.id.to_string(), last.id.to_string());
            let mut prompts: HashMap<String, Vec<$crate::PromptState>> = HashMap::new();
            let rows = sqlx::query_as::<_, $crate::sql::profiling_rows::UserPromptStateRow>(
                "SELECT * FROM prompt_state WHERE user_id >= $1 AND user_id <= $2
                 ORDER BY user_id, step",
            )
            .bind(first.clone())
            .bind(last.clone())
            .fetch_all(&mut *c)
            .await
            .map_err(err)?;
            for row in rows {
                prompts.entry(row.user_id).or_default().push(row.state.try_into()?);
            }
            let mut provenance: HashMap<String, Vec<$crate::Provenance>> = HashMap::new();
            let rows = sqlx::query_as::<_, $crate::sql::profiling_rows::UserProvenanceRow>(
                "SELECT user_id, location, key, source, updated_at FROM profile_provenance
                 WHERE user_id >= $1 AND user_id <= $2 ORDER BY user_id, location, key",
            )
            .bind(first)
            .bind(last)
            .fetch_all(&mut *c)
            .await
            .map_err(err)?;
            for row in rows {
                provenance.entry(row.user_id).or_default().push(row.provenance.try_into()?);
            }
            let items = page
                .items
                .into_iter()
                .map(|user| {
                    let id = user.id.to_string();
                    $crate::UserState {
                        prompts: prompts.remove(&id).unwrap_or_default(),
                        provenance: provenance.remove(&id).unwrap_or_default(),
                        user,
                    }
                })
                .collect();
            Ok($crate::Page { items, next_cursor: page.next_cursor })
        }

        pub(crate) async fn count_users_with_value(
            c: &mut Conn,
            location: $crate::Location,
            key: &str,
        ) -> Result<i64, $crate::StoreError> {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM users
                 WHERE COALESCE(((CASE $1 WHEN 'profile' THEN profile
                                          WHEN 'user_metadata' THEN user_metadata
                                          ELSE app_metadata END) -> $2) <> 'null', FALSE)",
            )
            .bind(location.as_str())
            .bind(key.to_owned())
            .fetch_one(&mut *c)
            .await
            .map_err(err)
        }
    };
}

pub(crate) use profiling_sql;
