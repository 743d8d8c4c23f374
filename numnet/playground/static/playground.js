// The numnet playground page: controls, the URL state, and the session's WebSocket.
// Training runs in numnet on the server; this page sends commands and draws the frames
// it receives, acknowledging each one so the server never runs ahead of the drawing.
import {
  HeatMap, decodeBytes, decodeFloat32, drawLegend, drawLossChart, drawThumbnail, outputIndices,
} from "./draw.js";
import { NetworkView } from "./network.js";

const $ = (id) => document.getElementById(id);
const MAX_HISTORY = 1000;

const app = {
  socket: null, sessionId: null, schema: null, state: null, network: null, frame: null,
  playing: false, pending: null, drawScheduled: false, history: [], writtenHash: null,
  stats: { frames: 0, times: [], updateMs: [], drawMs: [], stepLatencyMs: [], stepSentAt: null },
};

const heatmap = new HeatMap($("heatmap"));
const networkView = new NetworkView($("network"), $("card"), {
  toggleFeature(name) {
    const features = app.state.features.includes(name)
      ? app.state.features.filter((other) => other !== name) : [...app.state.features, name];
    change({ features });
  },
  changeNeurons(layer, delta) {
    const layers = [...app.state.layers];
    layers[layer] += delta;
    change({ layers });
  },
  edit({ layer, source, target, bias, value }) {
    send({ type: "set_weight", layer, source, target, bias: Boolean(bias), value });
  },
  showNeuron(neuron) { // the big heat map shows the neuron under the mouse
    app.shownNeuron = neuron;
    if (app.frame && app.network && app.frame.generation >= app.network.generation) {
      drawFrame(app.frame, false);
    }
  },
});

app.views = { heatmap, networkView };
window.numnetPlayground = app; // read by the end-to-end tests

// ------------------------------------------------------------------ messages
function showMessage(text, kind = "error") {
  const box = $("message");
  $("message-text").textContent = text;
  box.className = `message ${kind}`;
  box.hidden = false;
}

function setConnection(text, ok) {
  const element = $("connection");
  element.textContent = text;
  element.className = `connection ${ok ? "ok" : ""}`;
}

function send(message) {
  if (app.socket && app.socket.readyState === WebSocket.OPEN) {
    app.socket.send(JSON.stringify(message));
  }
}

function change(changes) {
  send({ type: "set", changes });
}

function hashState() {
  return Object.fromEntries(new URLSearchParams(location.hash.slice(1)));
}

// ------------------------------------------------------------------ the connection
function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws`);
  app.socket = socket;
  socket.onopen = () => {
    setConnection("connected", true);
    send({ type: "hello", state: hashState() });
  };
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    const handler = handlers[message.type];
    if (handler) handler(message);
  };
  socket.onclose = () => {
    app.playing = false;
    renderPlayButton();
    setConnection("disconnected: reload the page to start again", false);
  };
}

const handlers = {
  session(message) {
    app.sessionId = message.id;
    app.schema = message.schema;
    app.limits = message.limits;
    app.thumbnails = message.thumbnails;
    app.thumbnailDomain = message.domain;
    fillRates($("learningRate"), message.schema.learningRates);
    fillRates($("regRate"), message.schema.regularizationRates);
    const base = `/api/sessions/${encodeURIComponent(message.id)}`;
    $("export-keras").href = `${base}/model.keras`;
    $("snippet-download").href = `${base}/snippet.py?download=1`;
  },
  state(message) {
    app.state = message.state;
    app.playing = message.playing;
    renderState();
    const hash = `#${Object.entries(message.query).map(([name, value]) =>
      `${name}=${encodeURIComponent(value).replace(/%2C/g, ",")}`).join("&")}`;
    if (hash !== location.hash) history.replaceState(null, "", hash);
    app.writtenHash = location.hash;
    if (message.errors.length) {
      showMessage(`Some settings in the link were refused: ${
        message.errors.map((error) => error.message).join("; ")}`);
    }
  },
  network(message) {
    app.network = message;
    app.history = [];
    app.shownNeuron = null;
    networkView.setStructure(message, app.schema.features);
    heatmap.domain = message.domain;
    renderLayerCount();
    $("data-note").textContent = message.imported
      ? "The weights came from an imported file; a link carries the architecture only."
      : (app.state.dataset === "csv" ? "Uploaded data is not part of the link." : "");
  },
  frame(message) {
    if (app.network && message.generation < app.network.generation) {
      send({ type: "ack", seq: message.seq });
      return;
    }
    app.pending = message;
    if (!app.drawScheduled) {
      app.drawScheduled = true;
      requestAnimationFrame(drawPending);
    }
  },
  error(message) {
    showMessage(message.message);
  },
  closed(message) {
    showMessage(message.message);
  },
};

// ------------------------------------------------------------------ drawing frames
function outputTile(values, network, range, discretize) {
  const { grid, neuronStep } = network;
  const size = grid / neuronStep;
  const sample = new Float32Array(size * size);
  for (let r = 0; r < size; r++) {
    for (let c = 0; c < size; c++) {
      sample[r * size + c] = values[(r * neuronStep + (neuronStep >> 1)) * grid
        + c * neuronStep + (neuronStep >> 1)];
    }
  }
  return outputIndices(sample, range, discretize);
}

function perceptronLine(frame) {
  // The boundary is a line in the plane only when the inputs are x1 and/or x2.
  const features = app.network.features;
  if (app.network.mode !== "perceptron" || features.some((f) => f !== "x1" && f !== "x2")) {
    return null;
  }
  const weights = frame.weights[0].map((row) => row[0]);
  const w1 = features.includes("x1") ? weights[0] : 0;
  const w2 = features.includes("x2") ? weights[features.indexOf("x2")] : 0;
  return [w1, w2, frame.biases[0][0]];
}

function drawPending() {
  app.drawScheduled = false;
  const frame = app.pending;
  if (!frame || !app.network) return;
  app.pending = null;
  if (frame.generation < app.network.generation) { // drawn for a network since replaced
    send({ type: "ack", seq: frame.seq });
    return;
  }
  const started = performance.now();
  drawFrame(frame);
  const now = performance.now();
  const { stats } = app;
  stats.frames += 1;
  stats.times.push(now);
  stats.updateMs.push(frame.updateMs ?? frame.frameMs);
  stats.drawMs.push(now - started);
  if (stats.stepSentAt !== null) {
    stats.stepLatencyMs.push(now - stats.stepSentAt);
    stats.stepSentAt = null;
  }
  for (const key of ["times", "updateMs", "drawMs", "stepLatencyMs"]) {
    if (stats[key].length > 600) stats[key].splice(0, 300);
  }
  renderSpeed();
  send({ type: "ack", seq: frame.seq });
}

// The values the big heat map shows: the output, or the neuron under the mouse.
function shownMap(frame, values) {
  const neuron = app.shownNeuron;
  const map = neuron && frame.neurons[neuron[0]] && frame.neurons[neuron[0]][neuron[1]];
  if (!map) return { values, size: app.network.grid, range: frame.outputRange };
  const bytes = decodeBytes(map);
  return { values: Float32Array.from(bytes, (b) => b / 127.5 - 1),
    size: app.network.grid / app.network.neuronStep, range: [-1, 1] };
}

function drawFrame(frame, record = true) {
  app.frame = frame;
  const { network, state } = app;
  const values = decodeFloat32(frame.output);
  const status = frame.status || {};
  const train = network.train;
  heatmap.draw({
    ...shownMap(frame, values), discretize: state.discretize,
    train, test: network.test, showTest: state.showTest,
    regression: network.problem === "regression",
    line: perceptronLine(frame),
    mark: Number.isInteger(status.lastPoint) ? train[status.lastPoint] : null,
  });
  networkView.update(frame, outputTile(values, network, frame.outputRange, state.discretize));
  $("legend-low").textContent = String(frame.outputRange[0]);
  $("legend-high").textContent = String(frame.outputRange[1]);
  $("epoch").textContent = String(frame.epoch).padStart(6, "0").replace(/(\d{3})(\d{3})$/, "$1,$2");
  $("train-loss").textContent = formatLoss(frame.trainLoss);
  $("test-loss").textContent = formatLoss(frame.testLoss);
  $("train-accuracy").textContent = formatAccuracy(frame.trainAccuracy);
  $("test-accuracy").textContent = formatAccuracy(frame.testAccuracy);
  if (record) {
    app.history.push([frame.trainLoss, frame.testLoss]);
    if (app.history.length > MAX_HISTORY) app.history = app.history.filter((_, k) => k % 2 === 0);
  }
  drawLossChart($("loss-chart"), app.history);
  renderPerceptronStatus(status, frame);
}

function formatLoss(value) {
  return value === null || value === undefined ? "NaN" : value.toFixed(3);
}

function formatAccuracy(value) {
  return value === null || value === undefined ? "" : `(accuracy ${(100 * value).toFixed(1)} %)`;
}

function renderPerceptronStatus(status, frame) {
  const element = $("perceptron-status");
  if (app.network.mode !== "perceptron") {
    element.textContent = "";
    return;
  }
  if (status.converged) {
    element.textContent = `Converged: epoch ${frame.epoch} made no mistake.`;
    element.className = "status perceptron-only converged";
    return;
  }
  const last = status.errorsLastEpoch === null ? ""
    : ` Last epoch: ${status.errorsLastEpoch} mistakes.`;
  element.textContent =
    `Not converged. This epoch: ${status.errorsThisEpoch} mistakes so far.${last}`;
  element.className = "status perceptron-only";
}

function renderSpeed() {
  const { times, updateMs, drawMs } = app.stats;
  const now = times[times.length - 1];
  if (now - (renderSpeed.last || 0) < 500) return; // twice a second is enough to read
  renderSpeed.last = now;
  const recent = times.filter((t) => t > times[times.length - 1] - 2000);
  if (recent.length < 3) return;
  const rate = (recent.length - 1) / ((recent[recent.length - 1] - recent[0]) / 1000);
  const mean = (list) => list.slice(-recent.length).reduce((a, b) => a + b, 0) / recent.length;
  $("speed").textContent = `${rate.toFixed(0)} updates/s \u00b7 server `
    + `${mean(updateMs).toFixed(1)} ms \u00b7 drawing ${mean(drawMs).toFixed(1)} ms per update`;
}

// ------------------------------------------------------------------ controls
function fillRates(select, rates) {
  select.replaceChildren(...rates.map((rate) => new Option(String(rate), String(rate))));
}

function selectValue(select, value) {
  const text = String(value);
  if (![...select.options].some((option) => option.value === text)) {
    select.append(new Option(text, text));
  }
  select.value = text;
}

function renderState() {
  const { state } = app;
  for (const id of ["mode", "activation", "optimizer", "regularization", "problem"]) {
    $(id).value = state[id];
  }
  $("step-function").value = state.step;
  selectValue($("learningRate"), state.learningRate);
  selectValue($("regRate"), state.regRate);
  for (const id of ["trainRatio", "noise", "points", "batchSize"]) {
    $(id).value = state[id];
    const percent = id === "trainRatio" || id === "noise";
    $(`${id}-value`).textContent = percent ? `${state[id]}%` : state[id];
  }
  $("seed").value = state.seed;
  $("showTest").checked = state.showTest;
  $("discretize").checked = state.discretize;
  document.body.classList.toggle("perceptron", state.mode === "perceptron");
  document.querySelectorAll("[data-control]").forEach((element) => {
    element.classList.toggle("hidden-control", state.hide.includes(element.dataset.control));
  });
  $("about").hidden = state.hideText;
  renderDatasets();
  renderPlayButton();
  renderLayerCount();
  if (app.frame && app.network && app.frame.generation >= app.network.generation) {
    drawFrame(app.frame, false);
  }
}

function renderPlayButton() {
  $("play").classList.toggle("playing", app.playing);
}

function renderLayerCount() {
  if (!app.state) return;
  const count = app.state.layers.length;
  $("layer-count").textContent = `${count} hidden layer${count === 1 ? "" : "s"}`;
}

function renderDatasets() {
  const box = $("datasets");
  const regression = app.state.problem === "regression";
  const names = regression ? app.schema.regression : app.schema.classification;
  box.replaceChildren(...names.map((name) => {
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = 48;
    canvas.className = `dataset${name === app.state.dataset ? " selected" : ""}`;
    canvas.title = name;
    canvas.dataset.dataset = name;
    drawThumbnail(canvas, app.thumbnails[name], app.thumbnailDomain, regression);
    canvas.addEventListener("click", () => change({ dataset: name }));
    return canvas;
  }));
}

async function upload(path, file, limit, what) {
  if (!file || !app.sessionId) return;
  if (file.size > limit) {
    showMessage(`${file.name} is too large for ${what}: at most ${limit / 1024} KiB.`);
    return;
  }
  const response = await fetch(`/api/sessions/${encodeURIComponent(app.sessionId)}/${path}`,
    { method: "POST", body: file });
  const result = await response.json()
    .catch(() => ({ error: `upload failed (${response.status})` }));
  if (!response.ok) showMessage(result.error || `upload failed (${response.status})`);
}

async function showSnippet() {
  const response = await fetch(`/api/sessions/${encodeURIComponent(app.sessionId)}/snippet.py`);
  if (!response.ok) {
    showMessage(`cannot write the Python code (${response.status})`);
    return;
  }
  $("snippet-text").textContent = await response.text();
  $("snippet-dialog").hidden = false;
}

function wireControls() {
  for (const id of ["mode", "activation", "optimizer", "regularization", "problem"]) {
    $(id).addEventListener("change", (event) => change({ [id]: event.target.value }));
  }
  $("step-function").addEventListener("change", (event) => change({ step: event.target.value }));
  for (const id of ["learningRate", "regRate"]) {
    $(id).addEventListener("change", (event) => change({ [id]: Number(event.target.value) }));
  }
  for (const id of ["trainRatio", "noise", "points", "batchSize"]) {
    $(id).addEventListener("input", (event) => {
      const percent = id === "trainRatio" || id === "noise";
      $(`${id}-value`).textContent = `${event.target.value}${percent ? "%" : ""}`;
    });
    $(id).addEventListener("change", (event) => change({ [id]: Number(event.target.value) }));
  }
  $("seed").addEventListener("change", (event) => change({ seed: event.target.value }));
  $("regenerate").addEventListener("click", () => {
    change({ seed: Math.floor(Math.random() * 1e6) });
  });
  for (const id of ["showTest", "discretize"]) {
    $(id).addEventListener("change", (event) => change({ [id]: event.target.checked }));
  }
  $("play").addEventListener("click", () => send({ type: app.playing ? "pause" : "play" }));
  $("step").addEventListener("click", () => {
    app.stats.stepSentAt = performance.now();
    send({ type: "step" });
  });
  $("reset").addEventListener("click", () => send({ type: "reset" }));
  $("add-layer").addEventListener("click", () => change({ layers: [...app.state.layers, 2] }));
  $("remove-layer").addEventListener("click", () => {
    change({ layers: app.state.layers.slice(0, -1) });
  });
  $("upload-csv").addEventListener("change", async (event) => {
    await upload("data", event.target.files[0], app.limits.maxCsvBytes, "a data file");
    event.target.value = "";
  });
  $("import-keras").addEventListener("change", async (event) => {
    await upload("model", event.target.files[0], app.limits.maxModelBytes, "a model file");
    event.target.value = "";
  });
  $("show-snippet").addEventListener("click", showSnippet);
  $("snippet-close").addEventListener("click", () => { $("snippet-dialog").hidden = true; });
  $("snippet-copy").addEventListener("click", () => {
    navigator.clipboard.writeText($("snippet-text").textContent)
      .then(() => showMessage("The code is on the clipboard.", "info"))
      .catch(() => showMessage("Select the code and copy it by hand."));
  });
  $("share").addEventListener("click", () => {
    navigator.clipboard.writeText(location.href)
      .then(() => showMessage(`Link copied: ${location.href}`, "info"))
      .catch(() => showMessage(`Copy this link: ${location.href}`, "info"));
  });
  $("message-close").addEventListener("click", () => { $("message").hidden = true; });
  let resizing = null;
  window.addEventListener("resize", () => { // lay the diagram out again for the new width
    clearTimeout(resizing);
    resizing = setTimeout(() => {
      if (!app.network) return;
      networkView.setStructure(app.network, app.schema.features);
      if (app.frame && app.frame.generation >= app.network.generation) drawFrame(app.frame, false);
    }, 150);
  });
  window.addEventListener("hashchange", () => {
    if (location.hash !== app.writtenHash) send({ type: "hello", state: hashState() });
  });
}

drawLegend($("legend"));
wireControls();
connect();
