//! `ice` → `iced`: the ICE servers a client that passes no `iceServers` gets before it connects.
//!
//! twilio-video.js asks right after the handshake, with nothing but its token, and creates its
//! peer connections with the answer before it sends `connect`; nothing carries ICE servers after
//! that. So the room's `EnableTurn` is honoured in two steps: a token that names its room is
//! answered by that room's setting; a credential handed out before the room was known is revoked
//! when `connect` lands in a room that withholds TURN (the TURN server then refuses it and closes
//! its relays), so no participant of such a room is relayed.

use serde_json::Value;
use vroom_domain::room::Room;
use vroom_domain::sid::RoomSid;

use super::Conn;
use crate::token::VideoGrant;

impl Conn {
    /// The ICE servers for `iced`: the TURN server's, with a credential of this connection's own,
    /// when the token is valid (relays are not for anyone who opens a socket) and its room (if it
    /// names one) does not withhold TURN; otherwise the configured list.
    pub(super) async fn ice_servers(&mut self, token: Option<&str>) -> Value {
        let fallback = self.sig.config.ice_servers.clone();
        let (Some(turn), Some(token)) = (self.sig.config.turn.clone(), token) else {
            return fallback;
        };
        let grant = match self.verify(token).await {
            Ok(grant) => grant,
            Err((_, e)) => {
                tracing::debug!(session = self.session, error = %e, "no TURN credential for an invalid token");
                return fallback;
            }
        };
        if let Some(room) = granted_room(&self.sig, &grant).await
            && !room.settings.enable_turn
        {
            tracing::debug!(session = self.session, room = %room.sid, "no TURN: the room withholds it (EnableTurn=false)");
            return fallback;
        }
        let now = u64::try_from(self.now().millis() / 1000).unwrap_or(0);
        // The username names the signaling session (opaque, and found again in the TURN log), not
        // the identity: STUN carries it in the clear.
        let (username, password) = turn.credential(&format!("session-{}", self.session), now);
        tracing::debug!(session = self.session, %username, "TURN credential issued");
        let servers = turn.ice_servers(&username, &password);
        self.turn_user = Some(username);
        servers
    }

    /// After `connect` joined `room`: a room that withholds TURN revokes the credential this
    /// connection handed out before it knew the room.
    pub(super) fn settle_turn(&mut self, room: &Room) {
        if room.settings.enable_turn {
            return;
        }
        if let (Some(turn), Some(user)) = (&self.sig.config.turn, self.turn_user.take()) {
            tracing::info!(session = self.session, room = %room.sid, "TURN credential revoked: the room withholds TURN (EnableTurn=false)");
            turn.revoke(&user);
        }
    }
}

/// The room the token's grant names, if it names one that exists.
async fn granted_room(sig: &crate::Signaling, grant: &VideoGrant) -> Option<Room> {
    let name = grant.room.as_deref()?;
    let store = sig.hub.store();
    let found = match name.parse::<RoomSid>() {
        Ok(sid) => store
            .room(sid)
            .await
            .map(|r| r.filter(|r| r.account_sid == grant.account_sid)),
        Err(_) => store.live_room_by_name(grant.account_sid, name).await,
    };
    match found {
        Ok(room) => room,
        Err(e) => {
            // The connect that follows meets the same store and reports it.
            tracing::warn!(error = %e, "cannot look up the token's room for iced");
            None
        }
    }
}
