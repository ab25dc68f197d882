// The model dashboard: one fetch of data.json, then every chart drawn with Chart.js (vendored under
// static/vendor/chartjs), or a "no data yet" note where its series are empty. Time axes are linear
// axes of epoch milliseconds, so no date adapter is needed; their ticks and tooltips are written in
// the server's time zone, as the rest of the site writes times.
//
// Each figure says how it went in data-state ("loading", "drawn", "empty", "error"), and the
// dashboard says data-state="ready" once every figure is settled: the browser test waits on it.
(function () {
  "use strict";

  var HOUR = 3600 * 1000;
  var DAY = 24 * HOUR;
  var STEPS = [HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY, 14 * DAY, 28 * DAY];
  // Okabe–Ito colours: told apart with the common kinds of colour blindness.
  var PALETTE = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000", "#8c564b"];
  var STAGES = {
    candidate: { color: "#6b7280", point: "circle" },
    shadow: { color: "#1f3c88", point: "rectRot" },
    canary: { color: "#b58900", point: "triangle" },
    production: { color: "#1b5e20", point: "rect" },
    retired: { color: "#9ca3af", point: "crossRot" }
  };
  var SEVERITIES = { critical: "#b71c1c", warning: "#e69f00", info: "#1f6feb" };
  var THRESHOLD_COLOR = "#555555";
  var GRID = "rgba(0, 0, 0, 0.08)";

  var charts = {};

  function color(i) {
    return PALETTE[((i % PALETTE.length) + PALETTE.length) % PALETTE.length];
  }

  function versionColor(number) {
    return number === null || number === undefined ? "#777777" : color(number - 1);
  }

  // --- numbers and dates -------------------------------------------------------------------------

  function percent(value) {
    return value === null || value === undefined ? "–" : (value * 100).toFixed(1) + "%";
  }

  function fixed(value) {
    return value === null || value === undefined ? "–" : Number(value).toFixed(3);
  }

  function clock(timeZone) {
    var options = {
      year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23"
    };
    var format;
    try {
      format = new Intl.DateTimeFormat("en-GB", Object.assign({ timeZone: timeZone }, options));
    } catch (e) {
      format = new Intl.DateTimeFormat("en-GB", options); // an unknown zone: the browser's own
    }
    function parts(ms) {
      var out = {};
      format.formatToParts(new Date(ms)).forEach(function (p) { out[p.type] = p.value; });
      return out;
    }
    return {
      day: function (ms) { var p = parts(ms); return p.year + "-" + p.month + "-" + p.day; },
      minute: function (ms) {
        var p = parts(ms);
        return p.year + "-" + p.month + "-" + p.day + " " + p.hour + ":" + p.minute;
      },
      tick: function (ms, step) {
        var p = parts(ms);
        return step >= DAY ? p.month + "-" + p.day : p.month + "-" + p.day + " " + p.hour + ":" + p.minute;
      }
    };
  }

  function extent(values) {
    var lo = Infinity;
    var hi = -Infinity;
    values.forEach(function (v) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    });
    return [lo, hi];
  }

  // A linear x axis of epoch milliseconds, with ticks on round hours or days.
  function timeAxis(dates, times) {
    var range = extent(times);
    var lo = range[0];
    var hi = range[1];
    if (hi - lo < HOUR) { lo -= 12 * HOUR; hi += 12 * HOUR; } // one moment: a day around it
    var pad = (hi - lo) * 0.02;
    lo -= pad;
    hi += pad;
    var step = STEPS[STEPS.length - 1];
    for (var i = 0; i < STEPS.length; i++) {
      if ((hi - lo) / STEPS[i] <= 8) { step = STEPS[i]; break; }
    }
    return {
      type: "linear",
      min: lo,
      max: hi,
      grid: { color: GRID },
      afterBuildTicks: function (axis) {
        var ticks = [];
        for (var t = Math.ceil(axis.min / step) * step; t <= axis.max; t += step) ticks.push({ value: t });
        axis.ticks = ticks;
      },
      ticks: { maxRotation: 0, callback: function (value) { return dates.tick(value, step); } }
    };
  }

  function rateAxis() {
    return {
      min: 0,
      max: 1,
      grid: { color: GRID },
      ticks: { callback: function (value) { return Math.round(value * 100) + "%"; } }
    };
  }

  function baseOptions() {
    return {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      interaction: { mode: "nearest", intersect: false },
      plugins: { legend: { position: "bottom", labels: { boxWidth: 12, usePointStyle: true } } },
      scales: {}
    };
  }

  // Long reasons as several tooltip lines: Chart.js does not wrap them.
  function wrap(text, width) {
    var lines = [];
    var line = "";
    String(text || "").split(/\s+/).forEach(function (word) {
      if (!word) return;
      if (line && (line + " " + word).length > width) { lines.push(line); line = word; }
      else line = line ? line + " " + word : word;
    });
    if (line) lines.push(line);
    if (lines.length > 4) { lines = lines.slice(0, 4); lines[3] += " …"; }
    return lines;
  }

  // --- figures -----------------------------------------------------------------------------------

  function figure(key) {
    return document.querySelector('[data-chart="' + key + '"]');
  }

  function forget(key) {
    if (charts[key]) { charts[key].destroy(); delete charts[key]; }
  }

  function draw(key, config, summary) {
    var fig = figure(key);
    if (!fig) return;
    forget(key);
    fig.querySelector(".chart-box").hidden = false;
    fig.querySelector("[data-empty]").hidden = true;
    charts[key] = new window.Chart(fig.querySelector("canvas"), config);
    fig.querySelector("[data-summary]").textContent = summary;
    fig.setAttribute("data-state", "drawn");
  }

  function showEmpty(key) {
    var fig = figure(key);
    if (!fig) return;
    forget(key);
    var note = fig.querySelector("[data-empty]");
    fig.querySelector(".chart-box").hidden = true;
    note.hidden = false;
    fig.querySelector("[data-summary]").textContent = note.textContent;
    fig.setAttribute("data-state", "empty");
  }

  function showError(key, text) {
    var fig = figure(key);
    if (!fig) return;
    forget(key);
    var note = fig.querySelector("[data-empty]");
    fig.querySelector(".chart-box").hidden = true;
    note.textContent = text;
    note.hidden = false;
    fig.setAttribute("data-state", "error");
  }

  function latest(datasets, format) {
    return datasets
      .filter(function (d) { return !d.threshold && d.data.length; })
      .map(function (d) { return d.label + " " + format(d.data[d.data.length - 1].y); })
      .join("; ");
  }

  // --- the charts --------------------------------------------------------------------------------

  // A shaded band behind one category of the x axis, with a word on it: the production version.
  var markCategory = {
    id: "lhMarkCategory",
    beforeDatasetsDraw: function (chart, args, options) {
      if (options.index === null || options.index === undefined || options.index < 0) return;
      var x = chart.scales.x;
      var area = chart.chartArea;
      var ctx = chart.ctx;
      var count = Math.max(chart.data.labels.length, 1);
      var half = Math.max(10, Math.min(40, (area.right - area.left) / count / 2));
      var center = x.getPixelForValue(options.index);
      ctx.save();
      ctx.fillStyle = "rgba(27, 94, 32, 0.12)";
      ctx.fillRect(center - half, area.top, 2 * half, area.bottom - area.top);
      ctx.fillStyle = "#1b5e20";
      ctx.font = "600 11px " + window.Chart.defaults.font.family;
      ctx.textAlign = "center";
      ctx.textBaseline = "top";
      ctx.fillText(options.label || "", center, area.top + 4);
      ctx.restore();
    }
  };

  // Behind the points of the deployment timeline: each version's time in each stage, as a bar in
  // the colour of the stage it entered, up to its next change (or now; none after retirement).
  var stageSpans = {
    id: "lhStageSpans",
    beforeDatasetsDraw: function (chart, args, options) {
      var x = chart.scales.x;
      var y = chart.scales.y;
      var area = chart.chartArea;
      var ctx = chart.ctx;
      var byVersion = {};
      (options.events || []).forEach(function (e) { (byVersion[e.version] = byVersion[e.version] || []).push(e); });
      ctx.save();
      ctx.beginPath();
      ctx.rect(area.left, area.top, area.right - area.left, area.bottom - area.top);
      ctx.clip();
      ctx.lineWidth = 6;
      ctx.lineCap = "butt";
      Object.keys(byVersion).forEach(function (number) {
        var rows = byVersion[number];
        rows.forEach(function (e, i) {
          if (e.to === "retired") return;
          var end = i + 1 < rows.length ? rows[i + 1].at : options.until;
          var look = STAGES[e.to] || { color: "#777777" };
          ctx.strokeStyle = look.color;
          ctx.globalAlpha = 0.3;
          ctx.beginPath();
          ctx.moveTo(x.getPixelForValue(e.at), y.getPixelForValue(e.version));
          ctx.lineTo(x.getPixelForValue(end), y.getPixelForValue(e.version));
          ctx.stroke();
        });
      });
      ctx.restore();
    }
  };

  function drawOffline(data) {
    var block = data.offline;
    var versions = block.versions.filter(function (v) {
      return block.metrics.some(function (m) { return v.values[m.key] !== null; });
    });
    if (!versions.length) return showEmpty("offline");
    var production = versions.map(function (v) { return v.number; }).indexOf(block.production);
    var datasets = [];
    block.metrics.forEach(function (m, i) {
      var values = versions.map(function (v) { return v.values[m.key]; });
      if (values.every(function (v) { return v === null; })) return;
      datasets.push({
        label: m.label,
        data: values,
        borderColor: color(i),
        backgroundColor: color(i),
        pointStyle: "circle",
        pointRadius: versions.map(function (v, j) { return j === production ? 6 : 3; }),
        spanGaps: true
      });
    });
    var options = baseOptions();
    options.scales.x = { offset: true, grid: { color: GRID } };
    options.scales.y = { min: 0, max: 1, grid: { color: GRID } };
    options.interaction = { mode: "index", intersect: false };
    options.plugins.lhMarkCategory = { index: production, label: "production" };
    options.plugins.tooltip = {
      callbacks: {
        title: function (items) {
          var v = versions[items[0].dataIndex];
          return "v" + v.number + " (" + v.stage + ")";
        },
        label: function (item) { return item.dataset.label + ": " + fixed(item.parsed.y); }
      }
    };
    var last = versions[versions.length - 1];
    var summary = versions.length + " version" + (versions.length === 1 ? "" : "s") + ", v" +
      versions[0].number + " to v" + last.number +
      (production >= 0 ? "; production is v" + versions[production].number : "; none in production") +
      ". Newest, v" + last.number + ": " + datasets.map(function (d) {
        return d.label + " " + fixed(d.data[d.data.length - 1]);
      }).join(", ") + ".";
    draw("offline", {
      type: "line",
      data: { labels: versions.map(function (v) { return "v" + v.number; }), datasets: datasets },
      options: options,
      plugins: [markCategory]
    }, summary);
  }

  function drawOnline(data, dates, metric) {
    var fig = figure("online");
    if (!fig) return;
    fig.querySelectorAll("[data-metric]").forEach(function (button) {
      var on = button.getAttribute("data-metric") === metric;
      button.setAttribute("aria-pressed", on ? "true" : "false");
      button.classList.toggle("outline", !on);
    });
    var block = data.online.metrics[metric];
    var series = block ? block.series.filter(function (s) { return s.points.length; }) : [];
    if (!series.length) return showEmpty("online");
    var times = [];
    var datasets = series.map(function (s) {
      s.points.forEach(function (p) { times.push(p[0]); });
      var label = s.version === null ? "all versions" : "v" + s.version + (s.stage ? " (" + s.stage + ")" : "");
      return {
        label: label,
        data: s.points.map(function (p) { return { x: p[0], y: p[1], n: p[2] }; }),
        borderColor: versionColor(s.version),
        backgroundColor: versionColor(s.version),
        pointRadius: s.points.length > 60 ? 0 : 2,
        pointHitRadius: 6,
        borderWidth: 2
      };
    });
    var options = baseOptions();
    options.scales.x = timeAxis(dates, times);
    options.scales.y = rateAxis();
    options.plugins.tooltip = {
      callbacks: {
        title: function (items) { return dates.minute(items[0].parsed.x); },
        label: function (item) {
          var n = item.raw.n;
          return item.dataset.label + ": " + percent(item.parsed.y) + (n ? " of " + n : "");
        }
      }
    };
    draw("online", { type: "line", data: { datasets: datasets }, options: options },
      block.label + ", latest per version: " + latest(datasets, percent) + ".");
  }

  // Drift per feature, or data quality per check: a line each, and the thresholds dashed.
  function drawMonitored(key, block, dates, rate) {
    var series = block.series.filter(function (s) { return s.points.length; });
    if (!series.length) return showEmpty(key);
    var times = [];
    series.forEach(function (s) { s.points.forEach(function (p) { times.push(p[0]); }); });
    var span = extent(times);
    var format = rate ? percent : fixed;
    var datasets = series.map(function (s, i) {
      return {
        label: s.feature + (s.drifted ? " (drifted)" : ""),
        data: s.points.map(function (p) { return { x: p[0], y: p[1], n: p[2] }; }),
        borderColor: color(i),
        backgroundColor: color(i),
        pointRadius: s.points.length > 60 ? 0 : 2,
        pointHitRadius: 6,
        borderWidth: 2
      };
    });
    var limited = series.filter(function (s) { return s.threshold !== null && s.threshold !== undefined; });
    var distinct = limited.map(function (s) { return s.threshold; })
      .filter(function (t, i, all) { return all.indexOf(t) === i; });
    function line(label, value, lineColor) {
      return {
        label: label,
        threshold: true,
        data: [{ x: span[0], y: value }, { x: span[1], y: value }],
        borderColor: lineColor,
        backgroundColor: lineColor,
        borderDash: [6, 4],
        borderWidth: 1.5,
        pointRadius: 0,
        pointHitRadius: 0,
        pointStyle: "line"
      };
    }
    if (distinct.length === 1) {
      datasets.push(line("threshold " + format(distinct[0]), distinct[0], THRESHOLD_COLOR));
    } else {
      limited.forEach(function (s) {
        var i = series.indexOf(s);
        datasets.push(line(s.feature + " threshold " + format(s.threshold), s.threshold, color(i)));
      });
    }
    var options = baseOptions();
    options.scales.x = timeAxis(dates, times);
    options.scales.y = rate ? rateAxis() : { beginAtZero: true, grid: { color: GRID } };
    options.plugins.tooltip = {
      filter: function (item) { return !item.dataset.threshold; },
      callbacks: {
        title: function (items) { return items.length ? dates.minute(items[0].parsed.x) : ""; },
        label: function (item) {
          var s = series[item.datasetIndex];
          var n = item.raw.n;
          return item.dataset.label + ": " + format(item.parsed.y) + (s && s.method ? " (" + s.method + ")" : "") +
            (n ? ", n = " + n : "");
        }
      }
    };
    var summary = "Latest: " + latest(datasets, format) + "." +
      (distinct.length ? " Thresholds: " + distinct.map(format).join(", ") + "." : "");
    draw(key, { type: "line", data: { datasets: datasets }, options: options }, summary);
  }

  function drawStages(data, dates) {
    var events = data.stages.events;
    if (!events.length) return showEmpty("stages");
    var datasets = [];
    data.stages.stages.forEach(function (stage) {
      var rows = events.filter(function (e) { return e.to === stage; });
      if (!rows.length) return;
      var look = STAGES[stage] || { color: "#777777", point: "circle" };
      datasets.push({
        label: stage,
        data: rows.map(function (e) { return { x: e.at, y: e.version, event: e }; }),
        borderColor: look.color,
        backgroundColor: look.color,
        pointStyle: look.point,
        pointRadius: 7,
        pointHoverRadius: 9,
        borderWidth: 2
      });
    });
    var numbers = extent(events.map(function (e) { return e.version; }));
    var options = baseOptions();
    options.interaction = { mode: "nearest", intersect: true };
    // Up to now, so that the bar of each version's current stage reaches the right edge.
    options.scales.x = timeAxis(dates, events.map(function (e) { return e.at; }).concat([data.generated_at]));
    options.scales.y = {
      min: numbers[0] - 0.5,
      max: numbers[1] + 0.5,
      grid: { color: GRID },
      afterBuildTicks: function (axis) {
        var ticks = [];
        var every = Math.max(1, Math.ceil((numbers[1] - numbers[0] + 1) / 12));
        for (var n = numbers[0]; n <= numbers[1]; n += every) ticks.push({ value: n });
        axis.ticks = ticks;
      },
      ticks: { callback: function (value) { return "v" + value; } }
    };
    options.plugins.lhStageSpans = { events: events, until: data.generated_at };
    options.plugins.tooltip = {
      callbacks: {
        title: function (items) { return dates.minute(items[0].parsed.x); },
        label: function (item) {
          var e = item.raw.event;
          return "v" + e.version + ": " + (e.from || "new") + " → " + e.to;
        },
        afterLabel: function (item) {
          var e = item.raw.event;
          return ["by " + e.actor + (e.automatic ? " (automatic)" : "")].concat(wrap(e.reason, 60));
        }
      }
    };
    var last = events[events.length - 1];
    var summary = events.length + " stage change" + (events.length === 1 ? "" : "s") + ". Latest: v" +
      last.version + " to " + last.to + " on " + dates.minute(last.at) + " by " + last.actor + ".";
    draw("stages", { type: "scatter", data: { datasets: datasets }, options: options, plugins: [stageSpans] },
      summary);
  }

  function drawAlerts(data) {
    var block = data.alerts;
    var severities = Object.keys(block.counts || {});
    if (!block.days.length || !severities.length) return showEmpty("alerts");
    var datasets = severities.map(function (severity, i) {
      return {
        label: severity,
        data: block.counts[severity],
        backgroundColor: SEVERITIES[severity] || color(i),
        borderColor: SEVERITIES[severity] || color(i),
        borderWidth: 0,
        maxBarThickness: 40
      };
    });
    var options = baseOptions();
    options.interaction = { mode: "index", intersect: false };
    options.scales.x = {
      stacked: true,
      grid: { display: false },
      ticks: { maxRotation: 0, autoSkip: true, callback: function (value) { return block.days[value].slice(5); } }
    };
    options.scales.y = { stacked: true, beginAtZero: true, grid: { color: GRID }, ticks: { precision: 0 } };
    options.plugins.tooltip = { callbacks: { title: function (items) { return block.days[items[0].dataIndex]; } } };
    var totals = datasets.map(function (d) {
      return d.data.reduce(function (a, b) { return a + b; }, 0) + " " + d.label;
    });
    draw("alerts", { type: "bar", data: { labels: block.days, datasets: datasets }, options: options },
      "Alerts fired from " + block.days[0] + " to " + block.days[block.days.length - 1] + ": " +
      totals.join(", ") + ".");
  }

  // --- the page ----------------------------------------------------------------------------------

  function attempt(key, fn) {
    try {
      fn();
    } catch (err) {
      if (window.console) window.console.error("chart " + key + " failed", err);
      showError(key, "This chart could not be drawn: " + err.message);
    }
  }

  function render(root, data) {
    var dates = clock(data.time_zone);
    var online = figure("online");
    var metric = data.online.order[0];
    if (online) {
      var pressed = online.querySelector('[data-metric][aria-pressed="true"]');
      if (pressed) metric = pressed.getAttribute("data-metric");
      online.querySelectorAll("[data-metric]").forEach(function (button) {
        button.addEventListener("click", function () {
          attempt("online", function () { drawOnline(data, dates, button.getAttribute("data-metric")); });
        });
      });
    }
    attempt("offline", function () { drawOffline(data); });
    attempt("online", function () { drawOnline(data, dates, metric); });
    attempt("drift", function () { drawMonitored("drift", data.drift, dates, false); });
    attempt("quality", function () { drawMonitored("quality", data.quality, dates, true); });
    attempt("stages", function () { drawStages(data, dates); });
    attempt("alerts", function () { drawAlerts(data); });
    root.setAttribute("data-state", "ready");
  }

  function fail(root, text) {
    var box = root.querySelector("[data-dashboard-error]");
    if (box) { box.textContent = text; box.hidden = false; }
    root.querySelectorAll("[data-chart]").forEach(function (fig) {
      showError(fig.getAttribute("data-chart"), text);
    });
    root.setAttribute("data-state", "error");
  }

  function start() {
    var root = document.querySelector("[data-dashboard]");
    if (!root) return;
    if (!window.Chart || !window.fetch) {
      fail(root, "The charts cannot be drawn in this browser.");
      return;
    }
    var style = window.getComputedStyle(document.body);
    window.Chart.defaults.font.family = style.fontFamily;
    window.Chart.defaults.color = "#4b5563";
    window.Chart.defaults.animation = false;
    fetch(root.getAttribute("data-source"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (!r.ok) throw new Error("The server answered " + r.status + ".");
        return r.json();
      })
      .then(function (data) { render(root, data); })
      .catch(function (err) { fail(root, "Could not load the chart data. " + (err && err.message ? err.message : "")); });
  }

  document.addEventListener("DOMContentLoaded", start);
})();
