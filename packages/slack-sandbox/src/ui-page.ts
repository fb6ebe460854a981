/** The sandbox's browser UI: one page, plain HTML and a little JS, polling `/ui/state`. */
export const UI_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>mllead — Slack sandbox</title>
<style>
  body { margin: 0; font: 14px/1.45 system-ui, sans-serif; display: grid; grid-template-columns: 180px 1fr 1fr; height: 100vh; color: #1d1c1d; }
  nav { background: #3f0e40; color: #fff; padding: 12px; }
  nav a { display: block; color: #cfc3cf; text-decoration: none; padding: 2px 0; cursor: pointer; }
  nav a.on { color: #fff; font-weight: 600; }
  nav small { color: #b9a8b9; display: block; margin-top: 16px; }
  nav .conn { color: #b9a8b9; font-size: 12px; margin-top: 12px; }
  section { display: flex; flex-direction: column; border-left: 1px solid #ddd; min-width: 0; }
  header { padding: 10px 14px; border-bottom: 1px solid #ddd; font-weight: 700; }
  .list { flex: 1; overflow-y: auto; padding: 8px 14px; }
  .msg { padding: 6px 0; border-bottom: 1px solid #f2f2f2; }
  .msg .who { font-weight: 700; } .msg .who .bot { font-size: 10px; background: #ddd; border-radius: 3px; padding: 0 3px; margin-left: 4px; }
  .msg .ts { color: #888; font-size: 11px; margin-left: 6px; }
  /* Like Slack, a message's own actions show when the pointer is on it. */
  .msg .more { opacity: 0; min-height: 1.2em; } .msg:hover .more, .msg .more:focus-within { opacity: 1; }
  body.home { grid-template-columns: 180px 1fr; } body.home #thread-pane, body.home #send-main { display: none; }
  .home-view { max-width: 860px; padding: 4px 0 12px; }
  .msg.eph { background: #f8f4e5; padding: 6px; } .eph-note { color: #8a6d00; font-size: 11px; }
  .ctx { color: #616061; font-size: 12px; } h3 { margin: 6px 0 2px; font-size: 15px; }
  .actions button, .bar button { margin: 4px 6px 0 0; padding: 3px 10px; border: 1px solid #bbb; border-radius: 4px; background: #fff; cursor: pointer; }
  .actions button.primary { background: #007a5a; color: #fff; border-color: #007a5a; }
  .actions button.danger { color: #e01e5a; border-color: #e01e5a; }
  .reactions span { display: inline-block; border: 1px solid #ccd; border-radius: 10px; padding: 0 6px; margin: 3px 4px 0 0; font-size: 12px; }
  .replies { color: #1264a3; cursor: pointer; font-size: 12px; }
  pre { background: #f6f6f6; padding: 6px; white-space: pre-wrap; margin: 4px 0; } code { background: #f6f6f6; padding: 0 3px; }
  form { display: flex; gap: 6px; padding: 10px 14px; border-top: 1px solid #ddd; }
  form input { flex: 1; padding: 8px; border: 1px solid #bbb; border-radius: 6px; }
  #err { color: #e01e5a; padding: 0 14px; min-height: 1em; font-size: 12px; }
  #modal { display: none; position: fixed; inset: 0; background: rgba(29,28,29,.45); align-items: center; justify-content: center; }
  #modal .dialog { background: #fff; width: 560px; max-width: 92vw; max-height: 90vh; display: flex; flex-direction: column; border-radius: 8px; box-shadow: 0 8px 30px rgba(0,0,0,.3); }
  #modal .body { padding: 12px 16px; overflow-y: auto; } #modal .foot { padding: 10px 16px; border-top: 1px solid #ddd; text-align: right; }
  #modal label.in { display: block; margin: 10px 0; }
  #modal textarea, #modal input { display: block; width: 100%; box-sizing: border-box; padding: 8px; margin-top: 4px; border: 1px solid #bbb; border-radius: 6px; font: inherit; }
  #modal .verr { color: #e01e5a; font-size: 12px; margin-top: 2px; }
  #modal .foot button { margin-left: 6px; padding: 5px 12px; border: 1px solid #bbb; border-radius: 4px; background: #fff; cursor: pointer; }
  #modal .foot button.primary { background: #007a5a; color: #fff; border-color: #007a5a; }
  .fields { display: grid; grid-template-columns: 1fr 1fr; gap: 2px 12px; }
  .plan { border: 1px solid #ddd; border-radius: 6px; padding: 6px 10px; margin: 4px 0; } .plan .t { font-weight: 700; }
  .task { padding: 2px 0; } .task .st { display: inline-block; width: 1.4em; } .task .d { color: #616061; font-size: 12px; margin-left: 1.4em; }
  figure { margin: 6px 0; } figure img, .img img { max-width: 100%; max-height: 320px; border: 1px solid #eee; border-radius: 4px; }
  figcaption { color: #616061; font-size: 12px; } .file { display: inline-block; border: 1px solid #ccd; border-radius: 6px; padding: 4px 8px; margin: 4px 0; }
  .status { color: #616061; font-style: italic; padding: 6px 0; } .bcast { background: #fff3c4; }
  .md h1, .md h2, .md h3 { font-size: 15px; margin: 6px 0 2px; }
</style>
</head>
<body>
<nav><div style="font-weight:700;margin-bottom:8px">mllead sandbox</div><div id="channels"></div>
<a id="home-link" data-home="1">🏠 Home</a>
<div id="conn" class="conn"></div>
<small>Type <b>@mllead train a baseline</b> to start a task, <b>/mllead status</b> or <b>/mllead help</b>. Nothing here reaches real Slack.</small></nav>
<section id="main-pane"><header id="chan-title">#</header><div class="list" id="messages"></div>
<div id="err"></div>
<form id="send-main"><input name="text" placeholder="Message (mention @mllead, or /mllead status)" autocomplete="off"><button>Send</button></form></section>
<section id="thread-pane"><header id="thread-title">Thread</header><div class="list" id="thread"><p class="ctx">Open a thread with “replies”.</p></div>
<form id="send-thread"><input name="text" placeholder="Reply in thread (approve · changes: … · cancel)" autocomplete="off"><button>Reply</button></form></section>
<div id="modal" role="dialog" aria-modal="true"></div>
<script>
const hash = new URLSearchParams(location.hash.slice(1));
const state = { channel: hash.get("channel"), thread: hash.get("thread"), data: null };
function remember() { const h = new URLSearchParams(); if (state.channel) h.set("channel", state.channel); if (state.thread) h.set("thread", state.thread); history.replaceState(null, "", "#" + h); }
const EMOJI = { eyes: "👀", white_check_mark: "✅", heavy_check_mark: "✔️", "+1": "👍", x: "❌", warning: "⚠️", hourglass_flowing_sand: "⏳",
  arrows_counterclockwise: "🔄", white_circle: "⚪", fast_forward: "⏩", rocket: "🚀", robot_face: "🤖", memo: "📝", gear: "⚙️",
  bar_chart: "📊", no_entry_sign: "🚫", pencil2: "✏️", tada: "🎉", mag: "🔍", clipboard: "📋", red_circle: "🔴", large_orange_circle: "🟠",
  large_yellow_circle: "🟡", large_blue_circle: "🔵", ballot_box_with_check: "☑️", black_square_button: "🔲", link: "🔗", stopwatch: "⏱️",
  package: "📦", chart_with_upwards_trend: "📈", information_source: "ℹ️", speech_balloon: "💬", raised_hand: "✋",
  thinking_face: "🤔", inbox_tray: "📥", hammer_and_wrench: "🛠️", arrow_forward: "▶️", zap: "⚡" };
const esc = (s) => String(s ?? "").replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const attr = (s) => esc(s).replace(/"/g, "&quot;");
function userName(id) { const d = state.data; if (!d) return id; if (id === d.bot.userId) return "mllead"; if (id === d.me) return "you"; return id; }
function mrkdwn(s) {
  let h = esc(s);
  h = h.replace(/\`\`\`([\\s\\S]*?)\`\`\`/g, (_, c) => "<pre>" + c + "</pre>");
  h = h.replace(/\`([^\`\\n]+)\`/g, "<code>$1</code>");
  h = h.replace(/&lt;(https?:[^|&]+)\\|([^&]+)&gt;/g, '<a href="$1" target="_blank">$2</a>');
  h = h.replace(/&lt;(https?:[^&]+)&gt;/g, '<a href="$1" target="_blank">$1</a>');
  h = h.replace(/&lt;@([A-Z0-9]+)&gt;/g, (_, u) => "<b>@" + esc(userName(u)) + "</b>");
  h = h.replace(/&lt;!(channel|here|everyone)(\\|[^&]*)?&gt;/g, (_, b) => '<b class="bcast">@' + b + "</b>");
  h = h.replace(/(^|[\\s(])\\*([^*\\n]+)\\*/g, "$1<b>$2</b>");
  h = h.replace(/(^|[\\s(])_([^_\\n]+)_/g, "$1<i>$2</i>");
  h = h.replace(/(^|\\n)&gt; ?([^\\n]*)/g, "$1<span style='border-left:3px solid #ddd;padding-left:6px;color:#555'>$2</span>");
  h = h.replace(/:([a-z0-9_+-]+):/g, (m, n) => EMOJI[n] ?? m);
  // What the app escaped (&amp;lt; after our own escaping) is shown as the character, as Slack shows it.
  h = h.replace(/&amp;(lt|gt|amp);/g, "&$1;");
  return h.replace(/\\n/g, "<br>");
}
const unesc = (s) => String(s ?? "").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
function plain(s) { return esc(unesc(s)).replace(/:([a-z0-9_+-]+):/g, (m, n) => EMOJI[n] ?? m); }
function text(t) { return t ? (t.type === "plain_text" ? plain(t.text) : mrkdwn(t.text)) : ""; }
function markdown(s) {
  let h = esc(unesc(s));
  h = h.replace(/^#{1,3} (.*)$/gm, "<h3>$1</h3>").replace(/\\*\\*([^*\\n]+)\\*\\*/g, "<b>$1</b>").replace(/\`([^\`\\n]+)\`/g, "<code>$1</code>");
  h = h.replace(/^[-*] (.*)$/gm, "• $1").replace(/:([a-z0-9_+-]+):/g, (m, n) => EMOJI[n] ?? m);
  return '<div class="md">' + h.replace(/\\n/g, "<br>") + "</div>";
}
function rich(r) {
  const walk = (e) => !e ? "" : e.type === "text" ? plain(e.text) : e.type === "link" ? '<a href="' + attr(e.url) + '" target="_blank">' + plain(e.text || e.url) + "</a>"
    : (e.elements || []).map(walk).join(e.type === "rich_text_list" ? "<br>• " : "");
  return r ? walk(r) : "";
}
const TASK_MARK = { pending: "○", in_progress: "◐", complete: "✅", error: "❌" };
function taskHtml(t) {
  return '<div class="task"><span class="st" title="' + esc(t.status || "pending") + '">' + (TASK_MARK[t.status] || "○") + "</span>" + plain(t.title) +
    (t.details ? '<div class="d">' + rich(t.details) + "</div>" : "") + (t.output ? '<div class="d">' + rich(t.output) + "</div>" : "") + "</div>";
}
function filesHtml(m) {
  return (m.files || []).map((f) => f.mimetype && f.mimetype.startsWith("image/")
    ? '<figure><img src="' + attr(f.url_private) + '" alt="' + attr(f.alt_txt || f.title) + '"><figcaption>' + esc(f.title) + "</figcaption></figure>"
    : '<div><a class="file" href="' + attr(f.url_private) + '" target="_blank">📄 ' + esc(f.title) + " · " + Math.ceil(f.size / 1024) + " KB</a></div>").join("");
}
function blocksHtml(m) {
  if (!m.blocks || !m.blocks.length) return "<div>" + mrkdwn(m.text) + "</div>" + filesHtml(m);
  return filesHtml(m) + m.blocks.map((b) => {
    switch (b.type) {
      case "header": return "<h3>" + text(b.text) + "</h3>";
      case "section": return "<div>" + text(b.text) + (b.fields ? '<div class="fields">' + b.fields.map((f) => "<div>" + text(f) + "</div>").join("") + "</div>" : "") + "</div>";
      case "context": return '<div class="ctx">' + (b.elements || []).map((e) => e.type === "image" ? "" : text(e)).join(" · ") + "</div>";
      case "divider": return "<hr>";
      case "plan": return '<div class="plan"><div class="t">' + plain(b.title) + "</div>" + (b.tasks || []).map(taskHtml).join("") + "</div>";
      case "task_card": return '<div class="plan">' + taskHtml(b) + "</div>";
      case "markdown": return markdown(b.text);
      case "rich_text": return "<div>" + rich(b) + "</div>";
      case "image": return '<div class="img"><img src="' + attr(b.image_url || "") + '" alt="' + attr(b.alt_text) + '"></div>';
      case "actions": return '<div class="actions">' + (b.elements || []).filter((e) => e.type === "button").map((e) =>
        '<button class="' + esc(e.style || "") + '" data-ts="' + esc(m.ts) + '" data-action="' + esc(e.action_id) + '">' + text(e.text) + "</button>").join("") + "</div>";
      default: return "";
    }
  }).join("");
}
/** A message's time as Slack shows it (its ts is seconds since the epoch; the full ts is the tooltip). */
function clock(ts) { const d = new Date(Number(ts) * 1000); return isNaN(d) ? ts : d.toLocaleTimeString([], { hour: "numeric", minute: "2-digit" }); }
function msgHtml(m, inThread) {
  const bot = m.bot_id ? '<span class="bot">APP</span>' : "";
  const reacts = (m.reactions || []).map((r) => "<span>" + (EMOJI[r.name] ?? ":" + esc(r.name) + ":") + " " + r.count + "</span>").join("");
  const replies = !inThread && m.reply_count ? '<div class="replies" data-thread="' + esc(m.ts) + '">' + m.reply_count + " replies →</div>" : "";
  const open = !inThread && !m.reply_count ? '<span class="replies" data-thread="' + esc(m.ts) + '">reply in thread</span>' : "";
  const react = '<span class="replies" data-react="' + esc(m.ts) + '"> · ✅ react</span>';
  const ask = m.user !== state.data?.bot.userId ? '<span class="replies" data-ask="' + esc(m.ts) + '"> · Ask @mllead</span>' : "";
  const live = (state.data?.streaming || []).includes(m.ts) ? ' <span class="ctx">✍️ writing…</span>' : "";
  return '<div class="msg" data-ts="' + attr(m.ts) + '"><span class="who">' + esc(userName(m.user)) + bot + '</span><span class="ts" title="' + attr(m.ts) + '">' + esc(clock(m.ts)) + "</span>" + live +
    blocksHtml(m) + '<div class="reactions">' + reacts + "</div>" + replies + '<div class="more">' + open + react + ask + "</div></div>";
}
function inputHtml(b, err, typed) {
  const e = b.element || {}; const id = e.action_id || ""; const val = typed[id] ?? e.initial_value ?? "";
  const extra = (e.placeholder ? ' placeholder="' + attr(e.placeholder.text) + '"' : "") + (e.max_length ? ' maxlength="' + Number(e.max_length) + '"' : "");
  const field = e.multiline ? '<textarea rows="5" data-input="' + attr(id) + '"' + extra + ">" + esc(val) + "</textarea>"
    : '<input data-input="' + attr(id) + '"' + extra + ' value="' + attr(val) + '">';
  return '<label class="in"><b>' + text(b.label) + "</b>" + field + (err ? '<div class="verr">' + esc(err) + "</div>" : "") + "</label>";
}
let shownView = "";
function renderModal(views) {
  const v = (views || [])[0]; const box = document.getElementById("modal");
  const key = v ? v.id + "|" + v.hash + "|" + JSON.stringify(v.errors) : "";
  if (key === shownView) return;
  // Redraw only when the modal changes, keeping what the person typed.
  const typed = {}; for (const el of box.querySelectorAll("[data-input]")) typed[el.dataset.input] = el.value;
  shownView = key;
  if (!v) { box.innerHTML = ""; box.style.display = "none"; return; }
  const body = v.blocks.map((b) => b.type === "input" ? inputHtml(b, v.errors[b.block_id], typed) : blocksHtml({ text: "", blocks: [b] })).join("");
  const close = '<button data-view-cancel="' + attr(v.id) + '">' + text(v.close || { type: "plain_text", text: "Cancel" }) + "</button>";
  const submit = v.submit ? '<button class="primary" data-view-submit="' + attr(v.id) + '">' + text(v.submit) + "</button>" : "";
  box.innerHTML = '<div class="dialog"><header>' + text(v.title) + '</header><div class="body">' + body + '</div><div class="foot">' + close + submit + "</div></div>";
  box.style.display = "flex";
  box.querySelector("[data-input]")?.focus();
}
function ephHtml(e) { return '<div class="msg eph"><div class="eph-note">Only visible to you</div>' + blocksHtml(e) + "</div>"; }
let lastRender = "";
async function refresh() {
  const q = new URLSearchParams(); if (state.channel) q.set("channel", state.channel); if (state.thread) q.set("thread", state.thread);
  const res = await fetch("/ui/state?" + q); const raw = await res.text();
  // Redraw only what changed: an unchanged page keeps its images, selection and scroll position.
  const key = raw + "|" + (state.home ? 1 : 0);
  if (key === lastRender) return;
  lastRender = key;
  const d = JSON.parse(raw); state.data = d; state.channel = d.channel;
  document.getElementById("conn").textContent = "mllead · " + d.connection;
  document.getElementById("channels").innerHTML = d.channels.map((c) => '<a data-channel="' + esc(c.id) + '" class="' + (c.id === d.channel ? "on" : "") + '"># ' + esc(c.name) + "</a>").join("");
  document.getElementById("chan-title").textContent = "# " + (d.channels.find((c) => c.id === d.channel)?.name ?? "");
  const main = document.getElementById("messages"); const atBottom = main.scrollTop + main.clientHeight >= main.scrollHeight - 20;
  document.getElementById("home-link").className = state.home ? "on" : "";
  document.body.classList.toggle("home", !!state.home);
  if (state.home) {
    document.getElementById("chan-title").textContent = "🏠 mllead — Home";
    main.innerHTML = '<div class="home-view">' + (d.home ? blocksHtml({ text: "", blocks: d.home.blocks }) : '<p class="ctx">mllead has not published a Home tab yet.</p>') + "</div>";
    renderModal(d.views); return;
  }
  main.innerHTML = d.messages.map((m) => msgHtml(m, false)).join("") + d.ephemerals.filter((e) => !e.thread_ts).map(ephHtml).join("");
  if (atBottom) main.scrollTop = main.scrollHeight;
  const th = document.getElementById("thread");
  if (state.thread) {
    document.getElementById("thread-title").textContent = "Thread";
    th.innerHTML = d.thread.map((m) => msgHtml(m, true)).join("") + d.ephemerals.filter((e) => e.thread_ts === state.thread).map(ephHtml).join("") +
      (d.status ? '<div class="status">mllead ' + plain(d.status) + "</div>" : "");
  }
  renderModal(d.views);
}
async function call(path, body) {
  const res = await fetch(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const out = await res.json(); document.getElementById("err").textContent = out.ok ? "" : out.error || "Something went wrong.";
  await refresh(); return out;
}
document.body.addEventListener("click", (ev) => {
  const t = ev.target.closest("[data-channel],[data-thread],[data-action],[data-react],[data-ask],[data-home],[data-view-submit],[data-view-cancel]"); if (!t) return;
  if (t.dataset.viewSubmit) {
    const values = {}; for (const el of document.querySelectorAll("#modal [data-input]")) values[el.dataset.input] = el.value;
    call("/ui/view/submit", { viewId: t.dataset.viewSubmit, values });
  } else if (t.dataset.viewCancel) call("/ui/view/cancel", { viewId: t.dataset.viewCancel });
  else if (t.dataset.home) { state.home = true; call("/ui/home", {}); }
  else if (t.dataset.ask) call("/ui/shortcut", { channel: state.channel, ts: t.dataset.ask, callbackId: "mllead_ask" });
  else if (t.dataset.channel) { state.home = false; state.channel = t.dataset.channel; state.thread = null; remember(); refresh(); }
  else if (t.dataset.thread) { state.thread = t.dataset.thread; remember(); refresh(); }
  else if (t.dataset.action) call("/ui/click", { channel: state.channel, ts: t.dataset.ts, actionId: t.dataset.action });
  else if (t.dataset.react) call("/ui/react", { channel: state.channel, ts: t.dataset.react, name: "white_check_mark" });
});
for (const [id, inThread] of [["send-main", false], ["send-thread", true]]) {
  document.getElementById(id).addEventListener("submit", (ev) => {
    ev.preventDefault(); const input = ev.target.elements.text; const text = input.value.trim(); if (!text) return;
    if (inThread && !state.thread) { document.getElementById("err").textContent = "Open a thread first."; return; }
    input.value = ""; call("/ui/send", { channel: state.channel, text, threadTs: inThread ? state.thread : undefined });
  });
}
refresh(); setInterval(refresh, 1000);
</script>
</body>
</html>
`;
