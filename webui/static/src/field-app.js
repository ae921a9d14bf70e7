// The field app: today's visits kept on the phone (IndexedDB through dexie), visit forms filled in without a
// connection, and an outbox of completed visits sent when the connection returns. No framework: a few render
// functions over the stored data; the page's words come from the server in the page's language.
import Dexie from "dexie";
import "./field.css";

const db = new Dexie("field-visits");
db.version(1).stores({
  visits: "id, planned_on",      // a downloaded visit: household, base_version, form key
  forms: "key",                  // form definitions, labels in both languages
  outbox: "visit_id, state",     // a completed visit waiting to be sent: waiting / sent / conflict / refused
  meta: "name",                  // when the visits were downloaded
});

const root = document.getElementById("field-app");
const words = JSON.parse(document.getElementById("field-words").textContent);
const lang = document.documentElement.lang === "ar" ? "ar" : "en";
const RETRY_MS = 30000;
let sending = false;

const pick = (labels) => (typeof labels === "string" ? labels : labels && (labels[lang] || labels.en || labels.ar)) || "";
const text = (key, values = {}) => (words[key] || key).replace(/\{(\w+)\}/g, (_m, name) => values[name] ?? "");

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) if (child) node.append(child);
  return node;
}

// --- talking to the server ------------------------------------------------------------------------

async function csrfToken() {
  const answer = await fetch(root.dataset.tokenUrl, { credentials: "same-origin", cache: "no-store" });
  if (!answer.ok) throw Object.assign(new Error("token"), { status: answer.status });
  return (await answer.json()).csrf_token;
}

async function download() {
  const status = document.getElementById("field-status");
  status.textContent = text("downloading");
  try {
    const answer = await fetch(root.dataset.todayUrl, { credentials: "same-origin", cache: "no-store" });
    if (answer.status === 401) { status.textContent = text("signin"); return; }
    if (!answer.ok) throw new Error(String(answer.status));
    const body = await answer.json();
    await db.transaction("rw", db.visits, db.forms, db.meta, db.outbox, async () => {
      // Visits completed here and not yet sent stay: the outbox still needs their form and household.
      const pending = new Set((await db.outbox.toArray()).filter((i) => i.state !== "sent").map((i) => i.visit_id));
      await db.visits.filter((v) => !pending.has(v.id)).delete();
      await db.visits.bulkPut(body.visits);
      // A visit sent earlier and no longer planned leaves the phone with its outbox entry.
      const planned = new Set(body.visits.map((v) => v.id));
      await db.outbox.filter((i) => i.state === "sent" && !planned.has(i.visit_id)).delete();
      await db.forms.bulkPut(Object.values(body.forms));
      await db.meta.put({ name: "downloaded", at: new Date().toISOString(), day: body.day });
    });
    status.textContent = text("downloaded", { count: body.visits.length });
  } catch (err) {
    console.error(err);
    status.textContent = text("download_failed");
  }
  await render();
}

function fileToBase64(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1]);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

async function sendOne(item, token) {
  const files = {};
  for (const file of item.files) {
    (files[file.field] ||= []).push({ name: file.name, content_base64: await fileToBase64(file.blob) });
  }
  const answer = await fetch(root.dataset.submitUrl.replace("/0/", `/${item.visit_id}/`), {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "Idempotency-Key": item.key, "X-CSRFToken": token,
               "Accept-Language": lang },
    body: JSON.stringify({ base_version: item.base_version, outcome: item.outcome, data: item.data, files }),
  });
  const body = await answer.json().catch(() => ({}));
  if (answer.ok) return { state: "sent", message: "" };
  if (answer.status === 409) return { state: "conflict", message: body.error || "" };
  if (answer.status === 401 || answer.status === 400) throw Object.assign(new Error("auth"), { status: 401 });
  if (answer.status >= 500) throw new Error(String(answer.status));
  return { state: "refused", message: body.error || "", errors: body.errors || {} };
}

// Send every waiting visit, one after the other; a lost connection leaves the rest waiting for the next try.
async function sync() {
  if (sending || !navigator.onLine) return;
  const waiting = await db.outbox.where("state").equals("waiting").toArray();
  if (!waiting.length) return;
  sending = true;
  const status = document.getElementById("field-status");
  try {
    const token = await csrfToken();
    for (const item of waiting) {
      const result = await sendOne(item, token);
      await db.outbox.update(item.visit_id, { ...result, sent_at: new Date().toISOString() });
      if (result.state === "sent") await db.outbox.update(item.visit_id, { files: [] });  // the server has them
    }
    status.textContent = text("synced");
  } catch (err) {
    status.textContent = err.status === 401 ? text("signin") : text("retry_later");
  } finally {
    sending = false;
  }
  await render();
}

// --- pages ----------------------------------------------------------------------------------------

const STATE_WORDS = { waiting: "state_waiting", sent: "state_sent", conflict: "state_conflict", refused: "state_refused" };

async function renderList() {
  const [visits, outbox, meta] = await Promise.all([db.visits.orderBy("planned_on").toArray(), db.outbox.toArray(),
                                                    db.meta.get("downloaded")]);
  const states = Object.fromEntries(outbox.map((item) => [item.visit_id, item]));
  const list = el("ol", { class: "field-visits", "data-testid": "field-visits" });
  for (const visit of visits) {
    const sent = states[visit.id];
    list.append(el("li", { class: "field-visit", "data-visit": visit.id },
      el("a", { href: `#visit/${visit.id}`, class: "field-visit-link" },
        el("strong", { text: visit.household.head_name || visit.household.reference }),
        el("span", { text: [visit.locality, visit.household.address].filter(Boolean).join(" · ") }),
        el("span", { class: "field-muted", text: `${visit.planned_on || ""} · ${text("attempt", { n: visit.attempt })}` })),
      sent ? el("span", { class: `field-badge field-${sent.state}`, "data-testid": `state-${visit.id}`,
                          text: text(STATE_WORDS[sent.state]) }) : null,
      !sent && !visit.open ? el("span", { class: "field-badge field-sent", text: text("done") }) : null,
      sent && sent.message ? el("p", { class: "field-muted", text: sent.message }) : null));
  }
  return el("section", {},
    el("div", { class: "field-toolbar" },
      el("button", { type: "button", class: "primary", "data-testid": "field-download", onclick: download },
         text("download")),
      el("button", { type: "button", "data-testid": "field-sync", onclick: sync },
         text("send_now"))),
    el("p", { class: "field-muted", "data-testid": "field-downloaded",
              text: meta ? text("last_download", { at: new Date(meta.at).toLocaleString(lang) }) : text("never") }),
    visits.length ? list : el("p", { text: text("no_visits") }));
}

function input(field, value, path) {
  const id = `f-${path}`;
  const common = { id, name: path, required: field.required || null, "aria-describedby": `${id}-error` };
  if (field.type === "textarea") return el("textarea", { ...common, maxlength: field.max_length }, value ?? "");
  if (field.type === "choice") {
    return el("select", common, el("option", { value: "", text: "—" }),
      field.choices.map((c) => el("option", { value: c.value, selected: String(value) === c.value, text: pick(c.label) })));
  }
  if (field.type === "boolean") {
    return el("select", common, el("option", { value: "", text: "—" }),
      el("option", { value: "true", selected: value === true, text: text("yes") }),
      el("option", { value: "false", selected: value === false, text: text("no") }));
  }
  if (field.type === "file") {
    return el("input", { ...common, type: "file", multiple: true, accept: "image/jpeg,image/png,application/pdf",
                         capture: "environment" });
  }
  const types = { integer: "number", number: "number", date: "date", phone: "tel" };
  return el("input", { ...common, type: types[field.type] || "text", value: value ?? "",
                       step: field.type === "number" ? "any" : null, min: field.minimum, max: field.maximum,
                       maxlength: field.max_length, inputmode: field.type === "national_id" ? "numeric" : null });
}

function fieldBlock(field, value) {
  const label = el("label", { for: `f-${field.name}` }, pick(field.label),
                   field.required ? el("span", { class: "required", text: " *" }) : null);
  if (field.type === "multichoice") {
    const chosen = new Set(value || []);
    return el("fieldset", { class: "field" }, el("legend", {}, pick(field.label)),
      field.choices.map((c) => el("label", { class: "check" },
        el("input", { type: "checkbox", name: field.name, value: c.value, checked: chosen.has(c.value) }), pick(c.label))),
      el("p", { class: "field-error", id: `f-${field.name}-error` }));
  }
  return el("div", { class: "field" }, label, input(field, value, field.name),
            el("p", { class: "field-error", id: `f-${field.name}-error` }));
}

// Groups (lists of members) are kept as downloaded: the phone's form covers the single-value fields.
const offlineFields = (form) => form.fields.filter((f) => f.type !== "group");

async function renderVisit(visitId) {
  const visit = await db.visits.get(visitId);
  if (!visit) return el("p", { text: text("not_on_phone") });
  const [outcomeForm, form, queued] = await Promise.all([db.forms.get(visit.outcome_form), db.forms.get(visit.form),
                                                         db.outbox.get(visitId)]);
  const values = queued ? queued.data : visit.values || {};
  const household = el("dl", { class: "field-household" },
    (visit.household.summary || []).flatMap((row) => [el("dt", { text: pick(row.label) }),
                                                               el("dd", { text: String(row.value ?? "—") })]));
  const outcome = el("div", { class: "field" },
    el("label", { for: "f-outcome" }, text("outcome"), el("span", { class: "required", text: " *" })),
    el("select", { id: "f-outcome", name: "outcome", required: true, "aria-describedby": "f-outcome-error" },
      el("option", { value: "", text: "—" }),
      (outcomeForm ? outcomeForm.outcomes : []).map((o) => el("option", {
        value: o.value, selected: queued && queued.outcome === o.value, text: pick(o.label) }))),
    el("p", { class: "field-error", id: "f-outcome-error" }));
  const editable = visit.open && (!queued || queued.state === "waiting" || queued.state === "refused");
  const formNode = el("form", { class: "field-form", novalidate: true, "data-testid": "field-form" },
    outcome,
    (outcomeForm ? offlineFields(outcomeForm) : []).map((f) => fieldBlock(f, values[f.name])),
    form ? el("h3", { text: pick(form.title) }) : null,
    el("div", { class: "field-details" }, form ? offlineFields(form).map((f) => fieldBlock(f, values[f.name])) : []),
    el("button", { type: "submit", class: "primary", "data-testid": "field-save" }, text("save")));
  formNode.addEventListener("submit", (event) => {
    event.preventDefault();
    save(visit, [outcomeForm, form].filter(Boolean), formNode);
  });
  return el("section", {},
    el("p", {}, el("a", { href: "#", text: text("back") })),
    el("h2", { text: visit.household.head_name || visit.household.reference }),
    household,
    queued ? el("p", { class: `field-badge field-${queued.state}`, "data-testid": "visit-state",
                       text: text(STATE_WORDS[queued.state]) }) : null,
    !visit.open && !queued ? el("p", { class: "field-badge field-sent", text: text("done") }) : null,
    queued && queued.files.length ? el("p", { class: "field-muted", "data-testid": "visit-files",
      text: text("files_kept", { names: queued.files.map((f) => f.name).join(", ") }) }) : null,
    editable ? formNode : null);
}

function readValue(field, formNode) {
  if (field.type === "multichoice") {
    return [...formNode.querySelectorAll(`input[name="${field.name}"]:checked`)].map((box) => box.value);
  }
  const raw = formNode.elements[field.name].value.trim();
  if (raw === "") return null;
  if (field.type === "boolean") return raw === "true";
  if (field.type === "integer") return Number.parseInt(raw, 10);
  if (field.type === "number") return Number(raw);
  return raw;
}

async function save(visit, forms, formNode) {
  const problems = {};
  const outcome = formNode.elements.outcome.value;
  if (!outcome) problems.outcome = text("required");
  // Values the phone does not show (the members list) go back as downloaded.
  const data = { ...(visit.values || {}) };
  const files = [];
  for (const field of forms.flatMap(offlineFields)) {
    if (field.type === "file") {
      for (const file of formNode.elements[field.name].files) {
        if (file.size > Number(root.dataset.maxFileBytes)) problems[field.name] = text("too_large");
        files.push({ field: field.name, name: file.name, type: file.type, blob: file });
      }
      continue;
    }
    data[field.name] = readValue(field, formNode);
    const empty = data[field.name] === null || (Array.isArray(data[field.name]) && !data[field.name].length);
    // The household's details are required only when it was found and took part.
    if (field.required && empty && outcome === "updated") problems[field.name] = text("required");
  }
  for (const node of formNode.querySelectorAll(".field-error")) node.textContent = "";
  const names = Object.keys(problems);
  if (names.length) {
    for (const name of names) document.getElementById(`f-${name}-error`).textContent = problems[name];
    document.getElementById(`f-${names[0]}`)?.focus();
    return;
  }
  const previous = await db.outbox.get(visit.id);
  await db.outbox.put({
    visit_id: visit.id, key: crypto.randomUUID(), base_version: visit.base_version, outcome, data,
    files: files.length ? files : (previous ? previous.files : []), state: "waiting", message: "",
    saved_at: new Date().toISOString(),
  });
  location.hash = "";
  await render();
  sync();
}

async function render() {
  const match = /^#visit\/(\d+)$/.exec(location.hash);
  const page = match ? await renderVisit(Number(match[1])) : await renderList();
  document.getElementById("field-page").replaceChildren(page);
  const online = document.getElementById("field-online");
  online.textContent = navigator.onLine ? text("online") : text("offline");
  online.className = navigator.onLine ? "field-badge field-sent" : "field-badge field-waiting";
}

window.addEventListener("hashchange", render);
window.addEventListener("online", () => { render(); sync(); });
window.addEventListener("offline", render);
setInterval(sync, RETRY_MS);

if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register(root.dataset.workerUrl, { scope: root.dataset.scope }).catch(() => {});
}
render().then(sync);
