// flopwise web page: the optional sections (serve, compare, fit, scale). app.js calls
// window.flopwiseExtras(helpers) once the catalog is loaded; a section is built only when the API offers it.
"use strict";

window.flopwiseExtras = (h) => {
  const { api, plot, el, kpi, kvRows, formBody, setHash, submitting, fmt, state, RUNNERS } = h;
  const { fixed, gib, pct, usd, si, params, duration, days } = fmt;
  const $ = (sel, root = document) => root.querySelector(sel);
  const GIB = 2 ** 30;
  const features = state.catalog.features || {};
  const ms = (s) => (s == null || !isFinite(s) ? "—" : s < 10 ? `${fixed(s * 1e3, 1)} ms` : `${fixed(s, 1)} s`);
  const usd3 = (x) => (x == null || !isFinite(x) ? "—" : `$${fixed(x, 3)}`);
  const accName = (id) => (state.accById[id] || {}).name || id;

  // ---------------------------------------------------------------- a form from a list of fields
  function field(f) {
    let input;
    if (f.type === "select") {
      input = el("select", { name: f.name, id: `${f.id}` });
      if (f.catalog) input.setAttribute("data-catalog", f.catalog);
      for (const [v, t] of f.options || []) input.append(el("option", { value: v, text: t }));
    } else if (f.type === "checkbox") {
      input = el("input", { name: f.name, id: f.id, type: "checkbox", checked: !!f.value });
      return el("label", { class: "check" }, input, ` ${f.label}`);
    } else {
      input = el("input", { name: f.name, id: f.id, type: f.type || "text", placeholder: f.placeholder || "" });
      if (f.type === "number") { input.min = f.min ?? "0"; input.step = f.step || "any"; }
      if (f.value !== undefined) input.value = f.value;
    }
    if (f.keep) input.setAttribute("data-nodefault", "");
    return el("label", {}, f.label, input);
  }

  function section(name, spec) {
    const panel = document.getElementById(`panel-${name}`);
    const form = el("form", { id: `form-${name}`, class: "card form", noValidate: true });
    const fields = spec.fields.map((f) => ({ ...f, id: `${name}-${f.name.replace(/_/g, "-")}` }));
    form.append(el("h2", { text: spec.title }), el("p", { class: "hint", text: spec.hint }));
    form.append(el("div", { class: "grid" }, ...fields.filter((f) => !f.advanced).map(field)));
    if (spec.paste) {
      form.append(el("details", { class: "paste", id: `${name}-paste` },
        el("summary", { text: "…or paste a Hugging Face config.json instead of picking a model" }),
        el("textarea", { name: "hf_config", id: `${name}-hf-config`, rows: 8, spellcheck: false, placeholder: '{"model_type": "llama", ...}' }),
        el("p", { class: "hint", text: "Used instead of the model above while it is not empty." })));
    }
    const adv = fields.filter((f) => f.advanced);
    if (adv.length) {
      form.append(el("details", { class: "advanced" }, el("summary", { text: spec.advancedLabel || "Advanced" }),
        el("div", { class: "grid" }, ...adv.map(field))));
    }
    form.append(el("div", { class: "actions" },
      el("button", { type: "submit", id: `${name}-submit`, class: "primary", text: spec.submit }),
      el("span", { class: "status", id: `${name}-status`, "aria-live": "polite" })));
    form.append(el("div", { class: "error", id: `${name}-error`, role: "alert", hidden: true }));
    const results = el("div", { id: `${name}-results`, class: "results", hidden: true });
    panel.replaceChildren(form, results);
    const run = async (ev) => {
      if (ev) ev.preventDefault();
      const body = spec.body ? spec.body(formBody(form)) : formBody(form);
      await submitting(name, async () => {
        const res = await api("POST", spec.path, body);
        setHash(name, formBody(form));
        results.hidden = false;
        spec.render(res, results);
      });
    };
    form.addEventListener("submit", run);
    RUNNERS[name] = run;
  }

  const card = (title, ...children) => el("div", { class: "card" }, title ? el("h3", { text: title }) : "", ...children);
  const chartCard = (title, id, tall) => card(title, el("div", { class: `chart${tall ? " tall" : ""}`, id }));
  const table = (id, headers, rows) => el("table", { class: "data", id },
    el("thead", {}, el("tr", {}, ...headers.map((t) => el("th", { text: t })))),
    el("tbody", {}, ...rows.map((cells) => el("tr", {}, ...cells.map((c) => (c instanceof Node ? el("td", {}, c) : el("td", { text: c })))))));
  const csv = (s) => (s ? String(s).split(",").map((x) => x.trim()).filter(Boolean) : undefined);
  const modelField = { name: "model", label: "Model", type: "select", catalog: "models" };
  const gpuField = { name: "gpu", label: "Accelerator", type: "select", catalog: "accelerators" };

  // ---------------------------------------------------------------- serve
  if (features.serve) {
    section("serve", {
      title: "Serve a model", path: "/api/serve", submit: "Plan serving", paste: true,
      hint: "Latency (time to first token, time per output token), throughput, memory per GPU and $ per million tokens; replicas for a request rate.",
      advancedLabel: "Advanced: precision, prices, peaks and growth",
      fields: [
        modelField, gpuField,
        { name: "input_tokens", label: "Input tokens per request", type: "number", value: "2048", keep: true, min: "1", step: "1" },
        { name: "output_tokens", label: "Output tokens per request", type: "number", value: "256", keep: true, min: "1", step: "1" },
        { name: "rate", label: "Request rate (e.g. 20/s, 50k/day)", placeholder: "one replica if empty" },
        { name: "ttft_p99", label: "Target TTFT p99 (e.g. 1s)", placeholder: "none" },
        { name: "tpot", label: "Target time per output token (e.g. 50ms)", placeholder: "none" },
        { name: "gpus", label: "GPUs available (optional)", type: "number", keep: true, min: "1", step: "1", placeholder: "as many as needed", value: "" },
        { name: "weights", label: "Weights", type: "select", catalog: "weight_precisions", advanced: true },
        { name: "kv", label: "KV cache", type: "select", catalog: "kv_precisions", advanced: true },
        { name: "concurrency", label: "Requests in flight (instead of a rate)", type: "number", advanced: true },
        { name: "price_per_gpu_hour", label: "$ per GPU-hour", type: "number", advanced: true, placeholder: "cheapest catalog price" },
        { name: "peak_factor", label: "Peak / average rate (e.g. 10x)", advanced: true },
        { name: "weekly_growth", label: "Growth per week (e.g. 50%)", advanced: true },
      ],
      render: renderServe,
    });
  }

  function renderServe(plan, out) {
    const e = plan.estimate;
    const m = e.memory;
    out.replaceChildren(
      card("", el("h2", { id: "serve-headline", text: `${e.model} on ${e.gpus} × ${accName(e.accelerator)}: ${e.replicas} replica(s) of tp=${e.tp} pp=${e.pp}` }),
        el("div", { class: "kpis", id: "serve-kpis" },
          kpi("ttft_p99_s", e.ttft_p99_s, ms(e.ttft_p99_s), `TTFT p99 (mean ${ms(e.ttft_s)})`),
          kpi("tpot_s", e.tpot_s, ms(e.tpot_s), `per output token (${fixed(1 / e.tpot_s, 1)} tok/s per user)`),
          kpi("output_tokens_per_s_per_gpu", e.output_tokens_per_s_per_gpu, `${fixed(e.output_tokens_per_s_per_gpu, 0)} tok/s`, `output per GPU (${si(e.output_tokens_per_s)} in all)`),
          kpi("usd_per_m_tokens", e.usd_per_m_tokens ?? "", usd3(e.usd_per_m_tokens), e.usd_per_gpu_hour != null ? `per M tokens at $${fixed(e.usd_per_gpu_hour, 2)}/GPU-h` : "no price known"),
          kpi("meets_targets", e.meets_targets ? 1 : 0, e.meets_targets ? "yes" : "NO", `targets: ${plan.targets.ttft_p99_s != null || plan.targets.tpot_s != null ? "" : "none"}${plan.targets.ttft_p99_s != null ? `TTFT p99 ≤ ${ms(plan.targets.ttft_p99_s)} ` : ""}${plan.targets.tpot_s != null ? `TPOT ≤ ${ms(plan.targets.tpot_s)}` : ""}`),
        ),
        ...(e.notes || []).map((n) => el("p", { class: "hint", text: `note: ${n}` })),
        el("p", { class: "hint", id: "serve-track-record", text: plan.track_record
          ? `track record: ${plan.track_record.rows} published serving runs on ${plan.track_record.generation}${plan.track_record.moe ? " (MoE models)" : ""}, median |error| ${pct(plan.track_record.median_abs_error)}, bias ${plan.track_record.median_error >= 0 ? "+" : ""}${pct(plan.track_record.median_error)}`
          : "track record: no published serving runs on this hardware generation were scored (unvalidated)" })),
      el("div", { class: "charts" }, chartCard("Memory per GPU by component", "chart-serve-memory"), chartCard("One engine step by component", "chart-serve-step")),
      card("Layouts considered", table("serve-layouts", ["tp", "pp", "max batch", "batch", "TTFT p99", "TPOT", "tok/s per GPU", "req/s per replica", "note"],
        plan.layouts.slice(0, 10).map((p) => [String(p.tp), String(p.pp), fixed(p.max_concurrency, 0), fixed(p.concurrency, 0), ms(p.ttft_p99_s), ms(p.tpot_s),
          fixed(p.output_tokens_per_s / p.gpus_per_replica, 1), fixed(p.requests_per_s, 2), p.meets_targets ? "" : p.reason])))
    );
    if (plan.capacity) {
      const c = plan.capacity;
      out.append(card(`Capacity: average ${fixed(c.average_rate_per_s, 2)}/s, peak ${c.peak_factor}× = ${fixed(c.peak_rate_per_s, 2)}/s`,
        table("serve-capacity", ["provisioned for", "replicas", "GPUs", "$ per day", "$ per M tokens", "utilisation"], [
          ["peak", String(c.replicas_peak), String(c.gpus_peak), usd(c.usd_per_day_peak_provisioned), usd3(c.usd_per_m_tokens_peak_provisioned), pct(c.utilisation_peak_provisioned)],
          ["average (ideal autoscaling)", String(c.replicas_average), String(c.gpus_average), usd(c.usd_per_day_average_provisioned), usd3(c.usd_per_m_tokens_average_provisioned), ""],
        ])));
    }
    const parts = [["weights", m.weights_bytes, "#4e79a7"], ["KV cache in use", m.kv_cache_bytes, "#76b7b2"],
      ["KV cache reserved, free", Math.max(0, m.kv_capacity_bytes - m.kv_cache_bytes), "#c7e3e1"],
      ["activations workspace", m.activations_bytes, "#f28e2b"], ["runtime", m.runtime_bytes, "#edc948"]];
    const cap = m.capacity_bytes / GIB;
    const total = (m.weights_bytes + Math.max(m.kv_capacity_bytes, m.kv_cache_bytes) + m.activations_bytes + m.runtime_bytes) / GIB;
    plot("chart-serve-memory", parts.map(([n, b, color]) => ({ type: "bar", orientation: "h", name: n, y: ["per GPU"], x: [b / GIB], marker: { color }, hovertemplate: `${n}: %{x:.2f} GiB<extra></extra>` })), {
      barmode: "stack", xaxis: { title: { text: "GiB" }, range: [0, Math.max(cap, total) * 1.08] }, yaxis: { type: "category" },
      shapes: [{ type: "line", x0: cap, x1: cap, yref: "paper", y0: 0, y1: 1, line: { color: "#c0392b", width: 2, dash: "dash" } }],
      annotations: [{ x: cap, yref: "paper", y: 1.02, text: `${accName(e.accelerator)}: ${fixed(cap, 0)} GiB`, showarrow: false, xanchor: "right", yanchor: "bottom", font: { color: "#c0392b" } }],
      margin: { l: 70, r: 20, t: 30, b: 60 },
    });
    const keys = ["weights_gemm_s", "attention_s", "elementwise_s", "tp_comm_s", "pp_comm_s", "overhead_s"].filter((k) => e.prefill[k] > 0 || e.decode[k] > 0);
    const colors = { weights_gemm_s: "#4e79a7", attention_s: "#a0cbe8", elementwise_s: "#86bcb6", tp_comm_s: "#f28e2b", pp_comm_s: "#b07aa1", overhead_s: "#9d7660" };
    plot("chart-serve-step", keys.map((k) => ({
      type: "bar", orientation: "h", name: k.replace(/_s$/, "").replace(/_/g, " "), y: ["prefill of a request", `decode step (batch ${fixed(e.decode.rows, 0)})`],
      x: [e.prefill[k] * 1e3, e.decode[k] * 1e3], marker: { color: colors[k] }, hovertemplate: "%{x:.2f} ms<extra></extra>",
    })), { barmode: "stack", xaxis: { title: { text: "milliseconds" } }, yaxis: { type: "category", autorange: "reversed" }, margin: { l: 170, r: 20, t: 10, b: 60 } });
  }

  // ---------------------------------------------------------------- compare
  if (features.compare) {
    section("compare", {
      title: "Compare accelerators and clouds", path: "/api/compare", submit: "Compare", paste: true,
      hint: "Every cloud × accelerator × GPU count that can do the job, with time and cost on demand and on spot; the Pareto front keeps the options no other beats on both. A training comparison runs the planner a few hundred times: allow a few seconds.",
      advancedLabel: "Advanced: filters, serving request, spot",
      fields: [
        modelField,
        { name: "mode", label: "Job", type: "select", options: [["train", "train (time and cost of the run)"], ["serve", "serve ($ per M tokens and latency)"]] },
        { name: "tokens", label: "Training tokens (train)", placeholder: "e.g. 1T" },
        { name: "sort", label: "Sort by", type: "select", options: [["cost", "cost"], ["time", "time"], ["usd-per-m-tokens", "$ per M tokens"]] },
        { name: "clouds", label: "Only clouds (comma-separated)", advanced: true, placeholder: (state.catalog.clouds || []).join(", ") },
        { name: "accelerators", label: "Only accelerators (comma-separated ids)", advanced: true, placeholder: "e.g. h100-sxm5-80gb, mi300x" },
        { name: "max_gpus", label: "Largest GPU count", type: "number", advanced: true, keep: true, placeholder: "4096" },
        { name: "max_days", label: "At most days (train)", type: "number", advanced: true },
        { name: "max_usd", label: "At most $ (train)", type: "number", advanced: true },
        { name: "input_tokens", label: "Input tokens (serve)", type: "number", value: "2048", keep: true, advanced: true },
        { name: "output_tokens", label: "Output tokens (serve)", type: "number", value: "256", keep: true, advanced: true },
        { name: "ttft_p99", label: "Target TTFT p99 (serve)", advanced: true, placeholder: "e.g. 1s" },
        { name: "tpot", label: "Target TPOT (serve)", advanced: true, placeholder: "e.g. 50ms" },
        { name: "spot", label: "include spot offers", type: "checkbox", value: true, advanced: true },
      ],
      body: (b) => {
        b.clouds = csv(b.clouds); b.accelerators = csv(b.accelerators);
        if (b.mode === "serve") delete b.tokens;
        for (const k of Object.keys(b)) if (b[k] === undefined) delete b[k];
        return b;
      },
      render: renderCompare,
    });
  }

  function renderCompare(res, out) {
    const train = res.mode === "train";
    const tx = (r) => (train ? r.days : r.latency_s);
    const ty = (r) => (train ? r.cost_usd : r.usd_per_m_tokens);
    const tLabel = train ? "days" : "end-to-end latency (s)";
    const cLabel = train ? "cost of the run ($)" : "$ per million tokens";
    const fmtT = (r) => (train ? days(r.days) : ms(r.latency_s));
    const fmtC = (r) => (train ? usd(r.cost_usd) : usd3(r.usd_per_m_tokens));
    const front = res.pareto || [];
    const cheapest = res.rows.length ? res.rows.reduce((a, b) => (ty(b) < ty(a) ? b : a)) : null;
    const fastest = res.rows.length ? res.rows.reduce((a, b) => (tx(b) < tx(a) ? b : a)) : null;
    const rowCells = (r) => [r.cloud, r.accelerator, String(r.gpus), r.market, `$${fixed(r.usd_per_gpu_hour, 2)}`, fmtT(r), fmtC(r), usd3(r.usd_per_m_tokens), el("code", { text: r.plan }), (r.flags || []).join(", ")];
    const headers = ["cloud", "accelerator", "GPUs", "market", "$/GPU-h", train ? "time" : "latency", train ? "cost" : "$/M tokens", "$/M tokens", "plan", "flags"];
    out.replaceChildren(
      card("", el("h2", { id: "compare-headline", text: `${res.model}: ${fixed(res.rows.length, 0)} options (${fixed(res.total_rows, 0)} before filters), ${front.length} on the Pareto front` }),
        el("div", { class: "kpis", id: "compare-kpis" },
          cheapest ? kpi("cheapest", ty(cheapest), fmtC(cheapest), `cheapest: ${cheapest.gpus} × ${cheapest.accelerator} on ${cheapest.cloud} (${cheapest.market}), ${fmtT(cheapest)}`) : "",
          fastest ? kpi("fastest", tx(fastest), fmtT(fastest), `fastest: ${fastest.gpus} × ${fastest.accelerator} on ${fastest.cloud} (${fastest.market}), ${fmtC(fastest)}`) : "",
          kpi("plans_run", res.plans_run, fixed(res.plans_run, 0), `planner runs, ${fixed(res.elapsed_s, 1)} s`))),
      chartCard(`${train ? "Cost vs time" : "$ per million tokens vs latency"}: every option, Pareto front joined`, "chart-compare", true),
      card("Pareto front", table("compare-pareto", headers, front.map(rowCells))),
      card(`First ${Math.min(20, res.rows.length)} by ${res.filters && res.rows.length ? "the chosen sort" : "sort"}`, table("compare-rows", headers, res.rows.slice(0, 20).map(rowCells))),
      card("Assumptions", el("ul", {}, ...res.assumptions.map((a) => el("li", { text: a })),
        ...Object.entries(res.skipped || {}).slice(0, 30).map(([k, v]) => el("li", { class: "hint", text: `no row for ${k}: ${v}` })))),
    );
    const byAcc = {};
    for (const r of res.rows) (byAcc[r.accelerator] = byAcc[r.accelerator] || []).push(r);
    const traces = Object.entries(byAcc).map(([acc, rs]) => ({
      type: "scatter", mode: "markers", name: acc, x: rs.map(tx), y: rs.map(ty),
      marker: { size: 7, symbol: rs.map((r) => (r.market === "spot" ? "circle-open" : "circle")) },
      text: rs.map((r) => `${r.gpus} × ${r.accelerator} on ${r.cloud} (${r.market})<br>${r.plan}`),
      hovertemplate: `%{text}<br>${train ? "%{x:.1f} days, $%{y:,.0f}" : "%{x:.2f} s, $%{y:.3f}/M tokens"}<extra></extra>`,
    }));
    traces.push({ type: "scatter", mode: "lines+markers", name: "Pareto front", x: front.map(tx), y: front.map(ty),
      line: { color: "#111", width: 2, shape: "hv" }, marker: { size: 10, color: "rgba(0,0,0,0)", line: { color: "#111", width: 2 } }, hoverinfo: "skip" });
    plot("chart-compare", traces, {
      xaxis: { type: "log", title: { text: tLabel } }, yaxis: { type: "log", title: { text: cLabel } },
      legend: { orientation: "v", x: 1.02, y: 1, font: { size: 10 } }, margin: { l: 80, r: 20, t: 10, b: 50 },
    });
  }

  // ---------------------------------------------------------------- fit
  if (features.fit) {
    section("fit", {
      title: "Will it fit?", path: "/api/fit", submit: "Check", paste: true,
      hint: "Pre-training, full fine-tuning, LoRA, QLoRA and serving at each precision on the GPUs you have: memory per GPU by component, and how many GPUs it would take when it does not fit.",
      advancedLabel: "Advanced: sequence, micro-batch, LoRA rank, context",
      fields: [
        modelField, gpuField,
        { name: "gpus", label: "Number of GPUs", type: "number", value: "8", keep: true, min: "1", step: "1" },
        { name: "seq_len", label: "Fine-tuning sequence length", type: "number", advanced: true, placeholder: "2048" },
        { name: "micro_batch", label: "Micro-batch", type: "number", advanced: true, value: "1", keep: true },
        { name: "lora_rank", label: "LoRA rank", type: "number", advanced: true, value: "16", keep: true },
        { name: "context", label: "Serving context", type: "number", advanced: true, placeholder: "4096" },
        { name: "optimizer", label: "Optimizer", type: "select", catalog: "optimizers", advanced: true },
      ],
      render: renderFit,
    });
  }

  function renderFit(res, out) {
    const cap = res.capacity_bytes / GIB;
    out.replaceChildren(
      card("", el("h2", { id: "fit-headline", text: `${res.model} on ${res.gpus} × ${accName(res.accelerator)}: ${res.rows.filter((r) => r.fits).length} of ${res.rows.length} fit` }),
        table("fit-table", ["task", "fits", "memory / GPU", "if not: GPUs needed", "how"], res.rows.map((r) => [
          r.task, el("span", { class: r.fits ? "good" : "bad", text: r.fits ? "yes" : "no" }),
          `${fixed(r.memory.total_bytes / GIB, 1)} / ${fixed(cap, 0)} GiB`, r.fits ? "" : (r.min_gpus ? String(r.min_gpus) : "more than searched"),
          r.how + (r.max_context ? ` — longest context ${fixed(r.max_context, 0)}, ${fixed(r.max_batch || 0, 0)} sequences of ${fixed(r.context || 0, 0)}` : "") + (r.note ? ` (${r.note})` : ""),
        ]))),
      chartCard("Memory per GPU by task and component", "chart-fit", true),
      card("Assumptions", el("ul", {}, ...res.assumptions.map((a) => el("li", { text: a })))),
    );
    const comps = [["weights_bytes", "#4e79a7"], ["gradients_bytes", "#f28e2b"], ["optimizer_bytes", "#e15759"], ["adapter_bytes", "#b07aa1"],
      ["activations_bytes", "#76b7b2"], ["kv_cache_bytes", "#c7e3e1"], ["buffers_bytes", "#59a14f"], ["framework_bytes", "#edc948"]]
      .filter(([k]) => res.rows.some((r) => r.memory[k] > 0));
    const names = res.rows.map((r) => r.task);
    const maxTotal = Math.max(cap, ...res.rows.map((r) => r.memory.total_bytes / GIB));
    plot("chart-fit", comps.map(([k, color]) => ({
      type: "bar", orientation: "h", name: k.replace(/_bytes$/, "").replace(/_/g, " "), y: names, x: res.rows.map((r) => r.memory[k] / GIB),
      marker: { color }, hovertemplate: "%{y}: %{x:.1f} GiB<extra></extra>",
    })), {
      barmode: "stack", xaxis: { title: { text: "GiB per GPU" }, type: maxTotal > 8 * cap ? "log" : "linear" },
      yaxis: { type: "category", autorange: "reversed" },
      shapes: [{ type: "line", x0: cap, x1: cap, yref: "paper", y0: 0, y1: 1, line: { color: "#c0392b", width: 2, dash: "dash" } }],
      annotations: [{ x: maxTotal > 8 * cap ? Math.log10(cap) : cap, yref: "paper", y: 1.02, text: `${fixed(cap, 0)} GiB per GPU`, showarrow: false, xanchor: "right", yanchor: "bottom", font: { color: "#c0392b" } }],
      margin: { l: 170, r: 20, t: 30, b: 60 },
    });
  }

  // ---------------------------------------------------------------- scale
  if (features.scale) {
    section("scale", {
      title: "Compute-optimal scaling", path: "/api/scale", submit: "Size it",
      hint: "Give one of a FLOP budget, a model size, a token count or a dollar budget (with an accelerator), or trained models to compare: compute-optimal parameters, tokens, loss, time and cost, and the scaling-law curves.",
      advancedLabel: "Advanced: hardware, MFU, inference-aware sizing",
      fields: [
        { name: "compute", label: "Training FLOPs", placeholder: "e.g. 5.76e23", value: "5.76e23", keep: true },
        { name: "params", label: "…or parameters", placeholder: "e.g. 70B" },
        { name: "tokens", label: "…or training tokens", placeholder: "e.g. 1.4T", keep: true },
        { name: "usd", label: "…or $ budget (needs accelerator)", placeholder: "e.g. 10M" },
        { name: "models", label: "…or trained models (comma-separated ids)", placeholder: "e.g. llama-3-70b, chinchilla-70b" },
        { name: "law", label: "Scaling law", type: "select", catalog: "laws" },
        { name: "gpu", label: "Accelerator (time, cost)", type: "select", catalog: "accelerators", advanced: true },
        { name: "gpus", label: "GPUs", type: "number", value: "1024", keep: true, advanced: true },
        { name: "mfu", label: "Training MFU", type: "number", value: "0.4", keep: true, advanced: true },
        { name: "price_per_gpu_hour", label: "$ per GPU-hour", type: "number", advanced: true, placeholder: "cheapest catalog price" },
        { name: "inference_tokens", label: "Lifetime inference tokens", advanced: true, placeholder: "e.g. 2T" },
        { name: "inference_mfu", label: "Serving MFU", type: "number", value: "0.2", keep: true, advanced: true },
        { name: "target_loss", label: "Target loss", type: "number", advanced: true, placeholder: "of the compute-optimal model" },
      ],
      body: (b) => { b.models = csv(b.models); if (!b.models) delete b.models; return b; },
      render: renderScale,
    });
    const sel = document.getElementById("scale-gpu");
    if (sel) sel.prepend(el("option", { value: "", text: "— none (FLOPs only) —" }));
  }

  // ---------------------------------------------------------------- budget
  if (features.budget) {
    section("budget", {
      title: "What does a budget buy?", path: "/api/budget", submit: "Price it",
      hint: "Dollars (or GPUs for some days) on one accelerator: the GPU-hours, the compute-optimal model they pre-train, the largest model they LoRA-fine-tune on your dataset, and the tokens they serve.",
      advancedLabel: "Advanced: GPUs and days instead of dollars, dataset, MFU, serving model",
      fields: [
        gpuField,
        { name: "usd", label: "Budget ($)", placeholder: "1000 or 10M", value: "1000", keep: true },
        { name: "spot", label: "spot prices", type: "checkbox", value: false },
        { name: "gpus", label: "GPUs (with days, instead of $)", type: "number", advanced: true, min: "1", step: "1" },
        { name: "days", label: "Days", type: "number", advanced: true },
        { name: "dataset_tokens", label: "Fine-tuning dataset (tokens)", advanced: true, placeholder: "1e9 or 500M" },
        { name: "epochs", label: "Epochs", type: "number", advanced: true, placeholder: "1" },
        { name: "mfu", label: "Assumed MFU", type: "number", advanced: true, placeholder: "0.40", step: "0.01" },
        { ...modelField, advanced: true, label: "Model to serve" },
      ],
      body: (b) => (b.gpus && b.days ? (({ usd: _drop, ...rest }) => rest)(b) : b),
      render: renderBudget,
    });
  }

  function renderBudget(r, out) {
    const pre = r.pretrain, ft = r.finetune, sv = r.serve;
    out.replaceChildren(
      card("", el("h2", { id: "budget-headline", text: `$${fixed(r.usd, 0)} buys ${fixed(r.gpu_hours, r.gpu_hours < 10 ? 1 : 0)} GPU-hours of ${accName(r.accelerator)} (${duration(r.days * 86400)} on ${r.gpus} GPUs)` }),
        el("div", { class: "kpis", id: "budget-kpis" },
          kpi("pretrain_params", pre.params, params(pre.params), `compute-optimal model, pre-trained on ${si(pre.tokens)} tokens`),
          kpi("finetune_model_params", ft.model_params ?? "", ft.model ? `${ft.method} ${ft.model}` : "—", ft.model ? `largest fine-tune on ${si(ft.dataset_tokens)} tokens × ${ft.epochs} (${fixed(ft.hours, 1)} h)` : (ft.note || "none fits")),
          kpi("serve_tokens", sv.tokens, si(sv.tokens), `tokens of ${sv.model} served (${usd3(sv.usd_per_m_tokens)} per M)`),
        ),
        el("p", { class: "hint", text: `price: ${r.price_source}` })),
      card("Assumptions", el("ul", { id: "budget-assumptions" }, ...r.assumptions.map((a) => el("li", { text: a })))),
    );
  }

  function renderScale(r, out) {
    const c = r.cost;
    const k = [
      kpi("params", r.params, params(r.params), "compute-optimal parameters"),
      kpi("tokens", r.tokens, si(r.tokens), `training tokens (${fixed(r.tokens_per_param, 1)} per parameter)`),
      kpi("flops", r.flops, r.flops.toExponential(3), `training FLOPs (${fixed(r.gopher_units, 3)} × Gopher)`),
      kpi("loss", r.loss, fixed(r.loss, 4), "predicted loss (nats/token)"),
    ];
    if (c) {
      k.push(kpi("wall_s", c.wall_s, duration(c.wall_s), `on ${fixed(c.gpus, 0)} × ${c.accelerator} at ${pct(c.mfu)} MFU`));
      if (c.cost_usd != null) k.push(kpi("cost_usd", c.cost_usd, usd(c.cost_usd), `at $${fixed(c.usd_per_gpu_hour, 2)}/GPU-hour`));
    }
    const parts = [
      card("", el("h2", { id: "scale-headline", text: `${r.law_name}: ${params(r.params)} parameters on ${si(r.tokens)} tokens` }),
        el("div", { class: "kpis", id: "scale-kpis" }, ...k), el("p", { class: "hint", text: `law: ${r.law_source}` }),
        ...(r.notes || []).map((n) => el("p", { class: "hint", text: `note: ${n}` }))),
      el("div", { class: "charts" }, chartCard("IsoFLOP curves (★ optimum)", "chart-scale-isoflop"), chartCard("Loss vs training compute", "chart-scale-loss")),
      chartCard(r.plots && r.plots.cost_unit === "usd" ? "Lifetime cost vs model size at the target loss" : "Lifetime compute vs model size at the target loss", "chart-scale-cost"),
    ];
    if (r.models && r.models.length) {
      parts.push(card("Trained models vs compute-optimal", table("scale-models", ["model", "parameters", "tokens", "optimal parameters", "optimal tokens", "loss gap", "verdict"],
        r.models.map((m) => [m.model, params(m.params), si(m.tokens), `${params(m.optimal_params)} (${fixed(m.params_ratio, 2)}×)`, `${si(m.optimal_tokens)} (${fixed(m.tokens_ratio, 2)}×)`, fixed(m.loss_gap, 4), m.verdict]))));
    }
    for (const inf of [r.inference_compute_optimal, r.inference_cost_optimal]) {
      if (!inf) continue;
      parts.push(card(`Inference-aware sizing (minimising lifetime ${inf.objective === "usd" ? "cost" : "FLOPs"})`, table(`scale-inference-${inf.objective}`, ["", "Chinchilla-optimal", "lifetime-optimal"], [
        ["parameters", params(inf.chinchilla.params), params(inf.optimal.params)],
        ["training tokens", si(inf.chinchilla.tokens), si(inf.optimal.tokens)],
        ["total FLOPs", inf.chinchilla.total_flops.toExponential(3), inf.optimal.total_flops.toExponential(3)],
      ])));
    }
    out.replaceChildren(...parts);
    const p = r.plots;
    if (!p) return;
    const curves = (list, withMarkers) => list.flatMap((cv) => {
      const t = [{ type: "scatter", mode: "lines", name: cv.label, x: cv.x, y: cv.y }];
      if (withMarkers && cv.marker_x != null) t.push({ type: "scatter", mode: "markers", showlegend: false, x: [cv.marker_x], y: [cv.marker_y], marker: { symbol: "star", size: 12, color: "#111" }, hovertemplate: "optimum %{x:.3s}<extra></extra>" });
      return t;
    });
    plot("chart-scale-isoflop", curves(p.isoflop, true), { xaxis: { type: "log", title: { text: "parameters" } }, yaxis: { title: { text: "loss (nats/token)" } } });
    plot("chart-scale-loss", p.loss_vs_compute.map((cv, i) => (i === 0
      ? { type: "scatter", mode: "lines", name: cv.label, x: cv.x, y: cv.y, line: { color: "#111" } }
      : { type: "scatter", mode: "markers+text", name: cv.label, x: cv.x, y: cv.y, text: [cv.label], textposition: "top center", marker: { size: 10 } })),
    { xaxis: { type: "log", title: { text: "training FLOPs" } }, yaxis: { title: { text: "loss (nats/token)" } } });
    plot("chart-scale-cost", curves(p.cost_vs_size, true), {
      xaxis: { type: "log", title: { text: "parameters" } },
      yaxis: { type: "log", title: { text: p.cost_unit === "usd" ? "lifetime cost ($)" : "lifetime FLOPs" }, tickprefix: p.cost_unit === "usd" ? "$" : "" },
    });
  }
};
