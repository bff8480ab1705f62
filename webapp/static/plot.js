// Per-frame results drawn as SVG: one small chart per numeric key against timestamp_ms,
// frames flagged by a boolean key (is_black, is_blank, ...) marked on every chart.

const SVG = "http://www.w3.org/2000/svg";
const PREFERRED = ["brightness", "contrast", "sharpness", "colourfulness"];
const MARK_COLOURS = ["#b3261e", "#a15c00", "#6b3fa0", "#00696f"];
const MAX_CHARTS = 8;
const MAX_POINTS = 2000;

function el(name, attrs = {}, text = null) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== null) node.textContent = text;
  return node;
}

export function seriesKeys(frames) {
  // Numeric and boolean keys of the results, in a stable, readable order.
  const numeric = new Set();
  const flags = new Set();
  for (const frame of frames.slice(0, 200)) {
    for (const [key, value] of Object.entries(frame.result || {})) {
      if (key === "timestamp_ms") continue;
      if (typeof value === "number" && Number.isFinite(value)) numeric.add(key);
      else if (typeof value === "boolean") flags.add(key);
    }
  }
  const order = (a, b) => {
    const ia = PREFERRED.indexOf(a);
    const ib = PREFERRED.indexOf(b);
    if (ia !== -1 || ib !== -1) return (ia === -1 ? 99 : ia) - (ib === -1 ? 99 : ib);
    return a.localeCompare(b);
  };
  return { numeric: [...numeric].sort(order).slice(0, MAX_CHARTS), flags: [...flags].sort() };
}

function niceNumber(value) {
  if (value === 0) return "0";
  const magnitude = Math.abs(value);
  if (magnitude >= 1000) return value.toFixed(0);
  if (magnitude >= 10) return value.toFixed(1);
  if (magnitude >= 0.01) return value.toFixed(3);
  return value.toExponential(1);
}

function extent(values) {
  let low = Infinity;
  let high = -Infinity;
  for (const value of values) {
    if (value < low) low = value;
    if (value > high) high = value;
  }
  return [low, high];
}

function timeLabel(ms) {
  return ms >= 10000 ? `${(ms / 1000).toFixed(0)} s` : `${(ms / 1000).toFixed(1)} s`;
}

function chart(frames, key, flags, xRange, width) {
  const height = 120;
  const pad = { left: 56, right: 12, top: 20, bottom: 22 };
  const innerW = width - pad.left - pad.right;
  const innerH = height - pad.top - pad.bottom;
  const points = frames.filter((f) => typeof f.result[key] === "number");
  const values = points.map((f) => f.result[key]);
  const [min, max] = extent(values);
  let low = min;
  let high = max;
  if (low === high) {
    low -= 0.5;
    high += 0.5;
  }
  const x = (ms) => pad.left + ((ms - xRange[0]) / (xRange[1] - xRange[0] || 1)) * innerW;
  const y = (v) => pad.top + (1 - (v - low) / (high - low)) * innerH;

  const svg = el("svg", {
    viewBox: `0 0 ${width} ${height}`,
    class: "chart",
    role: "img",
    "data-key": key,
    "aria-label": `${key} from ${niceNumber(min)} to ${niceNumber(max)} over ${points.length} frames`,
  });
  svg.appendChild(el("text", { x: pad.left, y: 13, class: "chart-title" }, key));
  svg.appendChild(el("rect", { x: pad.left, y: pad.top, width: innerW, height: innerH, class: "chart-area" }));

  // Each flag marks its own horizontal lane, so frames that are both black and blank show both.
  const lane = innerH / Math.max(1, flags.length);
  flags.forEach((flag, index) => {
    const colour = MARK_COLOURS[index % MARK_COLOURS.length];
    for (const frame of frames) {
      if (frame.result[flag] === true) {
        const mark = el("line", {
          x1: x(frame.result.timestamp_ms), x2: x(frame.result.timestamp_ms),
          y1: pad.top + index * lane, y2: pad.top + (index + 1) * lane,
          stroke: colour, class: "flag-mark", "data-flag": flag,
        });
        mark.appendChild(el("title", {}, `${flag} at ${frame.result.timestamp_ms} ms (frame ${frame.frame_index})`));
        svg.appendChild(mark);
      }
    }
  });

  const step = Math.max(1, Math.ceil(points.length / MAX_POINTS));
  const coords = [];
  for (let i = 0; i < points.length; i += step) {
    const frame = points[i];
    coords.push(`${x(frame.result.timestamp_ms).toFixed(1)},${y(frame.result[key]).toFixed(1)}`);
  }
  svg.appendChild(el("polyline", { points: coords.join(" "), class: "series" }));
  if (points.length <= 60) {
    for (const frame of points) {
      const dot = el("circle", { cx: x(frame.result.timestamp_ms), cy: y(frame.result[key]), r: 2.5, class: "point" });
      dot.appendChild(el("title", {}, `frame ${frame.frame_index}, ${frame.result.timestamp_ms} ms: ${frame.result[key]}`));
      svg.appendChild(dot);
    }
  }
  svg.appendChild(el("text", { x: pad.left - 6, y: pad.top + 4, class: "axis axis-y" }, niceNumber(high)));
  svg.appendChild(el("text", { x: pad.left - 6, y: pad.top + innerH, class: "axis axis-y" }, niceNumber(low)));
  svg.appendChild(el("text", { x: pad.left, y: height - 6, class: "axis" }, timeLabel(xRange[0])));
  svg.appendChild(el("text", { x: width - pad.right, y: height - 6, class: "axis axis-end" }, timeLabel(xRange[1])));
  return svg;
}

let redrawTimer = null;

export function renderPlot(container, frames) {
  // Replace the container's content with the charts; say plainly when nothing is plottable.
  // Charts are drawn at the container's width so that their text stays legible on a phone.
  container.replaceChildren();
  if (!container.dataset.sized) {
    container.dataset.sized = "1";
    let lastWidth = container.clientWidth;
    new ResizeObserver(() => {
      if (Math.abs(container.clientWidth - lastWidth) < 20 || !container.isConnected) return;
      lastWidth = container.clientWidth;
      clearTimeout(redrawTimer);
      redrawTimer = setTimeout(() => renderPlot(container, frames), 150);
    }).observe(container);
  }
  const withTime = frames.filter((f) => f.result && typeof f.result.timestamp_ms === "number");
  const { numeric, flags } = seriesKeys(withTime);
  if (withTime.length === 0 || numeric.length === 0) {
    const note = document.createElement("p");
    note.className = "empty";
    note.textContent = withTime.length === 0
      ? "No frames were analysed, so there is nothing to plot."
      : "These results have no numeric values to plot; see the table below.";
    container.appendChild(note);
    return;
  }
  const times = withTime.map((f) => f.result.timestamp_ms);
  const xRange = extent(times);
  const width = Math.max(300, Math.round(container.clientWidth || 720));
  for (const key of numeric) container.appendChild(chart(withTime, key, flags, xRange, width));
  if (flags.length) {
    const legend = document.createElement("p");
    legend.className = "legend";
    flags.forEach((flag, index) => {
      const count = withTime.filter((f) => f.result[flag] === true).length;
      const item = document.createElement("span");
      item.className = "legend-item";
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = MARK_COLOURS[index % MARK_COLOURS.length];
      item.append(swatch, `${flag}: ${count} frame${count === 1 ? "" : "s"} marked`);
      legend.appendChild(item);
    });
    container.appendChild(legend);
  }
}
