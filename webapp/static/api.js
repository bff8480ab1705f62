// Talking to the JSON API: the saved token, one error type, fetch for reads, XHR for uploads.

const TOKEN_KEY = "videoJobs.token";

export class ApiError extends Error {
  // status 0 means the server could not be reached at all.
  constructor(status, detail, retryAfter = null) {
    super(detail);
    this.status = status;
    this.detail = detail;
    this.retryAfter = retryAfter;
  }
}

let askForToken = async () => null;

export function onTokenNeeded(callback) {
  // The page supplies the dialog that asks for a token when the server answers 401.
  askForToken = callback;
}

export function savedToken() {
  return localStorage.getItem(TOKEN_KEY) || "";
}

export function saveToken(token) {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
}

function authHeaders() {
  const token = savedToken();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

export function retryAfterSeconds(value) {
  // Retry-After is either seconds or an HTTP date; null when absent or unreadable.
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const when = Date.parse(value);
  return Number.isNaN(when) ? null : Math.max(0, (when - Date.now()) / 1000);
}

function detailOf(status, text) {
  try {
    const body = JSON.parse(text);
    if (body && typeof body.detail === "string") return body.detail;
  } catch (_) {
    // not JSON: a proxy's page or an empty body
  }
  if (status === 413) return "the file is larger than the server accepts";
  if (status === 502 || status === 503 || status === 504) return "the server is unavailable";
  return `the server answered HTTP ${status}`;
}

async function withToken(send) {
  // Send once; on 401 ask for a token (once per refusal) and send again with it.
  let response = await send();
  if (response.status !== 401) return response;
  const hadToken = Boolean(savedToken());
  const token = await askForToken(hadToken);
  if (!token) return response;
  saveToken(token);
  response = await send();
  return response;
}

export async function getJson(path) {
  // GET a JSON document; the browser revalidates with the ETag it holds ("no-cache").
  const send = () =>
    fetch(path, { headers: { Accept: "application/json", ...authHeaders() }, cache: "no-cache" })
      .catch(() => null);
  const response = await withToken(send);
  if (response === null) {
    throw new ApiError(0, "the server cannot be reached; check that it is running");
  }
  const text = await response.text();
  const retryAfter = retryAfterSeconds(response.headers.get("Retry-After"));
  if (!response.ok) throw new ApiError(response.status, detailOf(response.status, text), retryAfter);
  return { body: JSON.parse(text), retryAfter, link: response.headers.get("Link") };
}

export function nextLink(linkHeader) {
  // The URL of an RFC 8288 rel="next" link, if the server pages its answer.
  if (!linkHeader) return null;
  for (const part of linkHeader.split(",")) {
    const match = part.match(/<([^>]+)>\s*;.*rel="?next"?/);
    if (match) return match[1];
  }
  return null;
}

export async function getAllResults(jobId) {
  // The whole results list, following rel="next" pages when the server sends them.
  let path = `/video/results/${encodeURIComponent(jobId)}`;
  const frames = [];
  for (let page = 0; path && page < 10000; page += 1) {
    const { body, link } = await getJson(path);
    frames.push(...body.results);
    path = nextLink(link);
  }
  return frames;
}

export function upload(form, onProgress) {
  // POST multipart with XHR so the browser reports bytes sent; returns {promise, cancel}.
  let xhr = null;
  let cancelled = false;
  const sendOnce = () =>
    new Promise((resolve) => {
      xhr = new XMLHttpRequest();
      xhr.open("POST", "/video/submit");
      for (const [name, value] of Object.entries(authHeaders())) xhr.setRequestHeader(name, value);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.onprogress = (event) => onProgress(event.loaded, event.lengthComputable ? event.total : 0);
      xhr.onload = () => resolve({ status: xhr.status, text: xhr.responseText, xhr });
      xhr.onerror = () => resolve(null);
      xhr.onabort = () => resolve({ status: -1 });
      xhr.send(form);
    });
  const promise = (async () => {
    let result = await sendOnce();
    if (result && result.status === 401 && !cancelled) {
      const token = await askForToken(Boolean(savedToken()));
      if (token) {
        saveToken(token);
        result = await sendOnce();
      }
    }
    if (result === null) throw new ApiError(0, "the server cannot be reached; check that it is running");
    if (result.status === -1) throw new ApiError(-1, "upload cancelled");
    if (result.status < 200 || result.status >= 300) {
      const retryAfter = retryAfterSeconds(result.xhr.getResponseHeader("Retry-After"));
      throw new ApiError(result.status, detailOf(result.status, result.text), retryAfter);
    }
    return JSON.parse(result.text);
  })();
  return {
    promise,
    cancel() {
      cancelled = true;
      if (xhr) xhr.abort();
    },
  };
}
