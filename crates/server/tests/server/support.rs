//! `TestApp`: a real server on port 0 over a fresh database of either backend.

use std::sync::Arc;

use accrete_server::{Config, Layer, Server};
use accrete_store::Store;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// 32 bytes of base64: tests never write a key file.
pub const TEST_MASTER_KEY: &str = "dGVzdC1tYXN0ZXIta2V5LW9mLWFjY3JldGUtdGVzdHMhIQ==";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A browser (its own cookie jar) talking to one server.
#[derive(Clone)]
pub struct Browser {
    pub base: String,
    pub client: reqwest::Client,
}

pub struct TestApp {
    pub backend: Backend,
    pub browser: Browser,
    pub store: Arc<dyn Store>,
    /// The PostgreSQL URL of this server's schema (`None` on SQLite).
    pub database_url: Option<String>,
    /// The console's setup link (path and token), as the server prints it at start.
    pub console_setup: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    _guard: Box<dyn std::any::Any + Send>,
}

impl TestApp {
    /// Boots a server; `None` (after a loud message, or a failure on CI) when the backend is absent.
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        TestApp::spawn_with(backend, Layer::default()).await
    }

    /// Boots a server whose configuration file holds `file` (such as a `[theme]`).
    pub async fn spawn_with(backend: Backend, file: Layer) -> Option<TestApp> {
        TestApp::spawn_at(backend, [127, 0, 0, 1], file).await
    }

    /// Boots a server listening on the loopback address `ip` (127.0.0.2 for a second server
    /// whose cookies a browser keeps apart from the first one's: cookies ignore ports).
    pub async fn spawn_at(backend: Backend, ip: [u8; 4], file: Layer) -> Option<TestApp> {
        let (store, guard): (Arc<dyn Store>, Box<dyn std::any::Any + Send>) = match backend {
            Backend::Sqlite => {
                let (store, dir) = accrete_store::testing::sqlite_store().await;
                (store, Box::new(dir))
            }
            Backend::Postgres => {
                let (store, schema) = accrete_store::testing::postgres_store().await?;
                (store, Box::new(schema))
            }
        };
        Some(TestApp::spawn_on(backend, store, (ip, file), guard).await)
    }

    /// Boots a second node sharing this PostgreSQL schema through a pool of its own; `None` on
    /// SQLite (one node per database file).
    pub async fn spawn_node(&self) -> Option<TestApp> {
        self.spawn_node_with(Layer::default()).await
    }

    /// [`TestApp::spawn_node`] with a configuration file holding `file` (a `public_url` there
    /// is the node's, as behind a load balancer, instead of its own address).
    pub async fn spawn_node_with(&self, file: Layer) -> Option<TestApp> {
        let url = self.database_url.clone()?;
        let store = accrete_store::connect(&url, accrete_store::ConnectOptions::default())
            .await
            .unwrap();
        let at = ([127, 0, 0, 1], file);
        Some(TestApp::spawn_on(self.backend, store, at, Box::new(())).await)
    }

    /// The URL of this server's database, to run SQL behind its back (a trigger that makes a
    /// write fail).
    pub fn sql_url(&self) -> String {
        if let Some(url) = &self.database_url {
            return url.clone();
        }
        let dir = self
            ._guard
            .downcast_ref::<tempfile::TempDir>()
            .expect("a SQLite server keeps its folder");
        accrete_store::testing::sqlite_url(dir)
    }

    async fn spawn_on(
        backend: Backend,
        store: Arc<dyn Store>,
        (ip, file): ([u8; 4], Layer),
        guard: Box<dyn std::any::Any + Send>,
    ) -> TestApp {
        let database_url = guard
            .downcast_ref::<accrete_store::testing::SchemaGuard>()
            .map(accrete_store::testing::SchemaGuard::url);
        let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::from(ip), 0))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let flags = Layer {
            listen: Some(addr),
            public_url: Some(
                file.public_url
                    .clone()
                    .unwrap_or_else(|| format!("http://{addr}")),
            ),
            master_key: Some(TEST_MASTER_KEY.to_owned()),
            ..Layer::default()
        };
        let config = Arc::new(Config::resolve(flags, Layer::default(), file).unwrap());
        let server = Server::new(listener, config, store.clone()).unwrap();
        // What `accrete serve` prints while the console has no administrator.
        let console_setup = format!(
            "/admin/setup?token={}",
            accrete_app::admins::setup_token(server.app())
        );
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        TestApp {
            backend,
            browser: Browser::new(format!("http://{addr}")),
            store,
            database_url,
            console_setup,
            stop: Some(stop),
            task: Some(task),
            _guard: guard,
        }
    }

    /// Sends the shutdown signal and waits for the server to finish.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.unwrap(),
            None => Ok(()),
        }
    }
}

/// Runs `test` against a fresh server on each backend that is available.
pub async fn each_backend<F, Fut>(test: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for backend in [Backend::Sqlite, Backend::Postgres] {
        if let Some(app) = TestApp::spawn(backend).await {
            test(app).await;
        }
    }
}

/// Runs `test` on each available backend against a server configured with `file`.
pub async fn each_backend_with<F, Fut>(file: &Layer, test: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for backend in [Backend::Sqlite, Backend::Postgres] {
        if let Some(app) = TestApp::spawn_with(backend, file.clone()).await {
            test(app).await;
        }
    }
}

/// The value of the hidden `name` input of an HTML form.
pub fn hidden_input(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_owned())
}

impl std::ops::Deref for TestApp {
    type Target = Browser;
    fn deref(&self) -> &Browser {
        &self.browser
    }
}

impl TestApp {
    /// Another browser, with its own cookies, on the same server.
    pub fn new_browser(&self) -> Browser {
        Browser::new(self.browser.base.clone())
    }
}

impl Browser {
    pub fn new(base: String) -> Browser {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .build()
            .unwrap();
        Browser { base, client }
    }

    /// A browser whose connections come from `source` (a loopback address such as 127.0.0.2),
    /// as if from another machine.
    pub fn from_address(base: String, source: std::net::IpAddr) -> Browser {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .local_address(source)
            .build()
            .unwrap();
        Browser { base, client }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// Loads a form page and returns its CSRF token.
    pub async fn csrf(&self, path: &str) -> String {
        let html = self.get(path).await.text().await.unwrap();
        hidden_input(&html, "csrf").expect("the page has a CSRF token")
    }

    /// Posts a form.
    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// Signs up through the hosted page; returns the response of the form post.
    pub async fn sign_up(&self, email: &str, password: &str) -> reqwest::Response {
        let csrf = self.csrf("/signup").await;
        self.post_form(
            "/signup",
            &[
                ("csrf", &csrf),
                ("email", email),
                ("password", password),
                ("action", "submit"),
            ],
        )
        .await
    }

    /// Signs in through the hosted page; returns the response of the form post.
    pub async fn sign_in(&self, email: &str, password: &str) -> reqwest::Response {
        let csrf = self.csrf("/login").await;
        self.post_form(
            "/login",
            &[
                ("csrf", &csrf),
                ("email", email),
                ("password", password),
                ("action", "submit"),
            ],
        )
        .await
    }
}
