// Canvas drawing for the numnet playground: heat maps, data points, the loss chart.
// Values are shown on one diverging scale: -1 orange, 0 light grey, +1 blue.

const ORANGE = [245, 147, 34];
const GREY = [232, 234, 235];
const BLUE = [8, 119, 189];

// COLORS[k] is the colour of the value k / 127.5 - 1, for k = 0..255.
const COLORS = Array.from({ length: 256 }, (_, k) => {
  const t = k / 127.5 - 1;
  const [from, to, s] = t < 0 ? [GREY, ORANGE, -t] : [GREY, BLUE, t];
  return from.map((c, i) => Math.round(c + (to[i] - c) * s));
});

export function colorIndex(value) {
  return Math.max(0, Math.min(255, Math.round((value + 1) * 127.5)));
}

export function cssColor(value) {
  const [r, g, b] = COLORS[colorIndex(value)];
  return `rgb(${r},${g},${b})`;
}

export function decodeBytes(base64) {
  if (Uint8Array.fromBase64) return Uint8Array.fromBase64(base64);
  const text = atob(base64);
  const bytes = new Uint8Array(text.length);
  for (let k = 0; k < text.length; k++) bytes[k] = text.charCodeAt(k);
  return bytes;
}

export function decodeFloat32(base64) {
  return new Float32Array(decodeBytes(base64).buffer);
}

function toImage(indices, size) {
  const image = new ImageData(size, size);
  const pixels = image.data;
  for (let k = 0; k < size * size; k++) {
    const color = COLORS[indices[k]];
    pixels[4 * k] = color[0];
    pixels[4 * k + 1] = color[1];
    pixels[4 * k + 2] = color[2];
    pixels[4 * k + 3] = 255;
  }
  return image;
}

// Paints `size` x `size` colour indices (0..255) into `canvas`, stretched to fit.
function paintIndices(canvas, indices, size) {
  if (canvas.width === size && canvas.height === size) {
    canvas.getContext("2d").putImageData(toImage(indices, size), 0, 0);
    return;
  }
  const scratch = paintIndices.scratch || (paintIndices.scratch = document.createElement("canvas"));
  scratch.width = size;
  scratch.height = size;
  scratch.getContext("2d").putImageData(toImage(indices, size), 0, 0);
  const context = canvas.getContext("2d");
  context.imageSmoothingEnabled = true;
  context.drawImage(scratch, 0, 0, canvas.width, canvas.height);
}

// A neuron's (or a feature's) map: bytes that encode values in [-1, 1]. Node canvases
// are exactly `size` pixels wide (the page stretches them), so this is one putImageData.
export function paintUnitMap(canvas, bytes, size) {
  paintIndices(canvas, bytes, size);
}

// The model's output over the grid; `range` maps it to [-1, 1].
export function outputIndices(values, range, discretize) {
  const [low, high] = range;
  const indices = new Uint8Array(values.length);
  for (let k = 0; k < values.length; k++) {
    let t = ((values[k] - low) / (high - low)) * 2 - 1;
    if (discretize) t = t >= 0 ? 1 : -1;
    indices[k] = colorIndex(Number.isFinite(t) ? t : 0);
  }
  return indices;
}

export class HeatMap {
  // A square plot of the input plane [-domain, domain]^2 with a margin for the axes.
  constructor(canvas, margin = 22) {
    this.canvas = canvas;
    this.margin = margin;
    this.plot = document.createElement("canvas");
    this.plot.width = this.plot.height = canvas.width - 2 * margin;
    this.domain = 6;
  }

  toPixel([x, y]) {
    const side = this.plot.width;
    return [this.margin + ((x + this.domain) / (2 * this.domain)) * side,
      this.margin + ((this.domain - y) / (2 * this.domain)) * side];
  }

  draw({ values, size, range, discretize, train, test, showTest, regression, line, mark }) {
    paintIndices(this.plot, outputIndices(values, range, discretize), size);
    const context = this.canvas.getContext("2d");
    context.clearRect(0, 0, this.canvas.width, this.canvas.height);
    context.drawImage(this.plot, this.margin, this.margin);
    context.save();
    context.beginPath();
    context.rect(this.margin, this.margin, this.plot.width, this.plot.height);
    context.clip();
    context.drawImage(this.pointsLayer(train, test, showTest, regression), 0, 0);
    if (line) this.drawLine(context, line);
    if (mark) this.drawMark(context, mark);
    context.restore();
    this.drawAxes(context);
  }

  // The data points change only with the data: they are drawn once on a layer of their own.
  pointsLayer(train, test, showTest, regression) {
    const key = [train, test, showTest, regression, this.domain];
    if (this.points && key.every((part, k) => part === this.pointsKey[k])) return this.points;
    this.points = this.points || document.createElement("canvas");
    this.points.width = this.canvas.width;
    this.points.height = this.canvas.height;
    const context = this.points.getContext("2d");
    this.drawPoints(context, train, "#ffffff", regression);
    if (showTest) this.drawPoints(context, test, "#000000", regression);
    this.pointsKey = key;
    return this.points;
  }

  drawPoints(context, points, stroke, regression) {
    context.lineWidth = 1;
    context.strokeStyle = stroke;
    for (const [x, y, label] of points) {
      const [px, py] = this.toPixel([x, y]);
      context.fillStyle = cssColor(regression ? label : label * 2 - 1);
      context.beginPath();
      context.arc(px, py, 3, 0, 2 * Math.PI);
      context.fill();
      context.stroke();
    }
  }

  // The perceptron's boundary w1 x1 + w2 x2 + b = 0.
  drawLine(context, [w1, w2, b]) {
    const d = this.domain;
    let ends;
    if (Math.abs(w2) > Math.abs(w1)) ends = [[-d, (-b + w1 * d) / w2], [d, (-b - w1 * d) / w2]];
    else if (w1 !== 0) ends = [[(-b + w2 * d) / w1, -d], [(-b - w2 * d) / w1, d]];
    else return;
    context.strokeStyle = "#222222";
    context.lineWidth = 2;
    context.setLineDash([6, 4]);
    context.beginPath();
    context.moveTo(...this.toPixel(ends[0]));
    context.lineTo(...this.toPixel(ends[1]));
    context.stroke();
    context.setLineDash([]);
  }

  drawMark(context, point) {
    const [px, py] = this.toPixel(point);
    context.strokeStyle = "#d0021b";
    context.lineWidth = 2.5;
    context.beginPath();
    context.arc(px, py, 8, 0, 2 * Math.PI);
    context.stroke();
  }

  drawAxes(context) {
    context.fillStyle = "#666666";
    context.font = "10px sans-serif";
    context.textAlign = "center";
    const side = this.plot.width;
    const ticks = [-1, -0.5, 0, 0.5, 1].map((t) => t * this.domain);
    for (const tick of ticks) {
      const [px] = this.toPixel([tick, 0]);
      const [, py] = this.toPixel([0, tick]);
      const text = Number(tick.toFixed(1)).toString();
      context.fillText(text, px, this.margin + side + 14);
      context.save();
      context.textAlign = "right";
      context.fillText(text, this.margin - 4, py + 3);
      context.restore();
    }
  }
}

// Two series (train and test) as lines, scaled to the largest value shown.
export function drawLossChart(canvas, series) {
  const context = canvas.getContext("2d");
  const { width, height } = canvas;
  context.clearRect(0, 0, width, height);
  const finite = series.flatMap((pair) => pair).filter(Number.isFinite);
  if (series.length < 2 || !finite.length) return;
  const top = Math.max(...finite) || 1;
  const styles = [["#777777", 1.5], ["#111111", 2]];
  styles.forEach(([color, lineWidth], which) => {
    context.strokeStyle = color;
    context.lineWidth = lineWidth;
    context.beginPath();
    series.forEach((pair, k) => {
      const x = (k / (series.length - 1)) * (width - 2) + 1;
      const value = Number.isFinite(pair[which]) ? pair[which] : top;
      const y = height - 2 - (value / top) * (height - 6);
      if (k === 0) context.moveTo(x, y); else context.lineTo(x, y);
    });
    context.stroke();
  });
}

export function drawLegend(canvas) {
  const context = canvas.getContext("2d");
  for (let x = 0; x < canvas.width; x++) {
    context.fillStyle = cssColor((x / (canvas.width - 1)) * 2 - 1);
    context.fillRect(x, 0, 1, canvas.height);
  }
}

// A small picture of a data set, for its button.
export function drawThumbnail(canvas, points, domain, regression) {
  const context = canvas.getContext("2d");
  context.fillStyle = "#f7f7f7";
  context.fillRect(0, 0, canvas.width, canvas.height);
  for (const [x, y, label] of points) {
    context.fillStyle = cssColor(regression ? label : label * 2 - 1);
    const px = ((x + domain) / (2 * domain)) * canvas.width;
    const py = ((domain - y) / (2 * domain)) * canvas.height;
    context.fillRect(px - 1.5, py - 1.5, 3, 3);
  }
}
