"""An end-to-end encrypted conversation through the example homeserver, with
matrix-nio and its Olm/Megolm (python3-olm).

Usage: e2ee.py HOMESERVER_URL [SECOND_HOMESERVER_URL]

Two users (on one server, or one on each) upload their device keys; the
first creates an encrypted room and invites the second, who joins. Each
sends an encrypted message: sending claims a one-time key of the other's
device, starts an Olm session and shares the Megolm session over to-device
messages; each reads the other's message decrypted. Prints "ok" and exits 0
when every step checked out.
"""

import asyncio
import secrets
import sys
import tempfile

from nio import (AsyncClient, AsyncClientConfig, JoinResponse, LoginResponse,
                 MegolmEvent, RegisterResponse, RoomCreateResponse,
                 RoomInviteResponse, RoomMessageText, RoomSendResponse,
                 SyncResponse)


def check(resp, kind, what):
    if not isinstance(resp, kind):
        raise SystemExit(f"{what}: unexpected answer {resp!r}")
    return resp


async def user(url, name, store):
    c = AsyncClient(url, name)
    check(await c.register(name, "secret-" + name, "nio-e2ee"), RegisterResponse, "register " + name)
    await c.close()
    cfg = AsyncClientConfig(encryption_enabled=True, store_sync_tokens=True)
    c = AsyncClient(url, name, store_path=store, config=cfg)
    check(await c.login("secret-" + name, device_name="nio-e2ee"), LoginResponse, "login " + name)
    if c.should_upload_keys:
        await c.keys_upload()
    return c


async def settle(c):
    """One sync, then what nio wants done for its keys."""
    check(await c.sync(timeout=1000, full_state=True), SyncResponse, "sync " + c.user_id)
    if c.should_upload_keys:
        await c.keys_upload()
    if c.should_query_keys:
        await c.keys_query()


async def read(c, room_id, body):
    """Syncs until body arrives decrypted in room_id."""
    for _ in range(40):
        s = check(await c.sync(timeout=1000), SyncResponse, "sync " + c.user_id)
        if c.should_query_keys:
            await c.keys_query()
        room = s.rooms.join.get(room_id)
        if room is None:
            continue
        for ev in room.timeline.events:
            if isinstance(ev, RoomMessageText) and ev.body == body:
                if not ev.decrypted:
                    raise SystemExit(f"{c.user_id}: {body!r} arrived but not encrypted")
                return
            if isinstance(ev, MegolmEvent):
                raise SystemExit(f"{c.user_id}: a message could not be decrypted: {ev!r}")
    raise SystemExit(f"{c.user_id}: {body!r} never arrived decrypted in {room_id}")


async def send(c, room_id, body):
    check(await c.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": body},
                            ignore_unverified_devices=True), RoomSendResponse, "send " + c.user_id)


async def main():
    url_a = sys.argv[1]
    url_b = sys.argv[2] if len(sys.argv) > 2 else url_a
    tag = secrets.token_hex(3)
    with tempfile.TemporaryDirectory() as sa, tempfile.TemporaryDirectory() as sb:
        alice = await user(url_a, "e2ealice" + tag, sa)
        bob = await user(url_b, "e2ebob" + tag, sb)
        try:
            r = check(await alice.room_create(
                invite=[bob.user_id],
                initial_state=[{"type": "m.room.encryption", "state_key": "",
                                "content": {"algorithm": "m.megolm.v1.aes-sha2"}}]),
                RoomCreateResponse, "create")
            room_id = r.room_id
            for _ in range(30):
                s = check(await bob.sync(timeout=1000), SyncResponse, "bob sync")
                if room_id in s.rooms.invite:
                    break
            check(await bob.join(room_id), JoinResponse, "join")
            await settle(alice)
            await settle(bob)
            await send(alice, room_id, "secret from alice " + tag)
            await read(bob, room_id, "secret from alice " + tag)
            await settle(bob)
            await send(bob, room_id, "secret from bob " + tag)
            await read(alice, room_id, "secret from bob " + tag)
        finally:
            await alice.close()
            await bob.close()
    print("ok")


asyncio.run(main())
