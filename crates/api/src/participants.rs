//! `/v1/Rooms/{RoomNameOrSid}/Participants[/{ParticipantIdentityOrSid}[/Anonymize]]`.

use std::sync::Arc;

use axum::extract::{OriginalUri, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use vroom_domain::participant::{Participant, ParticipantStatus};
use vroom_domain::room::Room;
use vroom_domain::sid::{ParticipantSid, RoomSid};
use vroom_store::{Change, ParticipantFilter};

use crate::auth::Caller;
use crate::cache;
use crate::error::ApiResult;
use crate::form::Form;
use crate::paging::{Filters, listing_written, paging};
use crate::wire::ParticipantResource;
use crate::{ApiState, Segment2, list_base, not_found, query_of, resolve_room};

/// A participant of `room` by SID (any status) or identity (connected only).
pub(crate) async fn resolve_participant(
    st: &ApiState,
    room: &Room,
    segment: &str,
    uri: &Uri,
) -> ApiResult<Participant> {
    let found = match segment.parse::<ParticipantSid>() {
        Ok(sid) => st
            .store
            .participant(sid)
            .await?
            .filter(|p| p.room_sid == room.sid),
        Err(_) => st.store.connected_participant(room.sid, segment).await?,
    };
    found.ok_or_else(|| not_found(uri))
}

/// `GET …/Participants`
pub(crate) async fn list(
    State(st): State<Arc<ApiState>>,
    caller: Caller,
    OriginalUri(uri): OriginalUri,
    crate::Segment(room): crate::Segment,
) -> ApiResult<Response> {
    let page = page(&st, caller, &room, &uri);
    match room.parse::<RoomSid>() {
        Ok(sid) => cache::room_read(&st, caller.account_sid, sid, &uri, page).await,
        Err(_) => page.await.map(crate::json_body),
    }
}

/// The page a list request asks for, written.
async fn page(st: &ApiState, caller: Caller, room: &str, uri: &Uri) -> ApiResult<Vec<u8>> {
    let room = resolve_room(st, caller, room, uri).await?;
    let q = query_of(uri);
    let paging = paging(&q)?;
    let mut f = Filters::new(&q);
    // Twilio's defaults: connected participants of a room in progress; of a completed room, only the
    // disconnected ones (all of them, since nobody is left connected).
    let status = f
        .choice(
            "Status",
            ParticipantStatus::parse,
            "connected or disconnected",
        )?
        .unwrap_or(if room.is_in_progress() {
            ParticipantStatus::Connected
        } else {
            ParticipantStatus::Disconnected
        });
    let created_after = f.date("DateCreatedAfter")?;
    let created_before = f.date("DateCreatedBefore")?;
    let filter = ParticipantFilter {
        status: Some(status),
        identity: f.text("Identity"),
        created_after,
        created_before,
    };
    let page = st
        .store
        .list_participants(room.sid, &filter, &paging.request)
        .await?;
    listing_written(
        &list_base(st, uri),
        &f.echoed,
        &paging,
        &page,
        "participants",
        |p, out| ParticipantResource::new(p, &st.public_url).write_json(out),
        |p| p.sid.to_string(),
    )
}

/// `GET …/Participants/{ParticipantIdentityOrSid}`
pub(crate) async fn fetch(
    State(st): State<Arc<ApiState>>,
    caller: Caller,
    OriginalUri(uri): OriginalUri,
    Segment2(room, participant): Segment2,
) -> ApiResult<Response> {
    let Ok(room_sid) = room.parse::<RoomSid>() else {
        let room = resolve_room(&st, caller, &room, &uri).await?;
        let p = resolve_participant(&st, &room, &participant, &uri).await?;
        return Ok(crate::json_body(written(&st, &p)));
    };
    let one = async {
        // Both by SID (how the SDKs fetch): the participant's record names its room and account,
        // so one read answers, found or not, as the room and then the participant would.
        let p = match participant.parse::<ParticipantSid>() {
            Ok(sid) => st
                .store
                .participant(sid)
                .await?
                .filter(|p| p.room_sid == room_sid && p.account_sid == caller.account_sid)
                .ok_or_else(|| not_found(&uri))?,
            Err(_) => {
                let room = resolve_room(&st, caller, &room, &uri).await?;
                resolve_participant(&st, &room, &participant, &uri).await?
            }
        };
        Ok(written(&st, &p))
    };
    cache::room_read(&st, caller.account_sid, room_sid, &uri, one).await
}

/// A participant's resource, written.
fn written(st: &ApiState, p: &Participant) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    ParticipantResource::new(p, &st.public_url).write_json(&mut out);
    out
}

/// `POST …/Participants/{ParticipantIdentityOrSid}` with `Status=disconnected`: removes the
/// participant from the room; its client is told and its connection closed.
pub(crate) async fn update(
    State(st): State<Arc<ApiState>>,
    caller: Caller,
    OriginalUri(uri): OriginalUri,
    Segment2(room, participant): Segment2,
    Form(form): Form,
) -> ApiResult<(StatusCode, Response)> {
    let room = resolve_room(&st, caller, &room, &uri).await?;
    let p = resolve_participant(&st, &room, &participant, &uri).await?;
    if form.get("Status") != Some("disconnected") {
        return Err(vroom_domain::Error::ParticipantStatusInvalid {
            why: "only 'disconnected' can be set",
        }
        .into());
    }
    let record = if p.status == ParticipantStatus::Connected {
        match st.hub.kick(&room, p.sid).await {
            Ok(record) => record,
            // It left on its own a moment ago: the record says so.
            Err(vroom_rooms::HubError::Domain(vroom_domain::Error::ParticipantNotFound)) => {
                st.store.participant(p.sid).await?.unwrap_or(p)
            }
            Err(e) => return Err(e.into()),
        }
    } else {
        p
    };
    Ok((
        StatusCode::ACCEPTED,
        crate::json(&ParticipantResource::new(&record, &st.public_url), 1024),
    ))
}

/// `POST …/Participants/{Sid}/Anonymize`: replaces a disconnected participant's identity with its
/// SID, for good.
pub(crate) async fn anonymize(
    State(st): State<Arc<ApiState>>,
    caller: Caller,
    OriginalUri(uri): OriginalUri,
    Segment2(room, participant): Segment2,
) -> ApiResult<Response> {
    let room = resolve_room(&st, caller, &room, &uri).await?;
    let mut p = resolve_participant(&st, &room, &participant, &uri).await?;
    if p.status != ParticipantStatus::Disconnected {
        return Err(vroom_domain::Error::ParticipantStatusInvalid {
            why: "only a disconnected participant can be anonymized",
        }
        .into());
    }
    let anonymous = p.sid.to_string();
    if p.identity != anonymous {
        let at = st.hub.clock().now();
        st.store
            .apply(&[Change::AnonymizeParticipant { sid: p.sid, at }], &[])
            .await?;
        p.identity = anonymous;
        p.date_updated = at;
    }
    Ok(crate::json(
        &ParticipantResource::anonymized(&p, &st.public_url),
        1024,
    ))
}
