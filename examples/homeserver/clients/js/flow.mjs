// The client flow of the example homeserver's tests, with matrix-js-sdk.
//
// Usage: node flow.mjs HOMESERVER_URL [SECOND_HOMESERVER_URL]
//
// Two users register and log in, each runs the SDK's sync loop
// (startClient); the first creates a room, invites the second, who joins;
// both send messages, each sees the other's through sync, the history is
// read back with /messages; the first sets the topic; both leave. With two
// URLs the second user lives on the other server (federation).
// Prints "ok" and exits 0 on success; anything else is a failure.
import { verdict } from "./verdict.mjs";
import * as sdk from "matrix-js-sdk";
import { randomBytes } from "node:crypto";

// The SDK logs every request at debug level; keep the output to failures.
(await import("matrix-js-sdk/lib/logger.js")).logger.setLevel("warn");

const [urlA, urlB = urlA] = process.argv.slice(2);
const tag = randomBytes(3).toString("hex");

function fail(msg) {
  console.error("FAIL:", msg);
  process.exit(1);
}

async function user(baseUrl, name) {
  const anon = sdk.createClient({ baseUrl });
  const password = "secret-" + name;
  await anon.registerRequest({ username: name, password, auth: { type: "m.login.dummy" } });
  const login = await anon.loginRequest({
    type: "m.login.password",
    identifier: { type: "m.id.user", user: name },
    password,
  });
  const c = sdk.createClient({ baseUrl, accessToken: login.access_token, userId: login.user_id, deviceId: login.device_id });
  const prepared = new Promise((resolve, reject) => {
    c.on(sdk.ClientEvent.Sync, (state, _prev, data) => {
      if (state === "PREPARED") resolve();
      if (state === "ERROR") reject(new Error("sync error: " + (data?.error?.message ?? "unknown")));
    });
  });
  await c.startClient({ initialSyncLimit: 20, lazyLoadMembers: false });
  await prepared;
  return c;
}

// waitFor resolves when pred(event, room) is true for an event arriving on c's timelines.
function waitFor(c, what, pred, ms = 20000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${c.getUserId()}: timed out waiting for ${what}`)), ms);
    const h = (ev, room) => {
      if (pred(ev, room)) {
        clearTimeout(t);
        c.off(sdk.RoomEvent.Timeline, h);
        resolve(ev);
      }
    };
    c.on(sdk.RoomEvent.Timeline, h);
  });
}

async function waitInvite(c, roomId, ms = 20000) {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    if (c.getRoom(roomId)?.getMyMembership() === "invite") return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${c.getUserId()}: no invite to ${roomId}`);
}

const body = (ev) => ev.getType() === "m.room.message" && ev.getContent().body;

try {
  const alice = await user(urlA, "jsalice" + tag);
  const bob = await user(urlB, "jsbob" + tag);

  const { room_id: roomId } = await alice.createRoom({ name: "js room" });
  const invited = waitInvite(bob, roomId);
  await alice.invite(roomId, bob.getUserId());
  await invited;
  await bob.joinRoom(roomId);

  const bobSees = waitFor(bob, "alice's message", (ev, room) => room?.roomId === roomId && body(ev) === "hello from alice");
  await alice.sendMessage(roomId, { msgtype: "m.text", body: "hello from alice" });
  await bobSees;
  const aliceSees = waitFor(alice, "bob's message", (ev, room) => room?.roomId === roomId && body(ev) === "hello from bob");
  await bob.sendMessage(roomId, { msgtype: "m.text", body: "hello from bob" });
  await aliceSees;

  // History through /messages, backwards from now.
  const res = await alice.createMessagesRequest(roomId, null, 20, sdk.Direction.Backward);
  const bodies = res.chunk.filter((e) => e.type === "m.room.message").map((e) => e.content.body);
  if (bodies[0] !== "hello from bob" || bodies[1] !== "hello from alice") fail("/messages gave " + JSON.stringify(bodies));

  const topicSeen = waitFor(bob, "the topic", (ev, room) => room?.roomId === roomId && ev.getType() === "m.room.topic");
  await alice.setRoomTopic(roomId, "a topic from js");
  const topicEv = await topicSeen;
  if (topicEv.getContent().topic !== "a topic from js") fail("topic " + JSON.stringify(topicEv.getContent()));
  const state = await bob.getStateEvent(roomId, "m.room.topic", "");
  if (state.topic !== "a topic from js") fail("topic state " + JSON.stringify(state));

  await bob.leave(roomId);
  await alice.leave(roomId);
  alice.stopClient();
  bob.stopClient();
  verdict("ok");
  process.exit(0);
} catch (e) {
  fail(e?.stack ?? String(e));
}
