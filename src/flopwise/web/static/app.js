// flopwise web page: fills the forms from /api/catalog, posts them to the JSON API, draws tables and
// Plotly charts from the same result objects the CLI prints with --json. No framework, no CDN.
"use strict";

(() => {
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
  const state = { catalog: null, accById: {}, modelById: {} };

  // ------------------------------------------------------------------ formatting (humans get GiB, days, $)
  const GIB = 2 ** 30;
  const fixed = (x, d) => Number(x).toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
  const gib = (b) => `${fixed(b / GIB, 1)} GiB`;
  const pct = (x) => `${fixed(100 * x, 1)}%`;
  const signedPct = (x) => `${x >= 0 ? "+" : ""}${fixed(100 * x, 1)}%`;
  function usd(x) {
    if (x === null || x === undefined) return "—";
    if (x >= 1e6) return `$${fixed(x / 1e6, 2)}M`;
    if (x >= 1e3) return `$${fixed(x, 0)}`;
    return `$${fixed(x, 2)}`;
  }
  function si(x, unit = "") {
    if (!isFinite(x) || x === 0) return `${x}${unit}`;
    const a = Math.abs(x);
    if (a >= 1e15 || a < 1e-3) return `${x.toExponential(2)}${unit}`;
    for (const [div, p] of [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"]]) {
      if (a >= div) return `${(x / div).toPrecision(3)} ${p}${unit}`;
    }
    return `${x.toPrecision(3)}${unit}`;
  }
  function params(n) {
    if (n >= 1e12) return `${fixed(n / 1e12, 2)}T`;
    if (n >= 1e9) return `${fixed(n / 1e9, 2)}B`;
    return `${fixed(n / 1e6, 1)}M`;
  }
  function duration(s) {
    if (s < 1e-3) return `${fixed(s * 1e6, 1)} µs`;
    if (s < 1) return `${fixed(s * 1e3, 1)} ms`;
    if (s < 120) return `${fixed(s, 2)} s`;
    if (s < 7200) return `${fixed(s / 60, 1)} min`;
    if (s < 3 * 86400) return `${fixed(s / 3600, 1)} h`;
    return `${fixed(s / 86400, 1)} days`;
  }
  const days = (d) => (d < 2 ? `${fixed(d * 24, 1)} hours` : `${fixed(d, 1)} days`);
  const label = (k) => k.replace(/_bytes$|_s$/, "").replace(/_/g, " ");

  // ------------------------------------------------------------------ small DOM helpers
  function el(tag, attrs = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("data-")) e.setAttribute(k, v);
      else e[k] = v;
    }
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  }
  function kpi(key, value, text, caption) {
    return el("div", { class: "kpi", "data-k": key, "data-value": value },
      el("div", { class: "v", text }), el("div", { class: "l", text: caption }));
  }
  function kvRows(tbody, rows) {
    tbody.replaceChildren(...rows.filter(Boolean).map(([k, v, key]) =>
      el("tr", { "data-k": key || null }, el("th", { text: k }), el("td", { text: v }))));
  }
  function showError(id, message) {
    const box = $(id);
    box.textContent = message || "";
    box.hidden = !message;
  }

  // ------------------------------------------------------------------ API
  async function api(method, path, body) {
    const opts = { method, headers: { accept: "application/json" } };
    if (body !== undefined) {
      opts.headers["content-type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, opts);
    } catch (err) {
      throw new Error(`cannot reach the flopwise server (${err.message}); is \`flopwise web\` still running?`);
    }
    let data = null;
    try { data = await res.json(); } catch (_) { /* not JSON */ }
    if (!res.ok) throw new Error(data && data.detail ? data.detail : `${res.status} ${res.statusText}`);
    return data;
  }

  // ------------------------------------------------------------------ charts
  const PLOT_CONFIG = { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["select2d", "lasso2d"] };
  const MEMORY_COLORS = {
    weights: "#4e79a7", gradients: "#f28e2b", optimizer: "#e15759", activations: "#76b7b2", buffers: "#59a14f",
    framework: "#edc948",
  };
  const STEP_COLORS = {
    compute: "#4e79a7", attention: "#a0cbe8", elementwise: "#86bcb6", recompute: "#f1ce63", "tp comm": "#f28e2b",
    "cp comm": "#ffbe7d", "ep comm": "#d37295", "moe host": "#fabfd2", "pp comm": "#b07aa1", bubble: "#e15759", "dp comm": "#59a14f",
    "fsdp comm": "#8cd17d", optimizer: "#9d7660",
  };
  const COLORS = { memory: MEMORY_COLORS, step: STEP_COLORS };
  function plot(id, traces, layout) {
    const div = document.getElementById(id);
    div.dataset.rendered = "";
    if (!window.Plotly) {
      div.replaceChildren(el("p", { class: "hint", text: "Charts need plotly.min.js, which comes with the web extra: pip install 'flopwise[web]'." }));
      return Promise.resolve();
    }
    const base = {
      margin: { l: 60, r: 20, t: 10, b: 50 }, font: { family: "system-ui, sans-serif", size: 12 },
      legend: { orientation: "h", y: -0.25, traceorder: "normal" }, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
    };
    return window.Plotly.react(div, traces, Object.assign(base, layout), PLOT_CONFIG)
      .then(() => { div.dataset.rendered = String(traces.length); });
  }

  // ------------------------------------------------------------------ catalog → selects
  function fillSelects() {
    const c = state.catalog;
    const modelOpt = (m) => el("option", { value: m.id, text: `${m.name} — ${params(m.params_total)}${m.moe ? ` (${params(m.params_active)} active)` : ""}` });
    const accOpt = (a) => el("option", {
      value: a.id,
      text: `${a.name} — ${fixed(a.memory_bytes / GIB, 0)} GiB${a.bf16_flops_per_s ? `, ${fixed(a.bf16_flops_per_s / 1e12, 0)} TFLOP/s bf16` : ""}`,
    });
    for (const sel of $$("select[data-catalog]")) {
      const kind = sel.dataset.catalog;
      const keep = Array.from(sel.options).filter((o) => o.value === "");
      let opts = [];
      if (kind === "models") opts = c.models.map(modelOpt);
      else if (kind === "accelerators") opts = c.accelerators.filter((a) => a.usable).map(accOpt);
      else if (kind === "systems") opts = c.systems.map((s) => el("option", { value: s.id, text: `${s.id} (${s.gpus_per_node} × ${s.accelerator})` }));
      else opts = (c[kind] || []).map((v) => el("option", { value: v, text: v }));
      sel.replaceChildren(...keep, ...opts);
    }
    const d = c.defaults;
    for (const form of $$("form")) {
      for (const [k, v] of Object.entries(d)) {
        const input = form.elements.namedItem(k);
        if (input && "value" in input && !input.hasAttribute("data-nodefault")) input.value = v;
      }
    }
  }

  // ------------------------------------------------------------------ form → request body
  function formBody(form) {
    const body = {};
    for (const input of Array.from(form.elements)) {
      if (!input.name || input.disabled) continue;
      const v = (input.value || "").trim();
      if (input.type === "checkbox") { body[input.name] = input.checked; continue; }
      if (v === "") continue;
      if (input.type === "number") {
        const n = Number(v);
        body[input.name] = Number.isFinite(n) ? n : v; // let the server say what is wrong with it
      } else body[input.name] = v;
    }
    if (body.hf_config) delete body.model; // the pasted config replaces the picked model
    return body;
  }
  function setHash(tab, body) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(body)) if (k !== "hf_config") q.set(k, v);
    history.replaceState(null, "", `#${tab}?${q.toString()}`);
  }
  function fillFromHash() {
    const m = location.hash.match(/^#(\w+)(?:\?(.*))?$/);
    if (!m) return null;
    const tab = m[1];
    const form = document.getElementById(`form-${tab}`);
    if (!form) return null;
    const q = new URLSearchParams(m[2] || "");
    let any = false;
    for (const [k, v] of q.entries()) {
      const input = form.elements.namedItem(k);
      if (input && input.type === "checkbox") { input.checked = v === "true"; any = true; }
      else if (input && "value" in input) { input.value = v; any = true; }
    }
    return { tab, form, submit: any };
  }

  async function submitting(prefix, work) {
    const btn = $(`#${prefix}-submit`);
    const status = $(`#${prefix}-status`);
    showError(`#${prefix}-error`, "");
    btn.disabled = true;
    status.textContent = "working…";
    const t0 = performance.now();
    try {
      await work();
      status.textContent = `done in ${fixed((performance.now() - t0) / 1000, 2)} s`;
    } catch (err) {
      status.textContent = "";
      showError(`#${prefix}-error`, err.message);
      const old = document.getElementById(`${prefix}-results`);
      if (old) old.hidden = true; // never leave an earlier answer beside the error, as if it were this one's
    } finally {
      btn.disabled = false;
    }
  }

  // ------------------------------------------------------------------ train
  function accName(id) { return (state.accById[id] || {}).name || id; }

  async function runTrain(ev) {
    if (ev) ev.preventDefault();
    const form = $("#form-train");
    const body = formBody(form);
    await submitting("train", async () => {
      const est = await api("POST", "/api/train", body);
      setHash("train", body);
      renderTrain(est);
    });
  }

  function renderTrain(est) {
    $("#train-results").hidden = false;
    const rel = est.reliability;
    $("#train-headline").textContent =
      `${est.model} on ${est.gpus} × ${accName(est.accelerator)}: ${days(est.days)}${est.cost_usd != null ? `, ${usd(est.cost_usd)}` : ""}` +
      (rel ? ` (${days(est.expected_days)} with failures)` : "");
    const mem = est.memory;
    const k = [
      kpi("days", est.days, days(est.days), `training time (${fixed(est.gpu_hours, 0)} GPU-hours)`),
      kpi("cost_usd", est.cost_usd ?? "", usd(est.cost_usd), est.price_per_gpu_hour != null ? `at $${fixed(est.price_per_gpu_hour, 2)}/GPU-hour` : "no price known: give $ per GPU-hour"),
      kpi("mfu", est.mfu, pct(est.mfu), `MFU (HFU ${pct(est.hfu)})`),
      kpi("tokens_per_s", est.tokens_per_s, `${si(est.tokens_per_s)} tok/s`, `${fixed(est.tokens_per_s_per_gpu, 0)} per GPU, ${fixed(est.tflops_per_gpu, 0)} TFLOP/s per GPU`),
      kpi("memory", mem.total_bytes, `${fixed(mem.total_bytes / GIB, 1)} / ${fixed(mem.capacity_bytes / GIB, 0)} GiB`, mem.fits ? "memory per GPU (fits)" : "memory per GPU: DOES NOT FIT"),
    ];
    if (rel) {
      k.push(kpi("expected_days", est.expected_days, days(est.expected_days),
        `with failures: goodput ${pct(rel.goodput)}${est.expected_cost_usd != null ? `, ${usd(est.expected_cost_usd)}` : ""}`));
    }
    if (est.step_time) k.push(kpi("step_s", est.step_time.step_s, duration(est.step_time.step_s), `per step of ${fixed(est.global_batch, 0)} sequences`));
    $("#train-kpis").replaceChildren(...k);
    $("#train-plan").textContent = est.plan ? planLabel(est.plan) : `none: time from an assumed MFU of ${pct(est.mfu)}`;

    // top plans table
    const rows = (est.top_plan_breakdowns || []).map((p) =>
      el("tr", { "data-rank": p.rank }, el("td", { text: `#${p.rank}` }), el("td", {}, el("code", { text: p.plan })),
        el("td", { text: p.step_time ? duration(p.step_time.step_s) : "—" }), el("td", { text: pct(p.mfu) }),
        el("td", { text: gib(p.memory.total_bytes) }), el("td", { text: days(p.days) }), el("td", { text: usd(p.cost_usd) })));
    $("#train-top tbody").replaceChildren(...rows);
    $("#train-top").closest(".card").hidden = rows.length === 0;

    const f = est.flops;
    kvRows($("#train-details tbody"), [
      ["tokens", `${si(est.tokens)} at sequence ${fixed(est.seq_len, 0)}, global batch ${fixed(est.global_batch, 0)} sequences (${si(est.global_batch * est.seq_len)} tokens)`, "tokens"],
      ["FLOPs", `${f.flops_total.toExponential(3)} = 6·N·D ${f.dense_flops.toExponential(3)} + LM head ${f.lm_head_flops.toExponential(3)} + attention ${f.attention_flops.toExponential(3)}`, "flops"],
      ["cluster", `${est.cluster}, ${est.gpus} × ${accName(est.accelerator)}, ${est.precision}`, "cluster"],
      ["throughput", `${si(est.tokens_per_s)} tokens/s, ${fixed(est.tflops_per_gpu, 0)} TFLOP/s per GPU, MFU ${pct(est.mfu)}, HFU ${pct(est.hfu)}`, "throughput"],
      est.price_source ? ["price", est.price_source, "price"] : null,
      rel ? ["with failures", `${days(est.expected_days)}, ${fixed(est.expected_gpu_hours, 0)} GPU-hours${est.expected_cost_usd != null ? `, ${usd(est.expected_cost_usd)}` : ""} (goodput ${pct(rel.goodput)}; failure rates: ${rel.failure_model_id})`, "reliability"] : null,
      rel ? ["interruptions", `${fixed(rel.expected_interruptions, 1)} expected (one every ${duration(rel.mtbf_job_s)}); checkpoint ${gib(rel.checkpoint_bytes)} every ${duration(rel.optimal_interval_s)}${rel.checkpoint_every_steps ? ` (${fixed(rel.checkpoint_every_steps, 0)} steps)` : ""}, ${duration(rel.checkpoint_blocking_s)} each`, "interruptions"] : null,
      rel && rel.resubmissions ? ["job-length limit", `${rel.resubmissions} resubmissions, ${duration(rel.queue_s)} queueing`, "resubmissions"] : null,
      est.simulation ? [`simulated (${fixed(est.simulation.n, 0)} runs)`, `p50 ${fixed(est.simulation.p50_s / 86400, 2)} days, p90 ${fixed(est.simulation.p90_s / 86400, 2)} days (analytic mean ${fixed(est.simulation.analytic_mean_s / 86400, 2)})`, "simulation"] : null,
      est.mode === "planner" ? ["track record", est.track_record
        ? `${fixed(est.track_record.rows, 0)} published runs on ${est.track_record.generation}${est.track_record.moe ? " (MoE models)" : ""}: median |error| ${pct(est.track_record.median_abs_error)}, bias ${est.track_record.median_error >= 0 ? "+" : ""}${pct(est.track_record.median_error)}, 90% within ${pct(est.track_record.p90_abs_error)}`
        : "no published runs on this hardware generation were scored: unvalidated", "track-record"] : null,
      est.mode === "planner" ? ["search", `${fixed(est.plans_evaluated, 0)} plans evaluated, ${fixed(est.plans_valid, 0)} valid, ${fixed(est.search_s * 1e3, 0)} ms`, "search"] : ["mode", "assumed MFU: no layout searched", "mode"],
    ]);
    drawTrainCharts(est);
  }

  function planLabel(p) {
    const parts = [`tp=${p.tp}`, `pp=${p.pp}`, `dp=${p.dp}`];
    if (p.cp > 1) parts.push(`cp=${p.cp}`);
    if (p.ep > 1) parts.push(`ep=${p.ep}`);
    if (p.vpp > 1) parts.push(`vpp=${p.vpp}`);
    const rec = p.recompute === "block" && p.recompute_layers ? `block:${p.recompute_layers}` : p.recompute;
    parts.push(`mb=${p.micro_batch}`, p.sharding, `recompute=${rec}`);
    if (p.tp > 1 && p.sequence_parallel) parts.push("sp");
    if (p.tp > 1 && p.tp_overlap) parts.push("tp-overlap");
    if (p.ep > 1 && p.ep_overlap) parts.push("ep-overlap");
    if (!p.flash_attention) parts.push("no-flash");
    else if (p.flash_version === 3) parts.push("fa3");
    return parts.join(" ");
  }

  function drawTrainCharts(est) {
    const plans = (est.top_plan_breakdowns && est.top_plan_breakdowns.length)
      ? est.top_plan_breakdowns
      : [{ rank: 1, plan: "assumed MFU (model states sharded over all GPUs)", memory: est.memory, step_time: est.step_time }];
    const names = plans.map((p) => (plans.length > 1 || est.mode === "planner" ? `#${p.rank}` : "assumed MFU"));
    const memKeys = ["weights_bytes", "gradients_bytes", "optimizer_bytes", "activations_bytes", "buffers_bytes", "framework_bytes"];
    const cap = est.memory.capacity_bytes / GIB;
    const memTraces = memKeys.map((key) => ({
      type: "bar", orientation: "h", name: label(key), y: names, x: plans.map((p) => p.memory[key] / GIB),
      marker: { color: MEMORY_COLORS[label(key)] }, customdata: plans.map((p) => p.plan),
      hovertemplate: `${label(key)}: %{x:.2f} GiB<br>%{customdata}<extra></extra>`,
    }));
    const maxTotal = Math.max(...plans.map((p) => p.memory.total_bytes / GIB), cap);
    plot("chart-train-memory", memTraces, {
      barmode: "stack", xaxis: { title: { text: "GiB per GPU" }, range: [0, maxTotal * 1.08] },
      yaxis: { type: "category", autorange: "reversed", title: { text: "plan" } },
      shapes: [{ type: "line", x0: cap, x1: cap, yref: "paper", y0: 0, y1: 1, line: { color: "#c0392b", width: 2, dash: "dash" } }],
      annotations: [{ x: cap, yref: "paper", y: 1.02, text: `${accName(est.accelerator)}: ${fixed(cap, 0)} GiB`, showarrow: false, xanchor: "right", yanchor: "bottom", font: { color: "#c0392b" } }],
      margin: { l: 60, r: 20, t: 30, b: 60 },
    });

    const withStep = plans.filter((p) => p.step_time);
    if (!withStep.length) {
      const div = $("#chart-train-step");
      if (window.Plotly) window.Plotly.purge(div);
      div.dataset.rendered = "";
      div.replaceChildren(el("p", { class: "hint", text: "No step time in assumed-MFU mode: clear the MFU field to let flopwise search the parallel layout." }));
      return;
    }
    const stepKeys = Object.keys(withStep[0].step_time).filter((k) => k !== "step_s" && withStep.some((p) => p.step_time[k] > 0));
    const stepTraces = stepKeys.map((key) => ({
      type: "bar", orientation: "h", name: label(key), y: withStep.map((p) => `#${p.rank}`), x: withStep.map((p) => p.step_time[key]),
      marker: { color: STEP_COLORS[label(key)] }, customdata: withStep.map((p) => p.plan),
      hovertemplate: `${label(key)}: %{x:.3f} s<br>%{customdata}<extra></extra>`,
    }));
    plot("chart-train-step", stepTraces, {
      barmode: "stack", xaxis: { title: { text: "seconds per optimizer step" } }, yaxis: { type: "category", autorange: "reversed", title: { text: "plan" } },
      margin: { l: 60, r: 20, t: 30, b: 60 },
    });
  }

  // ------------------------------------------------------------------ model
  async function runModel(ev) {
    if (ev) ev.preventDefault();
    const body = formBody($("#form-model"));
    await submitting("model", async () => {
      const info = await api("POST", "/api/model-info", body);
      setHash("model", body);
      renderModel(info);
    });
  }

  function renderModel(info) {
    $("#model-results").hidden = false;
    $("#model-headline").textContent = `${info.name}: ${params(info.params_total)} parameters`;
    const a = info.architecture;
    let shape = `${a.n_layers} layers, d_model ${a.d_model}, ${a.n_heads} heads`;
    if (a.n_kv_heads && a.n_kv_heads !== a.n_heads) shape += ` (${a.n_kv_heads} KV heads)`;
    if (a.ffn_hidden) shape += `, ${a.mlp || ""} MLP ${a.ffn_hidden}`;
    if (a.vocab_size) shape += `, vocab ${a.vocab_size}`;
    if (a.n_experts) shape += `, MoE ${a.n_experts} experts top-${a.experts_per_token}`;
    const t = info.training_flops_per_token;
    kvRows($("#model-table tbody"), [
      ["architecture", shape, "architecture"],
      ["parameters", `${params(info.params_total)} (${fixed(info.params_total, 0)})`, "params_total"],
      info.params_active !== info.params_total ? ["active per token", params(info.params_active), "params_active"] : null,
      ["embedding / non-embedding", `${params(info.params_embedding)} / ${params(info.params_non_embedding)}`, "embedding"],
      info.params_published ? ["published", params(info.params_published), "published"] : null,
      [`training FLOPs/token (seq ${info.context_for_flops})`, `${si(t.total)} = 6N ${si(t.dense)} + LM head ${si(t.lm_head)} + attention ${si(t.attention)}`, "training_flops"],
      ["prefill FLOPs/token", si(info.prefill_flops_per_token), "prefill"],
      [`decode FLOPs/token (context ${info.context_for_flops})`, si(info.decode_flops_per_token), "decode"],
      ["weights", Object.entries(info.weights_bytes).map(([p, b]) => `${p} ${gib(b)}`).join(", "), "weights"],
      ["training states (Adam, mixed precision)", `${gib(info.training_state_bytes_adam)} (16 bytes/parameter)`, "states"],
      ["KV cache per token", Object.entries(info.kv_cache_bytes_per_token).map(([p, b]) => `${p} ${fixed(b / 1024, 0)} KiB`).join(", "), "kv"],
      info.source ? ["source", info.source, "source"] : null,
    ]);
    const w = Object.entries(info.weights_bytes);
    plot("chart-model-weights", [{
      type: "bar", x: w.map(([p]) => p), y: w.map(([, b]) => b / GIB), marker: { color: "#4e79a7" },
      text: w.map(([, b]) => gib(b)), textposition: "outside", hovertemplate: "%{x}: %{y:.1f} GiB<extra></extra>",
    }, {
      type: "bar", x: ["training (Adam)"], y: [info.training_state_bytes_adam / GIB], marker: { color: "#e15759" },
      text: [gib(info.training_state_bytes_adam)], textposition: "outside", hovertemplate: "%{x}: %{y:.1f} GiB<extra></extra>",
    }], { yaxis: { title: { text: "GiB (whole model)" } }, showlegend: false });
    plot("chart-model-flops", [{
      type: "bar", x: ["6N (dense)", "LM head", "attention"], y: [t.dense, t.lm_head, t.attention],
      marker: { color: ["#4e79a7", "#f28e2b", "#76b7b2"] }, text: [si(t.dense), si(t.lm_head), si(t.attention)], textposition: "outside",
      hovertemplate: "%{x}: %{y:.3s} FLOPs<extra></extra>",
    }], { yaxis: { title: { text: "FLOPs per token" }, exponentformat: "SI" }, showlegend: false });
  }

  // ------------------------------------------------------------------ validate
  async function runValidate(ev) {
    if (ev) ev.preventDefault();
    const body = formBody($("#form-validate"));
    await submitting("validate", async () => {
      const rep = await api("GET", `/api/validate?kind=${encodeURIComponent(body.kind || "training")}`);
      setHash("validate", body);
      renderValidate(rep);
    });
  }

  function renderValidate(rep) {
    $("#validate-results").hidden = false;
    $("#validate-headline").textContent = `${rep.kind} runs: ${rep.scored} scored, ${rep.skipped} skipped`;
    $("#validate-kpis").replaceChildren(
      kpi("median_abs_error", rep.median_abs_error ?? "", rep.median_abs_error != null ? pct(rep.median_abs_error) : "—", "median |error|"),
      kpi("max_abs_error", rep.max_abs_error ?? "", rep.max_abs_error != null ? pct(rep.max_abs_error) : "—", `worst (${rep.worst_rows.join(", ")})`),
    );
    const cls = (e) => (Math.abs(e) <= 0.10 ? "good" : Math.abs(e) <= 0.25 ? "fair" : "bad");
    $("#validate-breakdown").hidden = true;
    const nameCell = (r) => (rep.kind === "training" && r.error != null
      ? el("td", {}, el("button", { type: "button", class: "link", "data-row": r.id, text: r.id, onclick: () => explainRow(r.id) }))
      : el("td", { text: r.id }));
    $("#validate-table tbody").replaceChildren(...rep.rows.map((r) => el("tr", { "data-id": r.id },
      nameCell(r), el("td", { text: r.metric || "—" }),
      el("td", { text: r.predicted != null ? Number(r.predicted).toPrecision(4) : "—" }),
      el("td", { text: r.measured != null ? Number(r.measured).toPrecision(4) : "—" }),
      el("td", { class: r.error != null ? cls(r.error) : "", text: r.error != null ? signedPct(r.error) : "—" }),
      el("td", { text: [r.plan, r.note].filter(Boolean).join(" — ") }))));
    const scored = rep.rows.filter((r) => r.error != null && r.predicted > 0 && r.measured > 0);
    const metrics = [...new Set(scored.map((r) => r.metric))];
    const traces = metrics.map((m) => {
      const rs = scored.filter((r) => r.metric === m);
      return {
        type: "scatter", mode: "markers", name: m, x: rs.map((r) => r.measured), y: rs.map((r) => r.predicted),
        text: rs.map((r) => `${r.id}: ${signedPct(r.error)}`), hovertemplate: "%{text}<br>measured %{x:.4g}<br>predicted %{y:.4g}<extra></extra>",
        marker: { size: 8 },
      };
    });
    if (scored.length) {
      const lo = Math.min(...scored.flatMap((r) => [r.measured, r.predicted])) / 1.5;
      const hi = Math.max(...scored.flatMap((r) => [r.measured, r.predicted])) * 1.5;
      traces.push({ type: "scatter", mode: "lines", name: "exact", x: [lo, hi], y: [lo, hi], line: { color: "#555", dash: "dash", width: 1 }, hoverinfo: "skip" });
      traces.push({ type: "scatter", mode: "lines", name: "±25%", x: [lo, hi, NaN, lo, hi], y: [lo * 1.25, hi * 1.25, NaN, lo * 0.75, hi * 0.75], line: { color: "#bbb", dash: "dot", width: 1 }, hoverinfo: "skip" });
    }
    plot("chart-validate", traces, {
      xaxis: { type: "log", title: { text: "measured (published)" } }, yaxis: { type: "log", title: { text: "predicted (flopwise)" } },
      legend: { orientation: "v", x: 1.02, y: 1 }, margin: { l: 70, r: 20, t: 10, b: 50 },
    });
  }

  async function explainRow(id) {
    await submitting("validate", async () => {
      const r = await api("GET", `/api/validate/row?kind=training&id=${encodeURIComponent(id)}`);
      const b = r.breakdown;
      if (!b) return;
      $("#validate-breakdown-title").textContent = `${r.id}: ${r.plan} — step ${fixed(b.step_s.total, 3)} s, ${fixed(b.memory_gib.total, 1)} GiB per GPU (error ${signedPct(r.error)})`;
      $("#validate-breakdown-step tbody").replaceChildren(...Object.entries(b.step_s).filter(([k]) => k !== "total").map(([k, v]) =>
        el("tr", { "data-k": k }, el("td", { text: k.replace(/_/g, " ") }), el("td", { text: Number(v).toPrecision(4) }), el("td", { text: pct(v / b.step_s.total) }))));
      $("#validate-breakdown-memory tbody").replaceChildren(...Object.entries(b.memory_gib).filter(([k]) => k !== "total").map(([k, v]) =>
        el("tr", { "data-k": k }, el("td", { text: k }), el("td", { text: fixed(v, 2) }))));
      $("#validate-breakdown").hidden = false;
      $("#validate-breakdown").scrollIntoView({ block: "nearest" });
    });
  }

  // ------------------------------------------------------------------ tabs and start-up
  function showTab(name) {
    for (const b of $$("#tabs [data-tab]")) b.setAttribute("aria-selected", String(b.dataset.tab === name));
    for (const p of $$(".panel")) p.hidden = p.id !== `panel-${name}`;
    // Plotly sizes charts drawn while hidden to a default width; fit them to the now visible panel
    if (window.Plotly) for (const c of $$(`#panel-${name} .chart[data-rendered]`)) if (c.dataset.rendered) window.Plotly.Plots.resize(c);
  }

  const RUNNERS = { train: runTrain, model: runModel, validate: runValidate };

  async function start() {
    for (const b of $$("#tabs [data-tab]")) {
      b.addEventListener("click", () => {
        showTab(b.dataset.tab);
        const q = location.hash.startsWith(`#${b.dataset.tab}`) ? location.hash : `#${b.dataset.tab}`;
        history.replaceState(null, "", q);
      });
    }
    $("#form-train").addEventListener("submit", runTrain);
    $("#form-model").addEventListener("submit", runModel);
    $("#form-validate").addEventListener("submit", runValidate);
    try {
      state.catalog = await api("GET", "/api/catalog");
    } catch (err) {
      showError("#boot-error", `Could not load the catalog: ${err.message}`);
      return;
    }
    for (const a of state.catalog.accelerators) state.accById[a.id] = a;
    for (const m of state.catalog.models) state.modelById[m.id] = m;
    if (window.flopwiseExtras) {
      try {
        window.flopwiseExtras({ api, plot, el, kpi, kvRows, formBody, setHash, submitting, fmt: { fixed, gib, pct, usd, si, params, duration, days }, state, RUNNERS, COLORS });
      } catch (err) {
        showError("#boot-error", `Some sections could not be built: ${err.message}`);
      }
    }
    fillSelects();
    for (const [name, on] of Object.entries(state.catalog.features || {})) {
      const tab = document.getElementById(`tab-${name}`);
      if (tab) tab.hidden = !on;
    }
    const fromHash = fillFromHash();
    if (fromHash) {
      showTab(fromHash.tab);
      if (fromHash.submit && RUNNERS[fromHash.tab]) RUNNERS[fromHash.tab]();
    }
    document.body.dataset.ready = "1";
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
