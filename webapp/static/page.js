// The page: pipelines, the upload form with its byte progress bar, the token dialog.

import { ApiError, getJson, onTokenNeeded, saveToken, savedToken, upload } from "./api.js";
import { initJobs, rememberJob, showJob } from "./jobs.js";

const $ = (id) => document.getElementById(id);
const form = $("submit-form");
const fileInput = $("file-input");
const dropZone = $("drop-zone");
const select = $("pipeline-select");
const submitButton = $("submit-button");
let pipelinesById = new Map();
let currentUpload = null;

function showFormError(text) {
  const box = $("form-error");
  box.textContent = text;
  box.hidden = !text;
}

export function showServerError(text, retry) {
  // A banner for a server that cannot be reached; retry re-runs what failed.
  $("server-error").hidden = !text;
  $("server-error-text").textContent = text || "";
  $("server-error-retry").onclick = retry || null;
  $("server-error-retry").hidden = !retry;
}

function formatBytes(bytes) {
  if (bytes >= 1024 * 1024 * 1024) return `${(bytes / 1024 ** 3).toFixed(2)} GB`;
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${bytes} bytes`;
}

function describeSelected() {
  const pipeline = pipelinesById.get(select.value);
  $("pipeline-description").textContent = pipeline
    ? pipeline.available === false
      ? `Unavailable: ${pipeline.unavailable_reason || "not installed on this server"}`
      : pipeline.description || ""
    : "";
}

function updateSubmitEnabled() {
  const pipeline = pipelinesById.get(select.value);
  submitButton.disabled = Boolean(currentUpload) || !pipeline || pipeline.available === false;
}

async function loadPipelines() {
  try {
    const { body } = await getJson("/video/pipelines");
    pipelinesById = new Map(body.pipelines.map((p) => [p.pipeline_id, p]));
    select.replaceChildren();
    for (const pipeline of body.pipelines) {
      const option = document.createElement("option");
      option.value = pipeline.pipeline_id;
      const unavailable = pipeline.available === false;
      option.textContent = unavailable ? `${pipeline.pipeline_id} (unavailable)` : pipeline.pipeline_id;
      option.disabled = unavailable;
      select.appendChild(option);
    }
    const usable = body.pipelines.filter((p) => p.available !== false).map((p) => p.pipeline_id);
    select.value = usable.includes(body.default_pipeline_id) ? body.default_pipeline_id : usable[0] || "";
    select.disabled = false;
    showServerError("");
  } catch (error) {
    select.replaceChildren(new Option("Pipelines could not be loaded"));
    select.disabled = true;
    const detail = error instanceof ApiError ? error.detail : String(error);
    showServerError(`Cannot load the pipelines: ${detail}.`, loadPipelines);
  }
  describeSelected();
  updateSubmitEnabled();
}

function chooseFile(file) {
  if (!file) return;
  const transfer = new DataTransfer();
  transfer.items.add(file);
  fileInput.files = transfer.files;
  showChosenFile();
}

function showChosenFile() {
  const file = fileInput.files[0];
  $("file-name").textContent = file ? `Chosen: ${file.name} (${formatBytes(file.size)})` : "";
  dropZone.classList.toggle("has-file", Boolean(file));
  showFormError("");
}

function readPositive(input, name) {
  const raw = input.value.trim();
  if (raw === "") return null;
  if (!/^[0-9]+$/.test(raw) || Number(raw) < 1) throw new Error(`${name} must be a whole number of at least 1.`);
  return raw;
}

function submitErrorText(error) {
  if (error.status === 0) return "The server cannot be reached. Check that it is running, then try again.";
  if (error.status === 413) return `The file is too large for this server: ${error.detail}.`;
  if (error.status === 401) return `The server refused the token: ${error.detail}.`;
  if (error.status === 503) {
    const wait = error.retryAfter ? ` Try again in ${Math.ceil(error.retryAfter)} s.` : "";
    return `The server is busy or partly down: ${error.detail}.${wait}`;
  }
  return `The server did not accept the video (HTTP ${error.status}): ${error.detail}.`;
}

async function submit(event) {
  event.preventDefault();
  showFormError("");
  const file = fileInput.files[0];
  if (!file) {
    showFormError("Choose a video first: drop an MP4 on the box above or press it to pick one.");
    fileInput.focus();
    return;
  }
  let stride;
  let maxFrames;
  try {
    stride = readPositive($("stride-input"), "Frame stride");
    maxFrames = readPositive($("max-frames-input"), "Max frames");
  } catch (error) {
    showFormError(error.message);
    return;
  }
  const data = new FormData();
  data.append("file", file, file.name);
  data.append("pipeline_id", select.value);
  if (stride) data.append("frame_stride", stride);
  if (maxFrames) data.append("max_frames", maxFrames);

  const bar = $("upload-bar");
  const text = $("upload-text");
  $("upload-progress").hidden = false;
  bar.value = 0;
  text.textContent = `0 of ${formatBytes(file.size)} sent`;
  currentUpload = upload(data, (sent, total) => {
    const whole = total || file.size;
    bar.value = whole ? Math.min(100, (100 * sent) / whole) : 0;
    text.textContent = `${formatBytes(sent)} of ${formatBytes(whole)} sent`;
  });
  updateSubmitEnabled();
  try {
    const { job_id: jobId } = await currentUpload.promise;
    rememberJob({ job_id: jobId, pipeline_id: select.value, file_name: file.name, submitted_at: new Date().toISOString(), status: "pending" });
    fileInput.value = "";
    showChosenFile();
    showJob(jobId);
    $("job-panel").scrollIntoView({ block: "start" });
  } catch (error) {
    if (error instanceof ApiError && error.status === -1) showFormError("Upload cancelled; nothing was submitted.");
    else if (error instanceof ApiError) showFormError(submitErrorText(error));
    else showFormError(`Unexpected error: ${error}`);
  } finally {
    currentUpload = null;
    $("upload-progress").hidden = true;
    await loadPipelinesIfEmpty();
    updateSubmitEnabled();
  }
}

async function loadPipelinesIfEmpty() {
  if (pipelinesById.size === 0) await loadPipelines();
  else {
    describeSelected();
  }
}

function askTokenDialog(hadToken) {
  // Resolve with the token typed in, or null when the person cancels.
  const dialog = $("token-dialog");
  const input = $("token-input");
  $("token-reason").textContent = hadToken
    ? "The server refused the saved token. Enter a valid API token."
    : "Enter the API token you were given. It is kept in this browser and sent as an Authorization: Bearer header.";
  input.value = "";
  return new Promise((resolve) => {
    const finish = (value) => {
      dialog.removeEventListener("close", onClose);
      if (dialog.open) dialog.close();
      $("forget-token").hidden = !value && !savedToken();
      resolve(value);
    };
    const onClose = () => finish(dialog.returnValue === "save" ? input.value.trim() || null : null);
    dialog.addEventListener("close", onClose);
    $("token-cancel").onclick = () => { dialog.returnValue = "cancel"; dialog.close(); };
    dialog.returnValue = "";
    dialog.showModal();
    input.focus();
  });
}

let pendingTokenRequest = null;
onTokenNeeded((hadToken) => {
  // Several requests may hit 401 at once: ask once and give them all the same answer.
  if (!pendingTokenRequest) {
    pendingTokenRequest = askTokenDialog(hadToken).then((token) => {
      pendingTokenRequest = null;
      if (token) $("forget-token").hidden = false;
      return token;
    });
  }
  return pendingTokenRequest;
});

fileInput.addEventListener("change", showChosenFile);
for (const name of ["dragenter", "dragover"]) {
  dropZone.addEventListener(name, (event) => {
    event.preventDefault();
    dropZone.classList.add("dragging");
  });
}
for (const name of ["dragleave", "drop"]) {
  dropZone.addEventListener(name, () => dropZone.classList.remove("dragging"));
}
dropZone.addEventListener("drop", (event) => {
  event.preventDefault();
  chooseFile(event.dataTransfer.files[0]);
});
// A file dropped outside the box must not make the browser leave the page.
window.addEventListener("dragover", (event) => event.preventDefault());
window.addEventListener("drop", (event) => event.preventDefault());
select.addEventListener("change", () => { describeSelected(); updateSubmitEnabled(); });
form.addEventListener("submit", submit);
$("upload-cancel").addEventListener("click", () => currentUpload && currentUpload.cancel());
$("forget-token").hidden = !savedToken();
$("forget-token").addEventListener("click", () => { saveToken(""); $("forget-token").hidden = true; });

loadPipelines();
initJobs({ onServerError: showServerError });
