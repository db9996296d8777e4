// mfabot console: sends what the person types or presses, and applies the live updates
// the server pushes over server-sent events. No inline script: the page's CSP forbids it.
(function () {
  "use strict";
  const me = document.body.dataset.as;
  const timeline = document.getElementById("timeline");
  const direct = document.getElementById("direct");
  const form = document.getElementById("composer");
  const input = document.getElementById("text");

  function lists(target) { return target === "direct" ? direct : timeline; }

  function fragment(html) {
    const t = document.createElement("template");
    t.innerHTML = html; // server-rendered by html/template: every value is escaped
    return t.content;
  }

  function scrollDown(el) { el.scrollTop = el.scrollHeight; }

  async function send(text, button, reason) {
    const body = new URLSearchParams({ as: me, text: text, button: button ? "true" : "false" });
    if (reason) body.set("reason", reason);
    const res = await fetch("/command", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json" },
      body: body,
    });
    if (!res.ok) {
      let msg = res.statusText;
      try { msg = (await res.json()).error || msg; } catch (e) { /* not JSON */ }
      alert("mfabot: " + msg);
    }
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    send(text, false);
  });

  // Buttons on cards: Approve sends at once; Deny asks for a reason inline first.
  document.addEventListener("click", function (e) {
    const btn = e.target.closest("button[data-command]");
    if (!btn) return;
    e.preventDefault();
    if (btn.dataset.needsReason === "true") {
      const actions = btn.closest(".actions");
      if (actions.querySelector(".reason-form")) return;
      const f = document.createElement("form");
      f.className = "reason-form";
      const i = document.createElement("input");
      i.type = "text"; i.required = true; i.maxLength = 500;
      i.placeholder = "Why? (the requester will see it)";
      i.setAttribute("aria-label", "Reason");
      const ok = document.createElement("button");
      ok.type = "submit"; ok.className = "btn btn-danger"; ok.textContent = btn.textContent;
      f.append(i, ok);
      f.addEventListener("submit", function (ev) {
        ev.preventDefault();
        const reason = i.value.trim();
        if (!reason) return;
        f.remove();
        send(btn.dataset.command, true, reason);
      });
      actions.after(f);
      i.focus();
      return;
    }
    send(btn.dataset.command, true);
  });

  // Forms (a list to paste): posted with form=1 and each value as f.<field id>; chosen
  // options are joined by the server, a toggle says "true" or "false".
  document.addEventListener("submit", async function (e) {
    const f = e.target.closest("form.card-form");
    if (!f) return;
    e.preventDefault();
    const body = new URLSearchParams({ as: me, text: f.dataset.formCommand, button: "true", form: "1" });
    f.querySelectorAll("textarea[name], input[name]").forEach(function (el) {
      if (el.type === "checkbox") {
        if (el.dataset.toggle === "true") body.append("f." + el.name, el.checked ? "true" : "false");
        else if (el.checked) body.append("f." + el.name, el.value);
      } else {
        body.append("f." + el.name, el.value);
      }
    });
    const button = f.querySelector("button[type=submit]");
    if (button) { button.disabled = true; button.textContent = "Sent"; }
    const res = await fetch("/command", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json" },
      body: body,
    });
    if (!res.ok) {
      let msg = res.statusText;
      try { msg = (await res.json()).error || msg; } catch (err) { /* not JSON */ }
      alert("mfabot: " + msg);
      if (button) { button.disabled = false; button.textContent = "Submit"; }
    }
  });

  function setCounts(counts) {
    document.querySelectorAll("[data-count-for]").forEach(function (b) {
      const n = counts[b.dataset.countFor] || 0;
      b.textContent = String(n);
      b.hidden = n === 0;
    });
  }

  function connect() {
    const es = new EventSource("/events?as=" + encodeURIComponent(me));
    es.addEventListener("reset", function (e) {
      const d = JSON.parse(e.data);
      timeline.replaceChildren(fragment(d.timeline));
      direct.replaceChildren(fragment(d.direct));
      setCounts(d.counts || {});
      scrollDown(timeline);
    });
    es.addEventListener("append", function (e) {
      const d = JSON.parse(e.data);
      const list = lists(d.target);
      const atEnd = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
      list.append(fragment(d.html));
      if (atEnd || d.target === "timeline") scrollDown(list);
    });
    es.addEventListener("replace", function (e) {
      const d = JSON.parse(e.data);
      const old = document.getElementById(d.id);
      if (old) {
        // Keep an open reason form if the card is only being refreshed with progress.
        old.replaceWith(fragment(d.html));
      } else {
        lists(d.target).append(fragment(d.html));
      }
    });
    es.addEventListener("counts", function (e) { setCounts(JSON.parse(e.data)); });
  }
  connect();
  input.focus();
})();
