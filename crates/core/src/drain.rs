//! Receiving from a channel that many tasks feed, for a background thread (the history
//! writer, the metrics aggregator) that takes what waits in batches.
//!
//! A thread blocked in `recv` must be woken by every send that finds it waiting: a futex
//! system call on the sender's side (a webhook run's task) and a context switch on the
//! receiver's. Under load that was a tenth of the process's time. So while messages keep
//! coming in numbers (a batch of at least `busy_at`), the receiver sleeps a `tick` between
//! batches instead of waiting on the channel, and the senders find no one to wake; after a
//! small batch, or a tick that brings nothing, it blocks again, and the next message wakes it
//! at once (one request at a time is answered as fast as before). A tick counts from the
//! start of the last batch: a batch that took longer to write (an fsync) is followed by the
//! next at once, since messages piled up meanwhile.

use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::Duration;

/// The first message of the next batch, as described in the module's documentation.
pub struct Drain {
    tick: Duration,
    busy_at: usize,
    busy: bool,
    /// When the last batch's first message was taken.
    taken: std::time::Instant,
}

/// What [`Drain::next`] got.
pub enum Next<T> {
    Message(T),
    /// Nothing came within the idle timeout.
    Idle,
    /// Every sender is gone.
    Closed,
}

impl Drain {
    /// Ticks of `tick` while batches have at least `busy_at` messages.
    pub fn new(tick: Duration, busy_at: usize) -> Drain {
        Drain { tick, busy_at, busy: false, taken: std::time::Instant::now() }
    }

    /// Says how many messages the batch that began with [`Drain::next`]'s message had.
    pub fn took(&mut self, messages: usize) {
        self.busy = messages >= self.busy_at;
    }

    /// Waits for the next message: after a tick while busy, else blocking (up to `idle`).
    pub fn next<T>(&mut self, rx: &Receiver<T>, idle: Duration) -> Next<T> {
        if self.busy {
            let left = self.tick.saturating_sub(self.taken.elapsed());
            if !left.is_zero() {
                std::thread::sleep(left);
            }
            match rx.try_recv() {
                Ok(message) => {
                    self.taken = std::time::Instant::now();
                    return Next::Message(message);
                }
                Err(TryRecvError::Disconnected) => return Next::Closed,
                Err(TryRecvError::Empty) => self.busy = false,
            }
        }
        match rx.recv_timeout(idle) {
            Ok(message) => {
                self.taken = std::time::Instant::now();
                Next::Message(message)
            }
            Err(RecvTimeoutError::Timeout) => Next::Idle,
            Err(RecvTimeoutError::Disconnected) => Next::Closed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_arrive_in_order_and_the_end_is_seen() {
        let (tx, rx) = std::sync::mpsc::sync_channel(16);
        let mut drain = Drain::new(Duration::from_millis(1), 2);
        tx.send(1).unwrap();
        tx.send(2).unwrap();
        assert!(matches!(drain.next(&rx, Duration::from_millis(50)), Next::Message(1)));
        assert!(matches!(rx.try_recv(), Ok(2)));
        drain.took(2);
        // Busy: the next message is taken after a tick.
        tx.send(3).unwrap();
        assert!(matches!(drain.next(&rx, Duration::from_millis(50)), Next::Message(3)));
        drain.took(1);
        // Nothing within a tick: it blocks again, until the idle timeout.
        assert!(matches!(drain.next::<i32>(&rx, Duration::from_millis(20)), Next::Idle));
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            tx.send(4).unwrap();
        });
        assert!(matches!(drain.next(&rx, Duration::from_secs(5)), Next::Message(4)));
        sender.join().unwrap();
        assert!(matches!(drain.next::<i32>(&rx, Duration::from_secs(5)), Next::Closed));
    }
}
