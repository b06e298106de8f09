//! A few large buffers kept from one page to the next (issue 28): a source's answer
//! bodies and event lines are each about a megabyte a page, and a fresh block of that
//! size every page either fragments the allocator's arenas or, with a fixed mmap
//! threshold, costs a new mapping and its page faults. A buffer given back is cleared
//! and handed to the next page; the pool keeps at most [`KEPT`] of them, none over
//! [`LARGEST_KEPT`] bytes, so its memory stays flat with volume and with tenants.

use bytes::Bytes;
use std::sync::{Arc, Mutex, PoisonError};

/// How many idle buffers a pool keeps: a page's buffer is given back while the next
/// pages are in flight, so one or two idle ones serve the next page; more would only
/// sit in memory.
pub const KEPT: usize = 2;

/// The largest buffer a pool keeps (4 MiB, a few times a Graph page of 1,000 rows):
/// one that grew far beyond the usual page for an unusual answer goes back to the
/// allocator rather than staying in memory for small pages.
pub const LARGEST_KEPT: usize = 4 << 20;

/// Idle buffers of one kind, shared by the clones of the pool (a source's tenants and
/// fetch chains, the batches its sinks hold).
#[derive(Debug, Clone, Default)]
pub struct BufferPool {
    idle: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl BufferPool {
    /// An empty buffer with room for at least `capacity` bytes: the largest idle one
    /// if it has that room, else a new one (an idle buffer too small is let go rather
    /// than grown, which would copy it).
    pub fn take(&self, capacity: usize) -> Vec<u8> {
        let largest = {
            let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
            let at = (0..idle.len()).max_by_key(|index| idle[*index].capacity());
            at.map(|index| idle.swap_remove(index))
        };
        match largest {
            Some(buffer) if buffer.capacity() >= capacity => buffer,
            _ => Vec::with_capacity(capacity),
        }
    }

    /// Keeps `buffer` (cleared) for a later [`take`](BufferPool::take), unless it is
    /// over [`LARGEST_KEPT`]; when [`KEPT`] are idle already, the smallest goes.
    pub fn give(&self, mut buffer: Vec<u8>) {
        if buffer.capacity() > LARGEST_KEPT || buffer.capacity() == 0 {
            return;
        }
        buffer.clear();
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        idle.push(buffer);
        if idle.len() > KEPT {
            let smallest = (0..idle.len()).min_by_key(|index| idle[*index].capacity());
            if let Some(index) = smallest {
                idle.swap_remove(index);
            }
        }
    }

    /// `buffer` as [`Bytes`] that give it back to this pool once the last clone of
    /// them is dropped (a batch's lines, held by every sink until each is done).
    pub fn bytes(&self, buffer: Vec<u8>) -> Bytes {
        Bytes::from_owner(Returning {
            buffer,
            pool: self.clone(),
        })
    }

    /// How many buffers are idle, and their capacities summed.
    #[cfg(test)]
    pub fn idle(&self) -> (usize, usize) {
        let idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        (idle.len(), idle.iter().map(Vec::capacity).sum())
    }
}

#[cfg(test)]
impl BufferPool {
    /// Whether `other` is a clone of this pool (the same idle buffers).
    pub fn is_shared_with(&self, other: &BufferPool) -> bool {
        Arc::ptr_eq(&self.idle, &other.idle)
    }
}

/// The owner behind [`BufferPool::bytes`]: the buffer goes back when it is dropped.
struct Returning {
    buffer: Vec<u8>,
    pool: BufferPool,
}

impl AsRef<[u8]> for Returning {
    fn as_ref(&self) -> &[u8] {
        &self.buffer
    }
}

impl Drop for Returning {
    fn drop(&mut self) {
        self.pool.give(std::mem::take(&mut self.buffer));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_given_back_is_taken_again_empty_with_its_room() {
        let pool = BufferPool::default();
        let mut buffer = pool.take(1000);
        buffer.extend_from_slice(b"page");
        let (address, room) = (buffer.as_ptr(), buffer.capacity());
        pool.give(buffer);
        let again = pool.take(900);
        assert_eq!(
            (again.as_ptr(), again.capacity(), again.len()),
            (address, room, 0)
        );
    }

    #[test]
    fn an_idle_buffer_too_small_is_not_grown_and_a_huge_one_is_not_kept() {
        let pool = BufferPool::default();
        pool.give(Vec::with_capacity(100));
        assert!(pool.take(1000).capacity() >= 1000);
        assert_eq!(pool.idle().0, 0);
        pool.give(Vec::with_capacity(LARGEST_KEPT + 1));
        assert_eq!(pool.idle(), (0, 0));
    }

    #[test]
    fn the_pool_keeps_only_its_largest_few_buffers() {
        let pool = BufferPool::default();
        for capacity in [300, 100, 400, 200] {
            pool.give(Vec::with_capacity(capacity));
        }
        let (count, bytes) = pool.idle();
        assert_eq!(count, KEPT);
        assert!(bytes >= 700, "{bytes}");
        assert!(pool.take(0).capacity() >= 400);
    }

    #[test]
    fn bytes_give_their_buffer_back_when_the_last_clone_is_dropped() {
        let pool = BufferPool::default();
        let mut buffer = pool.take(64);
        buffer.extend_from_slice(b"line\n");
        let address = buffer.as_ptr();
        let bytes = pool.bytes(buffer);
        let held = bytes.slice(1..3);
        drop(bytes);
        assert_eq!((&held[..], pool.idle().0), (&b"in"[..], 0));
        drop(held);
        let again = pool.take(0);
        assert_eq!(again.as_ptr(), address);
    }
}
