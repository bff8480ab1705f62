// Jobs remembered in this browser, the job card, and status polling with back-off.

import { ApiError, getAllResults, getJson, savedToken } from "./api.js";
import { renderPlot } from "./plot.js";
import { downloadLink, renderTable, toCsv } from "./results.js";

const JOBS_KEY = "videoJobs.jobs";
const MAX_REMEMBERED = 50;
const FINAL = new Set(["completed", "failed", "gone"]);
const $ = (id) => document.getElementById(id);

let activeId = null;
let pollTimer = null;
let tickTimer = null;
let onServerError = () => {};

export function loadJobs() {
  try {
    const jobs = JSON.parse(localStorage.getItem(JOBS_KEY) || "[]");
    return Array.isArray(jobs) ? jobs.filter((j) => j && typeof j.job_id === "string") : [];
  } catch (_) {
    return [];
  }
}

function saveJobs(jobs) {
  localStorage.setItem(JOBS_KEY, JSON.stringify(jobs.slice(0, MAX_REMEMBERED)));
}

export function rememberJob(job) {
  // Newest first; a job already remembered keeps its place and gets the new fields.
  const jobs = loadJobs();
  const index = jobs.findIndex((j) => j.job_id === job.job_id);
  const before = index === -1 ? null : jobs[index];
  if (index === -1) jobs.unshift(job);
  else jobs[index] = { ...jobs[index], ...job };
  saveJobs(jobs);
  // Only a new job or a new status changes what the list shows.
  if (!before || before.status !== job.status) renderList();
}

function findJob(jobId) {
  return loadJobs().find((j) => j.job_id === jobId) || { job_id: jobId };
}

function forgetJob(jobId) {
  saveJobs(loadJobs().filter((j) => j.job_id !== jobId));
  if (activeId === jobId) {
    activeId = null;
    clearTimeout(pollTimer);
    $("job-panel").hidden = true;
    history.replaceState(null, "", location.pathname);
  }
  renderList();
}

function badge(status) {
  const span = document.createElement("span");
  span.className = `badge status-${status || "unknown"}`;
  span.textContent = status === "gone" ? "not found" : status || "unknown";
  return span;
}

function duration(seconds) {
  if (seconds < 1) return "under 1 s";
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${s % 60} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

function elapsedText(job) {
  if (!job.created_at) return "";
  const start = Date.parse(job.created_at);
  if (FINAL.has(job.status) && job.updated_at) return `took ${duration((Date.parse(job.updated_at) - start) / 1000)}`;
  return `${duration((Date.now() - start) / 1000)} so far`;
}

function renderList() {
  // Rebuild the list, then give focus back to the button that had it (checks rewrite it).
  const jobs = loadJobs();
  const list = $("job-list");
  $("jobs-empty").hidden = jobs.length > 0;
  const focused = list.contains(document.activeElement) ? document.activeElement : null;
  const focusKey = focused ? [focused.closest(".job-item").dataset.jobId, focused.className] : null;
  list.replaceChildren();
  for (const job of jobs) {
    const item = document.createElement("li");
    item.className = "job-item";
    item.dataset.jobId = job.job_id;
    const open = document.createElement("button");
    open.type = "button";
    open.className = "job-open";
    if (job.job_id === activeId) open.setAttribute("aria-current", "true");
    const name = document.createElement("span");
    name.className = "job-name";
    name.textContent = job.file_name || job.job_id;
    const meta = document.createElement("span");
    meta.className = "job-meta";
    const when = job.submitted_at || job.created_at;
    meta.textContent = `${job.pipeline_id || ""} · ${job.job_id.slice(0, 8)}${when ? ` · ${new Date(when).toLocaleString()}` : ""}`;
    open.append(badge(job.status), name, meta);
    open.addEventListener("click", () => showJob(job.job_id));
    const forget = document.createElement("button");
    forget.type = "button";
    forget.className = "link forget";
    forget.textContent = "Forget";
    forget.setAttribute("aria-label", `Forget job ${job.file_name || job.job_id}`);
    forget.addEventListener("click", () => forgetJob(job.job_id));
    item.append(open, forget);
    list.appendChild(item);
    if (focusKey && focusKey[0] === job.job_id) {
      (focusKey[1] === forget.className ? forget : open).focus();
    }
  }
}

function copyButton(text, label) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "secondary copy";
  button.textContent = label;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
    } catch (_) {
      const area = document.createElement("textarea");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = label; }, 1500);
  });
  return button;
}

function curlBlock(jobId) {
  const auth = savedToken() ? ' -H "Authorization: Bearer $VIDEO_API_TOKEN"' : "";
  const base = location.origin;
  const wrap = document.createElement("div");
  wrap.className = "curl";
  for (const [what, path] of [["status", "status"], ["results", "results"]]) {
    const command = `curl -s${auth} ${base}/video/${path}/${jobId}`;
    const row = document.createElement("div");
    row.className = "curl-row";
    const code = document.createElement("code");
    code.textContent = command;
    code.dataset.curl = what;
    row.append(code, copyButton(command, `Copy ${what} command`));
    wrap.appendChild(row);
  }
  return wrap;
}

function updateCard(job, note) {
  // Re-render only when the status changed, so focus and selection survive each check.
  const card = $("job-card");
  if (card.dataset.jobId === job.job_id && card.dataset.status === (job.status || "unknown")) {
    card.querySelector(".poll-note").textContent = note;
    card.querySelector(".elapsed").textContent = elapsedText(job);
    return null;
  }
  return renderCard(job, note);
}

function renderCard(job, note = "") {
  const card = $("job-card");
  card.replaceChildren();
  card.dataset.jobId = job.job_id;
  card.dataset.status = job.status || "unknown";
  const head = document.createElement("div");
  head.className = "job-head";
  const id = document.createElement("code");
  id.className = "job-id";
  id.textContent = job.job_id;
  head.append(badge(job.status), id, copyButton(job.job_id, "Copy id"));
  const facts = document.createElement("dl");
  facts.className = "facts";
  const fact = (term, value, cls = "") => {
    const dt = document.createElement("dt");
    dt.textContent = term;
    const dd = document.createElement("dd");
    dd.textContent = value;
    if (cls) dd.className = cls;
    facts.append(dt, dd);
  };
  if (job.file_name) fact("File", job.file_name);
  if (job.pipeline_id) fact("Pipeline", job.pipeline_id);
  fact("Elapsed", elapsedText(job), "elapsed");
  const noteLine = document.createElement("p");
  noteLine.className = "poll-note";
  noteLine.setAttribute("aria-live", "polite");
  noteLine.textContent = note;
  card.append(head, facts, noteLine);
  if (job.status === "failed") {
    const box = document.createElement("p");
    box.className = "message message-error job-error";
    box.setAttribute("role", "alert");
    box.textContent = job.error_message || "The job failed without a message.";
    card.appendChild(box);
  }
  if (job.status === "gone") {
    const box = document.createElement("p");
    box.className = "message message-error";
    box.textContent = "The server has no such job any more (it may have been pruned, or it belongs to another token).";
    card.appendChild(box);
  }
  card.appendChild(curlBlock(job.job_id));
  const results = document.createElement("div");
  results.id = "job-results";
  card.appendChild(results);
  return results;
}

async function showResults(job, container) {
  container.replaceChildren(Object.assign(document.createElement("p"), { className: "poll-note", textContent: "Loading results…" }));
  try {
    const frames = await getAllResults(job.job_id);
    if (activeId !== job.job_id) return;
    const heading = Object.assign(document.createElement("h3"), { textContent: `Results: ${frames.length} frame${frames.length === 1 ? "" : "s"}` });
    const downloads = document.createElement("div");
    downloads.className = "downloads";
    const stem = `${(job.file_name || "video").replace(/\.[^.]+$/, "")}-${job.job_id.slice(0, 8)}`;
    downloads.append(
      downloadLink("Download JSON", `${stem}.json`, "application/json", () => JSON.stringify({ job_id: job.job_id, results: frames }, null, 1)),
      downloadLink("Download CSV", `${stem}.csv`, "text/csv", () => toCsv(frames)),
    );
    const plot = document.createElement("div");
    plot.className = "plot";
    plot.id = "plot";
    const table = document.createElement("div");
    table.id = "results-table";
    container.replaceChildren(heading, downloads, plot, table);
    renderPlot(plot, frames);
    renderTable(table, frames);
  } catch (error) {
    const detail = error instanceof ApiError ? error.detail : String(error);
    container.replaceChildren(Object.assign(document.createElement("p"), { className: "message message-error", textContent: `The results could not be loaded: ${detail}.` }));
  }
}

async function poll(jobId, delay, failures) {
  if (jobId !== activeId) return;
  let job = findJob(jobId);
  try {
    const { body, retryAfter } = await getJson(`/video/status/${encodeURIComponent(jobId)}`);
    if (jobId !== activeId) return;
    job = { ...job, ...body };
    rememberJob(job);
    onServerError("");
    if (FINAL.has(job.status)) {
      const container = renderCard(job);
      if (job.status === "completed") await showResults(job, container);
      return;
    }
    const next = retryAfter !== null ? Math.min(30, Math.max(1, retryAfter)) : Math.min(2, delay * 1.25);
    updateCard(job, `Checking the status every ${next.toFixed(1)} s.`);
    pollTimer = setTimeout(() => poll(jobId, next, 0), next * 1000);
  } catch (error) {
    if (jobId !== activeId) return;
    if (error instanceof ApiError && error.status === 404) {
      job = { ...job, status: "gone" };
      rememberJob(job);
      renderCard(job);
      return;
    }
    const wait = error.retryAfter || Math.min(30, 2 ** (failures + 1));
    const why = error instanceof ApiError && error.status === 0 ? "The server cannot be reached" : `The server answered: ${error.detail || error}`;
    updateCard(job, `${why}. Trying again in ${Math.round(wait)} s.`);
    pollTimer = setTimeout(() => poll(jobId, 1, failures + 1), wait * 1000);
  }
}

export function showJob(jobId) {
  // Make jobId the job on the card and check its status at once, then every 1-2 s.
  clearTimeout(pollTimer);
  activeId = jobId;
  history.replaceState(null, "", `#job=${jobId}`);
  $("job-panel").hidden = false;
  renderCard(findJob(jobId), "Checking the status…");
  renderList();
  poll(jobId, 1, 0);
}

async function refreshUnfinished() {
  // Statuses of the other remembered jobs that had not finished, one request at a time.
  for (const job of loadJobs()) {
    if (FINAL.has(job.status) || job.job_id === activeId) continue;
    try {
      const { body } = await getJson(`/video/status/${encodeURIComponent(job.job_id)}`);
      rememberJob({ ...job, ...body });
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) rememberJob({ ...job, status: "gone" });
      else break;
    }
  }
}

export function initJobs(options) {
  onServerError = options.onServerError;
  renderList();
  const fromHash = (location.hash.match(/^#job=([0-9a-fA-F-]{36})$/) || [])[1];
  const jobs = loadJobs();
  const first = fromHash || (jobs[0] && jobs[0].job_id);
  if (first) showJob(first);
  refreshUnfinished();
  setInterval(refreshUnfinished, 10000);
  clearInterval(tickTimer);
  tickTimer = setInterval(() => {
    const cell = document.querySelector("#job-card .elapsed");
    if (cell && activeId) cell.textContent = elapsedText(findJob(activeId));
  }, 1000);
}
