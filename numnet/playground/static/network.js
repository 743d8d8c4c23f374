// The network diagram: feature tiles, neurons with their heat maps, links and biases (SVG).
// Links are coloured by their weight and as wide as it is large; hover over one to read it,
// click to change it.
import { cssColor, decodeBytes, paintUnitMap } from "./draw.js";

const SVG = "http://www.w3.org/2000/svg";
const NODE = 36;    // node tile size in pixels
const PITCH = 50;   // vertical distance between nodes
const TOP = 34;     // room for the per-layer buttons

function svgElement(name, attributes) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  return element;
}

export class NetworkView {
  // callbacks: toggleFeature(name), changeNeurons(layerIndex, delta), edit({...}), card
  constructor(container, card, callbacks) {
    this.container = container;
    this.card = card;
    this.callbacks = callbacks;
    this.links = [];
    this.biases = [];
    this.neuronCanvases = [];
    this.editing = false;
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.hideCard(true);
    });
  }

  // Rebuilds the diagram for a `network` message; `allFeatures` is [[name, label], ...].
  setStructure(network, allFeatures) {
    this.network = network;
    this.hideCard(true);
    this.container.replaceChildren();
    const perceptron = network.mode === "perceptron";
    const columns = [allFeatures.length, ...network.layers, 1];
    const width = Math.max(this.container.clientWidth || 520, 360);
    const height = TOP + Math.max(...columns) * PITCH;
    this.container.style.height = `${height}px`;
    const xs = columns.map((_, c) => 64 + (c * (width - 64 - NODE - 24)) / (columns.length - 1));
    const ys = (count, k) => TOP + (Math.max(...columns) - count) * PITCH / 2 + k * PITCH;
    this.svg = svgElement("svg", { width, height, class: "links" });
    this.container.append(this.svg);
    const enabled = allFeatures.filter(([name]) => network.features.includes(name));
    const positions = [enabled.map(([name]) => {
      const k = allFeatures.findIndex(([other]) => other === name);
      return [xs[0], ys(allFeatures.length, k)];
    })];
    network.layers.forEach((units, l) => {
      positions.push(Array.from({ length: units }, (_, k) => [xs[l + 1], ys(units, k)]));
    });
    positions.push([[xs[columns.length - 1], ys(1, 0)]]);
    this.drawLinks(positions);
    this.drawFeatures(allFeatures, xs[0], ys);
    this.neuronCanvases = network.layers.map((units, l) => positions[l + 1].map(([x, y], k) =>
      this.addNode(x, y, `neuron ${k + 1} of hidden layer ${l + 1}`)));
    const [ox, oy] = positions[positions.length - 1][0];
    this.outputCanvas = this.addNode(ox, oy, perceptron ? "the TLU" : "the output", "output");
    const caption = document.createElement("div");
    caption.className = "node-caption";
    caption.textContent = perceptron ? `TLU (${network.step || "step"})` : "output";
    caption.style.left = `${ox - 8}px`;
    caption.style.top = `${oy + NODE + 2}px`;
    this.container.append(caption);
    if (!perceptron) this.drawLayerButtons(xs, network.layers);
  }

  addNode(x, y, title, extra = "") {
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = this.network.grid / this.network.neuronStep;
    canvas.className = `node ${extra}`;
    canvas.title = title;
    canvas.style.left = `${x}px`;
    canvas.style.top = `${y}px`;
    this.container.append(canvas);
    return canvas;
  }

  drawFeatures(allFeatures, x, ys) {
    allFeatures.forEach(([name, label], k) => {
      const canvas = this.addNode(x, ys(allFeatures.length, k), `${label}: click to switch on or off`,
        this.network.features.includes(name) ? "feature" : "feature off");
      canvas.dataset.feature = name;
      paintUnitMap(canvas, decodeBytes(this.network.featureMaps[name]), canvas.width);
      canvas.addEventListener("click", () => this.callbacks.toggleFeature(name));
      const text = document.createElement("div");
      text.className = "feature-label";
      text.textContent = label;
      text.style.top = `${ys(allFeatures.length, k) + NODE / 2 - 8}px`;
      text.style.width = `${x - 6}px`;
      this.container.append(text);
    });
  }

  drawLinks(positions) {
    this.links = [];
    this.biases = [];
    for (let l = 0; l + 1 < positions.length; l++) {
      positions[l].forEach(([x1, y1], i) => {
        positions[l + 1].forEach(([x2, y2], j) => {
          const sx = x1 + NODE, sy = y1 + NODE / 2, tx = x2, ty = y2 + NODE / 2;
          const mid = (sx + tx) / 2;
          const d = `M${sx},${sy} C${mid},${sy} ${mid},${ty} ${tx},${ty}`;
          const path = svgElement("path", { d, class: "link" });
          const hit = svgElement("path", { d, class: "link-hit" });
          const link = { layer: l, source: i, target: j, path };
          this.attachEditing(hit, link);
          this.svg.append(path, hit);
          this.links.push(link);
        });
      });
      positions[l + 1].forEach(([x, y], j) => {
        const rect = svgElement("rect", { x: x - 9, y: y + NODE - 7, width: 7, height: 7,
          class: "bias" });
        const bias = { layer: l, target: j, bias: true, path: rect };
        this.attachEditing(rect, bias);
        this.svg.append(rect);
        this.biases.push(bias);
      });
    }
  }

  drawLayerButtons(xs, layers) {
    layers.forEach((units, l) => {
      const box = document.createElement("div");
      box.className = "neuron-buttons";
      box.style.left = `${xs[l + 1] - 22}px`;
      for (const [text, delta] of [["+", 1], ["\u2212", -1]]) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "small round";
        button.textContent = text;
        button.title = delta > 0 ? "Add a neuron" : "Remove a neuron";
        button.dataset.layer = l;
        button.dataset.delta = delta;
        button.addEventListener("click", () => this.callbacks.changeNeurons(l, delta));
        box.append(button);
      }
      const label = document.createElement("span");
      label.textContent = `${units} neuron${units === 1 ? "" : "s"}`;
      box.append(label);
      this.container.append(box);
    });
  }

  attachEditing(element, item) {
    element.addEventListener("mouseenter", (event) => this.showCard(event, item, false));
    element.addEventListener("mouseleave", () => this.hideCard(false));
    element.addEventListener("click", (event) => this.showCard(event, item, true));
  }

  valueOf(item) {
    if (!this.frame) return NaN;
    return item.bias ? this.frame.biases[item.layer][item.target]
      : this.frame.weights[item.layer][item.source][item.target];
  }

  showCard(event, item, edit) {
    if (this.editing && !edit) return;
    const value = this.valueOf(item);
    const what = item.bias ? "Bias" : "Weight";
    this.card.replaceChildren();
    const text = document.createElement("span");
    text.textContent = `${what} is ${Number.isFinite(value) ? value.toFixed(3) : "not a number"}`;
    this.card.append(text);
    if (edit) {
      this.editing = true;
      const input = document.createElement("input");
      input.type = "number";
      input.step = "any";
      input.value = Number.isFinite(value) ? value : 0;
      input.id = "card-input";
      input.addEventListener("keydown", (keyEvent) => {
        if (keyEvent.key !== "Enter") return;
        this.callbacks.edit({ ...item, path: undefined, value: Number(input.value) });
        this.hideCard(true);
      });
      text.textContent = `${what}: `;
      this.card.append(input);
      setTimeout(() => input.focus(), 0);
    }
    this.card.style.left = `${event.pageX + 12}px`;
    this.card.style.top = `${event.pageY - 10}px`;
    this.card.hidden = false;
  }

  hideCard(force) {
    if (this.editing && !force) return;
    this.editing = false;
    this.card.hidden = true;
  }

  // Paints a frame: neuron maps, the output tile, link colours and widths, biases.
  update(frame, outputIndices) {
    this.frame = frame;
    for (const link of this.links) {
      const w = frame.weights[link.layer][link.source][link.target];
      const finite = Number.isFinite(w) ? w : 0;
      link.path.setAttribute("stroke", cssColor(Math.max(-1, Math.min(1, finite))));
      link.path.setAttribute("stroke-width", (1 + 9 * Math.min(Math.abs(finite), 5) / 5).toFixed(2));
    }
    for (const bias of this.biases) {
      const b = frame.biases[bias.layer][bias.target];
      bias.path.setAttribute("fill", cssColor(Math.max(-1, Math.min(1, b || 0))));
    }
    frame.neurons.forEach((maps, l) => maps.forEach((map, k) => {
      const canvas = this.neuronCanvases[l] && this.neuronCanvases[l][k];
      if (canvas) paintUnitMap(canvas, decodeBytes(map), canvas.width);
    }));
    if (this.outputCanvas && outputIndices) {
      paintUnitMap(this.outputCanvas, outputIndices, this.outputCanvas.width);
    }
  }
}
