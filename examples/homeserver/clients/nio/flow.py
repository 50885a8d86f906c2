"""The client flow of the example homeserver's tests, with matrix-nio.

Usage: flow.py HOMESERVER_URL [SECOND_HOMESERVER_URL]

With one URL: two users register and log in, the first creates a room,
invites the second, who joins; both send messages and read them back
through /sync and /messages; the first sets the topic; both leave.
With two URLs the second user lives on the other server and the room is
shared through federation. Prints "ok" and exits 0 when every step
checked out; anything else is a failure with the reason on stderr.
"""

import asyncio
import secrets
import sys

from nio import (AsyncClient, JoinResponse, LoginResponse, MessageDirection,
                 RegisterResponse, RoomCreateResponse, RoomGetStateEventResponse,
                 RoomInviteResponse, RoomLeaveResponse, RoomMessagesResponse,
                 RoomPutStateResponse, RoomSendResponse, SyncResponse)


def check(resp, kind, what):
    if not isinstance(resp, kind):
        raise SystemExit(f"{what}: unexpected answer {resp!r}")
    return resp


async def user(url, name):
    c = AsyncClient(url, name)
    check(await c.register(name, "secret-" + name, "nio-register"), RegisterResponse, "register " + name)
    await c.close()
    c = AsyncClient(url, name)
    check(await c.login("secret-" + name, device_name="nio-test"), LoginResponse, "login " + name)
    return c


async def wait_for(c, room_id, body, since, membership="join", topic=None):
    """Syncs until a message with body (or the topic) shows up in room_id."""
    for _ in range(30):
        s = check(await c.sync(timeout=2000, since=since), SyncResponse, "sync " + c.user_id)
        since = s.next_batch
        rooms = s.rooms.join if membership == "join" else s.rooms.invite
        if room_id in rooms:
            if membership == "invite":
                return since
            for ev in rooms[room_id].timeline.events:
                if body is not None and getattr(ev, "body", None) == body:
                    return since
                if topic is not None and getattr(ev, "topic", None) == topic:
                    return since
    raise SystemExit(f"{c.user_id}: {body or topic or membership!r} never arrived in {room_id} through /sync")


async def main():
    url_a = sys.argv[1]
    url_b = sys.argv[2] if len(sys.argv) > 2 else url_a
    tag = secrets.token_hex(3)
    alice = await user(url_a, "nioalice" + tag)
    bob = await user(url_b, "niobob" + tag)
    try:
        s = check(await alice.sync(timeout=0), SyncResponse, "initial sync alice")
        since_a = s.next_batch
        s = check(await bob.sync(timeout=0), SyncResponse, "initial sync bob")
        since_b = s.next_batch

        room = check(await alice.room_create(name="nio room"), RoomCreateResponse, "createRoom").room_id
        check(await alice.room_invite(room, bob.user_id), RoomInviteResponse, "invite")
        since_b = await wait_for(bob, room, None, since_b, membership="invite")
        check(await bob.join(room), JoinResponse, "join")

        check(await alice.room_send(room, "m.room.message", {"msgtype": "m.text", "body": "hello from alice"}), RoomSendResponse, "send alice")
        since_b = await wait_for(bob, room, "hello from alice", since_b)
        check(await bob.room_send(room, "m.room.message", {"msgtype": "m.text", "body": "hello from bob"}), RoomSendResponse, "send bob")
        since_a = await wait_for(alice, room, "hello from bob", since_a)

        # /messages backwards from the end sees both, newest first.
        m = check(await alice.room_messages(room, start=since_a, direction=MessageDirection.back, limit=20), RoomMessagesResponse, "messages")
        bodies = [getattr(e, "body", None) for e in m.chunk]
        bodies = [b for b in bodies if b]
        if bodies[:2] != ["hello from bob", "hello from alice"]:
            raise SystemExit(f"/messages gave {bodies}")

        check(await alice.room_put_state(room, "m.room.topic", {"topic": "a topic from nio"}), RoomPutStateResponse, "topic")
        since_b = await wait_for(bob, room, None, since_b, topic="a topic from nio")
        t = check(await bob.room_get_state_event(room, "m.room.topic"), RoomGetStateEventResponse, "get topic")
        if t.content.get("topic") != "a topic from nio":
            raise SystemExit(f"topic is {t.content!r}")

        check(await bob.room_leave(room), RoomLeaveResponse, "leave bob")
        check(await alice.room_leave(room), RoomLeaveResponse, "leave alice")
        print("ok")
    finally:
        await alice.close()
        await bob.close()


asyncio.run(main())
