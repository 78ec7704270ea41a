//! A namespace's snapshots as an iterator for callers without an async runtime: a thread of its
//! own lists the ConfigMaps a page at a time ([`for_each_snapshot`]) while the caller reads them,
//! with a bounded queue between the two.
//!
//! Memory holds at most the page being listed and one page's worth of snapshots in the queue,
//! whatever the number of ConfigMaps: the lister waits while the queue is full. Dropping the
//! [`Listing`] stops the lister at its next snapshot.

use crate::store::{for_each_snapshot, Stored};
use crate::{connect, Access, StoreError};
use std::ops::ControlFlow;
use std::sync::{mpsc, Arc, Mutex, PoisonError};

/// One snapshot ConfigMap, listed.
#[derive(Debug)]
pub struct Listed {
    /// The ConfigMap's name.
    pub name: String,
    /// Its snapshot as listed, decoded by [`Listed::text`] on the reader's thread.
    pub stored: Stored,
}

impl Listed {
    /// The snapshot text the ConfigMap holds, or why it holds none.
    pub fn text(&self) -> Result<std::borrow::Cow<'_, str>, StoreError> {
        self.stored.text()
    }
}

/// What the lister thread sends.
#[derive(Debug)]
enum Message {
    Item(Listed),
    /// The list failed (after what was already sent).
    Failed(StoreError),
    /// Every ConfigMap was sent.
    Done,
}

/// Why a listing ended, shared between the [`Listing`] and its [`ListingOutcome`].
type Slot = Arc<Mutex<Option<StoreError>>>;

/// The snapshots of a namespace, in the order the API server lists them (by name), as they are
/// listed. When the list fails part way the iterator ends and [`ListingOutcome::check`] says why.
#[derive(Debug)]
pub struct Listing {
    rx: mpsc::Receiver<Message>,
    failure: Slot,
    finished: bool,
}

/// How a [`Listing`] ended; ask once the iterator is done (or dropped).
#[derive(Debug, Clone)]
pub struct ListingOutcome(Slot);

impl ListingOutcome {
    /// `Err` with the failure that cut the list short, else `Ok`: the iterator gave every
    /// ConfigMap, or was dropped before the end.
    pub fn check(&self) -> Result<(), StoreError> {
        match self.0.lock().unwrap_or_else(PoisonError::into_inner).take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Starts listing the snapshot ConfigMaps of `namespace` that `selector` matches, `page_size` a
/// page, with a client for `access`.
pub fn list(
    access: &Access,
    namespace: &str,
    selector: &str,
    page_size: u32,
) -> Result<Listing, StoreError> {
    let page_size = page_size.max(1);
    // One page's worth of snapshots waits in the queue while the lister fetches the next page.
    let (tx, rx) = mpsc::sync_channel(page_size as usize);
    let (access, namespace, selector) = (access.clone(), namespace.to_owned(), selector.to_owned());
    std::thread::Builder::new()
        .name("eidos-cm-list".to_owned())
        .spawn(move || {
            let message = match run(&access, &namespace, &selector, page_size, &tx) {
                Ok(()) => Message::Done,
                Err(e) => Message::Failed(e),
            };
            // Nobody is listening when the reader stopped early: nothing to tell.
            let _ = tx.send(message);
        })
        .map_err(StoreError::Runtime)?;
    Ok(Listing {
        rx,
        failure: Slot::default(),
        finished: false,
    })
}

/// The lister thread: lists on a runtime of its own, sending each snapshot as it comes.
fn run(
    access: &Access,
    namespace: &str,
    selector: &str,
    page_size: u32,
    tx: &mpsc::SyncSender<Message>,
) -> Result<(), StoreError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(StoreError::Runtime)?;
    let result = runtime.block_on(async {
        let client = connect(access, &format!("cm://{namespace}")).await?;
        for_each_snapshot(&client, namespace, selector, page_size, |name, stored| {
            // A closed queue: the reader is gone, stop listing.
            match tx.send(Message::Item(Listed { name, stored })) {
                Ok(()) => ControlFlow::Continue(()),
                Err(_) => ControlFlow::Break(()),
            }
        })
        .await
    });
    runtime.shutdown_background();
    result.map(|_| ())
}

impl Listing {
    /// A handle that says, once the iterator is done, whether the list failed part way.
    pub fn outcome(&self) -> ListingOutcome {
        ListingOutcome(self.failure.clone())
    }

    fn fail(&mut self, e: StoreError) {
        *self.failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
    }
}

impl Iterator for Listing {
    type Item = Listed;

    fn next(&mut self) -> Option<Listed> {
        if self.finished {
            return None;
        }
        let message = self.rx.recv();
        match message {
            Ok(Message::Item(listed)) => return Some(listed),
            Ok(Message::Done) => {}
            Ok(Message::Failed(e)) => self.fail(e),
            // The lister ended without saying how (it panicked): the list is not complete.
            Err(mpsc::RecvError) => self.fail(StoreError::Api {
                target: "the ConfigMap list".to_owned(),
                code: 0,
                reason: "ClientError".to_owned(),
                message: "the listing thread ended before the list did".to_owned(),
            }),
        }
        self.finished = true;
        None
    }
}
