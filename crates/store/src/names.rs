//! Unique names, for every backend. A room created without a `UniqueName` is named by its SID
//! (Twilio's rule), which is most rooms; those rooms are in neither name index
//! (`rooms_live_unique_name`, `rooms_by_name`: both partial on `unique_name <> sid`, migration
//! `20261204000001_sid_named_rooms`), so a create writes two B-tree entries fewer. A SID-named room
//! is found by its primary key instead, which is why every query here that looks a name up asks
//! both places when the name could be a room's SID, and why the uniqueness the index no longer sees
//! (an explicit name equal to a live SID-named room's SID, or the reverse) is checked before the
//! insert. Placeholders are `?` (PostgreSQL numbers them).

use vroom_domain::room::Room;
use vroom_domain::sid::RoomSid;

/// Whether `name` could be a room's SID, byte for byte: only then can a SID-named room bear it.
pub(crate) fn sid_shaped(name: &str) -> bool {
    name.parse::<RoomSid>()
        .is_ok_and(|sid| sid.to_string() == name)
}

/// The live room of an account named so (`?`: account, name, name, account): through the name
/// index, then by SID.
pub(crate) const LIVE_BY_NAME: &str = "SELECT * FROM rooms WHERE account_sid = ? AND unique_name = ? \
     AND unique_name <> sid AND status = 'in-progress' \
     UNION ALL SELECT * FROM rooms WHERE sid = ? AND unique_name = sid AND account_sid = ? \
     AND status = 'in-progress'";

/// `LIVE_BY_NAME`'s arguments, in order.
pub(crate) fn live_by_name_args(account: &str, name: &str) -> [String; 4] {
    [account.into(), name.into(), name.into(), account.into()]
}

/// The start of a room list filtered by a SID-shaped name (`?`: account, name, name, account,
/// name): the rooms of the name index and the room whose SID it is, then each room by its key. A
/// join written out, so that no planner prefers to walk all the account's rooms
/// (`rooms_by_status`) when the table has no statistics; the list's other conditions follow.
pub(crate) const LIST_SID_SHAPED: &str = "SELECT rooms.* FROM (SELECT sid AS named FROM rooms \
     WHERE account_sid = ? AND unique_name = ? AND unique_name <> sid UNION ALL SELECT ?) AS by_name \
     CROSS JOIN rooms WHERE rooms.sid = by_name.named AND account_sid = ? AND unique_name = ?";

/// The condition that makes a list by a name that cannot be a SID search the name index.
pub(crate) const NOT_SID_NAMED: &str = " AND unique_name <> sid";

/// Whether a live room of the account already bears the name (`?`: account, name, the SID probe,
/// account): 1 or 0, asked in the insert's transaction before a live room is inserted. The unique
/// index still refuses two explicit names alike; this sees the pairs it does not.
pub(crate) const NAME_TAKEN: &str = "SELECT EXISTS (SELECT 1 FROM rooms WHERE account_sid = ? \
     AND unique_name = ? AND unique_name <> sid AND status = 'in-progress') \
     OR EXISTS (SELECT 1 FROM rooms WHERE sid = ? AND unique_name = sid AND account_sid = ? \
     AND status = 'in-progress')";

/// Whether inserting `room` needs `NAME_TAKEN` asked first, and its arguments. Only a live room
/// can clash. A SID-named room's own SID is fresh, so only an explicit name equal to it could
/// clash (the first probe); an explicit name clashes with a SID-named room only if it is SID-shaped.
pub(crate) fn name_check(room: &Room) -> Option<[String; 4]> {
    if room.status != vroom_domain::room::RoomStatus::InProgress {
        return None;
    }
    let account = room.account_sid.to_string();
    let name = room.unique_name.as_str();
    // The SID probe of a name that is not SID-shaped (or is this room's own SID) cannot match:
    // an empty string names no room.
    let probe = if sid_shaped(name) && name != room.sid.to_string() {
        name
    } else {
        ""
    };
    Some([account.clone(), name.into(), probe.into(), account])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_exact_sids_are_sid_shaped() {
        assert!(sid_shaped("RM0123456789abcdef0123456789abcdef"));
        assert!(!sid_shaped("standup"));
        assert!(!sid_shaped("RM0123"));
        assert!(!sid_shaped("PA0123456789abcdef0123456789abcdef"));
    }
}
