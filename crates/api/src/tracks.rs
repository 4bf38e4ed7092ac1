//! A participant's tracks: `PublishedTracks`, `SubscribedTracks` and `SubscribeRules`. These are
//! live state, read from the room's task: a participant that is not connected to a room in progress
//! publishes and receives nothing.

use std::sync::Arc;

use axum::Json;
use axum::extract::{OriginalUri, State};
use serde_json::{Value, json};
use vroom_domain::live::{ParticipantView, Subscription};
use vroom_domain::page::Page;
use vroom_domain::participant::{Participant, ParticipantStatus};
use vroom_domain::room::Room;
use vroom_domain::sid::TrackSid;
use vroom_domain::track::PublishedTrack;
use vroom_rooms::RoomSnapshot;

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::form::Form;
use crate::paging::{listing, page_in_memory, paging};
use crate::participants::resolve_participant;
use crate::rules::{Purpose, parse};
use crate::wire::{PublishedTrackResource, SubscribedTrackResource, date, rules_json};
use crate::{ApiState, Segment2, Segment3, list_base, not_found, query_of, resolve_room};

/// The live state of `p`'s room, if `p` is connected to it.
async fn live(st: &ApiState, room: &Room, p: &Participant) -> ApiResult<Option<RoomSnapshot>> {
    if p.status != ParticipantStatus::Connected {
        return Ok(None);
    }
    Ok(st.hub.snapshot(room).await?)
}

/// The tracks a participant publishes now.
async fn published(
    st: &ApiState,
    room: &Room,
    p: &Participant,
) -> ApiResult<Vec<(ParticipantView, PublishedTrack)>> {
    let Some(snapshot) = live(st, room, p).await? else {
        return Ok(Vec::new());
    };
    Ok(snapshot
        .participants
        .into_iter()
        .filter(|v| v.sid == p.sid)
        .flat_map(|v| v.tracks.clone().into_iter().map(move |t| ((*v).clone(), t)))
        .collect())
}

/// The tracks a participant receives now.
async fn subscribed(st: &ApiState, room: &Room, p: &Participant) -> ApiResult<Vec<Subscription>> {
    let Some(mut snapshot) = live(st, room, p).await? else {
        return Ok(Vec::new());
    };
    Ok(snapshot.subscriptions.remove(&p.sid).unwrap_or_default())
}

/// `GET …/Participants/{…}/PublishedTracks`
pub(crate) async fn list_published(
    State(st): State<Arc<ApiState>>,
    caller: Caller,
    OriginalUri(uri): OriginalUri,
    Segment2(room, participant): Segment2,
) -> ApiResult<axum::response::Response> {
    let room = resolve_room(&st, caller, &room, &uri).await?;
    let p = resolve_participant(&st, &room, &participant, &uri).await?;
    let paging = paging(&query_of(&uri))?;
    let tracks = published(&st, &room, &p).await?;
    let page: Page<(ParticipantView, PublishedTrack)> =
        page_in_memory(tracks, &paging.request, |(_, t)| {
            (t.date_created, t.sid.to_string())
        })?;
    Ok(listing(
        &list_base(&st, &uri),
        &[],
        &paging,
        &page,
        "published_tracks",
        |(v, t)| PublishedTrackResource::new(&room, v, t, &st.public_url),
        |(_, t)| t.sid.to_string(),
    ))
}

/// `GET …/Participants/{…}/PublishedTracks/{TrackNameOrSid}`
pub(crate) async fn fetch_published(
    State(st): State<Arc<ApiState>>,
    caller: Caller,
    OriginalUri(uri): OriginalUri,
    Segment3(room, participant, track): Segment3,
) -> ApiResult<Json<PublishedTrackResource>> {
    let room = resolve_room(&st, caller, &room, &uri).await?;
    let p = resolve_participant(&st, &room, &participant, &uri).await?;
    let by_sid = track.parse::<TrackSid>().ok();
    let (view, t) = published(&st, &room, &p)
        .await?
        .into_iter()
        .find(|(_, t)| Some(t.sid) == by_sid || t.info.name == track)
        .ok_or_else(|| not_found(&uri))?;
    Ok(Json(PublishedTrackResource::new(
        &room,
        &view,
        &t,
        &st.public_url,
    )))
}

/// `GET …/Participants/{…}/SubscribedTracks`
pub(crate) async fn list_subscribed(
    State(st): State<Arc<ApiState>>,
    caller: Caller,
    OriginalUri(uri): OriginalUri,
    Segment2(room, participant): Segment2,
) -> ApiResult<axum::response::Response> {
    let room = resolve_room(&st, caller, &room, &uri).await?;
    let p = resolve_participant(&st, &room, &participant, &uri).await?;
    let paging = paging(&query_of(&uri))?;
    let subs = subscribed(&st, &room, &p).await?;
    let page = page_in_memory(subs, &paging.request, |s| (s.since, s.track.to_string()))?;
    Ok(listing(
        &list_base(&st, &uri),
        &[],
        &paging,
        &page,
        "subscribed_tracks",
        |s| SubscribedTrackResource::new(&room, &p, s, &st.public_url),
        |s| s.track.to_string(),
    ))
}

/// `GET …/Participants/{…}/SubscribedTracks/{Sid}` (by SID only: names are not unique here).
pub(crate) async fn fetch_subscribed(
    State(st): State<Arc<ApiState>>,
    caller: Caller,
    OriginalUri(uri): OriginalUri,
    Segment3(room, participant, track): Segment3,
) -> ApiResult<Json<SubscribedTrackResource>> {
    let room = resolve_room(&st, caller, &room, &uri).await?;
    let p = resolve_participant(&st, &room, &participant, &uri).await?;
    let sid = track.parse::<TrackSid>().map_err(|_| not_found(&uri))?;
    let s = subscribed(&st, &room, &p)
        .await?
        .into_iter()
        .find(|s| s.track == sid)
        .ok_or_else(|| not_found(&uri))?;
    Ok(Json(SubscribedTrackResource::new(
        &room,
        &p,
        &s,
        &st.public_url,
    )))
}

fn rules_resource(
    room: &Room,
    p: &Participant,
    rules: Option<&(
        Vec<vroom_domain::rules::SubscribeRule>,
        vroom_domain::time::Timestamp,
    )>,
) -> Value {
    json!({
        "participant_sid": p.sid.to_string(),
        "room_sid": room.sid.to_string(),
        "rules": rules.map_or_else(|| json!([]), |(r, _)| rules_json(r)),
        "date_created": rules.map(|(_, t)| date(*t)),
        "date_updated": rules.map(|(_, t)| date(*t)),
    })
}

/// `GET …/Participants/{…}/SubscribeRules`
pub(crate) async fn fetch_rules(
    State(st): State<Arc<ApiState>>,
    caller: Caller,
    OriginalUri(uri): OriginalUri,
    Segment2(room, participant): Segment2,
) -> ApiResult<Json<Value>> {
    let room = resolve_room(&st, caller, &room, &uri).await?;
    let p = resolve_participant(&st, &room, &participant, &uri).await?;
    let rules = live(&st, &room, &p)
        .await?
        .and_then(|mut s| s.rules.remove(&p.sid));
    Ok(Json(rules_resource(&room, &p, rules.as_ref())))
}

/// `POST …/Participants/{…}/SubscribeRules` with `Rules`: replaces the participant's rules; what it
/// receives changes at once (excluded tracks stop being forwarded).
pub(crate) async fn update_rules(
    State(st): State<Arc<ApiState>>,
    caller: Caller,
    OriginalUri(uri): OriginalUri,
    Segment2(room, participant): Segment2,
    Form(form): Form,
) -> ApiResult<Json<Value>> {
    let room = resolve_room(&st, caller, &room, &uri).await?;
    let p = resolve_participant(&st, &room, &participant, &uri).await?;
    let text = form
        .get("Rules")
        .ok_or_else(|| Purpose::Subscribe.missing())?;
    let rules = parse(text, Purpose::Subscribe)?;
    if p.status != ParticipantStatus::Connected {
        return Err(vroom_domain::Error::ParticipantNotFound.into());
    }
    let set = st.hub.set_subscribe_rules(&room, p.sid, rules).await?;
    Ok(Json(rules_resource(&room, &p, Some(&set))))
}
