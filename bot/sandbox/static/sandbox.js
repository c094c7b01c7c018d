/* The sandbox page: a Slack-like client for the local Slack.
 *
 * The server renders every message, App Home and modal to HTML (bot/sandbox/render.py);
 * this script only lays those pieces out, keeps them current through one long-poll
 * loop on /sandbox/api/state, and turns clicks and typing into the JSON API calls
 * that the server turns into Slack's requests to the bot. No build step, no
 * dependencies: the page must work on a machine without internet.
 */
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const API = "/sandbox/api";

  const S = {
    people: [],
    user: null, // the person the page acts as
    conversation: null, // conversation id, or "home" for the App Home tab
    botDm: null, // the DM with the bot, for the Messages tab
    version: null,
    state: null,
    pollGen: 0,
    pollAbort: null,
    expanded: new Set(), // thread parents whose replies are shown
    drafts: new Map(), // conversation id -> unsent composer text
    seen: new Map(), // person -> (conversation id -> how many messages they have seen there)
    lastHome: null,
    lastSidebar: null,
    lastClock: null,
    modalViewId: null,
    modalHtml: null,
    modalValues: new Map(), // view id -> saved input values (kept across re-renders and pushes)
    modalErrors: new Map(), // view id -> {block_id: message}
    devOpen: false,
    devSeen: { calls: 0, requests: 0 }, // the highest n shown, per list
    devTimer: null,
    devCounts: { calls: 0, requests: 0 },
  };

  // ---------- small helpers ----------

  function esc(s) {
    return String(s == null ? "" : s)
      .replace(/&/g, "&amp;")
      .replace(/</g, "&lt;")
      .replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;")
      .replace(/'/g, "&#39;");
  }

  function initials(name) {
    const parts = String(name || "?").trim().split(/\s+/).filter(Boolean);
    const letters = parts.length > 1 ? parts[0][0] + parts[parts.length - 1][0] : (parts[0] || "?").slice(0, 2);
    return letters.toUpperCase();
  }

  function hue(name) {
    let h = 0;
    for (const ch of String(name || "")) h = (h * 31 + ch.charCodeAt(0)) % 360;
    return h;
  }

  async function post(path, body) {
    const r = await fetch(API + path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    let data = null;
    try {
      data = await r.json();
    } catch (e) {
      data = { ok: false, error: "HTTP " + r.status };
    }
    if (!r.ok && data && data.ok === undefined) data.ok = false;
    return data || { ok: false, error: "HTTP " + r.status };
  }

  let toastTimer = null;
  function toast(text) {
    const t = $("toast");
    t.textContent = text;
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => (t.hidden = true), 4000);
  }

  function saveLocation() {
    const h = "#" + encodeURIComponent(S.user || "") + "/" + encodeURIComponent(S.conversation || "");
    if (location.hash !== h) history.replaceState(null, "", h);
  }

  // ---------- people and the long-poll loop ----------

  async function loadPeople() {
    const r = await fetch(API + "/people");
    const data = await r.json();
    S.people = data.people || [];
    const sel = $("you-are");
    sel.innerHTML = S.people
      .map((p) => `<option value="${esc(p.id)}">${esc(p.name)}${p.title ? " — " + esc(p.title) : ""}</option>`)
      .join("");
    const [hashUser, hashConv] = location.hash.slice(1).split("/").map(decodeURIComponent);
    const known = (id) => S.people.some((p) => p.id === id);
    S.user = known(hashUser) ? hashUser : data.default || (S.people[0] && S.people[0].id) || null;
    S.conversation = known(hashUser) && hashConv ? hashConv : null;
    sel.value = S.user || "";
  }

  function restartPoll() {
    S.pollGen += 1;
    S.version = null;
    if (S.pollAbort) S.pollAbort.abort();
    pollLoop(S.pollGen);
  }

  async function pollLoop(gen) {
    let failures = 0;
    while (gen === S.pollGen) {
      const ctl = new AbortController();
      S.pollAbort = ctl;
      const q = new URLSearchParams();
      if (S.user) q.set("user", S.user);
      if (S.conversation) q.set("conversation", S.conversation);
      if (S.version != null) q.set("since", String(S.version));
      try {
        const r = await fetch(API + "/state?" + q.toString(), { signal: ctl.signal });
        if (gen !== S.pollGen) return;
        if (!r.ok) {
          // A conversation this person cannot see (after switching people): fall back to the default.
          if (r.status >= 400 && r.status < 500 && S.conversation) {
            S.conversation = null;
            S.version = null;
            continue;
          }
          throw new Error("HTTP " + r.status);
        }
        const state = await r.json();
        if (gen !== S.pollGen) return;
        failures = 0;
        S.version = state.version;
        apply(state);
      } catch (e) {
        if (gen !== S.pollGen) return;
        failures += 1;
        $("clock-now").textContent = "Sandbox not reachable, retrying…";
        await new Promise((res) => setTimeout(res, Math.min(5000, 500 * failures)));
      }
    }
  }

  // ---------- applying a state: re-render only what changed ----------

  function apply(state) {
    S.state = state;
    const convs = state.conversations || [];
    const dms = convs.filter((c) => c.kind !== "channel");
    const bot = dms.find((c) => /nudgebot/i.test(c.name || "")) || dms[0] || null;
    S.botDm = bot ? bot.id : null;

    const shown = state.conversation && state.conversation.id;
    if (!S.conversation || (S.conversation !== "home" && shown && shown !== S.conversation)) {
      // The server chose (or had to change) the conversation: follow it.
      const next = shown || S.botDm || (convs[0] && convs[0].id) || null;
      if (next && next !== S.conversation) {
        S.conversation = next;
        saveLocation();
        if (!shown) {
          restartPoll();
          return;
        }
      }
    }
    if (S.conversation && S.conversation !== "home" && !convs.some((c) => c.id === S.conversation) && S.botDm) {
      // Switched to a person who is not in this channel.
      S.conversation = S.botDm;
      saveLocation();
      restartPoll();
      return;
    }
    renderMe(state.me);
    renderClock(state.clock, state.next_nudge);
    renderSidebar(convs);
    renderHeader(state);
    if (S.conversation === "home") {
      $("messages").hidden = true;
      $("home").hidden = false;
      $("composer-box").hidden = true;
      renderHome(state.home);
    } else {
      $("messages").hidden = false;
      $("home").hidden = true;
      $("composer-box").hidden = false;
      renderMessages(state.conversation);
    }
    renderModal(state.modal);
  }

  function renderMe(me) {
    if (!me) return;
    const line = [me.title, me.tz, me.locale].filter(Boolean).join(" · ");
    if ($("me-line").textContent !== line) $("me-line").textContent = line;
    if ($("you-are").value !== me.id && S.people.some((p) => p.id === me.id)) $("you-are").value = me.id;
  }

  function renderClock(clock, nextNudge) {
    const key = JSON.stringify([clock, nextNudge]);
    if (key === S.lastClock) return;
    S.lastClock = key;
    const moving = !!(clock && clock.moving);
    if (clock) {
      $("clock-now").textContent = clock.local + (clock.tz ? " (" + clock.tz + ")" : "") + (moving ? " · moving…" : "");
      $("clock-now").title = "UTC " + (clock.utc || "");
    }
    // While the clock moves the ticks run at each moment on the way: one move at a time.
    $("clock-bar").classList.toggle("moving", moving);
    for (const id of ["clock-hour", "clock-day", "clock-monday"]) $(id).disabled = moving;
    $("clock-next-at").textContent = nextNudge ? "Next nudge: " + nextNudge : "No nudge scheduled";
    $("clock-next").disabled = moving || !nextNudge;
  }

  function renderSidebar(convs) {
    const key = JSON.stringify([convs, S.conversation]);
    if (key === S.lastSidebar) return;
    S.lastSidebar = key;
    const seen = S.seen.get(S.user) || new Map();
    S.seen.set(S.user, seen);
    const item = (c) => {
      const active = c.id === S.conversation || (S.conversation === "home" && c.id === S.botDm);
      if (active || !seen.has(c.id)) seen.set(c.id, active ? c.count || 0 : 0);
      const n = active ? 0 : Math.max(0, (c.count || 0) - seen.get(c.id));
      const unread = n ? `<span class="badge">${esc(n)}</span>` : "";
      const icon = c.kind === "channel" ? '<span class="icon">#</span>' : `<span class="icon dm-dot"></span>`;
      return (
        `<li><a href="#" class="nav-item${active ? " active" : ""}${n ? " unread" : ""}"` +
        ` data-conversation-id="${esc(c.id)}" data-kind="${esc(c.kind)}">${icon}` +
        `<span class="nav-name">${esc(c.name)}</span>${unread}</a></li>`
      );
    };
    $("nav-dms").innerHTML = convs.filter((c) => c.kind !== "channel").map(item).join("");
    $("nav-channels").innerHTML = convs.filter((c) => c.kind === "channel").map(item).join("");
  }

  function renderHeader(state) {
    const conv = state.conversation;
    let title;
    if (S.conversation === "home") title = "Nudgebot";
    else if (!conv) title = "";
    else title = conv.kind === "channel" ? "# " + conv.name : conv.name;
    if ($("conv-title").textContent !== title) $("conv-title").textContent = title;
    const withTabs = S.conversation === "home" || (conv && conv.id === S.botDm);
    $("conv-tabs").hidden = !withTabs;
    $("tab-home").classList.toggle("active", S.conversation === "home");
    $("tab-messages").classList.toggle("active", S.conversation !== "home");
    const ph = conv ? "Message " + (conv.kind === "channel" ? "#" : "") + conv.name : "Message";
    if ($("composer").placeholder !== ph) $("composer").placeholder = ph;
  }

  function renderHome(html) {
    const h = html == null ? '<div class="empty">Nudgebot has not published a Home tab for you yet.</div>' : html;
    if (h === S.lastHome) return;
    S.lastHome = h;
    $("home").innerHTML = h;
  }

  // Messages: keyed by ts; a message's node is rebuilt only when its content changes,
  // so a new message in a 500-message conversation costs one node, not 500.
  // Ephemerals may share a ts with each other or with a message: count repeats.
  function messageKeys(msgs) {
    const seen = new Map();
    return msgs.map((m, i) => {
      const base = (m.ephemeral ? "e:" : "m:") + (m.ts || "i" + i);
      const n = (seen.get(base) || 0) + 1;
      seen.set(base, n);
      return n > 1 ? base + "#" + n : base;
    });
  }

  function messageSig(m) {
    return JSON.stringify([m.html, m.user_name, m.time, m.ephemeral, m.thread, S.expanded.has(m.ts)]);
  }

  function messageHtml(m, withThread) {
    const name = m.user_name || (m.is_bot ? "Nudgebot" : "Someone");
    const avatar = m.is_bot
      ? '<div class="avatar bot" aria-hidden="true">NB</div>'
      : `<div class="avatar" style="background:hsl(${hue(name)},45%,42%)" aria-hidden="true">${esc(initials(name))}</div>`;
    const app = m.is_bot ? '<span class="app-tag">APP</span>' : "";
    const eph = m.ephemeral ? '<div class="eph-note">👁 Only visible to you</div>' : "";
    let thread = "";
    let tools = "";
    const replies = (m.thread || []).length;
    const open = withThread && S.expanded.has(m.ts);
    if (withThread && !m.ephemeral && m.ts && !replies) {
      // As in Slack's hover menu: start a thread on any message.
      tools = `<div class="msg-tools"><button type="button" class="thread-toggle reply-start" data-thread-ts="${esc(m.ts)}">Reply in thread</button></div>`;
    }
    if (withThread && (replies || open)) {
      const n = replies;
      if (n) {
        thread =
          `<button type="button" class="thread-toggle" data-thread-ts="${esc(m.ts)}" aria-expanded="${open}">` +
          `${n} ${n === 1 ? "reply" : "replies"}${open ? " ▾" : " ▸"}</button>`;
      }
      if (open) {
        thread +=
          '<div class="thread">' +
          m.thread.map((r) => messageHtml(r, false)).join("") +
          `<div class="thread-reply"><textarea class="thread-composer" rows="1" data-thread-ts="${esc(m.ts)}"` +
          ` placeholder="Reply…" aria-label="Reply in thread"></textarea></div></div>`;
      }
    }
    return (
      `<div class="message${m.ephemeral ? " ephemeral" : ""}${m.is_bot ? " from-bot" : ""}" data-ts="${esc(m.ts || "")}">` +
      tools +
      avatar +
      '<div class="msg-main"><div class="msg-head">' +
      `<span class="msg-name">${esc(name)}</span>${app}<span class="msg-time">${esc(m.time || "")}</span></div>` +
      eph +
      `<div class="msg-body">${m.html || ""}</div>${thread}</div></div>`
    );
  }

  let renderedConversation = null;
  let renderedKeys = []; // [key, sig] per rendered message, in order

  function renderMessages(conv) {
    const box = $("messages");
    const msgs = (conv && conv.messages) || [];
    const convId = conv ? conv.id : null;
    const switched = convId !== renderedConversation;
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 48;
    const keys = messageKeys(msgs);
    const wanted = msgs.map((m, i) => [keys[i], messageSig(m)]);

    if (switched || !box.querySelector(".message")) {
      // Whole list: one innerHTML assignment, one layout.
      const drafts = saveThreadDrafts();
      box.innerHTML = msgs.length
        ? msgs.map((m) => messageHtml(m, true)).join("")
        : `<div class="empty">No messages yet.${conv && conv.kind !== "channel" ? " Try the clock's <b>Next nudge</b>." : ""}</div>`;
      restoreThreadDrafts(drafts);
      renderedConversation = convId;
      renderedKeys = wanted;
      box.scrollTop = box.scrollHeight;
      return;
    }
    if (JSON.stringify(wanted) === JSON.stringify(renderedKeys)) return;

    const drafts = saveThreadDrafts();
    const old = new Map();
    const nodes = box.querySelectorAll(":scope > .message");
    renderedKeys.forEach(([k, sig], i) => {
      if (nodes[i]) old.set(k, { sig, node: nodes[i] });
    });
    // Unchanged messages stay where they are (moving 500 nodes out and back in
    // re-lays-out the whole list); only changed ones are replaced, new ones put
    // in place and gone ones removed.
    const keep = new Set(wanted.map(([k]) => k));
    old.forEach((v, k) => {
      if (!keep.has(k)) v.node.remove();
    });
    const tmp = document.createElement("div");
    let cursor = box.firstElementChild;
    msgs.forEach((m, i) => {
      const [k, sig] = wanted[i];
      const prev = old.get(k);
      let node;
      if (prev && prev.sig === sig) {
        node = prev.node;
      } else {
        tmp.innerHTML = messageHtml(m, true);
        node = tmp.firstElementChild;
        if (prev) {
          prev.node.replaceWith(node);
          if (cursor === prev.node) cursor = node;
        }
      }
      if (node === cursor) cursor = cursor.nextElementSibling;
      else box.insertBefore(node, cursor);
    });
    while (cursor) {
      const next = cursor.nextElementSibling;
      cursor.remove();
      cursor = next;
    }
    restoreThreadDrafts(drafts);
    renderedKeys = wanted;
    if (atBottom) box.scrollTop = box.scrollHeight;
  }

  function saveThreadDrafts() {
    const d = new Map();
    document.querySelectorAll(".thread-composer").forEach((t) => {
      if (t.value) d.set(t.dataset.threadTs, { value: t.value, focused: document.activeElement === t });
    });
    return d;
  }

  function restoreThreadDrafts(d) {
    d.forEach((v, ts) => {
      const t = document.querySelector(`.thread-composer[data-thread-ts="${CSS.escape(ts)}"]`);
      if (t) {
        t.value = v.value;
        if (v.focused) t.focus();
      }
    });
  }

  // ---------- the modal ----------

  function modalValues() {
    // Every element's current value in the modal, keyed by block and action.
    const vals = new Map();
    $("modal-body").querySelectorAll(".bk-el").forEach((el) => {
      vals.set(elKey(el), readEl(el));
    });
    return vals;
  }

  function elKey(el) {
    return (el.dataset.blockId || blockIdOf(el) || "") + "\u0000" + (el.dataset.actionId || "");
  }

  function blockIdOf(el) {
    const b = el.closest("[data-block-id]");
    return b ? b.dataset.blockId : "";
  }

  function restoreModalValues(vals) {
    $("modal-body").querySelectorAll(".bk-el").forEach((el) => {
      const v = vals.get(elKey(el));
      if (v) writeEl(el, v);
    });
  }

  function renderModal(modal) {
    const box = $("modal");
    if (!modal) {
      if (S.modalViewId) S.modalValues.delete(S.modalViewId);
      S.modalViewId = null;
      S.modalHtml = null;
      box.hidden = true;
      $("modal-body").innerHTML = "";
      return;
    }
    if (modal.view_id === S.modalViewId && modal.html === S.modalHtml) {
      if ($("modal-title").innerHTML !== (modal.title || "")) $("modal-title").innerHTML = modal.title || "";
      return;
    }
    // Keep what was typed: in this view across re-renders (views.update), and in a
    // view under a pushed one, for when it comes back.
    if (S.modalViewId) S.modalValues.set(S.modalViewId, modalValues());
    const sameView = modal.view_id === S.modalViewId;
    const focused = document.activeElement && $("modal-body").contains(document.activeElement) ? elKey(document.activeElement) : null;
    S.modalViewId = modal.view_id;
    S.modalHtml = modal.html;
    // Title and button labels come rendered (and escaped) by the server, like the blocks.
    $("modal-title").innerHTML = modal.title || "";
    $("modal-body").innerHTML = modal.html || "";
    $("modal-cancel").innerHTML = modal.close || "Cancel";
    $("modal-submit").innerHTML = modal.submit || "Submit";
    $("modal").classList.toggle("stacked", !!modal.stacked);
    $("modal-submit").hidden = !modal.submit;
    $("modal-submit").disabled = false;
    $("modal-error").textContent = "";
    const saved = S.modalValues.get(modal.view_id);
    if (saved) restoreModalValues(saved);
    showErrors(S.modalErrors.get(modal.view_id) || {});
    const wasHidden = box.hidden;
    box.hidden = false;
    if (sameView && focused) {
      const el = Array.from($("modal-body").querySelectorAll(".bk-el")).find((e) => elKey(e) === focused);
      if (el) (el.matches("input,select,textarea") ? el : el.querySelector("input") || el).focus();
    } else if (wasHidden || !sameView) {
      const first = $("modal-body").querySelector(".bk-input input, .bk-input textarea, .bk-input select");
      if (first) first.focus();
    }
  }

  function showErrors(errors) {
    $("modal-body").querySelectorAll(".bk-error").forEach((slot) => {
      const msg = errors[slot.dataset.blockId];
      slot.textContent = msg || "";
      const block = slot.closest(".bk-input");
      if (block) block.classList.toggle("has-error", !!msg);
    });
  }

  function collectFields() {
    const fields = [];
    $("modal-body").querySelectorAll(".bk-input .bk-el").forEach((el) => {
      if (el.dataset.type === "button") return;
      const f = { block_id: el.dataset.blockId || blockIdOf(el), action_id: el.dataset.actionId || "", type: el.dataset.type || "" };
      Object.assign(f, readEl(el));
      fields.push(f);
    });
    return fields;
  }

  async function submitModal() {
    if (!S.modalViewId || $("modal-submit").disabled) return;
    const viewId = S.modalViewId;
    $("modal-submit").disabled = true;
    $("modal-error").textContent = "";
    try {
      const res = await post("/submit", { user: S.user, view_id: viewId, fields: collectFields() });
      if (res.ok) {
        S.modalErrors.delete(viewId);
        if (S.modalViewId === viewId) showErrors({});
      } else {
        const errors = res.errors || {};
        S.modalErrors.set(viewId, errors);
        if (S.modalViewId === viewId) {
          showErrors(errors);
          const first = $("modal-body").querySelector(".bk-input.has-error");
          if (first) first.scrollIntoView({ block: "nearest" });
          const general = res.error || errors[""] || "";
          const unplaced = Object.keys(errors).filter((b) => b && !$("modal-body").querySelector(`.bk-error[data-block-id="${CSS.escape(b)}"]`));
          if (general) $("modal-error").textContent = general;
          else if (unplaced.length) $("modal-error").textContent = unplaced.map((b) => errors[b]).join(" ");
          else if (!Object.keys(errors).length) $("modal-error").textContent = "The app did not accept this.";
        }
      }
    } catch (e) {
      $("modal-error").textContent = "Could not reach the sandbox.";
    } finally {
      if (S.modalViewId === viewId) $("modal-submit").disabled = false;
    }
  }

  async function closeModal() {
    if (!S.modalViewId) return;
    const viewId = S.modalViewId;
    S.modalErrors.delete(viewId);
    S.modalValues.delete(viewId);
    const res = await post("/close", { user: S.user, view_id: viewId });
    if (!res.ok && res.error) toast(res.error);
  }

  // ---------- Block Kit elements: read, write, act ----------

  function readEl(el) {
    const type = el.dataset.type || "";
    if (el.tagName === "SELECT") {
      if (el.multiple) return { values: Array.from(el.selectedOptions).map((o) => o.value).filter((v) => v !== "") };
      return el.value !== "" ? { value: el.value } : {};
    }
    if (el.tagName === "INPUT" || el.tagName === "TEXTAREA") {
      return el.value !== "" ? { value: el.value } : {};
    }
    const boxes = Array.from(el.querySelectorAll("input[type=checkbox],input[type=radio]"));
    if (boxes.length) {
      const checked = boxes.filter((b) => b.checked).map((b) => b.value);
      if (type === "radio_buttons" || boxes[0].type === "radio") return checked.length ? { value: checked[0] } : {};
      return { values: checked };
    }
    const inner = el.querySelector("input,textarea,select");
    if (inner) return readEl(inner);
    return el.dataset.value != null ? { value: el.dataset.value } : {};
  }

  function writeEl(el, v) {
    if (el.tagName === "SELECT") {
      const want = new Set(v.values || (v.value != null ? [v.value] : []));
      Array.from(el.options).forEach((o) => (o.selected = want.has(o.value)));
      if (!el.multiple && !want.size) el.value = "";
      return;
    }
    if (el.tagName === "INPUT" || el.tagName === "TEXTAREA") {
      el.value = v.value != null ? v.value : "";
      return;
    }
    const boxes = el.querySelectorAll("input[type=checkbox],input[type=radio]");
    if (boxes.length) {
      const want = new Set(v.values || (v.value != null ? [v.value] : []));
      boxes.forEach((b) => (b.checked = want.has(b.value)));
      return;
    }
    const inner = el.querySelector("input,textarea,select");
    if (inner) writeEl(inner, v);
  }

  function isLive(el) {
    // Elements in actions blocks, section accessories and dispatching inputs act at
    // once; other elements inside input blocks are read at submit.
    if (el.dataset.live === "1" || el.dataset.dispatch === "1") return true;
    return !el.closest(".bk-input");
  }

  // An element with a `confirm` object asks first, in Slack's own small dialog.
  function confirmFirst(el) {
    if (!el.dataset.confirm) return Promise.resolve(true);
    let c = {};
    try {
      c = JSON.parse(el.dataset.confirm);
    } catch (e) {
      /* show the defaults */
    }
    $("confirm-title").textContent = c.title || "Are you sure?";
    $("confirm-text").textContent = c.text || "";
    $("confirm-ok").textContent = c.confirm || "Yes";
    $("confirm-deny").textContent = c.deny || "Cancel";
    $("confirm").hidden = false;
    $("confirm-ok").focus();
    return new Promise((resolve) => {
      const done = (answer) => {
        $("confirm").hidden = true;
        $("confirm-ok").onclick = $("confirm-deny").onclick = null;
        resolve(answer);
      };
      $("confirm-ok").onclick = () => done(true);
      $("confirm-deny").onclick = () => done(false);
    });
  }

  async function act(el) {
    if (el.classList.contains("bk-busy")) return;
    if (!(await confirmFirst(el))) {
      if (el.dataset.type === "overflow" && el.tagName === "SELECT") el.value = "";
      return;
    }
    const body = {
      user: S.user,
      block_id: el.dataset.blockId || blockIdOf(el),
      action_id: el.dataset.actionId || "",
      type: el.dataset.type || "",
    };
    if (el.dataset.type === "button") {
      if (el.dataset.value != null) body.value = el.dataset.value;
    } else {
      Object.assign(body, readEl(el));
    }
    if (el.closest("#modal-body")) {
      body.view_id = S.modalViewId;
    } else if (el.closest("#home")) {
      body.conversation = "home";
    } else {
      const msg = el.closest(".message");
      body.conversation = S.conversation;
      if (msg && msg.dataset.ts) body.ts = msg.dataset.ts;
    }
    el.classList.add("bk-busy");
    try {
      const res = await post("/action", body);
      if (!res.ok) toast(res.error || "The app did not answer.");
    } catch (e) {
      toast("Could not reach the sandbox.");
    } finally {
      el.classList.remove("bk-busy");
    }
    if (el.dataset.type === "overflow" && el.tagName === "SELECT") el.value = "";
  }

  // ---------- composer ----------

  async function send(text, threadTs, onDone) {
    const t = text.trim();
    if (!t) return;
    $("composer-error").textContent = "";
    const body = { user: S.user, conversation: S.conversation, text: t };
    if (threadTs) body.thread_ts = threadTs;
    try {
      const res = await post("/compose", body);
      if (res.ok) onDone();
      else $("composer-error").textContent = res.error || "Not sent.";
    } catch (e) {
      $("composer-error").textContent = "Could not reach the sandbox.";
    }
  }

  function autoGrow(t) {
    t.style.height = "auto";
    t.style.height = Math.min(t.scrollHeight, 200) + "px";
  }

  async function openHome() {
    // Slack sends app_home_opened each time the tab is opened; the app publishes the view.
    try {
      const res = await post("/home", { user: S.user });
      if (!res.ok && res.error) toast(res.error);
    } catch (e) {
      toast("Could not reach the sandbox.");
    }
  }

  function switchConversation(id) {
    if (!id || id === S.conversation) return;
    if (id === "home") openHome();
    const c = $("composer");
    if (S.conversation) S.drafts.set(S.conversation, c.value);
    S.conversation = id;
    c.value = S.drafts.get(id) || "";
    autoGrow(c);
    $("composer-error").textContent = "";
    S.lastSidebar = null;
    saveLocation();
    restartPoll();
  }

  // ---------- clock ----------

  async function moveClock(to, button) {
    button.disabled = true;
    let moved = false;
    try {
      // The person's zone says when "Monday 09:00" is.
      const res = await post("/clock", { user: S.user, to });
      moved = res.ok !== false;
      if (!moved) toast(res.error || "The clock did not move.");
    } catch (e) {
      toast("Could not reach the sandbox.");
    }
    // Moved: the next state (its clock, and clock.moving while the ticks catch up)
    // redraws the bar and enables the buttons again.
    if (!moved) {
      S.lastClock = null;
      if (S.state) renderClock(S.state.clock, S.state.next_nudge);
      else button.disabled = false;
    }
  }

  // ---------- developer pane ----------

  function setDevOpen(open) {
    S.devOpen = open;
    $("dev-pane").hidden = !open;
    document.body.classList.toggle("dev-open", open);
    $("dev-toggle").setAttribute("aria-expanded", String(open));
    clearTimeout(S.devTimer);
    if (open) pollDev();
  }

  const DEV_KEEP = 500;

  // Seconds since the epoch (or already a string) as HH:MM:SS.
  function clockTime(t) {
    if (typeof t !== "number") return String(t == null ? "" : t);
    return new Date(t * 1000).toTimeString().slice(0, 8);
  }

  function devRow(html, list) {
    const box = $(list);
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 32;
    const tmp = document.createElement("div");
    tmp.innerHTML = html;
    const frag = document.createDocumentFragment();
    while (tmp.firstChild) frag.appendChild(tmp.firstChild);
    box.appendChild(frag);
    while (box.children.length > DEV_KEEP) box.removeChild(box.firstChild);
    if (atBottom) box.scrollTop = box.scrollHeight;
  }

  async function pollDev() {
    if (!S.devOpen) return;
    try {
      // The two lists count separately: one mark each.
      const q = "since=" + S.devSeen.calls + "&requests_since=" + S.devSeen.requests;
      const r = await fetch(API + "/dev?" + q);
      const d = await r.json();
      const fresh = (list, key) => {
        const out = (list || []).filter((x) => (Number(x.n) || 0) > S.devSeen[key]);
        for (const x of out) S.devSeen[key] = Math.max(S.devSeen[key], Number(x.n) || 0);
        return out;
      };
      const calls = fresh(d.calls, "calls");
      const reqs = fresh(d.requests, "requests");
      if (calls.length) {
        devRow(
          calls
            .map((c) => {
              const args = JSON.stringify(c.args || {}, null, 2);
              const short = JSON.stringify(c.args || {});
              return (
                `<details class="dev-row ${c.ok ? "ok" : "fail"}"><summary><span class="dev-time">${esc(clockTime(c.time))}</span>` +
                `<span class="dev-method">${esc(c.method)}</span>` +
                `<span class="dev-status">${c.ok ? "ok" : "error: " + esc(c.error || "")}</span>` +
                `<span class="dev-args">${esc(short.length > 140 ? short.slice(0, 140) + "…" : short)}</span></summary>` +
                `<pre>${esc(args)}</pre></details>`
              );
            })
            .join(""),
          "dev-calls",
        );
        S.devCounts.calls += calls.length;
        $("dev-calls-count").textContent = S.devCounts.calls;
      }
      if (reqs.length) {
        devRow(
          reqs
            .map(
              (q) =>
                `<div class="dev-row req ${String(q.status).startsWith("2") ? "ok" : "fail"}"><span class="dev-time">${esc(clockTime(q.time))}</span>` +
                `<span class="dev-kind">${esc(q.kind)}</span><span class="dev-summary">${esc(q.summary || "")}</span>` +
                `<span class="dev-status">${esc(q.status)}</span>` +
                `<span class="dev-ack">${q.ack_ms != null ? esc(Number(q.ack_ms).toFixed(1)) + " ms" : ""}</span></div>`,
            )
            .join(""),
          "dev-requests",
        );
        S.devCounts.requests += reqs.length;
        $("dev-requests-count").textContent = S.devCounts.requests;
      }
    } catch (e) {
      /* try again on the next tick */
    }
    if (S.devOpen) S.devTimer = setTimeout(pollDev, 1000);
  }

  // ---------- wiring ----------

  function wire() {
    $("you-are").addEventListener("change", (e) => {
      const c = $("composer");
      if (S.conversation) S.drafts.set(S.conversation, c.value);
      S.drafts = new Map();
      c.value = "";
      S.user = e.target.value;
      // Keep a channel open if the new person is in it too (checked when state arrives).
      const cur = S.state && S.state.conversation;
      S.conversation = cur && cur.kind === "channel" ? cur.id : null;
      S.modalValues.clear();
      S.modalErrors.clear();
      S.lastSidebar = null;
      S.lastHome = null;
      renderedConversation = null;
      saveLocation();
      restartPoll();
    });

    document.addEventListener("click", (e) => {
      const nav = e.target.closest("#sidebar [data-conversation-id]");
      if (nav) {
        e.preventDefault();
        switchConversation(nav.dataset.conversationId);
        return;
      }
      const toggle = e.target.closest(".thread-toggle");
      if (toggle) {
        const ts = toggle.dataset.threadTs;
        const opening = !S.expanded.has(ts);
        if (opening) S.expanded.add(ts);
        else S.expanded.delete(ts);
        if (S.state) renderMessages(S.state.conversation);
        if (opening) {
          const t = document.querySelector(`.thread-composer[data-thread-ts="${CSS.escape(ts)}"]`);
          if (t) t.focus();
        }
        return;
      }
      const btn = e.target.closest('.bk-el[data-type="button"]');
      if (btn && isLive(btn)) {
        // A link button opens its address (target=_blank) and tells the app too, as Slack does.
        if (btn.tagName !== "A") e.preventDefault();
        act(btn);
      }
    });

    document.addEventListener("change", (e) => {
      const el = e.target.closest(".bk-el");
      if (!el || el.dataset.type === "button") return;
      if (e.target.matches("input[type=text],input[type=number],input[type=email],input[type=url],textarea")) return;
      if (isLive(el)) act(el);
    });

    document.addEventListener("keydown", (e) => {
      const t = e.target;
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing && t.closest) {
        const el = t.closest(".bk-el");
        if (el && el.dataset.dispatch === "1" && t.tagName !== "TEXTAREA") {
          e.preventDefault();
          act(el);
          return;
        }
        if (t.classList && t.classList.contains("thread-composer")) {
          e.preventDefault();
          send(t.value, t.dataset.threadTs, () => (t.value = ""));
          return;
        }
      }
      if (e.key === "Escape" && !$("confirm").hidden) $("confirm-deny").click();
      else if (e.key === "Escape" && !$("modal").hidden) closeModal();
    });

    const c = $("composer");
    c.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        send(c.value, null, () => {
          c.value = "";
          autoGrow(c);
        });
      }
    });
    c.addEventListener("input", () => autoGrow(c));
    $("composer-send").addEventListener("click", () =>
      send(c.value, null, () => {
        c.value = "";
        autoGrow(c);
      }),
    );

    $("tab-home").addEventListener("click", () => switchConversation("home"));
    $("tab-messages").addEventListener("click", () => switchConversation(S.botDm));

    $("modal-submit").addEventListener("click", submitModal);
    $("modal-close").addEventListener("click", closeModal);
    $("modal-cancel").addEventListener("click", closeModal);

    const clocks = { "clock-next": "next", "clock-hour": "hour", "clock-day": "day", "clock-monday": "monday" };
    for (const [id, to] of Object.entries(clocks)) $(id).addEventListener("click", (e) => moveClock(to, e.currentTarget));

    $("dev-toggle").addEventListener("click", () => setDevOpen(!S.devOpen));
    $("dev-close").addEventListener("click", () => setDevOpen(false));
    document.querySelectorAll(".dev-tab").forEach((b) =>
      b.addEventListener("click", () => {
        document.querySelectorAll(".dev-tab").forEach((x) => x.classList.toggle("active", x === b));
        $("dev-calls").hidden = b.dataset.devTab !== "calls";
        $("dev-requests").hidden = b.dataset.devTab !== "requests";
      }),
    );
  }

  async function start() {
    wire();
    try {
      await loadPeople();
    } catch (e) {
      $("clock-now").textContent = "Sandbox not reachable";
    }
    saveLocation();
    if (S.conversation === "home") openHome();
    restartPoll();
  }

  // For tests and the curious: the page's own view of things.
  window.sandboxPage = { state: () => S.state, version: () => S.version };

  start();
})();
