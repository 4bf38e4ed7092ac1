//! The hub's leases and orphans: the node's lease renewed every third of its term, the watch
//! for rooms whose node died, the recovery at start, and bringing a room's task back from the
//! store under a freshly acquired lease.

use std::collections::{HashMap, HashSet};

use vroom_domain::live::LiveRoom;
use vroom_domain::participant::{EndReason, Participant};
use vroom_domain::room::Room;
use vroom_domain::sid::RoomSid;
use vroom_store::{Acquired, Change, Lease};

use crate::actor::{self, Command};
use crate::{Hub, HubError};

impl Hub {
    /// Every third of the lease term, renews this node's lease, which every one of its rooms'
    /// leases follows (one write whatever their number), and tells the task of each room another
    /// node took meanwhile (possible only once this node's lease had lapsed) that it lost it: it
    /// ends at once. A failed write is tried again a second later. Ends when the hub shuts down
    /// (the rooms carry on while it drains).
    pub(crate) async fn renew_leases(self) {
        let cluster = &self.deps.cluster;
        let mut next = self.deps.clock.now() + cluster.renew_every();
        loop {
            tokio::select! {
                () = self.deps.shutdown.cancelled() => break,
                () = self.deps.clock.sleep_until(next) => {}
            }
            let until = self.deps.clock.now() + cluster.lease;
            let failed = match self.deps.store.renew_node_lease(&cluster.node, until).await {
                Ok(lost) => {
                    for lease in lost {
                        if let Some(handle) = self.registered(lease.room) {
                            handle.tell(Command::LeaseLost { token: lease.token });
                        }
                    }
                    false
                }
                Err(e) => {
                    tracing::error!(error = %e, "could not renew the node's lease");
                    true
                }
            };
            let now = self.deps.clock.now();
            next = if failed {
                now + vroom_domain::time::Span::from_secs(1)
            } else {
                now + cluster.renew_every()
            };
        }
    }

    /// Every lease term, takes over the rooms in progress whose node let their lease lapse (it
    /// died), so their timers and participants are looked after even when nobody asks for them.
    /// Only those are read: rooms held, by this node or another, are not (reading every room in
    /// progress each term cost in proportion to them; BENCHMARKS.md, create). Ends with the hub.
    pub(crate) async fn watch_orphans(self) {
        loop {
            let next = self.deps.clock.now() + self.deps.cluster.lease;
            tokio::select! {
                () = self.deps.draining.cancelled() => break,
                () = self.deps.clock.sleep_until(next) => {}
            }
            let now = self.deps.clock.now();
            let rooms = match self.deps.store.orphaned_rooms(now).await {
                Ok(rooms) => rooms,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot look for rooms left by other nodes");
                    continue;
                }
            };
            for room in rooms {
                if self.deps.draining.is_cancelled() {
                    return;
                }
                if !self.is_here(room.sid) {
                    match self.task(&room).await {
                        Ok(_) | Err(HubError::Elsewhere { .. }) => {}
                        Err(e) => {
                            tracing::warn!(room = %room.sid, error = %e, "cannot take a room over");
                        }
                    }
                }
            }
        }
    }

    /// At the start: closes the participants a previous run left connected (with their callback
    /// events) and brings back the task of every room in progress no other node holds.
    pub(crate) async fn recover(&self) -> Result<(), HubError> {
        let store = &self.deps.store;
        let now = self.deps.clock.now();
        let mut orphans: HashMap<RoomSid, Vec<Participant>> = HashMap::new();
        for p in store.connected_participants().await? {
            orphans.entry(p.room_sid).or_default().push(p);
        }
        let live_rooms = store.in_progress_rooms().await?;
        let live_sids: HashSet<RoomSid> = live_rooms.iter().map(|r| r.sid).collect();
        // Participants of rooms that are no longer in progress cannot have events; just close them.
        let stray: Vec<Change> = orphans
            .iter()
            .filter(|(room, _)| !live_sids.contains(room))
            .flat_map(|(_, ps)| ps.iter().cloned())
            .map(|mut p| {
                p.disconnect(now, EndReason::ServerStopped);
                Change::UpdateParticipant(p)
            })
            .collect();
        if !stray.is_empty() {
            store.apply(&stray, &[]).await?;
        }
        for room in live_rooms {
            // A room another node runs is left to it, with its participants.
            let Ok(lease) = self.acquire(&room).await? else {
                continue;
            };
            let left = orphans.remove(&room.sid).unwrap_or_default();
            if !left.is_empty() {
                tracing::info!(room = %room.sid, count = left.len(), "closing participants left connected by the last run");
            }
            self.revive(room, left, lease).await?;
        }
        Ok(())
    }

    /// Acquires the lease of `room` for this node, or names the node that holds it.
    pub(crate) async fn acquire(
        &self,
        room: &Room,
    ) -> Result<Result<Lease, vroom_store::LeaseHolder>, HubError> {
        let now = self.deps.clock.now();
        let cluster = &self.deps.cluster;
        let acquired = self
            .deps
            .store
            .acquire_lease(room.sid, &cluster.node, &cluster.address, now)
            .await?;
        Ok(match acquired {
            Acquired::Ours(lease) => Ok(lease),
            Acquired::Held(holder) => Err(holder),
        })
    }

    /// Rebuilds an in-progress room from the store, `orphans` being the participants its last run
    /// left connected, and keeps it dormant here (`registry`).
    pub(crate) async fn revive(
        &self,
        room: Room,
        orphans: Vec<Participant>,
        lease: Lease,
    ) -> Result<(), HubError> {
        let store = &self.deps.store;
        let ever_joined = store.room_ever_joined(room.sid).await?;
        let sequence = store.next_event_sequence(room.sid).await?;
        let (live, effects) = LiveRoom::restore(
            room,
            self.config,
            ever_joined,
            sequence,
            self.deps.clock.now(),
            orphans,
        );
        if !effects.is_empty() {
            let changes: Vec<Change> = std::iter::once(Change::Fence(lease.clone()))
                .chain(effects.writes.into_iter().map(Change::from))
                .collect();
            store.apply(&changes, &effects.events).await?;
            changes.iter().for_each(actor::record);
            self.deps.outbox.notify_one();
        }
        self.register(live, lease);
        Ok(())
    }
}
