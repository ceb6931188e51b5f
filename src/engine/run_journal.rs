//! The run's own journal writes (its start, its states), in order, on one thread of their
//! own: SQLite (an fsync per commit) never stalls the async worker threads of the run loop.

use std::sync::Arc;
use std::sync::mpsc::{Sender, channel};

use tracing::warn;

use crate::journal::Journal;

type Write = Box<dyn FnOnce(&Journal) + Send>;

/// A writer thread for one run's journal records (none when the run is not journaled).
pub(super) struct RunJournal {
    tx: Option<Sender<Write>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RunJournal {
    pub fn new(journal: Option<Arc<Journal>>) -> RunJournal {
        let Some(journal) = journal else { return RunJournal { tx: None, thread: None } };
        let (tx, rx) = channel::<Write>();
        let spawned = std::thread::Builder::new().name("run-journal".into()).spawn(move || {
            for write in rx {
                write(&journal);
            }
        });
        match spawned {
            Ok(thread) => RunJournal { tx: Some(tx), thread: Some(thread) },
            Err(e) => {
                warn!(error = %e, "The run's journal thread could not start; the run is not journaled.");
                RunJournal { tx: None, thread: None }
            }
        }
    }

    /// Queues a write; writes happen in the order they were queued.
    pub fn write(&self, write: impl FnOnce(&Journal) + Send + 'static) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(Box::new(write));
        }
    }

    /// Waits until every queued write is done.
    pub async fn close(&mut self) {
        self.tx = None;
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}
