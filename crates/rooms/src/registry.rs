//! The rooms this node runs. A room's task starts only when something happens to it: a created
//! (or recovered) room is kept *dormant* — its live state and its lease in the registry, and its
//! next timer in one queue the hub shares for all dormant rooms — until the first command for it
//! (a join, a REST change or read of its live state, a lost lease), its timer coming due, or the
//! node stopping. Most rooms a create makes are never joined before their unused-room timeout,
//! and a task with its channel and timer cost each of them CPU at the create and memory for
//! their whole life (BENCHMARKS.md, create).
//!
//! A dormant room has nothing a task would hold besides its `LiveRoom` and its lease (no session,
//! no memory, no retry), so starting it is exactly `actor::spawn` of what was kept: the task then
//! serves its first command, or fires its due timer, as one started at the create would have.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures::StreamExt;
use tokio::sync::Notify;
use vroom_domain::live::LiveRoom;
use vroom_domain::room::Room;
use vroom_domain::sid::{AccountSid, RoomSid};
use vroom_domain::time::Timestamp;
use vroom_store::Lease;

use crate::Hub;
use crate::actor::{self, RoomHandle};

/// Leases of dormant rooms given up at once when the node stops.
const RELEASING_AT_ONCE: usize = 256;

/// A room in progress on this node.
enum Slot {
    /// Its task runs.
    Running(RoomHandle),
    /// No task yet: what one would start from (boxed: the registry holds every room in progress).
    Dormant(Box<Dormant>),
}

struct Dormant {
    live: LiveRoom,
    lease: Lease,
}

/// A room's unique name in its account, when it is not the room's SID.
type Named = (AccountSid, Box<str>);

/// The rooms in progress on this node, found by SID or by unique name.
#[derive(Default)]
struct Rooms {
    slots: HashMap<RoomSid, Slot>,
    /// The rooms whose unique name is not their SID (a room named by its SID is joined by SID),
    /// so a join by name finds a room this node runs without reading the store: at 1,000 joins/s
    /// that read was 3.6 % of the server's CPU (BENCHMARKS.md, joins). An in-progress room's
    /// name is unique in its account, and only this node runs the room, so the entry stands until
    /// the room's task ends or a newer room of the name replaces it.
    named: HashMap<Named, RoomSid>,
}

impl Rooms {
    fn name_of(room: &Room) -> Option<Named> {
        (room.unique_name != room.sid.to_string())
            .then(|| (room.account_sid, room.unique_name.as_str().into()))
    }

    fn forget_name(&mut self, room: &Room) {
        if let Some(key) = Self::name_of(room)
            && self.named.get(&key) == Some(&room.sid)
        {
            self.named.remove(&key);
        }
    }
}

/// The rooms in progress on this node, and the timers of the dormant ones.
#[derive(Default)]
pub(crate) struct Registry {
    rooms: Mutex<Rooms>,
    /// When each dormant room's next timer is due, earliest first. An entry whose room has
    /// started or ended meanwhile is dropped when it comes due.
    alarms: Mutex<BinaryHeap<Reverse<(Timestamp, RoomSid)>>>,
    /// An alarm earlier than every other was set.
    earlier: Notify,
    /// Rooms with a running task.
    running: std::sync::atomic::AtomicUsize,
}

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Registry {
    /// The task of `room` ended: it leaves the registry unless another task replaced it.
    pub(crate) fn finished(&self, room: &Room, task: &RoomHandle) {
        let mut rooms = locked(&self.rooms);
        if matches!(rooms.slots.get(&room.sid), Some(Slot::Running(h)) if h.same(task)) {
            rooms.slots.remove(&room.sid);
            rooms.forget_name(room);
        }
        drop(rooms);
        self.running
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }

    fn alarm(&self, at: Timestamp, room: RoomSid) {
        let mut alarms = locked(&self.alarms);
        let first = alarms.peek().is_none_or(|Reverse((t, _))| at < *t);
        alarms.push(Reverse((at, room)));
        drop(alarms);
        if first {
            self.earlier.notify_one();
        }
    }

    fn next_alarm(&self) -> Option<Timestamp> {
        locked(&self.alarms).peek().map(|Reverse((t, _))| *t)
    }

    /// The rooms whose alarm is due at `now`, taken off the queue.
    fn due(&self, now: Timestamp) -> Vec<RoomSid> {
        let mut alarms = locked(&self.alarms);
        let mut due = Vec::new();
        while let Some(Reverse((t, room))) = alarms.peek().copied() {
            if t > now {
                break;
            }
            alarms.pop();
            due.push(room);
        }
        due
    }
}

impl Hub {
    /// Keeps `live` (holding `lease`) as a dormant room of this node, its next timer queued,
    /// unless the room is already here.
    pub(crate) fn register(&self, live: LiveRoom, lease: Lease) {
        let sid = live.room().sid;
        let due = live.poll_timeout();
        let registry = &self.deps.registry;
        let mut rooms = locked(&registry.rooms);
        if rooms.slots.contains_key(&sid) {
            return;
        }
        if let Some(key) = Rooms::name_of(live.room()) {
            rooms.named.insert(key, sid);
        }
        rooms
            .slots
            .insert(sid, Slot::Dormant(Box::new(Dormant { live, lease })));
        drop(rooms);
        if let Some(at) = due {
            registry.alarm(at, sid);
        }
    }

    /// The task of `room` if the room is here, started now if it was dormant.
    pub(crate) fn registered(&self, room: RoomSid) -> Option<RoomHandle> {
        let registry = &self.deps.registry;
        let mut rooms = locked(&registry.rooms);
        if let Slot::Running(handle) = rooms.slots.get(&room)? {
            return Some(handle.clone());
        }
        let Some(Slot::Dormant(dormant)) = rooms.slots.remove(&room) else {
            unreachable!("the room was dormant");
        };
        let Dormant { live, lease } = *dormant;
        let handle = actor::spawn(live, lease, Arc::clone(&self.deps), &self.tracker);
        rooms.slots.insert(room, Slot::Running(handle.clone()));
        registry
            .running
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Some(handle)
    }

    /// Whether `room` is here, running or dormant (without starting it).
    pub(crate) fn is_here(&self, room: RoomSid) -> bool {
        locked(&self.deps.registry.rooms).slots.contains_key(&room)
    }

    /// The room in progress here named `name` in `account` (not by its SID), if any.
    pub(crate) fn here_by_name(&self, account: AccountSid, name: &str) -> Option<RoomSid> {
        let key: Named = (account, name.into());
        locked(&self.deps.registry.rooms).named.get(&key).copied()
    }

    /// How many rooms in progress this process runs (with a task or dormant).
    #[must_use]
    pub fn live_rooms(&self) -> usize {
        locked(&self.deps.registry.rooms).slots.len()
    }

    /// How many of them have a task running (the others are dormant: nothing happened to them
    /// since they were created or recovered).
    #[must_use]
    pub fn room_tasks(&self) -> usize {
        self.deps
            .registry
            .running
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Starts each dormant room whose timer is due (its task fires the timer at once), until the
    /// hub shuts down; then gives up the leases of the rooms still dormant, as their tasks would
    /// have on stopping.
    pub(crate) async fn ring_alarms(self) {
        let registry = &self.deps.registry;
        loop {
            let next = registry.next_alarm();
            let clock = Arc::clone(&self.deps.clock);
            let sleep = async move {
                match next {
                    Some(at) => clock.sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = self.deps.shutdown.cancelled() => break,
                () = registry.earlier.notified() => continue,
                () = sleep => {}
            }
            for room in registry.due(self.deps.clock.now()) {
                let dormant = matches!(
                    locked(&registry.rooms).slots.get(&room),
                    Some(Slot::Dormant(_))
                );
                if dormant {
                    let _ = self.registered(room);
                }
            }
        }
        let dormant: Vec<Dormant> = {
            let mut rooms = locked(&registry.rooms);
            let dormant: Vec<Dormant> = rooms
                .slots
                .extract_if(|_, slot| matches!(slot, Slot::Dormant(_)))
                .filter_map(|(_, slot)| match slot {
                    Slot::Dormant(d) => Some(*d),
                    Slot::Running(_) => None,
                })
                .collect();
            for d in &dormant {
                rooms.forget_name(d.live.room());
            }
            dormant
        };
        let leases = dormant.into_iter().map(|d| d.lease);
        let store = &self.deps.store;
        futures::stream::iter(leases)
            .for_each_concurrent(RELEASING_AT_ONCE, |lease| async move {
                if let Err(e) = store.release_lease(&lease).await {
                    // It lapses by itself; the next start takes the room back.
                    tracing::warn!(room = %lease.room, error = %e, "could not release the room's lease");
                }
            })
            .await;
    }
}
