"""Conformance suite: Twilio's official Python helper library (twilio on PyPI, pinned in
requirements.txt) against a running vroom.

Environment: VROOM_BASE_URL (http://127.0.0.1:PORT), VROOM_ACCOUNT_SID, VROOM_AUTH_TOKEN,
VROOM_API_KEY_SID, VROOM_API_KEY_SECRET. Prints one line per check and exits non-zero on the first
failure. Run by tests/it/sdk.rs (`cargo test --test it sdk`); by hand:
    .venv-sdk/bin/python tests/sdk/python/conformance.py
"""

import os
import sys
import time
import traceback
import uuid
from datetime import datetime, timedelta, timezone

# Region and edge settings make the library rewrite every host; the suite must talk to vroom.
os.environ.pop("TWILIO_REGION", None)
os.environ.pop("TWILIO_EDGE", None)

from twilio.base.exceptions import TwilioException, TwilioRestException  # noqa: E402
from twilio.jwt.access_token import AccessToken  # noqa: E402
from twilio.jwt.access_token.grants import VideoGrant  # noqa: E402
from twilio.rest import Client  # noqa: E402

from peer import Peer, track  # noqa: E402


def env(name):
    value = os.environ.get(name)
    if not value:
        sys.exit(f"FAIL setup: the environment variable {name} is not set")
    return value


BASE = env("VROOM_BASE_URL").rstrip("/")
ACCOUNT_SID = env("VROOM_ACCOUNT_SID")
AUTH_TOKEN = env("VROOM_AUTH_TOKEN")
KEY_SID = env("VROOM_API_KEY_SID")
KEY_SECRET = env("VROOM_API_KEY_SECRET")
WS_URL = "ws" + BASE[len("http"):] + "/signaling"
WRONG_SECRET = "this-is-not-the-secret-of-the-api-key"
# Names made unique per run, so the suite also works against a server that has seen other runs.
RUN = uuid.uuid4().hex[:8]


def client(user=KEY_SID, password=KEY_SECRET):
    c = Client(user, password, ACCOUNT_SID)
    c.video.base_url = BASE
    return c


API = client()
ROOMS = API.video.v1.rooms


def check(name, fn, *args):
    """Runs one check; prints `ok <name>` or the failure, and stops the suite on the first failure."""
    try:
        result = fn(*args)
    except Exception as e:  # noqa: BLE001 - every failure ends the suite with its story
        print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)
        traceback.print_exc(file=sys.stdout)
        sys.stdout.flush()
        sys.exit(1)
    print(f"ok   {name}", flush=True)
    return result


def expect(condition, message):
    if not condition:
        raise AssertionError(message)


def eq(actual, expected, what):
    expect(actual == expected, f"{what}: expected {expected!r}, got {actual!r}")


def rest_error(fn, status, code):
    """Calls `fn`, which must raise TwilioRestException with this HTTP status and Twilio code."""
    try:
        fn()
    except TwilioRestException as e:
        expect(e.status == status and e.code == code, f"expected HTTP {status} / code {code}, got HTTP {e.status} / code {e.code}: {e.msg}")
        return e
    raise AssertionError(f"expected TwilioRestException {status} / {code}, but the call succeeded")


def is_utc_datetime(value):
    return isinstance(value, datetime) and value.utcoffset() == timedelta(0)


def eventually(what, condition, wait=10.0):
    """Polls `condition` until it returns a true value (state settles asynchronously)."""
    deadline = time.monotonic() + wait
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        time.sleep(0.05)


def token(identity, room=None, secret=KEY_SECRET, ttl=3600, valid_until=None, region=None):
    t = AccessToken(ACCOUNT_SID, KEY_SID, secret, identity=identity, ttl=ttl, valid_until=valid_until, region=region)
    t.add_grant(VideoGrant(room=room))
    return t.to_jwt()


def once(sids, listed, what):
    """Every SID of `sids` appears exactly once in `listed`, and `listed` has no duplicates."""
    listed = list(listed)
    expect(len(listed) == len(set(listed)), f"{what}: a record came back twice: {listed}")
    missing = [s for s in sids if s not in listed]
    expect(not missing, f"{what}: missing {missing}")


# ---------------------------------------------------------------------------------------------------
# Credentials


def wrong_secret():
    bad = client(password=WRONG_SECRET)
    e = rest_error(lambda: bad.video.v1.rooms.create(), 401, 20003)
    rest_error(lambda: bad.video.v1.rooms("RM" + "0" * 32).fetch(), 401, 20003)
    expect("Authenticate" in e.msg, f"message: {e.msg}")


def account_credentials():
    c = client(ACCOUNT_SID, AUTH_TOKEN)
    room = c.video.v1.rooms.create()
    eq(room.account_sid, ACCOUNT_SID, "account_sid")
    c.video.v1.rooms(room.sid).update(status="completed")


# ---------------------------------------------------------------------------------------------------
# Rooms


def create_full():
    name = f"py full {RUN}"
    response = ROOMS.create_with_http_info(
        enable_turn=True,
        type="group",
        unique_name=name,
        status_callback="http://127.0.0.1:9/status",
        status_callback_method="GET",
        max_participants=10,
        record_participants_on_connect=True,
        transcribe_participants_on_connect=True,
        video_codecs=["VP8", "H264"],
        media_region="de1",
        recording_rules=[{"type": "include", "all": True}, {"type": "exclude", "kind": "video"}],
        transcriptions_configuration={"languageCode": "en-US"},
        audio_only=False,
        max_participant_duration=600,
        empty_room_timeout=1,
        unused_room_timeout=60,
        large_room=False,
    )
    eq(response.status_code, 201, "HTTP status")
    r = response.data
    expect(r.sid.startswith("RM") and len(r.sid) == 34, f"sid {r.sid}")
    eq(r.status, "in-progress", "status")
    eq(r.unique_name, name, "unique_name")
    eq(r.account_sid, ACCOUNT_SID, "account_sid")
    eq(r.type, "group", "type")
    eq(r.status_callback, "http://127.0.0.1:9/status", "status_callback")
    eq(r.status_callback_method, "GET", "status_callback_method")
    eq(r.max_participants, 10, "max_participants")
    eq(r.record_participants_on_connect, True, "record_participants_on_connect")
    eq(r.video_codecs, ["VP8", "H264"], "video_codecs")
    eq(r.media_region, "de1", "media_region")
    eq(r.audio_only, False, "audio_only")
    eq(r.max_participant_duration, 600, "max_participant_duration")
    eq(r.empty_room_timeout, 1, "empty_room_timeout")
    eq(r.unused_room_timeout, 60, "unused_room_timeout")
    eq(r.large_room, False, "large_room")
    eq(r.enable_turn, True, "enable_turn")
    expect(isinstance(r.max_concurrent_published_tracks, int), f"max_concurrent_published_tracks {r.max_concurrent_published_tracks!r}")
    expect(is_utc_datetime(r.date_created) and is_utc_datetime(r.date_updated), f"dates must parse: {r.date_created!r} {r.date_updated!r}")
    eq(r.end_time, None, "end_time")
    eq(r.duration, None, "duration")
    eq(r.url, f"{BASE}/v1/Rooms/{r.sid}", "url")
    for link in ("participants", "recordings", "transcriptions", "recording_rules"):
        expect(r.links.get(link, "").startswith(f"{BASE}/v1/Rooms/{r.sid}/"), f"links.{link}: {r.links}")
    rules = ROOMS(r.sid).recording_rules.fetch()
    eq(rules.room_sid, r.sid, "recording rules room_sid")
    eq(rules.rules, [{"type": "include", "all": True}, {"type": "exclude", "kind": "video"}], "recording rules")
    return r


def create_defaults():
    r = ROOMS.create()
    eq(r.unique_name, r.sid, "unique_name of a room created without one")
    eq(r.type, "group", "type")
    eq(r.status, "in-progress", "status")
    eq(r.status_callback, None, "status_callback")
    eq(r.status_callback_method, "POST", "status_callback_method")
    eq(r.empty_room_timeout, 5, "empty_room_timeout")
    eq(r.unused_room_timeout, 5, "unused_room_timeout")
    eq(r.max_participant_duration, 14400, "max_participant_duration")
    eq(r.audio_only, False, "audio_only")
    eq(r.record_participants_on_connect, False, "record_participants_on_connect")
    return r


def create_audio_only():
    r = ROOMS.create(unique_name=f"py audio {RUN}", audio_only=True, video_codecs=["H264"], max_participants=2)
    eq(r.audio_only, True, "audio_only")
    eq(r.video_codecs, ["H264"], "video_codecs")
    eq(r.max_participants, 2, "max_participants")
    return r


def fetch_by_sid(room):
    r = ROOMS(room.sid).fetch()
    eq(r.sid, room.sid, "sid")
    eq(r.unique_name, room.unique_name, "unique_name")
    eq(r.video_codecs, room.video_codecs, "video_codecs")
    eq(r.date_created, room.date_created, "date_created")


def fetch_by_name(room):
    r = ROOMS(room.unique_name).fetch()
    eq(r.sid, room.sid, "sid fetched by UniqueName (with spaces)")
    odd = ROOMS.create(unique_name=f"py c++ & ünïcødé {RUN}")
    eq(ROOMS(odd.unique_name).fetch().sid, odd.sid, "fetched by a UniqueName with + & and non-ASCII")
    eq([x.sid for x in ROOMS.list(unique_name=odd.unique_name)], [odd.sid], "listed by that UniqueName")
    ROOMS(odd.sid).update(status="completed")


def list_filters(full, plain, audio):
    in_progress = [r.sid for r in ROOMS.list()]
    once([full.sid, plain.sid, audio.sid], in_progress, "default list (in-progress)")
    by_name = ROOMS.list(unique_name=full.unique_name)
    eq([r.sid for r in by_name], [full.sid], "UniqueName filter")
    eq([r.sid for r in ROOMS.list(status="in-progress", unique_name=audio.unique_name)], [audio.sid], "Status+UniqueName")
    completed = [r.sid for r in ROOMS.list(status="completed")]
    expect(full.sid not in completed, "an in-progress room listed as completed")
    after = [r.sid for r in ROOMS.list(date_created_after=full.date_created)]
    once([full.sid, plain.sid, audio.sid], after, "DateCreatedAfter (inclusive)")
    later = full.date_created + timedelta(days=1)
    eq([r.sid for r in ROOMS.list(date_created_after=later)], [], "DateCreatedAfter tomorrow")
    eq([r.sid for r in ROOMS.list(date_created_before=datetime(2001, 1, 1, tzinfo=timezone.utc))], [], "DateCreatedBefore 2001")
    before = [r.sid for r in ROOMS.list(date_created_before=later)]
    once([full.sid], before, "DateCreatedBefore tomorrow")
    window = ROOMS.list(date_created_after=full.date_created - timedelta(seconds=1), date_created_before=later, unique_name=full.unique_name)
    eq([r.sid for r in window], [full.sid], "both date filters with UniqueName")


def paging_rooms():
    made = [ROOMS.create(unique_name=f"py page {RUN} {i}").sid for i in range(7)]
    listed = [r.sid for r in ROOMS.list(page_size=2)]
    once(made, listed, "list(page_size=2)")
    streamed = [r.sid for r in ROOMS.stream(page_size=2)]
    once(made, streamed, "stream(page_size=2)")
    eq(streamed, listed, "stream and list agree")
    eq(len(ROOMS.list(limit=3, page_size=2)), 3, "list(limit=3, page_size=2)")
    eq(len(list(ROOMS.stream(limit=5, page_size=2))), 5, "stream(limit=5, page_size=2)")
    yesterday = datetime.now(timezone.utc) - timedelta(days=1)
    once(made, [r.sid for r in ROOMS.list(date_created_after=yesterday, page_size=2)], "DateCreatedAfter over pages")
    # Walk the pages by hand: absolute next/previous URLs on this server, and back again. A page is
    # an iterator over its records, read once.
    first = ROOMS.page(page_size=2)
    expect(first.next_page_url and first.next_page_url.startswith(BASE + "/v1/Rooms?"), f"next_page_url {first.next_page_url}")
    eq(first.previous_page_url, None, "previous_page_url of the first page")
    second = first.next_page()
    expect(second.previous_page_url and second.previous_page_url.startswith(BASE + "/v1/Rooms?"), f"previous_page_url {second.previous_page_url}")
    first_sids = [r.sid for r in first]
    second_sids = [r.sid for r in second]
    eq(len(first_sids), 2, "first page size")
    eq(len(second_sids), 2, "second page size")
    expect(not set(first_sids) & set(second_sids), "pages overlap")
    eq([r.sid for r in second.previous_page()], first_sids, "previous_page of page 2")
    walked = list(first_sids) + second_sids
    page = second
    pages = 2
    last_sids = second_sids
    while page.next_page_url:
        page = page.next_page()
        last_sids = [r.sid for r in page]
        walked += last_sids
        pages += 1
    eq(walked, listed, "records walked page by page")
    # And back from the last page to the first through previous_page_url.
    backwards = last_sids
    while (page := page.previous_page()) is not None:
        backwards = [r.sid for r in page] + backwards
    eq(backwards, listed, "records walked back with previous_page")
    expect(pages >= 5, f"{len(listed)} rooms in pages of 2 should take at least 5 pages, took {pages}")
    return made


def complete():
    room = ROOMS.create(unique_name=f"py done {RUN}")
    response = ROOMS(room.sid).update_with_http_info(status="completed")
    eq(response.status_code, 202, "HTTP status")
    r = response.data
    eq(r.status, "completed", "status")
    expect(is_utc_datetime(r.end_time), f"end_time {r.end_time!r}")
    expect(isinstance(r.duration, int) and r.duration >= 0, f"duration {r.duration!r}")
    fetched = ROOMS(room.sid).fetch()
    eq(fetched.status, "completed", "status fetched by SID")
    rest_error(lambda: ROOMS(room.unique_name).fetch(), 404, 20404)
    return r


def reuse_name(room):
    again = ROOMS.create(unique_name=room.unique_name)
    expect(again.sid != room.sid, "a new room gets a new SID")
    eq(ROOMS(room.unique_name).fetch().sid, again.sid, "the name now means the new room")
    return again


def paging_completed(made):
    for sid in made:
        ROOMS(sid).update(status="completed")
    completed = [r.sid for r in ROOMS.list(status="completed", page_size=2)]
    once(made, completed, "list(status=completed, page_size=2)")
    eq([r.sid for r in ROOMS.list(status="completed", unique_name=f"py page {RUN} 3", page_size=1)], [made[3]], "completed by UniqueName")
    in_progress = [r.sid for r in ROOMS.list(page_size=2)]
    expect(not set(made) & set(in_progress), "completed rooms listed as in-progress")


def room_errors(full, completed):
    rest_error(lambda: ROOMS.create(unique_name=full.unique_name), 400, 53113)
    rest_error(lambda: ROOMS.create(type="huge"), 400, 53108)
    rest_error(lambda: ROOMS.create(max_participants=51), 400, 53107)
    rest_error(lambda: ROOMS.create(max_participants=0), 400, 53107)
    rest_error(lambda: ROOMS.create(empty_room_timeout=0), 400, 53109)
    rest_error(lambda: ROOMS.create(unused_room_timeout=61), 400, 53109)
    rest_error(lambda: ROOMS.create(status_callback_method="PUT"), 400, 53110)
    rest_error(lambda: ROOMS.create(status_callback="not a url"), 400, 53111)
    rest_error(lambda: ROOMS.create(media_region="mars1"), 400, 53115)
    rest_error(lambda: ROOMS.create(recording_rules=[]), 400, 53120)
    rest_error(lambda: ROOMS.create(max_participant_duration=10), 400, 53123)
    missing = "RM" + "f" * 32
    e = rest_error(lambda: ROOMS(missing).fetch(), 404, 20404)
    expect(f"/Rooms/{missing}" in e.msg, f"404 message names the path: {e.msg}")
    rest_error(lambda: ROOMS(f"py nobody {RUN}").fetch(), 404, 20404)
    rest_error(lambda: ROOMS(missing).update(status="completed"), 404, 20404)
    rest_error(lambda: ROOMS(full.sid).update(status="in-progress"), 400, 53112)
    rest_error(lambda: ROOMS(completed.sid).update(status="completed"), 400, 53112)
    # A list page that fails is a plain TwilioException in this library (no code).
    try:
        ROOMS.list(status="bogus")
    except TwilioRestException as e:
        raise AssertionError(f"list raised a TwilioRestException: {e}") from None
    except TwilioException:
        pass
    else:
        raise AssertionError("list with Status=bogus succeeded")


# ---------------------------------------------------------------------------------------------------
# Participants


def connect_peer(identity, room_name, grant_room=None, tracks=(), region=None):
    peer = Peer(WS_URL, token(identity, grant_room, region=region), room_name, tracks)
    answer = peer.answer
    expect(answer.get("type") == "connected", f"{identity} could not connect: {answer}")
    expect(peer.sid and peer.sid.startswith("PA"), f"participant sid {peer.sid}")
    eq(answer["participant"].get("identity"), identity, "identity in connected")
    return peer


def tokens_accepted(room):
    alice = connect_peer("alice", room.unique_name, grant_room=room.unique_name, tracks=[track("a1", "audio", "mic"), track("v1", "video", "cam")])
    bob = connect_peer("bob", room.unique_name, region="ie1")  # a `twr` header in the token
    eq(alice.answer.get("sid"), room.sid, "room sid in connected")
    return alice, bob


def tokens_refused(room):
    peer = Peer(WS_URL, token("mallory", secret=WRONG_SECRET), room.unique_name)
    try:
        eq(peer.answer.get("type"), "error", "answer to a token signed with the wrong secret")
        eq(peer.answer.get("code"), 20107, "error code")
    finally:
        peer.close()
    peer = Peer(WS_URL, token("mallory", room=f"py other {RUN}"), room.unique_name)
    try:
        eq(peer.answer.get("type"), "error", "answer to a token granted for another room")
    finally:
        peer.close()
    peer = Peer(WS_URL, token("mallory", valid_until=int(time.time()) - 3600), room.unique_name)
    try:
        eq((peer.answer.get("type"), peer.answer.get("code")), ("error", 20104), "answer to an expired token")
    finally:
        peer.close()
    peer = Peer(WS_URL, token("mallory", ttl=2 * 86400), room.unique_name)
    try:
        eq(peer.answer.get("type"), "error", "answer to a token valid for more than 24 hours")
        expect(peer.answer.get("code") in (20104, 20157), f"error code {peer.answer.get('code')}")
    finally:
        peer.close()


def participants_list(room, alice, bob):
    parts = ROOMS(room.sid).participants
    connected = {p.identity: p for p in parts.list()}
    eq(sorted(connected), ["alice", "bob"], "default list (connected)")
    eq(connected["alice"].sid, alice.sid, "alice's SID")
    eq([p.sid for p in parts.list(identity="bob")], [bob.sid], "Identity filter")
    eq([p.sid for p in parts.list(status="connected", identity="alice")], [alice.sid], "Status+Identity")
    eq(parts.list(status="disconnected"), [], "Status=disconnected before anyone left")
    created = connected["alice"].date_created
    once([alice.sid, bob.sid], [p.sid for p in parts.list(date_created_after=created - timedelta(seconds=1))], "DateCreatedAfter")
    eq(parts.list(date_created_before=datetime(2001, 1, 1, tzinfo=timezone.utc)), [], "DateCreatedBefore 2001")
    eq(parts.list(date_created_after=created + timedelta(days=1)), [], "DateCreatedAfter tomorrow")
    once([alice.sid, bob.sid], [p.sid for p in parts.list(date_created_before=created + timedelta(days=1))], "DateCreatedBefore tomorrow")
    by_name = [p.sid for p in ROOMS(room.unique_name).participants.list(page_size=1)]
    once([alice.sid, bob.sid], by_name, "list(page_size=1) through the room's UniqueName")


def participant_fetch(room, alice):
    p = ROOMS(room.sid).participants(alice.sid).fetch()
    eq(p.sid, alice.sid, "sid")
    eq(p.identity, "alice", "identity")
    eq(p.room_sid, room.sid, "room_sid")
    eq(p.account_sid, ACCOUNT_SID, "account_sid")
    eq(p.status, "connected", "status")
    expect(is_utc_datetime(p.start_time) and is_utc_datetime(p.date_created), f"dates: {p.start_time!r} {p.date_created!r}")
    eq(p.end_time, None, "end_time")
    eq(p.duration, None, "duration")
    eq(p.url, f"{BASE}/v1/Rooms/{room.sid}/Participants/{alice.sid}", "url")
    for link in ("published_tracks", "subscribed_tracks", "subscribe_rules", "anonymize"):
        expect(p.links.get(link, "").startswith(p.url + "/"), f"links.{link}: {p.links}")
    by_identity = ROOMS(room.unique_name).participants("alice").fetch()
    eq(by_identity.sid, alice.sid, "fetched by identity")
    rest_error(lambda: ROOMS(room.sid).participants("nobody").fetch(), 404, 20404)
    rest_error(lambda: ROOMS(room.sid).participants("PA" + "0" * 32).fetch(), 404, 20404)


def published_tracks(room, alice, bob):
    tracks = ROOMS(room.sid).participants(alice.sid).published_tracks
    listed = {t.name: t for t in tracks.list()}
    eq(sorted(listed), ["cam", "mic"], "published track names")
    eq(listed["mic"].kind, "audio", "mic kind")
    eq(listed["cam"].kind, "video", "cam kind")
    eq(listed["mic"].sid, alice.published.get("a1"), "mic SID matches the one signaling gave")
    for t in listed.values():
        expect(t.sid.startswith("MT"), f"track sid {t.sid}")
        eq(t.participant_sid, alice.sid, "participant_sid")
        eq(t.room_sid, room.sid, "room_sid")
        eq(t.enabled, True, "enabled")
        eq(t.url, f"{BASE}/v1/Rooms/{room.sid}/Participants/{alice.sid}/PublishedTracks/{t.sid}", "url")
    eq(tracks(listed["cam"].sid).fetch().name, "cam", "fetch by track SID")
    eq(ROOMS(room.unique_name).participants("alice").published_tracks("mic").fetch().sid, listed["mic"].sid, "fetch by track name")
    eq(len(tracks.list(page_size=1)), 2, "list(page_size=1)")
    eq(ROOMS(room.sid).participants(bob.sid).published_tracks.list(), [], "bob publishes nothing")
    rest_error(lambda: tracks("MT" + "0" * 32).fetch(), 404, 20404)


def kick(room, bob):
    response = ROOMS(room.sid).participants(bob.sid).update_with_http_info(status="disconnected")
    eq(response.status_code, 202, "HTTP status")
    eq(response.data.status, "disconnected", "status")
    error = bob.ending()
    eq((error.get("type"), error.get("code")), ("error", 53204), "signaling message sent to the kicked participant")
    bob.wait_closed()  # the server closes the connection itself after a short grace
    p = ROOMS(room.sid).participants(bob.sid).fetch()
    eq(p.status, "disconnected", "status fetched by SID")
    expect(is_utc_datetime(p.end_time), f"end_time {p.end_time!r}")
    expect(isinstance(p.duration, int) and p.duration >= 0, f"duration {p.duration!r}")
    rest_error(lambda: ROOMS(room.sid).participants("bob").fetch(), 404, 20404)
    eq([x.sid for x in ROOMS(room.sid).participants.list(status="disconnected")], [bob.sid], "Status=disconnected")
    eq([x.identity for x in ROOMS(room.sid).participants.list()], ["alice"], "connected after the kick")


def participant_errors(room, alice):
    rest_error(lambda: ROOMS(room.sid).participants(alice.sid).update(status="connected"), 400, 53209)
    rest_error(lambda: ROOMS(room.sid).participants("nobody").update(status="disconnected"), 404, 20404)
    rest_error(lambda: ROOMS(room.sid).participants(alice.sid).anonymize().update(), 400, 53209)
    rest_error(lambda: ROOMS("RM" + "e" * 32).participants("alice").fetch(), 404, 20404)


def anonymize(room, bob):
    response = ROOMS(room.sid).participants(bob.sid).anonymize().update_with_http_info()
    eq(response.status_code, 200, "HTTP status")
    a = response.data
    eq(a.sid, bob.sid, "sid")
    eq(a.identity, bob.sid, "identity replaced by the SID")
    eq(a.status, "disconnected", "status")
    expect(a.url.endswith(f"/Participants/{bob.sid}/Anonymize"), f"url {a.url}")
    eq(ROOMS(room.sid).participants(bob.sid).fetch().identity, bob.sid, "identity after anonymize")


def paging_participants(room, alice):
    peers = [connect_peer(f"pager-{i}", room.unique_name) for i in range(5)]
    want = [alice.sid] + [p.sid for p in peers]
    parts = ROOMS(room.sid).participants
    listed = [p.sid for p in parts.list(page_size=2)]
    once(want, listed, "participants list(page_size=2)")
    eq(len(listed), 6, "connected participants")
    once(want, [p.sid for p in parts.stream(page_size=2)], "participants stream(page_size=2)")
    once(want[1:3], [p.sid for p in parts.list(identity="pager-0", page_size=1)] + [p.sid for p in parts.list(identity="pager-1")], "Identity filter")
    return peers


def odd_identity(room):
    identity = "zoë & co+1"
    peer = connect_peer(identity, room.unique_name, tracks=[track("s1", "audio", "my mic")])
    try:
        parts = ROOMS(room.sid).participants
        eq(parts(identity).fetch().sid, peer.sid, "fetched by an identity with spaces, & and +")
        eq([p.sid for p in parts.list(identity=identity)], [peer.sid], "Identity filter")
        eq(parts(identity).published_tracks("my mic").fetch().sid, peer.published.get("s1"), "track fetched by a name with a space")
    finally:
        peer.leave()
    eventually("the participant who left is disconnected", lambda: ROOMS(room.sid).participants(peer.sid).fetch().status == "disconnected")
    return peer


def duplicate_identity(room):
    first = connect_peer("twin", room.unique_name)
    second = connect_peer("twin", room.unique_name)
    try:
        ending = first.ending()
        eq((ending.get("type"), ending.get("code")), ("error", 53205), "signaling message to the participant taken over")
        first.leave()
        parts = ROOMS(room.sid).participants
        eventually("the first twin is disconnected", lambda: parts(first.sid).fetch().status == "disconnected")
        eq(parts("twin").fetch().sid, second.sid, "fetch by identity finds the connected one")
        eq([p.sid for p in parts.list(identity="twin")], [second.sid], "Identity filter (connected by default)")
        eq([p.sid for p in parts.list(identity="twin", status="disconnected")], [first.sid], "Identity+Status=disconnected")
    finally:
        second.leave()
    eventually("the second twin is disconnected", lambda: ROOMS(room.sid).participants(second.sid).fetch().status == "disconnected")


def leave(room, peer):
    peer.leave()
    eventually("the participant who left is disconnected", lambda: ROOMS(room.sid).participants(peer.sid).fetch().status == "disconnected")
    rest_error(lambda: ROOMS(room.sid).participants("pager-0").fetch(), 404, 20404)


def complete_with_participants(room, alice, peers):
    ROOMS(room.sid).update(status="completed")
    for peer in [alice] + peers:
        ending = peer.ending()
        # twilio-video.js turns this into RoomCompletedError (53118), then says goodbye.
        eq((ending.get("type"), ending.get("status")), ("disconnected", "completed"), "signaling message when the room completes")
        peer.leave()
    parts = ROOMS(room.sid).participants
    everyone = [p.sid for p in parts.list(page_size=2)]
    eq(len(everyone), 10, "a completed room lists its (disconnected) participants")
    eq(len(list(parts.stream(status="disconnected", page_size=3))), 10, "stream(status=disconnected, page_size=3)")
    expect(all(p.status == "disconnected" for p in parts.list()), "everyone is disconnected")
    eq(parts.list(status="connected"), [], "Status=connected of a completed room")
    eq(ROOMS(room.sid).participants(alice.sid).published_tracks.list(), [], "no published tracks after completion")


def main():
    print(f"twilio-python against {BASE}", flush=True)
    check("credentials: a wrong API key secret is refused (TwilioRestException 401 / 20003)", wrong_secret)
    check("credentials: the account SID and auth token work as well as the API key", account_credentials)
    full = check("rooms: create with every parameter (201, every field read back)", create_full)
    plain = check("rooms: create with no parameters gets Twilio's defaults", create_defaults)
    audio = check("rooms: create an audio-only room", create_audio_only)
    check("rooms: fetch by SID", fetch_by_sid, full)
    check("rooms: fetch by UniqueName (spaces, +, &, non-ASCII)", fetch_by_name, full)
    check("rooms: list with Status, UniqueName, DateCreatedAfter and DateCreatedBefore", list_filters, full, plain, audio)
    made = check("rooms: paging over several pages (list, stream, page, next_page, previous_page)", paging_rooms)
    done = check("rooms: update Status=completed (202); fetch by name then 404s", complete)
    check("rooms: paging with Status=completed carries the filter to every page", paging_completed, made)
    check("rooms: a completed room's UniqueName can be used again", reuse_name, done)
    check("rooms: errors (53113, 53108, 53107, 53109, 53110, 53111, 53115, 53120, 53123, 20404, 53112)", room_errors, full, done)

    room = ROOMS.create(unique_name=f"py participants {RUN}")
    alice, bob = check("tokens: AccessToken + VideoGrant (with and without a room, with a region) accepted at /signaling", tokens_accepted, room)
    check("tokens: a token with a wrong signature, another room, expired or too long-lived is refused", tokens_refused, room)
    check("participants: list with Status, Identity, DateCreatedAfter and DateCreatedBefore", participants_list, room, alice, bob)
    check("participants: fetch by SID and by identity", participant_fetch, room, alice)
    check("published tracks: list and fetch by SID and by name", published_tracks, room, alice, bob)
    check("participants: kick with Status=disconnected (202, client told 53204)", kick, room, bob)
    check("participants: errors (53209, 20404)", participant_errors, room, alice)
    check("participants: anonymize a disconnected participant (200)", anonymize, room, bob)
    peers = check("participants: paging over several pages", paging_participants, room, alice)
    check("participants: a participant who leaves is disconnected", leave, room, peers[0])
    check("participants: identities and track names with spaces, &, + and non-ASCII", odd_identity, room)
    check("participants: a second connection with the same identity takes over (53205)", duplicate_identity, room)
    check("rooms: completing a room disconnects everyone (client told it completed)", complete_with_participants, room, alice, peers[1:])
    print("python conformance: all checks passed", flush=True)


if __name__ == "__main__":
    main()
