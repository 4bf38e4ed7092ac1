//! The SQL of what several nodes sharing a database need (room leases, outbox claims, shared
//! secrets), written once for every backend with `?` placeholders (the PostgreSQL backend numbers
//! them). Semantics are in `migrations/*/20261201000003_cluster.sql` and on the `Store` methods.

/// Acquires a room's lease: inserts it, or takes it when it is the node's own, was given up, or
/// its node's lease expired by `now` (a takeover bumps the token, and the trigger
/// `room_lease_taken` notes the loss for the node it was taken from). The lease holds while the
/// node's own does ([`RENEW_NODE_LEASE`]). Returns the token, or no row when another node holds
/// it. Arguments: room, node, address, now.
pub(crate) const ACQUIRE_LEASE: &str =
    "INSERT INTO room_leases (room_sid, node_id, address, token, expires_at)
     VALUES (?, ?, ?, 1, 1)
     ON CONFLICT (room_sid) DO UPDATE SET
       token = CASE WHEN room_leases.node_id = excluded.node_id AND room_leases.expires_at > 0
                    THEN room_leases.token ELSE room_leases.token + 1 END,
       node_id = excluded.node_id, address = excluded.address, expires_at = 1
     WHERE room_leases.node_id = excluded.node_id OR room_leases.expires_at = 0
        OR COALESCE((SELECT n.expires_at FROM node_leases n WHERE n.node_id = room_leases.node_id), 0) <= ?
     RETURNING token";

/// Writes a new room's lease ([`crate::Change::NewLease`]), held while its node's lease is; a
/// stored lease of the room is a conflict. Arguments: room, node, address, token.
pub(crate) const NEW_LEASE: &str = "INSERT INTO room_leases (room_sid, node_id, address, token, expires_at) VALUES (?, ?, ?, ?, 1)";

/// The holder of a room's lease, and when it ends: when its node's lease does (0 when it was
/// given up, or its node has none). Argument: room.
pub(crate) const LEASE_HOLDER: &str = "SELECT l.node_id, l.address,
       CASE WHEN l.expires_at = 0 THEN 0 ELSE COALESCE(n.expires_at, 0) END AS expires_at
     FROM room_leases l LEFT JOIN node_leases n ON n.node_id = l.node_id
     WHERE l.room_sid = ?";

/// Takes or extends a node's lease (whether or not it had lapsed). Arguments: node, until.
pub(crate) const RENEW_NODE_LEASE: &str =
    "INSERT INTO node_leases (node_id, expires_at) VALUES (?, ?)
     ON CONFLICT (node_id) DO UPDATE SET expires_at = excluded.expires_at";

/// The leases taken from a node since it last asked, forgotten as they are read. Argument: node.
pub(crate) const LEASES_LOST: &str =
    "DELETE FROM lease_losses WHERE node_id = ? RETURNING room_sid, token";

/// Gives a lease up, keeping its token so the next holder's is larger. Arguments: room, node, token.
pub(crate) const RELEASE_LEASE: &str =
    "UPDATE room_leases SET expires_at = 0 WHERE room_sid = ? AND node_id = ? AND token = ?";

/// The fence of a batch: a write (so SQLite takes its write lock before anything is read, and
/// PostgreSQL locks the lease row against a concurrent takeover until the batch commits) that
/// touches one row exactly when the lease still holds. Arguments: room, node, token.
pub(crate) const FENCE: &str = "UPDATE room_leases SET token = token WHERE room_sid = ? AND node_id = ? AND token = ? AND expires_at > 0";

/// The rooms in progress whose lease was released, or whose node's lease expired by `now`, or
/// that have none, oldest first (through the partial index `rooms_in_progress`). Argument: now.
pub(crate) const ORPHANED_ROOMS: &str = "SELECT r.* FROM rooms r
     LEFT JOIN room_leases l ON l.room_sid = r.sid
     LEFT JOIN node_leases n ON n.node_id = l.node_id
     WHERE r.status = 'in-progress'
       AND (l.room_sid IS NULL OR l.expires_at = 0 OR n.expires_at IS NULL OR n.expires_at <= ?)
     ORDER BY r.date_created, r.seq";

/// How many rooms in progress an account has (the count of a [`crate::Change::RoomCap`]).
/// Argument: account.
pub(crate) const ROOMS_IN_PROGRESS: &str =
    "SELECT COUNT(*) FROM rooms WHERE account_sid = ? AND status = 'in-progress'";

/// Claims due events: for each room its oldest pending event, if due and not claimed by another
/// claimant past `now`. `{lock}` is the backend's row-locking clause of the inner select (none for
/// SQLite, whose writers take turns; `FOR UPDATE SKIP LOCKED` for PostgreSQL, so nodes claiming at
/// once skip each other's rows). Arguments: claimant, until, now, now, claimant, limit.
pub(crate) fn claim_webhooks(lock: &str) -> String {
    format!(
        "UPDATE webhook_outbox SET claimed_by = ?, claimed_until = ?
         WHERE id IN (
           SELECT o.id FROM webhook_outbox o
           WHERE o.state = 'pending' AND o.next_attempt_at <= ?
             AND (o.claimed_until <= ? OR o.claimed_by = ?)
             AND o.id = (SELECT MIN(p.id) FROM webhook_outbox p WHERE p.room_sid = o.room_sid AND p.state = 'pending')
           ORDER BY o.next_attempt_at, o.id LIMIT ? {lock})
         RETURNING *"
    )
}

/// When the next pending event is due or its claim lapses.
pub(crate) const NEXT_WEBHOOK_DUE: &str = "SELECT MIN(CASE WHEN claimed_until > next_attempt_at THEN claimed_until ELSE next_attempt_at END)
     FROM webhook_outbox WHERE state = 'pending'";

/// Stores a shared secret unless one of that name exists. Arguments: name, value.
pub(crate) const OFFER_SECRET: &str =
    "INSERT INTO cluster_secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING";

/// A shared secret. Argument: name.
pub(crate) const SECRET: &str = "SELECT value FROM cluster_secrets WHERE name = ?";
