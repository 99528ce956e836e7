/* The chat window: a WebSocket to the gateway, the conversation kept in localStorage (so a reload
   or another page of the same site resumes it), messages typed offline queued and sent once, in
   order. Everything from the server is rendered as text nodes, never as HTML. */
(function () {
  "use strict";
  var main = document.getElementById("main-content");
  var po = main.dataset.po;
  var orgName = main.dataset.name;
  var KEY = "ooh-chat:" + po;
  var log = document.getElementById("chat-log");
  var greeting = log.innerHTML;
  var form = document.getElementById("chat-form");
  var input = document.getElementById("chat-input");
  var statusBox = document.getElementById("chat-status");
  var choices = document.getElementById("chat-choices");
  var ended = document.getElementById("chat-ended");
  var announcer = document.getElementById("chat-announcer");
  var reduceMotion = window.matchMedia("(prefers-reduced-motion: reduce)");

  var state = load();
  var ws = null;
  var ready = false;
  var attempt = 0;
  var timer = null;
  var sent = {};

  function fresh() { return { token: null, messages: [], queue: [], buttons: [], finished: null }; }
  function load() {
    try {
      var kept = JSON.parse(localStorage.getItem(KEY));
      if (kept && Array.isArray(kept.messages) && Array.isArray(kept.queue)) return kept;
    } catch (e) { /* unreadable: start again */ }
    return fresh();
  }
  function save() {
    try { localStorage.setItem(KEY, JSON.stringify(state)); } catch (e) { /* storage full or blocked */ }
  }
  function newId() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // ------------------------------------------------------------------ rendering
  function textWithLinks(parts, fallback) {
    var p = el("p", "chat-text");
    (parts && parts.length ? parts : [{ text: fallback }]).forEach(function (part) {
      if (part.tel && /^tel:\+?[0-9]{3,15}$/.test(part.tel)) {
        var a = el("a", "govuk-link", part.text);
        a.href = part.tel;
        p.appendChild(a);
      } else {
        p.appendChild(document.createTextNode(part.text));
      }
    });
    return p;
  }
  function renderMessage(m) {
    var li = el("li", "chat-msg chat-msg--" + (m.from === "you" ? "you" : "agent"));
    li.appendChild(el("p", "chat-who", m.from === "you" ? "You" : orgName));
    if (m.helplines && m.helplines.length) {
      var list = el("ul", "chat-helplines");
      list.setAttribute("aria-label", "Numbers to call");
      m.helplines.forEach(function (h) {
        if (!/^tel:\+?[0-9]{3,15}$/.test(h.tel)) return;
        var item = el("li");
        var a = el("a", "govuk-link", "Call " + h.text);
        a.href = h.tel;
        item.appendChild(a);
        list.appendChild(item);
      });
      li.appendChild(list);
    }
    li.appendChild(textWithLinks(m.parts, m.text));
    if (m.from === "you" && m.pending) {
      li.appendChild(el("p", "chat-pending", ready ? "Sending…" : "Not sent yet: it will be sent when you are back online."));
    }
    return li;
  }
  function renderChoices() {
    choices.textContent = "";
    var buttons = state.buttons || [];
    choices.hidden = buttons.length === 0;
    buttons.forEach(function (b) {
      var button = el("button", "govuk-button govuk-button--secondary", b.title);
      button.type = "button";
      button.addEventListener("click", function () { send(b.title, b.payload); input.focus(); });
      choices.appendChild(button);
    });
  }
  function renderEnded() {
    if (!state.finished || !state.finished.reference) { ended.hidden = true; return; }
    document.getElementById("chat-reference").textContent = state.finished.reference;
    document.getElementById("chat-next").textContent = state.finished.next || "";
    ended.hidden = false;
  }
  function renderAll() {
    log.innerHTML = greeting;
    state.messages.forEach(function (m) { log.appendChild(renderMessage(m)); });
    renderChoices();
    renderEnded();
    scrollDown();
  }
  function scrollDown() {
    var target = ended.hidden ? (choices.hidden ? log.lastElementChild : choices) : ended;
    if (target && target.scrollIntoView) target.scrollIntoView({ block: "end", behavior: reduceMotion.matches ? "auto" : "smooth" });
  }
  function announce(text) {
    var p = el("p", "", text);
    announcer.appendChild(p);
    while (announcer.childNodes.length > 3) announcer.removeChild(announcer.firstChild);
  }
  function setStatus(text) { statusBox.textContent = text || ""; }

  // ------------------------------------------------------------------ the connection
  function connect() {
    if (ws) return;
    clearTimeout(timer);
    var scheme = location.protocol === "https:" ? "wss:" : "ws:";
    var socket = new WebSocket(scheme + "//" + location.host + "/web/chat/socket?po=" + encodeURIComponent(po));
    ws = socket;
    socket.onopen = function () { socket.send(JSON.stringify({ type: "hello", token: state.token })); };
    socket.onmessage = function (event) {
      var data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      handle(data);
    };
    socket.onclose = function () {
      if (ws !== socket) return;
      ws = null;
      ready = false;
      sent = {};
      setStatus("You are offline. We will reconnect when we can; anything you send will be sent then. If anyone is in immediate danger, call 999.");
      renderPending();
      var delay = Math.min(30000, 500 * Math.pow(2, attempt)) * (0.75 + Math.random() / 2);
      attempt += 1;
      timer = setTimeout(connect, delay);
    };
  }
  function drop() {
    if (ws) { var socket = ws; ws = null; ready = false; sent = {}; socket.close(); }
  }
  function handle(data) {
    if (data.type === "welcome") {
      state.token = data.token;
      save();
      ready = true;
      attempt = 0;
      setStatus("");
      flush();
      renderPending();
    } else if (data.type === "reply") {
      receive(data);
    } else if (data.type === "error") {
      setStatus(data.text || "Chat is not available. If anyone is in immediate danger, call 999.");
    }
  }
  function flush() {
    if (!ready || !ws) return;
    state.queue.forEach(function (id) {
      if (sent[id]) return;
      var m = find(id);
      if (!m) return;
      var message = { type: "message", id: id, text: m.text };
      if (m.payload) message.payload = m.payload;
      ws.send(JSON.stringify(message));
      sent[id] = true;
    });
  }
  function find(id) {
    for (var i = 0; i < state.messages.length; i++) if (state.messages[i].id === id) return state.messages[i];
    return null;
  }
  function receive(data) {
    var mine = find(data.id);
    if (!mine || !mine.pending) return;  // answered already (another tab, or a repeat)
    mine.pending = false;
    state.queue = state.queue.filter(function (id) { return id !== data.id; });
    var shown = [];
    (data.messages || []).forEach(function (m) {
      if (!m || (!m.text && !(m.buttons && m.buttons.length))) return;
      state.messages.push({ from: "agent", text: m.text, parts: m.parts, helplines: m.helplines });
      shown.push(m.text);
    });
    var last = (data.messages || []).filter(function (m) { return m && m.buttons && m.buttons.length; }).pop();
    state.buttons = last ? last.buttons : [];
    if (data.finished && data.finished.reference) state.finished = data.finished;
    save();
    renderAll();
    shown.forEach(function (text) { announce(orgName + ": " + text); });
    if (data.finished && data.finished.reference) announce("Your reference is " + data.finished.reference + ".");
  }
  function renderPending() {
    var items = log.querySelectorAll(".chat-msg--you");
    var mine = state.messages.filter(function (m) { return m.from === "you"; });
    mine.forEach(function (m, i) {
      var li = items[i];
      if (!li) return;
      var note = li.querySelector(".chat-pending");
      if (!m.pending) { if (note) note.remove(); return; }
      if (!note) { note = el("p", "chat-pending"); li.appendChild(note); }
      note.textContent = ready ? "Sending…" : "Not sent yet: it will be sent when you are back online.";
    });
  }

  function send(text, payload) {
    text = (text || "").trim();
    if (!text) return;
    var m = { from: "you", id: newId(), text: text.slice(0, 2000), pending: true };
    if (payload && payload !== text) m.payload = payload;
    state.messages.push(m);
    state.queue.push(m.id);
    state.buttons = [];
    save();
    log.appendChild(renderMessage(m));
    renderChoices();
    scrollDown();
    if (!ws) connect();
    flush();
  }

  // ------------------------------------------------------------------ controls
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    input.value = "";
    send(text);
    input.focus();
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
  });
  function closeWindow() { parent.postMessage({ type: "ooh-chat", action: "close" }, "*"); }
  document.getElementById("chat-close").addEventListener("click", closeWindow);
  document.addEventListener("keydown", function (event) { if (event.key === "Escape") closeWindow(); });
  document.getElementById("chat-print").addEventListener("click", function () { window.print(); });
  document.getElementById("chat-save").addEventListener("click", function () {
    var lines = [orgName + " out-of-hours chat", ""];
    state.messages.forEach(function (m) { lines.push((m.from === "you" ? "You" : orgName) + ": " + m.text); });
    if (state.finished && state.finished.reference) lines.push("", "Reference: " + state.finished.reference, state.finished.next || "");
    var link = el("a");
    link.href = URL.createObjectURL(new Blob([lines.join("\n") + "\n"], { type: "text/plain" }));
    link.download = "chat-" + ((state.finished && state.finished.reference) || "transcript") + ".txt";
    document.body.appendChild(link);
    link.click();
    setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
  });
  document.getElementById("chat-clear").addEventListener("click", function () {
    drop();
    clearTimeout(timer);
    try { localStorage.removeItem(KEY); } catch (e) { /* nothing kept */ }
    state = fresh();
    renderAll();
    try { localStorage.removeItem(KEY); } catch (e) { /* nothing kept */ }
    parent.postMessage({ type: "ooh-chat", action: "cleared" }, "*");
    setStatus("Chat ended. Nothing from it is kept on this device.");
    input.focus();
  });
  window.addEventListener("message", function (event) {
    if (event.source !== parent || !event.data || event.data.type !== "ooh-chat") return;
    if (event.data.action === "focus") input.focus();
  });
  window.addEventListener("storage", function (event) {
    if (event.key !== KEY) return;  // another tab of the same site changed the conversation
    state = load();
    renderAll();
  });
  window.addEventListener("offline", function () { drop(); setStatus("You are offline. Anything you send will be sent when you are back online. If anyone is in immediate danger, call 999."); renderPending(); });
  window.addEventListener("online", function () { attempt = 0; connect(); });

  renderAll();
  if (navigator.onLine !== false) connect();
})();
