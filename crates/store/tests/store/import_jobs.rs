//! Import jobs of the management API: a job is queued, runs, records its figures batch by
//! batch and ends; its report keeps the first problems and counts them all; a job whose node
//! stopped reads as failed; the newest are listed first; old ones are purged.

use std::sync::Arc;

use accrete_store::{
    IMPORT_JOB_INTERRUPTED, ImportCounts, ImportJobProblem, ImportJobStatus, ImportProgress,
    NewImportJob, Store,
};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::common::t0;

crate::for_each_backend!(
    a_job_is_queued_then_runs_records_its_figures_and_completes,
    a_report_keeps_the_first_problems_in_order_and_counts_them_all,
    a_failed_job_keeps_its_figures_and_says_why,
    a_job_whose_node_stopped_reads_as_failed_and_stays_failed,
    jobs_are_listed_newest_first_and_old_ones_are_purged,
);

/// Long before any job: nothing is stale.
fn never() -> OffsetDateTime {
    t0() - Duration::days(365)
}

async fn new_job(store: &Arc<dyn Store>, format: &str, now: OffsetDateTime) -> Uuid {
    store
        .create_import_job(NewImportJob {
            format: format.into(),
            dry_run: false,
            created_by: "client:backend".into(),
            now,
        })
        .await
        .unwrap()
        .id
}

fn progress(read: u64, created: u64, problems: u64) -> ImportProgress {
    ImportProgress {
        counts: ImportCounts {
            read,
            created,
            updated: 1,
            unchanged: 2,
            refused: 3,
            values_refused: 4,
        },
        problems,
    }
}

fn problem(line: u64) -> ImportJobProblem {
    ImportJobProblem {
        line,
        path: if line.is_multiple_of(2) { "email" } else { "" }.into(),
        message: format!("problem of line {line} with \"quotes\" and é"),
    }
}

async fn a_job_is_queued_then_runs_records_its_figures_and_completes(store: Arc<dyn Store>) {
    let created = store
        .create_import_job(NewImportJob {
            format: "auth0".into(),
            dry_run: true,
            created_by: "client:backend".into(),
            now: t0(),
        })
        .await
        .unwrap();
    assert_eq!(created.status, ImportJobStatus::Queued);
    assert_eq!(created.format, "auth0");
    assert!(created.dry_run);
    assert_eq!(created.created_by, "client:backend");
    assert_eq!(created.created_at, t0());
    assert_eq!((created.started_at, created.finished_at), (None, None));
    assert_eq!(created.progress, ImportProgress::default());
    assert_eq!(created.error, None);
    let id = created.id;

    // Figures are only recorded for a running job.
    assert!(
        !store
            .record_import_job_progress(id, progress(1, 1, 0), t0())
            .await
            .unwrap()
    );
    let started = t0() + Duration::seconds(1);
    assert!(store.start_import_job(id, started).await.unwrap());
    assert!(!store.start_import_job(id, started).await.unwrap(), "once");
    let batch = t0() + Duration::seconds(2);
    assert!(
        store
            .record_import_job_progress(id, progress(500, 490, 7), batch)
            .await
            .unwrap()
    );
    let running = store.get_import_job(id, never()).await.unwrap().unwrap();
    assert_eq!(running.status, ImportJobStatus::Running);
    assert_eq!(running.started_at, Some(started));
    assert_eq!(running.updated_at, batch);
    assert_eq!(running.progress, progress(500, 490, 7));
    let alive = t0() + Duration::seconds(3);
    assert!(store.touch_import_job(id, alive).await.unwrap());

    let ended = t0() + Duration::seconds(4);
    assert!(
        store
            .finish_import_job(id, progress(700, 680, 9), None, ended)
            .await
            .unwrap()
    );
    let done = store.get_import_job(id, never()).await.unwrap().unwrap();
    assert_eq!(done.status, ImportJobStatus::Completed);
    assert_eq!(done.finished_at, Some(ended));
    assert_eq!(done.progress, progress(700, 680, 9));
    assert_eq!(done.error, None);
    // An ended job stays as it ended.
    assert!(!store.touch_import_job(id, ended).await.unwrap());
    assert!(
        !store
            .record_import_job_progress(id, progress(1, 1, 1), ended)
            .await
            .unwrap()
    );
    assert!(
        !store
            .finish_import_job(id, progress(1, 1, 1), Some("late".into()), ended)
            .await
            .unwrap()
    );
    assert_eq!(
        store.get_import_job(id, never()).await.unwrap().unwrap(),
        done
    );
    assert_eq!(
        store.get_import_job(Uuid::now_v7(), never()).await.unwrap(),
        None
    );
}

async fn a_report_keeps_the_first_problems_in_order_and_counts_them_all(store: Arc<dyn Store>) {
    let id = new_job(&store, "csv", t0()).await;
    let other = new_job(&store, "csv", t0()).await;
    store.start_import_job(id, t0()).await.unwrap();
    let first: Vec<_> = (1..=3).map(problem).collect();
    assert_eq!(
        store
            .add_import_job_problems(id, first.clone(), 6)
            .await
            .unwrap(),
        3
    );
    let second: Vec<_> = (4..=8).map(problem).collect();
    assert_eq!(
        store
            .add_import_job_problems(id, second.clone(), 6)
            .await
            .unwrap(),
        3,
        "only up to the cap"
    );
    assert_eq!(
        store
            .add_import_job_problems(id, vec![problem(9)], 6)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store.add_import_job_problems(id, vec![], 6).await.unwrap(),
        0
    );
    store
        .add_import_job_problems(other, vec![problem(100)], 6)
        .await
        .unwrap();
    store
        .record_import_job_progress(id, progress(9, 0, 9), t0())
        .await
        .unwrap();

    let kept = store.import_job_problems(id, 10_000).await.unwrap();
    let expected: Vec<_> = first
        .into_iter()
        .chain(second.into_iter().take(3))
        .collect();
    assert_eq!(kept, expected);
    assert_eq!(
        store.import_job_problems(id, 2).await.unwrap(),
        expected[..2]
    );
    let job = store.get_import_job(id, never()).await.unwrap().unwrap();
    assert_eq!((job.progress.problems, job.problems_kept), (9, 6));
    assert_eq!(
        store.import_job_problems(other, 10).await.unwrap(),
        vec![problem(100)]
    );
    assert!(matches!(
        store
            .add_import_job_problems(Uuid::now_v7(), vec![problem(1)], 6)
            .await,
        Err(accrete_store::StoreError::NotFound)
    ));
}

async fn a_failed_job_keeps_its_figures_and_says_why(store: Arc<dyn Store>) {
    let id = new_job(&store, "jsonl", t0()).await;
    store.start_import_job(id, t0()).await.unwrap();
    let ended = t0() + Duration::seconds(1);
    assert!(
        store
            .finish_import_job(
                id,
                progress(5, 5, 0),
                Some("line 7: not JSON".into()),
                ended
            )
            .await
            .unwrap()
    );
    let job = store.get_import_job(id, never()).await.unwrap().unwrap();
    assert_eq!(job.status, ImportJobStatus::Failed);
    assert_eq!(job.error.as_deref(), Some("line 7: not JSON"));
    assert_eq!(job.progress, progress(5, 5, 0));
    assert_eq!(job.finished_at, Some(ended));
}

async fn a_job_whose_node_stopped_reads_as_failed_and_stays_failed(store: Arc<dyn Store>) {
    let running = new_job(&store, "auth0", t0()).await;
    store.start_import_job(running, t0()).await.unwrap();
    let last_batch = t0() + Duration::minutes(1);
    store
        .record_import_job_progress(running, progress(500, 500, 0), last_batch)
        .await
        .unwrap();
    let queued = new_job(&store, "auth0", t0()).await;
    let alive = new_job(&store, "auth0", t0()).await;
    store.start_import_job(alive, t0()).await.unwrap();
    store
        .touch_import_job(alive, t0() + Duration::minutes(9))
        .await
        .unwrap();

    // Five minutes without a sign of life, seen at ten past.
    let stale_before = t0() + Duration::minutes(5);
    let job = store
        .get_import_job(running, stale_before)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.status, ImportJobStatus::Failed);
    assert_eq!(job.error.as_deref(), Some(IMPORT_JOB_INTERRUPTED));
    assert_eq!(job.finished_at, Some(last_batch), "its last sign of life");
    assert_eq!(job.progress, progress(500, 500, 0), "its figures stay");
    let listed = store
        .list_import_jobs(10, None, stale_before)
        .await
        .unwrap();
    let status = |id| listed.iter().find(|j| j.id == id).unwrap().status;
    assert_eq!(status(queued), ImportJobStatus::Failed);
    assert_eq!(status(alive), ImportJobStatus::Running);

    // The stopped node's writes no longer change it.
    let late = t0() + Duration::minutes(11);
    assert!(
        !store
            .record_import_job_progress(running, progress(1000, 1000, 0), late)
            .await
            .unwrap()
    );
    assert!(!store.touch_import_job(running, late).await.unwrap());
    assert!(
        !store
            .finish_import_job(running, progress(1000, 1000, 0), None, late)
            .await
            .unwrap()
    );
    assert!(!store.start_import_job(queued, late).await.unwrap());
    let job = store
        .get_import_job(running, never())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.status, ImportJobStatus::Failed);
    assert_eq!(job.progress, progress(500, 500, 0));
}

async fn jobs_are_listed_newest_first_and_old_ones_are_purged(store: Arc<dyn Store>) {
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(new_job(&store, "csv", t0() + Duration::seconds(i)).await);
    }
    let listed = |limit, before| {
        let store = store.clone();
        async move {
            store
                .list_import_jobs(limit, before, never())
                .await
                .unwrap()
                .into_iter()
                .map(|job| job.id)
                .collect::<Vec<Uuid>>()
        }
    };
    assert_eq!(listed(3, None).await, vec![ids[3], ids[2], ids[1]]);
    // The next page: the jobs older than the last one listed.
    assert_eq!(listed(2, Some(ids[2])).await, vec![ids[1], ids[0]]);
    assert_eq!(listed(2, Some(ids[0])).await, Vec::<Uuid>::new());

    // The two oldest end; one of them long ago.
    store.start_import_job(ids[0], t0()).await.unwrap();
    store
        .add_import_job_problems(ids[0], vec![problem(1)], 10)
        .await
        .unwrap();
    store
        .finish_import_job(ids[0], ImportProgress::default(), None, t0())
        .await
        .unwrap();
    let later = t0() + Duration::days(40);
    store
        .finish_import_job(ids[1], ImportProgress::default(), None, later)
        .await
        .unwrap();
    let purged = store
        .purge_import_jobs(t0() + Duration::days(30))
        .await
        .unwrap();
    assert_eq!(purged, 1, "only an ended job, ended before");
    assert_eq!(store.get_import_job(ids[0], never()).await.unwrap(), None);
    assert!(
        store
            .import_job_problems(ids[0], 10)
            .await
            .unwrap()
            .is_empty()
    );
    let left = store.list_import_jobs(10, None, never()).await.unwrap();
    assert_eq!(left.len(), 3);
    // A page after a job since purged goes on with the older ones.
    let after_purged = new_job(&store, "csv", t0() + Duration::days(41)).await;
    assert_eq!(listed(10, Some(ids[0])).await, Vec::<Uuid>::new());
    assert_eq!(listed(1, Some(after_purged)).await, vec![ids[3]]);
}
