//! The import jobs a node runs, held by the `App` (this file imports nothing of it):
//! `import_jobs::track` keeps each job's task, `import_jobs::stop` tells them the node stops.

/// The jobs this node runs, and the word that it stops.
#[derive(Debug)]
pub struct Running {
    pub(crate) stopping: tokio::sync::watch::Sender<bool>,
    pub(crate) tasks: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Default for Running {
    fn default() -> Self {
        Running {
            stopping: tokio::sync::watch::channel(false).0,
            tasks: std::sync::Mutex::new(Vec::new()),
        }
    }
}
