// The client-server modules flow of the example homeserver's tests, with
// matrix-js-sdk: threads, search, room upgrades, spaces, knocking and
// pushers.
//
// Usage: node modules.mjs HOMESERVER_URL PUSH_GATEWAY_URL
//
// Two users (alice and bob) on one server; alice runs the SDK's sync loop
// with thread support, so the threads are read back through the SDK's own
// thread model as well as through /threads and /relations. Every call is
// the SDK's own (createThreadListMessagesRequest, relations,
// searchRoomEvents, upgradeRoom, getRoomHierarchy, knockRoom, setPusher,
// getPushers) except GET /notifications, which the SDK has no call for:
// that goes through its generic authenticated request (http.authedRequest).
// The Go test serves what its push gateway received at
// PUSH_GATEWAY_URL/received. Prints "ok" and exits 0 on success; anything
// else is a failure.
import { verdict } from "./verdict.mjs";
import * as sdk from "matrix-js-sdk";
import { randomBytes } from "node:crypto";

(await import("matrix-js-sdk/lib/logger.js")).logger.setLevel("warn");

const [url, gateway] = process.argv.slice(2);
const tag = randomBytes(3).toString("hex");

function expect(cond, what, got) {
  if (!cond) {
    console.error("FAIL:", what, JSON.stringify(got)?.slice(0, 1500));
    process.exit(1);
  }
}

async function user(name, sync) {
  const anon = sdk.createClient({ baseUrl: url });
  const password = "secret-" + name;
  await anon.registerRequest({ username: name, password, auth: { type: "m.login.dummy" } });
  const login = await anon.loginRequest({ type: "m.login.password", identifier: { type: "m.id.user", user: name }, password });
  const c = sdk.createClient({ baseUrl: url, accessToken: login.access_token, userId: login.user_id, deviceId: login.device_id });
  if (sync) {
    const prepared = new Promise((resolve, reject) => {
      c.on(sdk.ClientEvent.Sync, (state, _prev, data) => {
        if (state === "PREPARED") resolve();
        if (state === "ERROR") reject(new Error("sync error: " + (data?.error?.message ?? "unknown")));
      });
    });
    await c.startClient({ initialSyncLimit: 20, threadSupport: true });
    await prepared;
  }
  return c;
}

async function until(what, f, ms = 20000) {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    const v = await f();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("timed out waiting for " + what);
}

const text = (body, extra = {}) => ({ msgtype: "m.text", body, ...extra });

async function threads(alice, bob, roomId) {
  const { event_id: root } = await alice.sendMessage(roomId, text("thread root"));
  const rel = { rel_type: "m.thread", event_id: root, is_falling_back: true, "m.in_reply_to": { event_id: root } };
  const { event_id: r1 } = await bob.sendMessage(roomId, text("first reply", { "m.relates_to": rel }));
  const { event_id: r2 } = await bob.sendMessage(roomId, text("second reply", { "m.relates_to": rel }));

  // The SDK's thread model, fed by alice's sync.
  let seen;
  const thread = await until("the SDK's thread of the root with two replies", () => {
    const t = alice.getRoom(roomId)?.getThread(root);
    seen = { thread: !!t, length: t?.length, last: t?.replyToEvent?.getId(), events: t?.events.map((e) => e.getId()), r1, r2 };
    return t && t.length === 2 && t.replyToEvent?.getId() === r2 ? t : null;
  }).catch((e) => expect(false, e.message, seen));
  expect(thread.rootEvent?.getContent().body === "thread root", "the SDK's thread root", thread.rootEvent?.getContent());

  // /threads, through the SDK's thread list request.
  const list = await alice.createThreadListMessagesRequest(roomId, null, 10, sdk.Direction.Backward, sdk.ThreadFilterType.All);
  expect(list.chunk.map((e) => e.event_id).join() === root, "/threads lists the root", list);
  const summary = list.chunk[0].unsigned?.["m.relations"]?.["m.thread"];
  expect(summary?.count === 2 && summary?.latest_event?.event_id === r2, "the root's thread summary", summary);
  const mine = await bob.createThreadListMessagesRequest(roomId, null, 10, sdk.Direction.Backward, sdk.ThreadFilterType.My);
  expect(mine.chunk.map((e) => e.event_id).join() === root, "/threads?include=participated for a replier", mine);

  // Thread-aware notification counts: the SDK asks sync for
  // unread_thread_notifications; bob's two replies count in the thread.
  // Its threaded read receipt (the SDK adds thread_id) clears the thread,
  // as the server's own /sync then says.
  const room = alice.getRoom(roomId);
  await until("a thread notification count of 2", () => room.getThreadUnreadNotificationCount(root, sdk.NotificationCountType.Total) === 2);
  await alice.sendReadReceipt(thread.replyToEvent);
  const threadedSync = async () => {
    const filter = JSON.stringify({ room: { timeline: { limit: 1, unread_thread_notifications: true } } });
    const s = await alice.http.authedRequest(sdk.Method.Get, "/sync", { filter });
    return s.rooms?.join?.[roomId];
  };
  const after = await threadedSync();
  expect(!after?.unread_thread_notifications?.[root], "the thread's count after its threaded receipt", after?.unread_thread_notifications);

  // /relations, through the SDK.
  const rels = await bob.relations(roomId, root, "m.thread");
  expect(rels.events.map((e) => e.getId()).join() === [r2, r1].join(), "/relations m.thread, newest first", rels.events.map((e) => e.getId()));
}

async function search(alice, bob, roomId) {
  const { event_id: first } = await bob.sendMessage(roomId, text("the quick brown fox"));
  const { event_id: second } = await bob.sendMessage(roomId, text("brown bread for lunch"));
  await bob.sendMessage(roomId, text("nothing to see"));
  // searchRoomEvents asks for order_by recent, with one event of context.
  const res = await alice.searchRoomEvents({ term: "brown", filter: { rooms: [roomId] } });
  const ids = res.results.map((r) => r.context.getEvent().getId());
  expect(ids.join() === [second, first].join(), "search brown, most recent first", ids);
  expect(res.count === 2 && res.highlights.map((h) => h.toLowerCase()).includes("brown"), "search count and highlights", { count: res.count, highlights: res.highlights });
  const ctx = res.results[0].context;
  expect(ctx.getTimeline().length >= 2, "search results carry their context", ctx.getTimeline().map((e) => e.getId()));
}

async function upgrade(alice, bob, roomId) {
  const { replacement_room: newRoom } = await alice.upgradeRoom(roomId, "11");
  const tomb = await bob.getStateEvent(roomId, "m.room.tombstone", "");
  expect(tomb.replacement_room === newRoom, "the tombstone names the new room", tomb);
  const create = await alice.getStateEvent(newRoom, "m.room.create", "");
  expect(create.predecessor?.room_id === roomId && create.room_version === "11", "the new room's predecessor and version", create);
  const name = await alice.getStateEvent(newRoom, "m.room.name", "");
  expect(name.name === "js modules", "the name copied", name);
  await bob.joinRoom(newRoom);
  const members = await alice.getJoinedRoomMembers(newRoom);
  expect(bob.getUserId() in members.joined, "bob followed the upgrade", members);
}

async function spaces(alice, bob) {
  const server = alice.getUserId().split(":").slice(1).join(":");
  const { room_id: space } = await alice.createRoom({ name: "js space", preset: sdk.Preset.PublicChat, creation_content: { type: "m.space" } });
  const children = [];
  for (const n of ["child one", "child two"]) {
    const { room_id: child } = await alice.createRoom({ name: n, preset: sdk.Preset.PublicChat });
    await alice.sendStateEvent(space, "m.space.child", { via: [server], order: n }, child);
    children.push(child);
  }
  const h = await bob.getRoomHierarchy(space);
  const rooms = Object.fromEntries(h.rooms.map((r) => [r.room_id, r]));
  expect([space, ...children].every((id) => id in rooms) && h.rooms.length === 3, "the hierarchy lists the space and its children", h);
  expect(rooms[space].room_type === "m.space" && rooms[space].name === "js space", "the space's summary", rooms[space]);
  expect(rooms[space].children_state.map((s) => s.state_key).sort().join() === [...children].sort().join(), "children_state", rooms[space]);
  const one = await bob.getRoomHierarchy(space, undefined, 0);
  expect(one.rooms.map((r) => r.room_id).join() === space, "hierarchy with max_depth 0", one);
}

async function knocking(alice, bob) {
  const { room_id: roomId } = await alice.createRoom({
    name: "knock here",
    room_version: "10",
    initial_state: [{ type: "m.room.join_rules", state_key: "", content: { join_rule: "knock" } }],
  });
  let refused = false;
  try {
    await bob.joinRoom(roomId);
  } catch (e) {
    refused = e.errcode === "M_FORBIDDEN";
  }
  expect(refused, "a join of a knock room without an invite is refused", null);
  const knocked = await bob.knockRoom(roomId, { reason: "let me in" });
  expect(knocked.room_id === roomId, "knock answer", knocked);
  const m = await alice.getStateEvent(roomId, "m.room.member", bob.getUserId());
  expect(m.membership === "knock" && m.reason === "let me in", "alice sees the knock", m);
  await alice.invite(roomId, bob.getUserId());
  await bob.joinRoom(roomId);
  const after = await alice.getStateEvent(roomId, "m.room.member", bob.getUserId());
  expect(after.membership === "join", "bob is in after the invite", after);
}

async function pushers(alice, bob, roomId) {
  const pusher = {
    kind: "http", app_id: "org.example.js", pushkey: "js-pushkey", app_display_name: "js",
    device_display_name: "js device", lang: "en", data: { url: gateway + "/_matrix/push/v1/notify" },
  };
  await bob.setPusher(pusher);
  const listed = await bob.getPushers();
  expect(listed.pushers.map((p) => p.pushkey).join() === "js-pushkey", "getPushers", listed);
  const { event_id: sent } = await alice.sendMessage(roomId, text("push me"));
  const got = await until("the notification of the pushed message", async () => {
    const n = await bob.http.authedRequest(sdk.Method.Get, "/notifications");
    return n.notifications.find((x) => x.event.event_id === sent);
  });
  expect(got.room_id === roomId && got.read === false && got.actions.includes("notify"), "the notification", got);
  const pushed = await until("the push at the gateway", async () => {
    const r = await fetch(gateway + "/received");
    return (await r.json()).find((n) => n.event_id === sent);
  });
  const dev = pushed.devices?.[0];
  expect(pushed.room_id === roomId && pushed.sender === alice.getUserId() && pushed.content?.body === "push me" &&
    dev?.pushkey === "js-pushkey" && dev?.app_id === "org.example.js" && pushed.counts?.unread >= 1, "the notification at the gateway", pushed);
  await bob.setPusher({ ...pusher, kind: null });
  expect((await bob.getPushers()).pushers.length === 0, "the pusher removed", null);
}

// lazyMembers: a client that lazy-loads members (as Element does) joins
// a room where two others spoke long before; its first sync carries the
// member events of the timeline's senders alone, and the SDK loads the
// rest through /members when asked.
async function lazyMembers(alice, bob) {
  const { room_id: roomId } = await alice.createRoom({ name: "lazy", preset: sdk.Preset.PublicChat });
  await bob.joinRoom(roomId);
  await bob.sendMessage(roomId, text("early"));
  for (let i = 0; i < 5; i++) await alice.sendMessage(roomId, text("filler " + i));
  const carol = await user("jsmodcarol" + tag, false);
  await carol.joinRoom(roomId);
  const prepared = new Promise((resolve) => carol.on(sdk.ClientEvent.Sync, (state) => state === "PREPARED" && resolve()));
  await carol.startClient({ initialSyncLimit: 3, lazyLoadMembers: true });
  await prepared;
  try {
    const room = await until("carol's room", () => carol.getRoom(roomId));
    expect(room.getMember(bob.getUserId()) === null, "bob (not in carol's timeline) is not sent to a lazy-loading client",
      room.getMember(bob.getUserId())?.membership);
    expect(room.getMember(alice.getUserId())?.membership === "join", "alice, a timeline sender, is sent", null);
    await room.loadMembersIfNeeded();
    const joined = room.getJoinedMembers().map((m) => m.userId).sort();
    expect(joined.join() === [alice.getUserId(), bob.getUserId(), carol.getUserId()].sort().join(), "members loaded through /members", joined);
  } finally {
    carol.stopClient();
  }
}

let alice, bob;
try {
  alice = await user("jsmodalice" + tag, true);
  bob = await user("jsmodbob" + tag, false);
  const { room_id: roomId } = await alice.createRoom({ name: "js modules", preset: sdk.Preset.PublicChat, room_version: "10" });
  await bob.joinRoom(roomId);
  await threads(alice, bob, roomId);
  await search(alice, bob, roomId);
  await pushers(alice, bob, roomId);
  await upgrade(alice, bob, roomId);
  await spaces(alice, bob);
  await knocking(alice, bob);
  await lazyMembers(alice, bob);
  verdict("ok");
} catch (e) {
  console.error("FAIL:", e?.stack ?? e, e?.data ? JSON.stringify(e.data) : "");
  process.exitCode = 1;
} finally {
  alice?.stopClient();
  bob?.stopClient();
}
process.exit(process.exitCode ?? 0);
