//! The HTTP layer of Accrete: thin axum handlers that parse a request, call the domain (core,
//! protocol, storage) and map the result to a response in one place.

mod api;
pub mod config;
mod console;
pub mod hosted;
pub mod keys;
mod layers;
mod oauth;
mod ops;
pub mod ratelimit;
#[cfg(test)]
mod schema_patterns;
pub mod secrets;
pub mod session;
mod state;

use std::future::Future;
use std::sync::Arc;

use accrete_store::Store;
use axum::Router;
use tokio::net::TcpListener;

pub use accrete_app::sweeper::sweep_abandoned;
pub use config::{Config, ConfigError, FederationLayer, Layer, LogFormat};
pub use oauth::{AccessClaims, verify_access_token};
pub use state::{AppState, StartError, build_app};

/// Builds the application router with every route and middleware.
pub fn router(state: AppState) -> Router {
    // The routes that render pages show the server's theme as it is now (saved at run time).
    let pages = Router::new()
        .merge(hosted::routes())
        .merge(console::routes())
        .merge(oauth::routes())
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            hosted::current_theme,
        ));
    let routes = Router::new()
        .merge(ops::routes())
        .merge(pages)
        .merge(api::routes(&state));
    layers::apply(routes.with_state(state.clone()), &state)
}

/// Everything needed to run a server, ready to serve.
pub struct Server {
    listener: TcpListener,
    router: Router,
    state: AppState,
}

impl Server {
    /// Prepares a server for an already bound listener.
    pub fn new(
        listener: TcpListener,
        config: Arc<Config>,
        store: Arc<dyn Store>,
    ) -> Result<Server, StartError> {
        let state = AppState::new(config, store)?;
        Ok(Server {
            listener,
            router: router(state.clone()),
            state,
        })
    }

    /// The use-cases this server runs (for what `accrete serve` does at start, such as the
    /// connections of the configuration file).
    pub fn app(&self) -> &accrete_app::App {
        &self.state.app
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    /// Loads the signing keys, generating the missing ones on first start. Refuses to go on
    /// when the stored keys were sealed under another master key: this node could not sign, and
    /// keys it generated would not open on the other nodes.
    pub async fn load_signing_keys(&self) -> Result<(), StartError> {
        match self.state.keys.reload(self.state.store.as_ref()).await {
            Ok(_) => Ok(()),
            Err(keys::KeysError::Store(error)) => Err(StartError::Store(error)),
            Err(error @ keys::KeysError::OtherMasterKey { .. }) => {
                let message = match &self.state.config.master_key {
                    Some(_) => error.to_string(),
                    None => format!(
                        "{error} (this node has no master_key set, so it uses {}, created when \
                         missing)",
                        self.state.config.data_dir.join("master.key").display()
                    ),
                };
                Err(StartError::Invalid(message))
            }
            Err(error) => Err(StartError::Invalid(error.to_string())),
        }
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        // Signing keys are loaded (and generated on first start) before the first request.
        if !self.state.keys.is_loaded() {
            self.load_signing_keys()
                .await
                .map_err(std::io::Error::other)?;
        }
        console::say_setup_link(&self.state).await;
        // The webhook deliveries and the companions' writes run beside the server and stop
        // with it.
        let deliveries = self.start_webhook_worker();
        let writes = accrete_app::companion::management::spawn(&self.state.app);
        let serving = axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .into_future();
        // The accept loop runs as a task on the runtime's workers, not in the caller's
        // `block_on` (which polls on the thread that called it): there every new connection
        // would wake that thread as well as a worker, one more thread hand-off per connection.
        let served = tokio::spawn(serving).await.map_err(std::io::Error::other)?;
        for worker in [deliveries, writes].into_iter().flatten() {
            worker.abort();
        }
        // Import jobs say that they were interrupted, at once.
        accrete_app::import_jobs::stop(&self.state.app).await;
        served
    }

    /// Spawns this node's webhook delivery worker, unless the configuration says not to.
    fn start_webhook_worker(&self) -> Option<tokio::task::JoinHandle<()>> {
        if !self.state.config.webhooks.deliver {
            return None;
        }
        match accrete_app::webhooks::worker(&self.state.app) {
            Ok(worker) => Some(tokio::spawn(worker.run())),
            Err(error) => {
                tracing::error!(%error, "webhooks will not be delivered by this node");
                None
            }
        }
    }
}
