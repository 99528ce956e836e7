/* The embed: <script src="https://<gateway>/web/chat/static/widget.js" data-po="<organisation id>" defer></script>
   Adds a launcher button; the chat window is an iframe from the gateway, so the host page's styles
   and scripts cannot reach it (nor it them). Optional: data-label="Chat with us". */
(function () {
  "use strict";
  var me = document.currentScript;
  if (!me || !me.dataset.po) return;
  var po = me.dataset.po;
  var origin = new URL(me.src, location.href).origin;
  var openKey = "ooh-chat-open:" + po;
  var frame = null;
  var frameReady = false;

  var launcher = document.createElement("button");
  launcher.type = "button";
  launcher.id = "ooh-chat-launcher";
  launcher.textContent = me.dataset.label || "Chat with us";
  launcher.setAttribute("aria-expanded", "false");
  var s = launcher.style;
  s.position = "fixed"; s.right = "1rem"; s.bottom = "1rem"; s.zIndex = "2147483000";
  s.font = "700 1.1875rem/1.2 arial, sans-serif"; s.padding = "0.75rem 1rem"; s.minHeight = "44px";
  s.color = "#fff"; s.background = "#00703c"; s.border = "2px solid transparent"; s.borderRadius = "0";
  s.boxShadow = "0 2px 0 #002d18"; s.cursor = "pointer";
  launcher.addEventListener("focus", function () { s.outline = "3px solid #fd0"; s.outlineOffset = "0"; s.background = "#fd0"; s.color = "#0b0c0c"; s.boxShadow = "0 2px 0 #0b0c0c"; });
  launcher.addEventListener("blur", function () { s.outline = ""; s.background = "#00703c"; s.color = "#fff"; s.boxShadow = "0 2px 0 #002d18"; });

  var narrow = window.matchMedia("(max-width: 40em), (max-height: 36em)");
  function place() {
    if (!frame) return;
    var f = frame.style;
    if (narrow.matches) {
      f.top = "0"; f.left = "0"; f.right = "0"; f.bottom = "0"; f.width = "100%"; f.height = "100%"; f.maxHeight = "none";
    } else {
      f.top = "auto"; f.left = "auto"; f.right = "1rem"; f.bottom = "1rem"; f.width = "26rem"; f.height = "40rem";
      f.maxHeight = "calc(100vh - 2rem)";
    }
  }
  if (narrow.addEventListener) narrow.addEventListener("change", place);

  function tell(action) {
    if (frame && frameReady) frame.contentWindow.postMessage({ type: "ooh-chat", action: action }, origin);
  }

  function open(focus) {
    if (!frame) {
      frame = document.createElement("iframe");
      frame.id = "ooh-chat-frame";
      frame.title = "Chat with us";
      frame.src = origin + "/web/chat/window?po=" + encodeURIComponent(po);
      var f = frame.style;
      f.position = "fixed"; f.zIndex = "2147483001"; f.border = "2px solid #0b0c0c"; f.background = "#fff";
      f.boxSizing = "border-box"; f.boxShadow = "0 0 1rem rgba(0,0,0,.3)";
      frame.addEventListener("load", function () {
        frameReady = true;
        if (frame.dataset.focus === "1") tell("focus");
      });
      document.body.appendChild(frame);
      launcher.setAttribute("aria-controls", frame.id);
    }
    place();
    frame.hidden = false;
    frame.style.display = "block";
    launcher.setAttribute("aria-expanded", "true");
    launcher.style.display = "none";
    try { sessionStorage.setItem(openKey, "1"); } catch (e) { /* storage blocked: just don't remember */ }
    if (focus) {
      frame.dataset.focus = "1";
      frame.focus();
      tell("focus");
    }
  }

  function close() {
    if (!frame) return;
    frame.hidden = true;
    frame.style.display = "none";
    frame.dataset.focus = "";
    launcher.style.display = "";
    launcher.setAttribute("aria-expanded", "false");
    try { sessionStorage.removeItem(openKey); } catch (e) { /* nothing kept */ }
    launcher.focus();
  }

  window.addEventListener("message", function (event) {
    if (!frame || event.origin !== origin || event.source !== frame.contentWindow) return;
    var data = event.data || {};
    if (data.type !== "ooh-chat") return;
    if (data.action === "close") close();
    if (data.action === "cleared") {
      try { sessionStorage.removeItem(openKey); } catch (e) { /* nothing kept */ }
    }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && frame && !frame.hidden) close();
  });
  launcher.addEventListener("click", function () { open(true); });

  function start() {
    document.body.appendChild(launcher);
    var wasOpen = false;
    try { wasOpen = sessionStorage.getItem(openKey) === "1"; } catch (e) { /* blocked */ }
    if (wasOpen) open(false);
  }
  if (document.body) start(); else document.addEventListener("DOMContentLoaded", start);
})();
