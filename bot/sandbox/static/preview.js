/* The author preview: pick a program, step, locale and arm; the server renders the
 * step with the bot's own renderer and re-reads nudges/ each time, so Reload shows
 * an edit at once. The catalog's shape is read loosely (ids or objects) so that a
 * program without arms or locales still previews. */
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const API = "/sandbox/api/preview";
  let catalog = { programs: [], locales: [] };

  function esc(s) {
    return String(s == null ? "" : s)
      .replace(/&/g, "&amp;")
      .replace(/</g, "&lt;")
      .replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;");
  }

  // "x" or {id|key|slug|name|value, title|name|label} -> [value, label]
  function pair(x) {
    if (x == null) return ["", ""];
    if (typeof x !== "object") return [String(x), String(x)];
    const value = x.id ?? x.key ?? x.slug ?? x.value ?? x.name ?? x.code ?? "";
    const label = x.title ?? x.label ?? x.name ?? value;
    const same = value === "" || String(label).includes(String(value));
    return [String(value), same ? String(label) : `${label} (${value})`];
  }

  function fill(sel, items, keep) {
    const pairs = (items || []).map(pair);
    sel.innerHTML = pairs.map(([v, l]) => `<option value="${esc(v)}">${esc(l)}</option>`).join("");
    if (!pairs.length) sel.innerHTML = '<option value="">—</option>';
    if (keep != null && pairs.some(([v]) => v === keep)) sel.value = keep;
  }

  function programs() {
    const p = catalog.programs || catalog;
    return Array.isArray(p) ? p : Object.entries(p).map(([id, v]) => Object.assign({ id }, v));
  }

  function currentProgram() {
    return programs().find((p) => pair(p)[0] === $("preview-program").value) || programs()[0] || {};
  }

  function fillDependents(keep) {
    const p = currentProgram();
    fill($("preview-step"), p.steps, keep.step);
    fill($("preview-locale"), p.locales || catalog.locales || ["en"], keep.locale);
    const arms = p.arms || p.variants || [];
    fill($("preview-arm"), arms.length ? arms : [{ id: "", title: "no experiment" }], keep.arm);
  }

  function chosen() {
    return {
      program: $("preview-program").value,
      step: $("preview-step").value,
      locale: $("preview-locale").value,
      arm: $("preview-arm").value,
    };
  }

  async function loadCatalog() {
    const keep = chosen();
    const hash = new URLSearchParams(location.hash.slice(1));
    for (const k of ["program", "step", "locale", "arm"]) if (!keep[k] && hash.get(k)) keep[k] = hash.get(k);
    const r = await fetch(API);
    catalog = await r.json();
    fill($("preview-program"), programs(), keep.program);
    fillDependents(keep);
  }

  async function loadStep() {
    const c = chosen();
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(c)) if (v) q.set(k, v);
    history.replaceState(null, "", "#" + q.toString());
    $("preview-status").textContent = "Loading…";
    try {
      const r = await fetch(API + "/step?" + q.toString());
      const d = await r.json();
      $("preview-message").innerHTML = d.html || "";
      $("preview-text").textContent = d.text || "";
      const problems = d.problems || [];
      $("preview-problems").innerHTML = problems.length
        ? problems
            .map((p) => `<li class="problem">${esc(typeof p === "string" ? p : p.message || JSON.stringify(p))}</li>`)
            .join("")
        : '<li class="no-problems">No problems.</li>';
      $("preview-status").textContent = d.error ? d.error : r.ok ? "Shown at " + new Date().toLocaleTimeString() : "HTTP " + r.status;
    } catch (e) {
      $("preview-status").textContent = "Could not reach the sandbox.";
    }
  }

  async function reload() {
    try {
      await loadCatalog();
    } catch (e) {
      $("preview-status").textContent = "Could not load the programs.";
      return;
    }
    await loadStep();
  }

  $("preview-program").addEventListener("change", () => {
    fillDependents({});
    loadStep();
  });
  for (const id of ["preview-step", "preview-locale", "preview-arm"]) $(id).addEventListener("change", loadStep);
  $("preview-reload").addEventListener("click", reload);
  reload();
})();
