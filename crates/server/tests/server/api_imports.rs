//! Imports as jobs of the management API (`/api/v1/users/imports`), on both backends: a file
//! uploaded as the body is imported in the background, its progress and report read back, the
//! users stored with provenance `import:<format>`, the file deleted at the end; what the API
//! refuses (Keycloak, an unknown format or media type, a body past the bound, an unknown job, a
//! token without the scope).

use std::path::{Path, PathBuf};
use std::time::Duration;

use accrete_server::Layer;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::api_client::{Api, admin, ensure_client, problem};
use crate::support::{TestApp, each_backend, each_backend_with};

/// Auth0's export: two users, a line that is not JSON, and a user whose email is not one.
const AUTH0_EXPORT: &str = r#"{"user_id":"auth0|ada","email":"ada@example.com","email_verified":true,"given_name":"Ada","user_metadata":{"team":"engines"}}
{"user_id":"auth0|broken",
{"user_id":"auth0|grace","email":"grace@example.com","name":"Grace Hopper","blocked":false}
{"user_id":"auth0|nobody","email":"not an address"}
"#;

/// Uploads `body` as `content_type` to `POST /users/imports?{query}`.
async fn upload(api: &Api<'_>, query: &str, content_type: &str, body: &str) -> reqwest::Response {
    api.request(reqwest::Method::POST, &format!("/users/imports?{query}"))
        .header("content-type", content_type)
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

/// Starts a job: its URL under `/api/v1` and the job as first answered.
async fn start(api: &Api<'_>, query: &str, content_type: &str, body: &str) -> (String, Value) {
    let response = upload(api, query, content_type, body).await;
    assert_eq!(response.status(), 202, "{query}");
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let job: Value = response.json().await.unwrap();
    assert_eq!(
        location,
        format!("/api/v1/users/imports/{}", job["id"].as_str().unwrap())
    );
    let path = location.strip_prefix("/api/v1").unwrap().to_owned();
    (path, job)
}

/// Polls a job until it completed or failed (a few seconds at most).
async fn ended(api: &Api<'_>, path: &str) -> Value {
    let mut job = Value::Null;
    for _ in 0..400 {
        let response = api.get(path).await;
        assert_eq!(response.status(), 200);
        job = response.json().await.unwrap();
        if job["status"] == "completed" || job["status"] == "failed" {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the job did not end: {job}");
}

/// The files waiting in the data folder's `imports/`.
fn uploads(data_dir: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(data_dir.join("imports")) {
        Ok(entries) => entries.map(|entry| entry.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

#[tokio::test]
async fn an_uploaded_auth0_export_is_imported_in_the_background_with_a_report() {
    let data_dir = tempfile::tempdir().unwrap();
    let file = Layer {
        data_dir: Some(data_dir.path().to_owned()),
        ..Layer::default()
    };
    let data = data_dir.path().to_owned();
    each_backend_with(&file, |app| {
        let data = data.clone();
        async move {
            let (_tokens, api) = admin(&app).await;
            let (path, job) =
                start(&api, "format=auth0", "application/x-ndjson", AUTH0_EXPORT).await;
            assert!(
                ["queued", "running", "completed"].contains(&job["status"].as_str().unwrap()),
                "{job}"
            );
            assert_eq!(job["format"], "auth0");
            assert_eq!(job["dry_run"], false);

            let job = ended(&api, &path).await;
            assert_eq!(job["status"], "completed", "{job}");
            // Every line once, imported or not: created + updated + unchanged + refused.
            assert_eq!(job["read"], 4, "{job}");
            assert_eq!(job["created"], 2, "{job}");
            assert_eq!(job["updated"], 0, "{job}");
            assert_eq!(job["unchanged"], 0, "{job}");
            assert_eq!(job["refused"], 2, "{job}");
            assert_eq!(job["problems"], 2, "{job}");
            assert!(job["started_at"].is_string() && job["finished_at"].is_string());
            assert!(job.get("error").is_none(), "{job}");

            let report: Value = api
                .get(&format!("{path}/report"))
                .await
                .json()
                .await
                .unwrap();
            assert_eq!(report["truncated"], false);
            let problems = report["problems"].as_array().unwrap();
            assert_eq!(problems.len(), 2, "{report}");
            assert_eq!(problems[0]["line"], 2, "{report}");
            assert_eq!(problems[1]["line"], 4, "{report}");
            assert_eq!(problems[1]["path"], "email", "{report}");
            assert!(
                problems
                    .iter()
                    .all(|p| p["message"].as_str().is_some_and(|m| !m.is_empty()))
            );

            for email in ["ada@example.com", "grace@example.com"] {
                let user = app.store.find_user_by_email(email).await.unwrap().unwrap();
                let provenance = app.store.value_provenance(user.id).await.unwrap();
                assert!(!provenance.is_empty(), "{email}");
                assert!(
                    provenance.iter().all(|p| p.source == "import:auth0"),
                    "{email}: {provenance:?}"
                );
            }
            let ada = app
                .store
                .find_user_by_email("ada@example.com")
                .await
                .unwrap()
                .unwrap();
            assert!(ada.email_verified);
            assert_eq!(ada.profile["given_name"], "Ada");
            assert_eq!(ada.user_metadata["team"], "engines");

            // The same file again: found by their Auth0 ids, nothing changes.
            let (again, _) =
                start(&api, "format=auth0", "application/x-ndjson", AUTH0_EXPORT).await;
            let again = ended(&api, &again).await;
            assert_eq!(
                (again["created"].clone(), again["unchanged"].clone()),
                (json!(0), json!(2))
            );

            let list: Value = api.get("/users/imports").await.json().await.unwrap();
            let items = list["items"].as_array().unwrap();
            assert_eq!(items.len(), 2);
            assert_eq!(items[0]["id"], again["id"], "newest first");
            assert_eq!(items[1]["id"], job["id"]);
            let one: Value = api
                .get("/users/imports?limit=1")
                .await
                .json()
                .await
                .unwrap();
            assert_eq!(one["items"].as_array().unwrap().len(), 1);
            assert_eq!(one["items"][0]["id"], again["id"]);
            // The next page: the older job, and no page after it.
            let next: Value = api
                .get(&format!(
                    "/users/imports?limit=1&cursor={}",
                    one["next_cursor"].as_str().unwrap()
                ))
                .await
                .json()
                .await
                .unwrap();
            assert_eq!(next["items"][0]["id"], job["id"]);
            assert_eq!(next["next_cursor"], Value::Null);

            let audit: Value = api.get("/audit?limit=5").await.json().await.unwrap();
            let started = audit["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|entry| entry["action"] == "users.import_started")
                .unwrap()
                .clone();
            assert_eq!(started["actor"], "client:backend");
            assert_eq!(
                started["target"],
                format!("import_job:{}", again["id"].as_str().unwrap())
            );
            assert_eq!(started["after"]["format"], "auth0");
            assert_eq!(started["after"]["bytes"], AUTH0_EXPORT.len());

            assert!(
                uploads(&data).is_empty(),
                "the files go when their jobs end"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_dry_run_counts_without_storing_and_csv_and_json_lists_are_taken() {
    each_backend(|app| async move {
        let (_tokens, api) = admin(&app).await;
        let (path, job) = start(
            &api,
            "format=csv&dry_run=true",
            "text/csv",
            "email,given_name\nlin@example.com,Lin\n",
        )
        .await;
        assert_eq!(job["dry_run"], true);
        let job = ended(&api, &path).await;
        assert_eq!(
            (job["status"].clone(), job["created"].clone()),
            (json!("completed"), json!(1))
        );
        assert!(
            app.store
                .find_user_by_email("lin@example.com")
                .await
                .unwrap()
                .is_none(),
            "a dry run stores nothing"
        );

        // Auth0's bulk-import file is a JSON list, sent as application/json.
        let list = r#"[{"email": "mae@example.com", "email_verified": false}]"#;
        let (path, _) = start(
            &api,
            "format=auth0",
            "application/json; charset=utf-8",
            list,
        )
        .await;
        let job = ended(&api, &path).await;
        assert_eq!(job["created"], 1, "{job}");
        let mae = app
            .store
            .find_user_by_email("mae@example.com")
            .await
            .unwrap();
        assert!(mae.is_some());
        // Saved by an editor that starts the file with a byte order mark.
        let list = "\u{feff}[{\"email\": \"bom@example.com\"}]";
        let (path, _) = start(&api, "format=auth0", "application/json", list).await;
        let job = ended(&api, &path).await;
        assert_eq!(job["created"], 1, "{job}");

        // A CSV file without an email column is not an import file: the job fails and says why.
        let (path, _) = start(&api, "format=csv", "text/csv", "name\nx\n").await;
        let job = ended(&api, &path).await;
        assert_eq!(job["status"], "failed", "{job}");
        assert!(
            job["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{job}"
        );
    })
    .await;
}

/// Sends only the head of a request whose body would be `length` bytes, and reads the status
/// of the answer (the server answers before the body, which is never sent).
async fn status_of_declared_body(app: &TestApp, token: &str, length: u64) -> u16 {
    let address = app.base.strip_prefix("http://").unwrap();
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /api/v1/users/imports?format=auth0 HTTP/1.1\r\nHost: {address}\r\n\
         Authorization: Bearer {token}\r\nContent-Type: application/x-ndjson\r\n\
         Content-Length: {length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    let read = async {
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buffer).await.unwrap();
            assert!(n > 0, "the connection closed before an answer");
            answer.extend_from_slice(&buffer[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("an answer before the body");
    let text = String::from_utf8_lossy(&answer);
    text.split(' ').nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn the_import_api_refuses_keycloak_other_bodies_large_files_unknown_jobs_and_missing_scopes()
{
    each_backend(|app| async move {
        let (tokens, api) = admin(&app).await;
        let keycloak = problem(
            upload(&api, "format=keycloak", "application/json", "{}").await,
            400,
        )
        .await;
        let why = keycloak["detail"].as_str().unwrap();
        assert!(why.contains("accrete users import"), "{why}");
        assert_eq!(
            keycloak["fields"]["format"][0]["code"],
            "unsupported_format"
        );
        problem(upload(&api, "format=xml", "text/csv", "email\n").await, 400).await;
        // A parameter missing or unreadable is named in `fields`, in the API's words.
        let missing = problem(
            upload(&api, "dry_run=true", "text/csv", "email\n").await,
            400,
        )
        .await;
        assert_eq!(
            missing["fields"]["format"][0]["code"], "required",
            "{missing}"
        );
        let maybe = problem(
            upload(&api, "format=csv&dry_run=maybe", "text/csv", "email\n").await,
            400,
        )
        .await;
        assert_eq!(
            maybe["fields"]["dry_run"][0]["code"], "invalid_value",
            "{maybe}"
        );
        assert!(
            !maybe["detail"].as_str().unwrap().contains("deserialize"),
            "{maybe}"
        );
        problem(
            upload(&api, "format=csv", "text/plain", "email\n").await,
            415,
        )
        .await;
        // A compressed body would be read as text: refused, not failed in the job.
        let gzip = api
            .request(reqwest::Method::POST, "/users/imports?format=csv")
            .header("content-type", "text/csv")
            .header("content-encoding", "gzip")
            .body(vec![0x1f_u8, 0x8b, 0x08, 0x00])
            .send()
            .await
            .unwrap();
        let gzip = problem(gzip, 415).await;
        assert!(
            gzip["detail"].as_str().unwrap().contains("uncompressed"),
            "{gzip}"
        );
        for not_a_list in ["42", "\"text\"", "", "  \n"] {
            problem(
                upload(&api, "format=auth0", "application/json", not_a_list).await,
                400,
            )
            .await;
        }

        // Past 256 MiB, refused from the declared length, before any of it is sent.
        let token = tokens.backend("backend", &["users:write"]);
        assert_eq!(status_of_declared_body(&app, &token, 257 << 20).await, 413);

        let unknown = uuid::Uuid::now_v7();
        problem(api.get(&format!("/users/imports/{unknown}")).await, 404).await;
        problem(
            api.get(&format!("/users/imports/{unknown}/report")).await,
            404,
        )
        .await;
        let not_an_id = problem(api.get("/users/imports/not-a-uuid").await, 400).await;
        assert_eq!(
            not_an_id["fields"]["id"][0]["code"], "invalid_value",
            "{not_an_id}"
        );
        assert!(
            !not_an_id.to_string().contains("Invalid URL"),
            "{not_an_id}"
        );
        for limit in ["0", "101"] {
            let refused =
                problem(api.get(&format!("/users/imports?limit={limit}")).await, 400).await;
            assert_eq!(
                refused["fields"]["limit"][0]["code"], "out_of_range",
                "{refused}"
            );
        }

        ensure_client(&app, "reader", &[]).await;
        let reader = Api {
            app: &app,
            token: tokens.backend("reader", &["users:read"]),
        };
        problem(
            upload(
                &reader,
                "format=auth0",
                "application/x-ndjson",
                AUTH0_EXPORT,
            )
            .await,
            403,
        )
        .await;
        assert_eq!(reader.get("/users/imports").await.status(), 200);
        let nobody = Api {
            app: &app,
            token: tokens.backend("reader", &["policy:read"]),
        };
        problem(nobody.get("/users/imports").await, 403).await;
        problem(nobody.get(&format!("/users/imports/{unknown}")).await, 403).await;
        problem(
            nobody
                .get(&format!("/users/imports/{unknown}/report"))
                .await,
            403,
        )
        .await;
        let listed: Value = api.get("/users/imports").await.json().await.unwrap();
        assert_eq!(listed["items"], json!([]), "nothing refused became a job");
    })
    .await;
}

#[tokio::test]
async fn the_openapi_document_describes_the_import_jobs() {
    each_backend(|app| async move {
        let doc: Value = app.get("/api/v1/openapi.json").await.json().await.unwrap();
        let create = &doc["paths"]["/users/imports"]["post"];
        assert_eq!(create["security"][0]["bearer"], json!(["users:write"]));
        let content = &create["requestBody"]["content"];
        // Raw text: any content is taken (the job reads it and reports what it cannot).
        assert!(content["application/x-ndjson"].is_object(), "{content}");
        assert!(
            content["application/x-ndjson"].get("schema").is_none(),
            "{content}"
        );
        assert!(content["text/csv"].is_object(), "{content}");
        assert!(content["text/csv"].get("schema").is_none(), "{content}");
        assert_eq!(
            content["application/json"]["schema"]["oneOf"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        assert!(create["responses"]["202"]["headers"]["Location"].is_object());
        for status in ["400", "403", "413", "415"] {
            assert!(create["responses"][status].is_object(), "{status}");
        }
        let format = create["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "format")
            .unwrap();
        assert_eq!(format["required"], true);
        assert_eq!(format["schema"]["pattern"], "^(auth0|csv|jsonl)$");
        for path in [
            "/users/imports",
            "/users/imports/{id}",
            "/users/imports/{id}/report",
        ] {
            assert_eq!(
                doc["paths"][path]["get"]["security"][0]["bearer"],
                json!(["users:read"]),
                "{path}"
            );
        }
        let job = &doc["components"]["schemas"]["ImportJobView"];
        assert_eq!(
            job["properties"]["status"]["$ref"],
            "#/components/schemas/JobStatus"
        );
        assert_eq!(
            doc["components"]["schemas"]["JobStatus"]["enum"],
            json!(["queued", "running", "completed", "failed"])
        );
    })
    .await;
}
