// The results of a completed job as a paged table and as JSON/CSV downloads.

const PAGE_SIZE = 25;

export function columnsOf(frames) {
  // frame_index, timestamp_ms, then every other result key in order of first appearance.
  const keys = [];
  const seen = new Set(["timestamp_ms"]);
  for (const frame of frames) {
    for (const key of Object.keys(frame.result || {})) {
      if (!seen.has(key)) {
        seen.add(key);
        keys.push(key);
      }
    }
  }
  return ["frame_index", "timestamp_ms", ...keys];
}

function cellValue(frame, column) {
  const value = column === "frame_index" ? frame.frame_index : (frame.result || {})[column];
  if (value === undefined || value === null) return "";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function csvField(text) {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv(frames) {
  // One row per frame; nested values (lists, objects) are written as JSON in their cell.
  const columns = columnsOf(frames);
  const lines = [columns.join(",")];
  for (const frame of frames) lines.push(columns.map((c) => csvField(cellValue(frame, c))).join(","));
  return lines.join("\r\n") + "\r\n";
}

export function downloadLink(label, fileName, type, makeText) {
  // A button that builds the file only when pressed, then hands it to the browser.
  const button = document.createElement("button");
  button.type = "button";
  button.className = "secondary";
  button.textContent = label;
  button.dataset.download = fileName;
  button.addEventListener("click", () => {
    const url = URL.createObjectURL(new Blob([makeText()], { type }));
    const anchor = document.createElement("a");
    anchor.href = url;
    anchor.download = fileName;
    document.body.appendChild(anchor);
    anchor.click();
    anchor.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  });
  return button;
}

export function renderTable(container, frames) {
  // A table of PAGE_SIZE frames with previous/next buttons and a "rows a-b of n" line.
  container.replaceChildren();
  if (frames.length === 0) {
    const empty = document.createElement("p");
    empty.className = "empty";
    empty.textContent = "The job completed without analysing any frame (an empty video, or max frames too low).";
    container.appendChild(empty);
    return;
  }
  const columns = columnsOf(frames);
  const pages = Math.ceil(frames.length / PAGE_SIZE);
  let page = 0;

  const scroller = document.createElement("div");
  scroller.className = "table-scroll";
  scroller.tabIndex = 0;
  scroller.setAttribute("role", "region");
  scroller.setAttribute("aria-label", "Per-frame results");
  const table = document.createElement("table");
  table.className = "results-table";
  const head = table.createTHead().insertRow();
  for (const column of columns) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = column;
    head.appendChild(th);
  }
  const body = table.createTBody();
  scroller.appendChild(table);

  const nav = document.createElement("div");
  nav.className = "pager";
  const previous = document.createElement("button");
  previous.type = "button";
  previous.className = "secondary";
  previous.textContent = "Previous";
  const next = document.createElement("button");
  next.type = "button";
  next.className = "secondary";
  next.textContent = "Next";
  const where = document.createElement("span");
  where.className = "pager-text";
  where.setAttribute("aria-live", "polite");
  nav.append(previous, where, next);

  const show = () => {
    body.replaceChildren();
    const start = page * PAGE_SIZE;
    const slice = frames.slice(start, start + PAGE_SIZE);
    for (const frame of slice) {
      const row = body.insertRow();
      for (const column of columns) {
        const cell = row.insertCell();
        const text = cellValue(frame, column);
        cell.textContent = text.length > 80 ? `${text.slice(0, 79)}…` : text;
        if (text.length > 80) cell.title = text;
        if (frame.result && (frame.result.is_black === true || frame.result.is_blank === true)) {
          row.className = "flagged";
        }
      }
    }
    where.textContent = `frames ${start + 1} to ${start + slice.length} of ${frames.length}`;
    previous.disabled = page === 0;
    next.disabled = page >= pages - 1;
  };
  previous.addEventListener("click", () => { page = Math.max(0, page - 1); show(); });
  next.addEventListener("click", () => { page = Math.min(pages - 1, page + 1); show(); });
  show();
  container.append(scroller, nav);
}
