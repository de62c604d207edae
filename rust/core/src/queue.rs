//! Pending events: a calendar (bucket) queue for grid time, binary heaps for continuous time
//! and for predicted threshold crossings.
//!
//! Grid: delays are bounded integers, so bucket `t mod L` (L = longest delay + 1) holds exactly
//! the entries due at step `t`; insert and pop are O(1) and nothing is ever sorted. Entries are
//! appended in emission order, which is sorted by (population, neuron): delivery order is fixed.
use serde::{Deserialize, Serialize};
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// One spike's synapses with one delay: `targets[start..end]` of projection `proj`, `mult` times.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub proj: u32,
    pub start: u32,
    pub end: u32,
    pub mult: u32,
}

/// Ring of per-step buckets.
#[derive(Serialize, Deserialize)]
pub struct Calendar {
    buckets: Vec<Vec<Entry>>,
}

impl Calendar {
    pub fn new(len: usize) -> Calendar {
        Calendar {
            buckets: (0..len.max(1)).map(|_| Vec::new()).collect(),
        }
    }

    #[inline]
    pub fn push(&mut self, step: i64, e: Entry) {
        let n = self.buckets.len() as i64;
        self.buckets[step.rem_euclid(n) as usize].push(e);
    }

    /// Take the bucket of `step` (hand it back with [`Calendar::restore`] to keep its capacity).
    #[inline]
    pub fn take(&mut self, step: i64) -> Vec<Entry> {
        let n = self.buckets.len() as i64;
        std::mem::take(&mut self.buckets[step.rem_euclid(n) as usize])
    }

    #[inline]
    pub fn restore(&mut self, step: i64, mut v: Vec<Entry>) {
        v.clear();
        let n = self.buckets.len() as i64;
        let slot = &mut self.buckets[step.rem_euclid(n) as usize];
        if slot.is_empty() {
            *slot = v;
        }
    }

    pub fn pending(&self) -> usize {
        self.buckets.iter().map(|b| b.len()).sum()
    }
}

/// What a continuous-time event does.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub enum Kind {
    Deliver(Entry),
    Wake { pop: u32, idx: u32, version: u32 },
    Source { pop: u32 },
    Poisson { pop: u32, idx: u32 },
    Current { src: u32 },
}

/// A timed event; ties broken by insertion sequence (FIFO), so order is deterministic.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Event {
    pub t: f64,
    pub seq: u64,
    pub kind: Kind,
}

impl PartialEq for Event {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Event {}
impl PartialOrd for Event {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Event {
    fn cmp(&self, o: &Self) -> Ordering {
        self.t.total_cmp(&o.t).then(self.seq.cmp(&o.seq))
    }
}

/// Min-heap of continuous-time events.
#[derive(Default, Serialize, Deserialize)]
pub struct EventHeap {
    heap: BinaryHeap<Reverse<Event>>,
}

impl EventHeap {
    pub fn push(&mut self, t: f64, seq: u64, kind: Kind) {
        self.heap.push(Reverse(Event { t, seq, kind }));
    }
    pub fn push_delivery(&mut self, t: f64, seq: u64, e: Entry) {
        self.push(t, seq, Kind::Deliver(e));
    }
    /// Keep only the events `keep` accepts.
    pub fn retain(&mut self, mut keep: impl FnMut(&Event) -> bool) {
        self.heap.retain(|e| keep(&e.0));
    }
    pub fn peek_time(&self) -> Option<f64> {
        self.heap.peek().map(|e| e.0.t)
    }
    pub fn pop(&mut self) -> Option<Event> {
        self.heap.pop().map(|e| e.0)
    }
    pub fn len(&self) -> usize {
        self.heap.len()
    }
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

/// Predicted threshold crossings on the grid: (step, population, neuron, version).
/// Most are due within a few steps (a neuron fed every step re-predicts every step), so the
/// near future is a ring of per-step buckets (push and pop in O(1)); later ones wait in a heap.
#[derive(Serialize, Deserialize)]
pub struct WakeHeap {
    heap: BinaryHeap<Reverse<(i64, u32, u32, u32)>>,
    ring: Vec<Vec<(u32, u32, u32)>>,
    /// Buckets of steps before `cursor` are empty; the ring covers `cursor..cursor + WAKE_RING`.
    cursor: i64,
    in_ring: usize,
}

const WAKE_RING: i64 = 256;

impl Default for WakeHeap {
    fn default() -> Self {
        WakeHeap {
            heap: BinaryHeap::new(),
            ring: vec![Vec::new(); WAKE_RING as usize],
            cursor: 0,
            in_ring: 0,
        }
    }
}

impl WakeHeap {
    pub fn push(&mut self, step: i64, pop: u32, idx: u32, version: u32) {
        if step >= self.cursor && step < self.cursor + WAKE_RING {
            self.ring[(step & (WAKE_RING - 1)) as usize].push((pop, idx, version));
            self.in_ring += 1;
        } else {
            self.heap.push(Reverse((step, pop, idx, version)));
        }
    }
    /// Pop the next wake due at or before `step` (order within a step is unspecified; the
    /// neurons woken are updated independently).
    pub fn pop_due(&mut self, step: i64) -> Option<(u32, u32, u32)> {
        while self.in_ring > 0 && self.cursor <= step {
            let bucket = &mut self.ring[(self.cursor & (WAKE_RING - 1)) as usize];
            if let Some(w) = bucket.pop() {
                self.in_ring -= 1;
                return Some(w);
            }
            if self.cursor == step {
                break;
            }
            self.cursor += 1;
        }
        if self.in_ring == 0 && self.cursor < step {
            self.cursor = step;
        }
        match self.heap.peek() {
            Some(Reverse((s, ..))) if *s <= step => {
                self.heap.pop().map(|Reverse((_, p, i, v))| (p, i, v))
            }
            _ => None,
        }
    }
    pub fn len(&self) -> usize {
        self.heap.len() + self.in_ring
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_returns_entries_at_their_step_in_insertion_order() {
        let mut c = Calendar::new(4);
        let e = |k| Entry {
            proj: k,
            start: 0,
            end: 1,
            mult: 1,
        };
        c.push(5, e(1));
        c.push(3, e(2));
        c.push(5, e(3));
        assert_eq!(c.take(3), vec![e(2)]);
        assert_eq!(c.take(5), vec![e(1), e(3)]);
        assert_eq!(c.pending(), 0);
    }

    #[test]
    fn heap_orders_by_time_then_sequence() {
        let mut h = EventHeap::default();
        h.push(2.0, 1, Kind::Source { pop: 0 });
        h.push(1.0, 3, Kind::Source { pop: 1 });
        h.push(1.0, 2, Kind::Source { pop: 2 });
        let order: Vec<u64> = std::iter::from_fn(|| h.pop()).map(|e| e.seq).collect();
        assert_eq!(order, vec![2, 3, 1]);
    }
}
