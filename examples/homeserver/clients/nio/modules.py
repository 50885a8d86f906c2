"""The client-server modules flow of the example homeserver's tests, with
matrix-nio: threads, search, room upgrades, spaces, knocking and pushers.

Usage: modules.py HOMESERVER_URL PUSH_GATEWAY_URL

Two users (alice and bob) on one server. matrix-nio 0.20 has calls for
room creation (spaces too), joins, invites, sending, fetching one event
and upgrading a room; it has none for /threads, /relations, /search,
/hierarchy, /knock, /pushers and /notifications, so those go through its
generic authenticated request (AsyncClient.send) in `call` below.
Each step checks what the spec says the answer holds. Prints "ok" and
exits 0 when every step checked out; anything else is a failure with the
reason on stderr. The Go test checks what the push gateway received.
"""

import asyncio
import json
import secrets
import sys
from urllib.parse import quote, urlencode

from nio import (AsyncClient, JoinResponse, LoginResponse, RegisterResponse,
                 RoomCreateResponse, RoomGetEventResponse, RoomInviteResponse,
                 RoomPreset, RoomSendResponse, SyncResponse)
from nio.responses import RoomUpgradeResponse  # not exported by nio 0.20


def check(resp, kind, what):
    if not isinstance(resp, kind):
        raise SystemExit(f"{what}: unexpected answer {resp!r}")
    return resp


def expect(cond, what, got):
    if not cond:
        raise SystemExit(f"{what}: got {json.dumps(got)[:1500]}")


async def call(c, method, path, body=None, query=None, status=200):
    """An authenticated request through nio's generic AsyncClient.send,
    for the endpoints nio has no call for; returns the decoded answer."""
    q = dict(query or {})
    q["access_token"] = c.access_token
    data = json.dumps(body) if body is not None else None
    resp = await c.send(method, "/_matrix/client" + path + "?" + urlencode(q), data,
                        headers={"Content-Type": "application/json"})
    answer = await resp.json(content_type=None)
    if resp.status != status:
        raise SystemExit(f"{method} {path}: status {resp.status}, want {status}: {answer}")
    return answer


def rp(room_id):
    return "/rooms/" + quote(room_id, safe="")


async def user(url, name):
    c = AsyncClient(url, name)
    check(await c.register(name, "secret-" + name, "nio-modules"), RegisterResponse, "register " + name)
    await c.close()
    c = AsyncClient(url, name)
    check(await c.login("secret-" + name, device_name="nio-modules"), LoginResponse, "login " + name)
    return c


async def send(c, room, content, what):
    return check(await c.room_send(room, "m.room.message", content), RoomSendResponse, what).event_id


def text(body, **extra):
    return dict({"msgtype": "m.text", "body": body}, **extra)


async def threads(alice, bob, room):
    """A thread root, two replies, read back as /threads, the m.thread
    relations and the aggregation in the root's unsigned.m.relations."""
    root = await send(alice, room, text("thread root"), "root")
    rel = {"rel_type": "m.thread", "event_id": root, "is_falling_back": True, "m.in_reply_to": {"event_id": root}}
    r1 = await send(bob, room, text("first reply", **{"m.relates_to": rel}), "reply 1")
    r2 = await send(bob, room, text("second reply", **{"m.relates_to": rel}), "reply 2")

    listed = await call(alice, "GET", "/v1" + rp(room) + "/threads")
    chunk = listed.get("chunk", [])
    expect([e["event_id"] for e in chunk] == [root], "/threads lists the root alone", listed)
    agg = chunk[0].get("unsigned", {}).get("m.relations", {}).get("m.thread", {})
    expect(agg.get("count") == 2 and agg.get("latest_event", {}).get("event_id") == r2,
           "/threads: the thread summary counts 2 replies, the latest the second", chunk[0])

    # The root fetched by bob carries the aggregation, bob participated.
    ev = check(await bob.room_get_event(room, root), RoomGetEventResponse, "event root").event
    agg = ev.source.get("unsigned", {}).get("m.relations", {}).get("m.thread", {})
    expect(agg.get("count") == 2 and agg.get("current_user_participated") is True,
           "the root's unsigned m.thread aggregation for a participant", ev.source)

    rels = await call(alice, "GET", "/v1" + rp(room) + "/relations/" + quote(root, safe="") + "/m.thread")
    expect([e["event_id"] for e in rels.get("chunk", [])] == [r2, r1],
           "/relations/{root}/m.thread, newest first", rels)
    # Only participants: alice (the root's sender) and bob both are.
    mine = await call(alice, "GET", "/v1" + rp(room) + "/threads", query={"include": "participated"})
    expect([e["event_id"] for e in mine.get("chunk", [])] == [root], "/threads?include=participated", mine)


async def search(alice, bob, room):
    """/search finds the messages with a term, newest first with
    order_by recent, and highlights the term."""
    first = await send(bob, room, text("the quick brown fox"), "search message 1")
    second = await send(bob, room, text("brown bread for lunch"), "search message 2")
    await send(bob, room, text("nothing to see"), "search message 3")
    body = {"search_categories": {"room_events": {"search_term": "brown", "order_by": "recent",
                                                  "filter": {"rooms": [room]}}}}
    found = (await call(alice, "POST", "/v3/search", body))["search_categories"]["room_events"]
    ids = [r["result"]["event_id"] for r in found.get("results", [])]
    expect(ids == [second, first], "search brown, most recent first", found)
    expect(found.get("count") == 2, "search count", found)
    expect("brown" in [h.lower() for h in found.get("highlights", [])], "search highlights", found)


async def upgrade(alice, bob, room):
    """Room upgrade with the server's /upgrade: the tombstone in the old
    room, the predecessor in the new one, the name copied, the old room's
    power levels restricted, and bob follows. Then nio's own room_upgrade,
    which upgrades on the client side (createRoom with a predecessor,
    then the tombstone)."""
    up = await call(alice, "POST", "/v3" + rp(room) + "/upgrade", {"new_version": "11"})
    new = up.get("replacement_room", "")
    tomb = await call(bob, "GET", "/v3" + rp(room) + "/state/m.room.tombstone/")
    expect(tomb.get("replacement_room") == new, "tombstone names the new room", tomb)
    create = await call(alice, "GET", "/v3" + rp(new) + "/state/m.room.create/")
    expect(create.get("predecessor", {}).get("room_id") == room and create.get("room_version") == "11",
           "the new room's predecessor and version", create)
    name = await call(alice, "GET", "/v3" + rp(new) + "/state/m.room.name/")
    expect(name.get("name") == "nio modules", "the name copied to the new room", name)
    check(await bob.join(new), JoinResponse, "bob follows the upgrade")
    members = await call(alice, "GET", "/v3" + rp(new) + "/joined_members")
    expect(bob.user_id in members.get("joined", {}), "bob joined the new room", members)
    pl = await call(alice, "GET", "/v3" + rp(room) + "/state/m.room.power_levels/")
    expect(pl.get("events_default", 0) >= 50 and pl.get("invite", 0) >= 50,
           "the old room's power levels restrict sending and inviting", pl)

    old = check(await alice.room_create(name="client-side upgrade", room_version="10"), RoomCreateResponse,
                "create a room to upgrade on the client side").room_id
    await send(alice, old, text("before the upgrade"), "message before the client-side upgrade")
    new = check(await alice.room_upgrade(old, "11"), RoomUpgradeResponse, "nio room_upgrade").room_id
    tomb = await call(alice, "GET", "/v3" + rp(old) + "/state/m.room.tombstone/")
    create = await call(alice, "GET", "/v3" + rp(new) + "/state/m.room.create/")
    expect(tomb.get("replacement_room") == new and create.get("predecessor", {}).get("room_id") == old,
           "nio's client-side upgrade: tombstone and predecessor", [tomb, create])


async def spaces(alice, bob):
    """A public space with two children; bob reads /hierarchy."""
    space = check(await alice.room_create(name="nio space", space=True, preset=RoomPreset.public_chat),
                  RoomCreateResponse, "create space").room_id
    server = alice.user_id.split(":", 1)[1]
    children = []
    for n in ("child one", "child two"):
        child = check(await alice.room_create(name=n, preset=RoomPreset.public_chat), RoomCreateResponse,
                      "create " + n).room_id
        await call(alice, "PUT", "/v3" + rp(space) + "/state/m.space.child/" + quote(child, safe=""),
                   {"via": [server], "order": n})
        children.append(child)
    h = await call(bob, "GET", "/v1" + rp(space) + "/hierarchy")
    rooms = {r["room_id"]: r for r in h.get("rooms", [])}
    expect(set(rooms) == {space, *children}, "hierarchy lists the space and its children", h)
    top = rooms[space]
    expect(top.get("room_type") == "m.space" and top.get("name") == "nio space", "the space's summary", top)
    expect(sorted(s["state_key"] for s in top.get("children_state", [])) == sorted(children),
           "the space's children_state", top)
    expect(rooms[children[0]].get("join_rule") == "public" and rooms[children[0]].get("num_joined_members") == 1,
           "a child's summary", rooms[children[0]])
    one = await call(bob, "GET", "/v1" + rp(space) + "/hierarchy", query={"max_depth": "0"})
    expect([r["room_id"] for r in one.get("rooms", [])] == [space], "hierarchy with max_depth 0", one)


async def knocking(alice, bob):
    """bob knocks on a knock room; alice sees the knock and invites him."""
    room = check(await alice.room_create(name="knock here", room_version="10",
                                         initial_state=[{"type": "m.room.join_rules", "state_key": "",
                                                         "content": {"join_rule": "knock"}}]),
                 RoomCreateResponse, "create knock room").room_id
    # A join without an invite is refused in a knock room.
    resp = await bob.join(room)
    expect(not isinstance(resp, JoinResponse), "a join of a knock room without invite is refused", str(resp))
    knocked = await call(bob, "POST", "/v3/knock/" + quote(room, safe=""), {"reason": "let me in"})
    expect(knocked.get("room_id") == room, "knock answer", knocked)
    m = await call(alice, "GET", "/v3" + rp(room) + "/state/m.room.member/" + quote(bob.user_id, safe=""))
    expect(m.get("membership") == "knock" and m.get("reason") == "let me in", "alice sees the knock", m)
    check(await alice.room_invite(room, bob.user_id), RoomInviteResponse, "accept the knock with an invite")
    check(await bob.join(room), JoinResponse, "bob joins after the invite")
    m = await call(alice, "GET", "/v3" + rp(room) + "/state/m.room.member/" + quote(bob.user_id, safe=""))
    expect(m.get("membership") == "join", "bob is in", m)


async def pushers(alice, bob, room, gateway):
    """bob sets an HTTP pusher; alice's message is pushed to the gateway
    and listed by /notifications."""
    pusher = {"kind": "http", "app_id": "org.example.nio", "pushkey": "nio-pushkey",
              "app_display_name": "nio", "device_display_name": "nio device", "lang": "en",
              "data": {"url": gateway + "/_matrix/push/v1/notify"}}
    await call(bob, "POST", "/v3/pushers/set", pusher)
    listed = await call(bob, "GET", "/v3/pushers")
    expect([p["pushkey"] for p in listed.get("pushers", [])] == ["nio-pushkey"], "GET /pushers", listed)
    sent = await send(alice, room, text("push me"), "pushed message")
    for _ in range(50):
        n = await call(bob, "GET", "/v3/notifications")
        ids = [x["event"]["event_id"] for x in n.get("notifications", [])]
        if sent in ids:
            got = n["notifications"][ids.index(sent)]
            expect(got["room_id"] == room and got["read"] is False and "notify" in got["actions"],
                   "the notification of the pushed message", got)
            break
        await asyncio.sleep(0.1)
    else:
        raise SystemExit(f"/notifications never listed {sent}")
    # The gateway received it (the Go test serves what it received at
    # /received), with the spec's fields.
    for _ in range(50):
        async with bob.client_session.get(gateway + "/received") as resp:
            pushed = [n for n in await resp.json(content_type=None) if n.get("event_id") == sent]
        if pushed:
            n = pushed[0]
            dev = n.get("devices", [{}])[0]
            expect(n.get("room_id") == room and n.get("sender") == alice.user_id and n.get("type") == "m.room.message"
                   and n.get("content", {}).get("body") == "push me" and dev.get("pushkey") == "nio-pushkey"
                   and dev.get("app_id") == "org.example.nio" and n.get("counts", {}).get("unread", 0) >= 1,
                   "the notification at the push gateway", n)
            break
        await asyncio.sleep(0.1)
    else:
        raise SystemExit(f"the push gateway never received {sent}")
    # The pusher removed: kind null.
    await call(bob, "POST", "/v3/pushers/set", dict(pusher, kind=None))
    listed = await call(bob, "GET", "/v3/pushers")
    expect(listed.get("pushers") == [], "pusher removed", listed)


async def main():
    url, gateway = sys.argv[1], sys.argv[2]
    tag = secrets.token_hex(3)
    alice = await user(url, "niomodalice" + tag)
    bob = await user(url, "niomodbob" + tag)
    try:
        check(await alice.sync(timeout=0), SyncResponse, "initial sync alice")
        room = check(await alice.room_create(name="nio modules", preset=RoomPreset.public_chat, room_version="10"),
                     RoomCreateResponse, "createRoom").room_id
        check(await bob.join(room), JoinResponse, "join")
        await threads(alice, bob, room)
        await search(alice, bob, room)
        await pushers(alice, bob, room, gateway)
        await upgrade(alice, bob, room)
        await spaces(alice, bob)
        await knocking(alice, bob)
    finally:
        await alice.close()
        await bob.close()
    print("ok")


asyncio.run(main())
