// The network diagram: feature tiles, neurons with their heat maps, links and biases.
// Everything that changes with training is painted on one canvas per frame (cheap to
// redraw); a static, invisible SVG layer on top catches the mouse, so hovering over a
// link or a bias reads its value and clicking it edits it.
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

function clamp(value) {
  return Math.max(-1, Math.min(1, Number.isFinite(value) ? value : 0));
}

export class NetworkView {
  // callbacks: toggleFeature(name), changeNeurons(layerIndex, delta), edit({...}),
  // showNeuron([layer, unit] or null) while the mouse is over a neuron
  constructor(container, card, callbacks) {
    this.container = container;
    this.card = card;
    this.callbacks = callbacks;
    this.links = [];
    this.biases = [];
    this.tiles = [];
    this.editing = false;
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.hideCard(true);
    });
  }

  // Rebuilds the diagram for a `network` message; `allFeatures` is [[name, label], ...].
  setStructure(network, allFeatures) {
    this.network = network;
    this.frame = null;
    this.hideCard(true);
    this.container.replaceChildren();
    const perceptron = network.mode === "perceptron";
    const columns = [allFeatures.length, ...network.layers, 1];
    const tallest = Math.max(...columns);
    const width = Math.max(this.container.clientWidth || 520, 360);
    const height = TOP + tallest * PITCH;
    this.container.style.height = `${height}px`;
    const xs = columns.map((_, c) => 64 + (c * (width - 64 - NODE - 24)) / (columns.length - 1));
    const ys = (count, k) => TOP + ((tallest - count) * PITCH) / 2 + k * PITCH;
    this.makeCanvas(width, height);
    this.svg = svgElement("svg", { width, height, class: "links" });
    this.container.append(this.svg);
    const positions = [allFeatures.filter(([name]) => network.features.includes(name))
      .map(([name]) => [xs[0], ys(allFeatures.length,
        allFeatures.findIndex(([other]) => other === name))])];
    network.layers.forEach((units, l) => {
      positions.push(Array.from({ length: units }, (_, k) => [xs[l + 1], ys(units, k)]));
    });
    positions.push([[xs[columns.length - 1], ys(1, 0)]]);
    this.addLinks(positions);
    this.tiles = [];
    this.addFeatures(allFeatures, xs[0], ys);
    this.neuronTiles = network.layers.map((_, l) => positions[l + 1].map(([x, y], k) => {
      const tile = this.addTile(x, y, `neuron ${k + 1} of hidden layer ${l + 1}`);
      tile.target.addEventListener("mouseenter", () => this.callbacks.showNeuron([l, k]));
      tile.target.addEventListener("mouseleave", () => this.callbacks.showNeuron(null));
      return tile;
    }));
    const [ox, oy] = positions[positions.length - 1][0];
    this.outputTile = this.addTile(ox, oy, perceptron ? "the TLU" : "the output", "#333333");
    this.addText("node-caption", perceptron ? `TLU (${network.step})` : "output",
      { left: `${ox - 8}px`, top: `${oy + NODE + 2}px` });
    if (!perceptron) this.addLayerButtons(xs, network.layers);
    this.draw();
  }

  makeCanvas(width, height) {
    const scale = window.devicePixelRatio || 1;
    this.canvas = document.createElement("canvas");
    this.canvas.className = "network-canvas";
    this.canvas.width = Math.round(width * scale);
    this.canvas.height = Math.round(height * scale);
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${height}px`;
    this.context = this.canvas.getContext("2d");
    this.context.scale(scale, scale);
    this.container.append(this.canvas);
  }

  // A tile: an offscreen canvas of the heat map's size, drawn at (x, y) on each frame.
  addTile(x, y, title, border = "#999999") {
    const image = document.createElement("canvas");
    image.width = image.height = this.network.grid / this.network.neuronStep;
    const tile = { x, y, image, border, dim: false };
    this.tiles.push(tile);
    const target = document.createElement("div");
    target.className = "node-target";
    target.title = title;
    Object.assign(target.style, { left: `${x}px`, top: `${y}px` });
    this.container.append(target);
    tile.target = target;
    return tile;
  }

  addText(className, text, style) {
    const element = document.createElement("div");
    element.className = className;
    element.textContent = text;
    Object.assign(element.style, style);
    this.container.append(element);
  }

  addFeatures(allFeatures, x, ys) {
    allFeatures.forEach(([name, label], k) => {
      const on = this.network.features.includes(name);
      const tile = this.addTile(x, ys(allFeatures.length, k),
        `${label}: click to switch it ${on ? "off" : "on"}`);
      tile.dim = !on;
      tile.target.dataset.feature = name;
      tile.target.classList.add("feature");
      tile.target.addEventListener("click", () => this.callbacks.toggleFeature(name));
      paintUnitMap(tile.image, decodeBytes(this.network.featureMaps[name]), tile.image.width);
      this.addText("feature-label", label, { top: `${ys(allFeatures.length, k) + NODE / 2 - 8}px`,
        width: `${x - 6}px` });
    });
  }

  addLinks(positions) {
    this.links = [];
    this.biases = [];
    for (let l = 0; l + 1 < positions.length; l++) {
      positions[l].forEach(([x1, y1], i) => {
        positions[l + 1].forEach(([x2, y2], j) => {
          const [sx, sy, tx, ty] = [x1 + NODE, y1 + NODE / 2, x2, y2 + NODE / 2];
          const mid = (sx + tx) / 2;
          const link = { layer: l, source: i, target: j, points: [sx, sy, mid, ty, tx] };
          const hit = svgElement("path", {
            d: `M${sx},${sy} C${mid},${sy} ${mid},${ty} ${tx},${ty}`, class: "link-hit" });
          this.attachEditing(hit, link);
          this.svg.append(hit);
          this.links.push(link);
        });
      });
      positions[l + 1].forEach(([x, y], j) => {
        const bias = { layer: l, target: j, bias: true, x: x - 9, y: y + NODE - 7 };
        const hit = svgElement("rect", { x: bias.x - 1, y: bias.y - 1, width: 9, height: 9,
          class: "bias-hit" });
        this.attachEditing(hit, bias);
        this.svg.append(hit);
        this.biases.push(bias);
      });
    }
  }

  addLayerButtons(xs, layers) {
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
        const { layer, source, target, bias } = item;
        this.callbacks.edit({ layer, source, target, bias, value: Number(input.value) });
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

  // Takes a frame's neuron maps, output tile and weights, then repaints the diagram.
  update(frame, outputIndices) {
    this.frame = frame;
    frame.neurons.forEach((maps, l) => maps.forEach((map, k) => {
      const tile = this.neuronTiles[l] && this.neuronTiles[l][k];
      if (tile) paintUnitMap(tile.image, decodeBytes(map), tile.image.width);
    }));
    const output = this.outputTile.image;
    if (outputIndices) paintUnitMap(output, outputIndices, output.width);
    this.draw();
  }

  draw() {
    const { context } = this;
    context.clearRect(0, 0, this.canvas.width, this.canvas.height);
    context.lineCap = "round";
    for (const link of this.links) {
      const w = this.frame ? this.frame.weights[link.layer][link.source][link.target] : 0;
      const [sx, sy, mid, ty, tx] = link.points;
      context.strokeStyle = cssColor(clamp(w));
      context.lineWidth = 1 + (5 * Math.min(Math.abs(Number.isFinite(w) ? w : 0), 5)) / 5;
      context.beginPath();
      context.moveTo(sx, sy);
      context.bezierCurveTo(mid, sy, mid, ty, tx, ty);
      context.stroke();
    }
    context.lineWidth = 0.5;
    context.strokeStyle = "#666666";
    for (const bias of this.biases) {
      const b = this.frame ? this.frame.biases[bias.layer][bias.target] : 0;
      context.fillStyle = cssColor(clamp(b));
      context.fillRect(bias.x, bias.y, 7, 7);
      context.strokeRect(bias.x, bias.y, 7, 7);
    }
    context.imageSmoothingEnabled = true;
    context.lineWidth = 1;
    for (const tile of this.tiles) {
      context.globalAlpha = tile.dim ? 0.25 : 1;
      context.drawImage(tile.image, tile.x, tile.y, NODE, NODE);
      context.strokeStyle = tile.border;
      context.strokeRect(tile.x + 0.5, tile.y + 0.5, NODE - 1, NODE - 1);
    }
    context.globalAlpha = 1;
  }
}
