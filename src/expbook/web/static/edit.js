// Editing a run's notes and tags, and deleting it (expbook ui --allow-edits only: the
// server puts its edit token into the page; every write sends it back in a header).
(function () {
  "use strict";
  const form = document.getElementById("edit-form");
  const meta = document.querySelector('meta[name="expbook-edit"]');
  if (!form || !meta) return;
  const token = meta.content;
  const status = document.getElementById("edit-status");
  const url = "/api/runs/" + encodeURIComponent(form.dataset.run);

  async function send(method, body) {
    const opts = { method, headers: { "X-Expbook-Edit": token } };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    const r = await fetch(url, opts);
    let data = null;
    try { data = await r.json(); } catch (e) { data = null; }
    if (!r.ok) throw new Error((data && (data.detail || data.error)) || r.statusText);
    return data;
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const tags = form.elements.tags.value.split(",").map((t) => t.trim()).filter(Boolean);
    const notes = form.elements.notes.value;
    status.textContent = "saving…";
    try {
      await send("PATCH", { notes: notes || null, tags });
      status.textContent = "saved";
      window.location.reload();
    } catch (e) {
      status.textContent = "not saved: " + e.message;
    }
  });

  document.getElementById("delete-run").addEventListener("click", async () => {
    if (!window.confirm("Delete this run and everything it logged? This cannot be undone.")) return;
    status.textContent = "deleting…";
    try {
      await send("DELETE");
      window.location.href = "/?project=" + encodeURIComponent(form.dataset.project);
    } catch (e) {
      status.textContent = "not deleted: " + e.message;
    }
  });
})();
