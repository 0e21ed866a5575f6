// The explainer page: asks the server's JSON API (gpt/inspection/explain/server.py) about the
// text and draws what it answers. Plain JavaScript, no library: read it as it is.
"use strict";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";

// What the page is showing. `ids` is set once tokens have been generated: from then on the
// page asks about those ids, not about the text (decoding and re-encoding may differ).
const state = {
  model: null,        // /api/model's answer
  prompt: "",         // the text in the box
  ids: null,          // the generated sequence's ids, or null
  session: null,      // the server's generation session, or null
  generatedFrom: null,// index of the first generated token in the full sequence
  tokens: null,       // /api/tokens's last answer
  position: null,     // the token the lens reads (null: the last)
  pending: 0,         // requests under way (the page is "ready" at 0)
  failed: false,      // whether the last request failed
  latest: {},         // panel -> number of its latest request (older answers are dropped)
};

// ----- talking to the server -----------------------------------------------------------

async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
  };
  const response = await fetch(path, options);
  let answer;
  try {
    answer = await response.json();
  } catch (_) {
    throw new Error(`${path} answered with status ${response.status}, not JSON`);
  }
  if (!response.ok) throw new Error(answer.error || `${path} failed (${response.status})`);
  return answer;
}

// Run one panel's request; an answer that a newer request of the same panel has overtaken
// is dropped. Keeps body[data-state] honest for whoever watches it (people and tests).
async function request(panel, path, body, show) {
  const number = (state.latest[panel] || 0) + 1;
  state.latest[panel] = number;
  begin();
  try {
    const answer = await api(path, body);
    if (state.latest[panel] === number) show(answer);
    finish(null);
    return answer;
  } catch (error) {
    finish(error);
    return null;
  }
}

function begin() {
  state.pending += 1;
  document.body.dataset.state = "busy";
}

function finish(error) {
  state.pending -= 1;
  if (error) {
    state.failed = true;
    showMessage(error.message);
  }
  if (state.pending === 0) {
    document.body.dataset.state = state.failed ? "error" : "ready";
  }
}

function showMessage(text) {
  $("message").textContent = text;
  $("message").hidden = false;
}

function clearMessage() {
  state.failed = false;
  $("message").hidden = true;
}

// The tokens the page is about, as the API takes them.
function input() {
  return state.ids ? {ids: state.ids} : {prompt: state.prompt};
}

function sampling() {
  return {
    temperature: Number($("temperature").value),
    top_k: $("use-top-k").checked ? Math.max(1, Math.round(Number($("top-k").value))) : null,
    top_p: $("use-top-p").checked ? Number($("top-p").value) : null,
  };
}

// ----- reading the text again ------------------------------------------------------------

// Everything again, for the text or the generated ids. The page stays "busy" until every
// panel has its answer.
async function analyse() {
  begin();
  clearMessage();
  const about = input();
  document.body.dataset.analysed = about.prompt !== undefined ? about.prompt : "";
  state.position = null;
  try {
    const tokens = await request("tokens", "/api/tokens", about, showTokens);
    if (tokens) {
      await Promise.all([showAttention(), showLens(), showDistribution()]);
    } else {
      clearPanels();
    }
  } finally {
    finish(null);
  }
}

function clearPanels() {
  for (const id of ["tokens", "heatmap", "lens", "distribution", "notes"]) {
    $(id).replaceChildren();
  }
  $("token-count").textContent = "";
  $("lens-caption").textContent = "";
  $("distribution-summary").textContent = "";
  $("attention-readout").textContent = "";
}

function showAttention() {
  const body = {...input(), layer: Number($("layer").value), head: Number($("head").value)};
  return request("attention", "/api/attention", body, drawHeatmap);
}

function showLens() {
  const body = {...input(), top: 5};
  if (state.position !== null) body.position = state.position;
  return request("lens", "/api/lens", body, drawLens);
}

function showDistribution() {
  return request("distribution", "/api/distribution", {...input(), ...sampling(), show: 15},
                 drawDistribution);
}

// ----- tokens ----------------------------------------------------------------------------

// A token's text with its whitespace made visible: spaces as ·, newlines as ↵, tabs as →,
// other control characters as \xNN; bytes that are not a whole character as ‹e2 80›.
function tokenContent(token) {
  const fragment = document.createDocumentFragment();
  if (!token.known) {
    fragment.append(`‹id ${token.id}›`);
    return fragment;
  }
  if (!token.complete) {
    fragment.append(`‹${token.bytes.match(/../g).join(" ")}›`);
    return fragment;
  }
  for (const ch of token.text) {
    const shown = {" ": "·", "\n": "↵", "\t": "→", "\r": "␍"}[ch];
    if (shown) {
      const span = document.createElement("span");
      span.className = "ws";
      span.textContent = shown;
      fragment.append(span);
    } else if (ch < " " || ch === "\x7f") {
      fragment.append(`\\x${ch.charCodeAt(0).toString(16).padStart(2, "0")}`);
    } else {
      fragment.append(ch);
    }
  }
  return fragment;
}

// The token as one line of plain text, for labels and tooltips.
function tokenLabel(token) {
  return tokenContent(token).textContent;
}

function chip(token) {
  const span = document.createElement("span");
  span.className = "chip";
  span.dataset.id = token.id;
  span.title = `id ${token.id}`;
  span.append(tokenContent(token));
  return span;
}

function showTokens(answer) {
  state.tokens = answer;
  const box = $("tokens");
  box.replaceChildren();
  const all = [...answer.dropped, ...answer.tokens];
  all.forEach((token, index) => {
    const span = document.createElement("span");
    const visible = index - answer.dropped.length;        // position in the model's input
    span.className = `token c${index % 8}`;
    if (token.special) span.classList.add("special");
    if (!token.complete) span.classList.add("bytes");
    if (index < answer.dropped.length) span.classList.add("dropped");
    if (state.generatedFrom !== null && index >= state.generatedFrom) {
      span.classList.add("generated");
    }
    span.dataset.id = token.id;
    span.dataset.tip = `id ${token.id}` + (token.special ? " (special)" : "") +
                       (visible >= 0 ? ` · position ${visible}` : " · cropped off");
    span.title = `id ${token.id}`;
    span.append(tokenContent(token));
    if (visible >= 0) {
      span.tabIndex = 0;
      span.dataset.position = visible;
      span.addEventListener("click", () => selectPosition(visible));
      span.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          selectPosition(visible);
        }
      });
    }
    box.append(span);
    if (token.complete && token.text.endsWith("\n")) box.append(document.createElement("br"));
  });
  const dropped = answer.dropped.length ? `, ${answer.dropped.length} cropped off` : "";
  $("token-count").textContent = `${answer.tokens.length} of ${answer.context} ` +
                                 `positions${dropped}`;
  const notes = $("notes");
  notes.replaceChildren(...answer.notes.map((note) => {
    const item = document.createElement("li");
    item.textContent = note;
    return item;
  }));
  markSelected();
}

function selectPosition(position) {
  state.position = position;
  markSelected();
  showLens();
}

function markSelected() {
  const last = state.tokens ? state.tokens.tokens.length - 1 : -1;
  const selected = state.position === null ? last : state.position;
  for (const span of $("tokens").querySelectorAll(".token")) {
    span.classList.toggle("selected", Number(span.dataset.position) === selected &&
                                      span.dataset.position !== undefined);
  }
}

// ----- attention -------------------------------------------------------------------------

// White for 0 to the accent blue for 1, on a fixed scale so that maps compare by eye. The
// square root spreads the small weights (a row of T weights averages 1/T) over more shades.
function weightColour(weight) {
  const t = Math.sqrt(Math.min(1, Math.max(0, weight)));
  const mix = (low, high) => Math.round(low + (high - low) * t);
  return `rgb(${mix(255, 23)}, ${mix(255, 55)}, ${mix(255, 170)})`;
}

function svgElement(name, attributes) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  return element;
}

function drawHeatmap(answer) {
  const tokens = state.tokens.tokens;
  const labels = tokens.map((token) => tokenLabel(token).slice(0, 10));
  const T = answer.weights.length;
  const width = Math.max(320, $("heatmap").clientWidth || 560);
  const longest = Math.max(...labels.map((label) => label.length), 2) + 3;   // + " 12"
  const font = Math.max(10, Math.min(15, Math.floor((width - 60) / T) - 2));
  const labelWidth = Math.ceil(longest * font * 0.62) + 8;
  const cell = Math.max(10, Math.min(36, Math.floor((width - labelWidth - 8) / T)));
  const top = Math.ceil((longest - 3) * font * 0.62) + 12;       // room for upright labels
  const size = T * cell;
  const svg = svgElement("svg", {
    width: labelWidth + size + 8, height: top + size + 40, role: "img",
    "aria-label": `attention of layer ${answer.layer}, head ${answer.head}`,
  });
  const rowLabels = [], columnLabels = [];
  labels.forEach((label, i) => {
    const row = svgElement("text", {x: labelWidth - 6, y: top + i * cell + cell / 2,
                                    "text-anchor": "end", "dominant-baseline": "central",
                                    "font-size": font});
    row.textContent = `${label} ${String(i).padStart(2)}`;
    row.setAttribute("xml:space", "preserve");
    const x = labelWidth + i * cell + cell / 2, y = top - 6;
    const column = svgElement("text", {x, y, "font-size": font, "dominant-baseline": "central",
                                       transform: `rotate(-90 ${x} ${y})`});
    column.textContent = label;
    svg.append(row, column);
    rowLabels.push(row);
    columnLabels.push(column);
  });
  answer.weights.forEach((row, i) => row.forEach((weight, j) => {
    const rect = svgElement("rect", {x: labelWidth + j * cell, y: top + i * cell,
                                     width: cell, height: cell});
    if (j > i) {
      rect.setAttribute("class", "masked");
    } else {
      rect.setAttribute("class", "cell");
      rect.setAttribute("fill", weightColour(weight));
      rect.dataset.row = i;
      rect.dataset.column = j;
      rect.dataset.weight = weight;
      const title = svgElement("title", {});
      title.textContent = `${labels[i]} (${i}) → ${labels[j]} (${j}): ${weight.toFixed(4)}`;
      rect.append(title);
    }
    svg.append(rect);
  }));
  drawLegend(svg, labelWidth, top + size + 14);
  svg.addEventListener("mouseover", (event) => {
    const rect = event.target;
    if (!rect.dataset || rect.dataset.row === undefined) return;
    const i = Number(rect.dataset.row), j = Number(rect.dataset.column);
    rowLabels.forEach((label, k) => label.classList.toggle("active", k === i));
    columnLabels.forEach((label, k) => label.classList.toggle("active", k === j));
    $("attention-readout").textContent =
      `"${tokenLabel(tokens[i])}" (${i}) looks at "${tokenLabel(tokens[j])}" (${j}): ` +
      `${Number(rect.dataset.weight).toFixed(4)}`;
  });
  $("heatmap").replaceChildren(svg);
  $("attention-readout").textContent =
    `Layer ${answer.layer}, head ${answer.head}: hover a cell to see its weight.`;
}

// The colour scale under the map: weights 0, 0.01, 0.04 ... 1 (squares: even shades).
function drawLegend(svg, x, y) {
  const step = 18;
  for (let k = 0; k <= 10; k++) {
    svg.append(svgElement("rect", {x: x + k * step, y, width: step, height: 12,
                                   fill: weightColour((k / 10) ** 2)}));
  }
  const ticks = [[0, "0"], [5, "0.25"], [10, "1"]];
  for (const [k, text] of ticks) {
    const label = svgElement("text", {x: x + k * step + step / 2, y: y + 24,
                                      "text-anchor": "middle", "font-size": 12});
    label.textContent = text;
    svg.append(label);
  }
}

// ----- the logit lens --------------------------------------------------------------------

function percent(p) {
  if (p >= 0.995) return "100%";
  if (p >= 0.001) return `${(100 * p).toFixed(p >= 0.1 ? 0 : 1)}%`;
  return p > 0 ? "<0.1%" : "0%";
}

function drawLens(answer) {
  const table = $("lens");
  const head = document.createElement("tr");
  const top = answer.rows[0].guesses.length;
  const after = document.createElement("th");
  after.textContent = "after";
  const guesses = document.createElement("th");
  guesses.colSpan = top;
  guesses.className = "guesses";
  guesses.textContent = `its ${top} best guesses, most likely first`;
  head.append(after, guesses);
  const th = document.createElement("th");
  th.append("p(", chip(answer.prediction), ")");
  head.append(th);
  const rows = answer.rows.map((row, depth) => {
    const tr = document.createElement("tr");
    if (depth === answer.rows.length - 1) tr.className = "output";
    const name = document.createElement("th");
    name.className = "depth";
    name.textContent = row.name;
    if (depth === answer.rows.length - 1) {
      const small = document.createElement("small");
      small.textContent = "the output";
      name.append(document.createElement("br"), small);
    }
    tr.append(name);
    for (const guess of row.guesses) {
      const td = document.createElement("td");
      td.className = "guess";
      if (guess.id === answer.prediction.id) td.classList.add("match");
      td.style.backgroundColor = `rgba(29, 78, 216, ${(0.28 * guess.probability).toFixed(3)})`;
      const p = document.createElement("div");
      p.className = "p";
      p.textContent = percent(guess.probability);
      td.append(chip(guess), p);
      tr.append(td);
    }
    const final = document.createElement("td");
    final.className = "num";
    final.append(percent(row.prediction_probability), document.createElement("br"),
                 `rank ${row.prediction_rank}`);
    tr.append(final);
    return tr;
  });
  const thead = document.createElement("thead");
  thead.append(head);
  const tbody = document.createElement("tbody");
  tbody.append(...rows);
  table.replaceChildren(thead, tbody);
  const caption = $("lens-caption");
  caption.replaceChildren(
    `After token ${answer.position}, `, chip(answer.token),
    `, the model predicts `, chip(answer.prediction),
    `. Each row reads the residual stream at one depth through the model's final norm and ` +
    `output head, as if the layers below were all there is: read from top to bottom to see ` +
    `where the prediction forms. Click a token above to look at another position.`);
}

// ----- the next-token distribution -------------------------------------------------------

function bar(value, before) {
  const box = document.createElement("div");
  box.className = "bar";
  const fill = document.createElement("span");
  fill.className = before ? "fill before" : "fill";
  fill.style.width = `${Math.max(value > 0 ? 1 : 0, Math.round(140 * value))}px`;
  const number = document.createElement("span");
  number.className = "value";
  number.textContent = value.toFixed(4);
  box.append(fill, number);
  return box;
}

function verdict(kept) {
  const span = document.createElement("span");
  if (kept === null) {
    span.textContent = "–";
  } else {
    span.className = kept ? "yes" : "no";
    span.textContent = kept ? "✓ kept" : "✗ cut";
  }
  return span;
}

function drawDistribution(answer) {
  const headings = ["", "token", "probability", "after temperature", "top-k", "top-p",
                    "sampled with"];
  const head = document.createElement("tr");
  for (const text of headings) {
    const th = document.createElement("th");
    th.textContent = text;
    head.append(th);
  }
  const rows = answer.rows.map((row, rank) => {
    const tr = document.createElement("tr");
    if (row.final === 0) tr.className = "cut";
    const cells = [document.createTextNode(String(rank + 1)), chip(row),
                   bar(row.probability, true), bar(row.tempered, true),
                   verdict(row.kept_top_k), verdict(row.kept_top_p), bar(row.final, false)];
    for (const content of cells) {
      const td = document.createElement("td");
      td.append(content);
      tr.append(td);
    }
    tr.children[0].className = "num";
    return tr;
  });
  const thead = document.createElement("thead");
  thead.append(head);
  const tbody = document.createElement("tbody");
  tbody.append(...rows);
  $("distribution").replaceChildren(thead, tbody);
  const summary = $("distribution-summary");
  const best = answer.rows[0];
  if (answer.greedy) {
    summary.replaceChildren("Temperature 0 is greedy decoding: the most likely token, ",
                            chip(best), ", is always picked; top-k and top-p play no part.");
  } else {
    const k = answer.top_k === null ? "top-k is off, so all are kept"
                                    : `top-k keeps ${answer.after_top_k}`;
    const p = answer.top_p === null ? "top-p is off"
                                    : `top-p keeps ${answer.after_top_p} of those`;
    summary.textContent =
      `Of the ${answer.vocab_size} tokens of the vocabulary, ${k}; ${p}. The next token is ` +
      `drawn from the ${answer.after_top_p} left, with the probabilities of the last column ` +
      `(the ${answer.rows.length} most likely are shown).`;
  }
}

// ----- generation ------------------------------------------------------------------------

async function nextToken() {
  const button = $("next-token");
  button.disabled = true;
  begin();
  clearMessage();
  const body = state.session !== null
    ? {session: state.session, ...sampling()}
    : {...input(), seed: Math.max(0, Math.round(Number($("seed").value) || 0)), ...sampling()};
  const before = state.tokens ? state.tokens.dropped.length + state.tokens.tokens.length : 0;
  try {
    const answer = await request("step", "/api/step", body, () => {});
    if (answer) {
      if (state.session === null) state.generatedFrom = before;
      state.session = answer.session;
      state.ids = answer.ids;
      showStep(answer);
      await analyse();
    }
  } finally {
    button.disabled = false;
    finish(null);
  }
}

function showStep(answer) {
  const full = answer.cache_length === answer.context;
  $("cache-text").textContent =
    `KV cache: ${answer.cache_length} of ${answer.context} positions` +
    (answer.window_slid ? " (the text outgrew the context: the window slid and the cache " +
                          "was rebuilt from it)"
                        : full ? " (full)"
                               : ": every token but the newest, which the next step reads");
  $("cache-bar").max = answer.context;
  $("cache-bar").value = answer.cache_length;
  $("last-step").replaceChildren(
    "Drew ", chip(answer.token), ` (id ${answer.token.id}), which had probability ` +
    `${answer.probability.toFixed(4)} after the filters.`);
  showGenerated(answer.ids);
}

// The text so far, the generated part marked, decoded from the tokens' bytes.
async function showGenerated(ids) {
  const answer = await request("generated", "/api/tokens", {ids}, () => {});
  if (!answer) return;
  const all = [...answer.dropped, ...answer.tokens];
  const decode = (tokens) => new TextDecoder().decode(new Uint8Array(
    tokens.flatMap((token) => (token.bytes.match(/../g) || []).map((h) => parseInt(h, 16)))));
  const mark = document.createElement("mark");
  mark.textContent = decode(all.slice(state.generatedFrom));
  $("generated").replaceChildren(decode(all.slice(0, state.generatedFrom)), mark);
}

function resetGeneration() {
  state.ids = null;
  state.session = null;
  state.generatedFrom = null;
  $("cache-text").textContent = "KV cache: empty (nothing generated yet)";
  $("cache-bar").value = 0;
  $("last-step").textContent = "";
  $("generated").replaceChildren();
}

// ----- wiring ----------------------------------------------------------------------------

function debounce(action, milliseconds) {
  let timer = null;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(action, milliseconds);
  };
}

function readPrompt() {
  state.prompt = $("prompt").value;
  resetGeneration();
  analyse();
}

function fillSelect(select, count) {
  select.replaceChildren(...Array.from({length: count}, (_, i) => new Option(String(i), i)));
}

function showSettings() {
  $("temperature-value").textContent = Number($("temperature").value).toFixed(2);
  $("top-p-value").textContent = Number($("top-p").value).toFixed(2);
}

async function start() {
  begin();
  let model;
  try {
    model = await api("/api/model");
  } catch (error) {
    finish(error);
    return;
  }
  state.model = model;
  $("model-name").textContent = model.name;
  $("model-dir").textContent = model.name;
  $("model-shape").textContent =
    `${model.n_layer} layers, ${model.n_head} heads, width ${model.n_embd}, ` +
    `a context of ${model.block_size} tokens, a vocabulary of ${model.vocab_size}: ` +
    `${model.parameters.toLocaleString("en")} parameters.`;
  fillSelect($("layer"), model.n_layer);
  fillSelect($("head"), model.n_head);
  $("prompt").value = model.example_prompt;
  state.prompt = model.example_prompt;

  const typed = debounce(readPrompt, 350);
  $("prompt").addEventListener("input", typed);
  $("prompt").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      readPrompt();
    }
  });
  $("layer").addEventListener("change", showAttention);
  $("head").addEventListener("change", showAttention);
  const resample = debounce(showDistribution, 150);
  for (const id of ["temperature", "top-p"]) {
    $(id).addEventListener("input", () => { showSettings(); resample(); });
  }
  for (const id of ["use-top-k", "top-k", "use-top-p"]) {
    $(id).addEventListener("change", resample);
  }
  $("next-token").addEventListener("click", nextToken);
  $("reset").addEventListener("click", readPrompt);
  showSettings();
  finish(null);
  await analyse();
}

document.addEventListener("DOMContentLoaded", start);
